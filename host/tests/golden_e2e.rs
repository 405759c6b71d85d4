//! The golden cases of `testdata/golden/`, end to end: the real filter in `oidc-host` on loopback,
//! a local IdP serving each case's discovery document and key set (reached through the `idp`
//! cluster, as in Envoy), the echo upstream, tokens minted at the real time. The reason each case
//! expects is read from the filter's per-reason counters on the admin listener.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use oidc_host::config::HostConfig;
use oidc_host::echo::EchoServer;
use oidc_host::issuer::unix_now;
use oidc_host::proxy::Gateway;
use oidc_testdata::golden::{self, Case};
use tokio::net::TcpListener;

/// Serves the case's IdP documents by path until the test ends.
async fn start_idp(case: Arc<Case>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let case = case.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let path = req
                        .uri()
                        .path_and_query()
                        .map(|p| p.to_string())
                        .unwrap_or_default();
                    let (status, body) = case.serve(&path).unwrap_or((404, Vec::new()));
                    let reply = hyper::Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(body)))
                        .unwrap();
                    async move { Ok::<_, Infallible>(reply) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0)
}

async fn run(case: Case, echo: &EchoServer) -> Vec<String> {
    let case = Arc::new(case);
    let idp = start_idp(case.clone()).await;
    let mut config_json = String::new();
    for line in case.config().lines() {
        config_json.push_str("    ");
        config_json.push_str(line);
        config_json.push('\n');
    }
    let yaml = format!(
        "listen: 127.0.0.1:0\nupstream: {}\nworkers: 1\nadmin: 127.0.0.1:0\nfilter:\n  config: |\n{config_json}clusters:\n  idp: http://{idp}\n",
        echo.url()
    );
    let config = HostConfig::parse(&yaml).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let gateway = Gateway::start(&config)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let now = unix_now();
    let headers = case.request_headers(now);
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let reply = send(
        gateway.addr(),
        &case.request.method,
        &case.request.path,
        &refs,
        "",
    )
    .await;
    let metrics = get(gateway.admin_addr().unwrap(), "/metrics", &[]).await;
    let metrics = String::from_utf8_lossy(&metrics.body).into_owned();
    gateway.shutdown().await;

    let e = &case.expect;
    let mut problems = Vec::new();
    if reply.status != e.status {
        problems.push(format!(
            "status {} (want {}): {:?}",
            reply.status, e.status, reply.body
        ));
    }
    let reason_metric = match e.reason.as_str() {
        "ok" | "anonymous" => "oidc_filter_allowed_total".to_string(),
        code => format!("oidc_filter_denied_{code}_total"),
    };
    if counter(&metrics, &reason_metric) != 1 {
        problems.push(format!(
            "{reason_metric} is {}",
            counter(&metrics, &reason_metric)
        ));
    }
    if reply.status == 200 {
        let seen = reply.json();
        let upstream = &seen["headers"];
        for (name, value) in &e.upstream_headers {
            if upstream[name.as_str()] != *value {
                problems.push(format!(
                    "upstream {name}: {} (want {value})",
                    upstream[name.as_str()]
                ));
            }
        }
        for name in &e.upstream_headers_absent {
            if !upstream[name.as_str()].is_null() {
                problems.push(format!("upstream {name} present"));
            }
        }
    }
    let challenge = reply
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    for part in &e.www_authenticate_contains {
        if !challenge.contains(part.as_str()) {
            problems.push(format!("challenge {challenge:?} lacks {part}"));
        }
    }
    problems
        .into_iter()
        .map(|p| format!("{}: {p}", case.name))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_golden_case_has_its_expected_outcome_through_the_proxy() {
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let cases = golden::cases();
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for case in cases {
        failures.extend(run(case, &echo).await);
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
