//! The admin listener: `/metrics` in the Prometheus text exposition format (the filter's metrics from
//! the pool and the host's own counters) and `/ready` (200 once the pool has started). It serves
//! nothing else and never touches the filter's configuration or secrets.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::runtime::{MetricKind, MetricSample, Pool};

/// The host's own counters, shared by the proxy (which counts) and the admin listener (which shows).
#[derive(Debug, Default)]
pub struct HostMetrics {
    requests: AtomicU64,
    /// Responses sent to clients by status class, 1xx..5xx.
    responses: [AtomicU64; 5],
    upstream_errors: AtomicU64,
    filter_failures: AtomicU64,
    local_responses: AtomicU64,
    ready: AtomicBool,
}

impl HostMetrics {
    pub fn request_started(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
    pub fn response_sent(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        if let Some(counter) = self.responses.get(class) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
    pub fn upstream_error(&self) {
        self.upstream_errors.fetch_add(1, Ordering::Relaxed);
    }
    pub fn filter_failure(&self) {
        self.filter_failures.fetch_add(1, Ordering::Relaxed);
    }
    pub fn local_response(&self) {
        self.local_responses.fetch_add(1, Ordering::Relaxed);
    }
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
    /// Responses counted for one status class (1..=5).
    pub fn responses_of_class(&self, class: u16) -> u64 {
        usize::from(class)
            .checked_sub(1)
            .and_then(|i| self.responses.get(i))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
    pub fn upstream_errors(&self) -> u64 {
        self.upstream_errors.load(Ordering::Relaxed)
    }
    pub fn filter_failures(&self) -> u64 {
        self.filter_failures.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String) {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP oidc_host_requests_total Requests received by the proxy."
        );
        let _ = writeln!(out, "# TYPE oidc_host_requests_total counter");
        let _ = writeln!(out, "oidc_host_requests_total {}", load(&self.requests));
        let _ = writeln!(
            out,
            "# HELP oidc_host_responses_total Responses sent, by status class."
        );
        let _ = writeln!(out, "# TYPE oidc_host_responses_total counter");
        for (i, counter) in self.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "oidc_host_responses_total{{class=\"{}xx\"}} {}",
                i + 1,
                load(counter)
            );
        }
        for (name, help, value) in [
            (
                "oidc_host_upstream_errors_total",
                "Requests the upstream could not answer (502/504).",
                &self.upstream_errors,
            ),
            (
                "oidc_host_requests_failed_closed_total",
                "Requests failed closed because the filter trapped or missed its deadline.",
                &self.filter_failures,
            ),
            (
                "oidc_host_local_responses_total",
                "Responses produced by the filter itself.",
                &self.local_responses,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", load(value));
        }
        let _ = writeln!(out, "# TYPE oidc_host_ready gauge");
        let _ = writeln!(out, "oidc_host_ready {}", u8::from(self.is_ready()));
    }
}

/// A metric name as Prometheus accepts it: `[a-zA-Z_:][a-zA-Z0-9_:]*`; anything else becomes `_`.
pub fn prometheus_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    for (i, c) in name.chars().enumerate() {
        let ok = c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit());
        if i == 0 && c.is_ascii_digit() {
            out.push('_');
            out.push(c);
        } else {
            out.push(if ok { c } else { '_' });
        }
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// The text exposition of the filter's metrics followed by the host's.
pub fn render_metrics(samples: &[MetricSample], host: &HostMetrics) -> String {
    let mut out = String::new();
    let mut typed = BTreeSet::new();
    for sample in samples {
        let name = prometheus_name(&sample.name);
        // Histograms arrive as `<name>_count` / `<name>_sum` samples: exposed as untyped series.
        let kind = match sample.kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "untyped",
        };
        if typed.insert(name.clone()) {
            let _ = writeln!(out, "# TYPE {name} {kind}");
        }
        let _ = writeln!(out, "{name} {}", sample.value);
    }
    host.render(&mut out);
    out
}

/// Serves `/metrics` and `/ready` on `listener` until the returned task is aborted.
pub fn spawn(
    listener: TcpListener,
    pool: Arc<Pool>,
    host: Arc<HostMetrics>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let pool = pool.clone();
            let host = host.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let reply = answer(&req, &pool, &host);
                    async move { Ok::<_, Infallible>(reply) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

fn answer(req: &Request<Incoming>, pool: &Pool, host: &HostMetrics) -> Response<Full<Bytes>> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            PLAIN,
            "method not allowed\n".into(),
        );
    }
    match req.uri().path() {
        "/metrics" => text(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            render_metrics(&pool.metrics(), host),
        ),
        "/ready" if host.is_ready() => text(StatusCode::OK, PLAIN, "ready\n".into()),
        "/ready" => text(StatusCode::SERVICE_UNAVAILABLE, PLAIN, "starting\n".into()),
        _ => text(StatusCode::NOT_FOUND, PLAIN, "not found\n".into()),
    }
}
