//! One request's trip: client head → filter → upstream → filter → client, with bodies streamed
//! through the filter chunk by chunk (the request body by a pump task, the response body as the
//! client's connection reads it, see `filtered`). Security invariant: nothing reaches the upstream
//! before the filter's request-headers verdict is `Continue`, and any filter failure answers 503
//! (fail closed) — a request is never passed because the filter could not decide.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use tokio::sync::{oneshot, Mutex};

use super::body::{self, Aborted, FrameSender, ProxyBody};
use super::filtered::FilteredBody;
use super::headers::{
    add_forwarded, after_filter, header_bytes, header_pairs, pseudo, request_pairs, response_pairs,
    split_pairs, strip_hop_by_hop,
};
use super::upstream::{Link, Upstream};
use crate::admin::HostMetrics;
use crate::runtime::{FilterFailure, LocalResponse, Pool, Stream, Verdict};

/// The scheme clients reach this proxy with (it does not terminate TLS).
const LISTENER_SCHEME: &str = "http";

pub(super) type SharedStream = Arc<Mutex<Stream>>;

/// What a request-body pump reports when the filter ends the exchange early.
enum EarlyEnd {
    Local(LocalResponse),
    Failed(FilterFailure),
}

/// The client end of a connection: its address, and the address as `X-Forwarded-For` text, written
/// once per connection rather than once per request.
pub struct Client {
    addr: SocketAddr,
    ip: String,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            ip: addr.ip().to_string(),
        }
    }
}

pub struct Proxy {
    pub(crate) pool: Arc<Pool>,
    pub(crate) upstream: Upstream,
    pub(crate) max_header_bytes: usize,
    pub(crate) upstream_timeout: Duration,
    pub(crate) metrics: Arc<HostMetrics>,
}

fn plain(status: StatusCode, text: &'static str) -> Response<ProxyBody> {
    let mut response = Response::new(body::full(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

impl Proxy {
    /// Answers one client request on filter worker `worker` (the one whose thread runs the
    /// client's connection); `link` is the client connection's own upstream connection (HTTP/1.1
    /// clients), `None` for multiplexed (h2c) clients.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        client: &Client,
        worker: usize,
        link: Option<&Link>,
    ) -> Response<ProxyBody> {
        self.metrics.request_started();
        let response = self.route(req, client, worker, link).await;
        self.metrics.response_sent(response.status().as_u16());
        response
    }

    fn local(&self, local: LocalResponse) -> Response<ProxyBody> {
        self.metrics.local_response();
        let (_, headers) = split_pairs(local.headers);
        let mut response = Response::new(body::full(local.body));
        *response.status_mut() =
            StatusCode::from_u16(local.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        *response.headers_mut() = headers;
        strip_hop_by_hop(response.headers_mut());
        response.headers_mut().remove(http::header::CONTENT_LENGTH);
        response
    }

    fn fail_closed(&self, failure: &FilterFailure) -> Response<ProxyBody> {
        self.metrics.filter_failure();
        tracing::error!(error = %failure, "filter failed; request failed closed");
        plain(StatusCode::SERVICE_UNAVAILABLE, "filter unavailable\n")
    }

    /// Method, origin-form URI and headers for the upstream request: the client's own when the
    /// filter changed nothing, else rebuilt from the filter's pairs (`:method`, `:path` and
    /// `:authority` as it left them; `Host` from `:authority`). `None` for a `:path` that is not
    /// a valid request target.
    fn upstream_head(
        &self,
        parts: http::request::Parts,
        edited: Option<Vec<(String, String)>>,
        original_authority: &str,
    ) -> Option<(http::Method, http::Uri, http::HeaderMap)> {
        let (pseudo_headers, mut headers) = after_filter(parts.headers, edited);
        let method = pseudo(&pseudo_headers, ":method")
            .and_then(|m| http::Method::from_bytes(m.as_bytes()).ok())
            .unwrap_or(parts.method);
        let path = pseudo(&pseudo_headers, ":path")
            .or_else(|| parts.uri.path_and_query().map(|pq| pq.as_str()))
            .unwrap_or("/");
        let authority = pseudo(&pseudo_headers, ":authority").unwrap_or(original_authority);
        // Validated as it would be in absolute form, sent in origin form.
        let uri = format!("http://{}{}", self.upstream.authority(), path)
            .parse::<http::Uri>()
            .ok()?;
        let uri = http::Uri::from(
            uri.into_parts()
                .path_and_query
                .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
        );
        strip_hop_by_hop(&mut headers);
        headers.remove(http::header::HOST);
        if let Ok(host) = http::HeaderValue::from_str(authority) {
            headers.insert(http::header::HOST, host);
        }
        Some((method, uri, headers))
    }

    async fn route(
        &self,
        req: Request<Incoming>,
        client: &Client,
        worker: usize,
        link: Option<&Link>,
    ) -> Response<ProxyBody> {
        if header_bytes(req.headers()) > self.max_header_bytes {
            return plain(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "request headers too large\n",
            );
        }
        let (mut parts, incoming) = req.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        let pairs = request_pairs(&parts, LISTENER_SCHEME);
        let original_authority = pseudo(&pairs, ":authority").unwrap_or("").to_owned();
        let end_of_stream = incoming.is_end_stream();

        let mut filter_stream = self.pool.stream_on(worker, Some(client.addr));
        filter_stream.set_property("request.protocol", protocol(parts.version));
        let stream: SharedStream = Arc::new(Mutex::new(filter_stream));
        let verdict = stream
            .lock()
            .await
            .request_headers(pairs, end_of_stream)
            .await;
        let edited = match verdict {
            Ok(Verdict::Continue(edited)) => edited,
            Ok(Verdict::Respond(local)) => return self.local(local),
            Err(failure) => return self.fail_closed(&failure),
        };
        // `parts` goes here. What it held of the client connection's read buffer (header values
        // and the path are slices of it) is gone by the time the upstream answers (at the latest
        // once the upstream request is written), so the connection's next read can reuse that
        // buffer instead of allocating a new one.
        let Some((method, uri, mut headers)) =
            self.upstream_head(parts, edited, &original_authority)
        else {
            tracing::error!("filter produced an invalid :path; request failed closed");
            return self.fail_closed(&FilterFailure::Trapped("invalid :path".into()));
        };
        add_forwarded(
            &mut headers,
            &client.ip,
            LISTENER_SCHEME,
            &original_authority,
        );

        let (early_tx, early_rx) = oneshot::channel();
        let upstream_body = if end_of_stream {
            body::empty()
        } else {
            let (tx, channel) = body::channel();
            tokio::spawn(pump_request(incoming, stream.clone(), tx, early_tx));
            body::streamed(channel)
        };
        let mut upstream_request = Request::new(upstream_body);
        *upstream_request.method_mut() = method;
        *upstream_request.uri_mut() = uri;
        *upstream_request.version_mut() = http::Version::HTTP_11;
        *upstream_request.headers_mut() = headers;

        let exchange = tokio::time::timeout(
            self.upstream_timeout,
            self.upstream.send(link, upstream_request),
        );
        // Biased: when the filter answered during the body phase, its answer wins over the
        // upstream failure that aborting the body causes.
        let upstream = tokio::select! {
            biased;
            Ok(early) = early_rx => return match early {
                EarlyEnd::Local(local) => self.local(local),
                EarlyEnd::Failed(failure) => self.fail_closed(&failure),
            },
            result = exchange => result,
        };
        let response = match upstream {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => {
                self.metrics.upstream_error();
                tracing::warn!(error = %error, upstream = %self.upstream.authority(), "upstream unreachable");
                return plain(StatusCode::BAD_GATEWAY, "upstream unavailable\n");
            }
            Err(_) => {
                self.metrics.upstream_error();
                tracing::warn!(upstream = %self.upstream.authority(), "upstream timed out");
                return plain(StatusCode::GATEWAY_TIMEOUT, "upstream timed out\n");
            }
        };
        self.respond(response, stream).await
    }

    async fn respond(
        &self,
        response: Response<Incoming>,
        stream: SharedStream,
    ) -> Response<ProxyBody> {
        let (mut parts, incoming) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        let end_of_stream = incoming.is_end_stream();
        let pairs = response_pairs(parts.status, &parts.headers);
        let verdict = stream
            .lock()
            .await
            .response_headers(pairs, end_of_stream)
            .await;
        let edited = match verdict {
            Ok(Verdict::Continue(edited)) => edited,
            Ok(Verdict::Respond(local)) => return self.local(local),
            Err(failure) => return self.fail_closed(&failure),
        };
        let rebuilt = edited.is_some();
        let (pseudo_headers, mut headers) = after_filter(parts.headers, edited);
        if rebuilt {
            strip_hop_by_hop(&mut headers);
        }
        let status = pseudo(&pseudo_headers, ":status")
            .and_then(|s| s.parse::<u16>().ok())
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(parts.status);
        let body = if end_of_stream {
            // The stream ends (on_log) when the last holder drops it, here.
            drop(stream);
            body::empty()
        } else {
            body::filtered(FilteredBody::new(incoming, stream))
        };
        let mut client_response = Response::new(body);
        *client_response.status_mut() = status;
        *client_response.headers_mut() = headers;
        client_response
    }
}

/// The `request.protocol` property as Envoy spells it.
fn protocol(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

fn abort_frame(reason: &str) -> Result<Frame<Bytes>, body::BoxError> {
    Err(Box::new(Aborted(reason.to_owned())))
}

/// Client body → filter → upstream body. Stops early when the filter answers or fails.
async fn pump_request(
    mut incoming: Incoming,
    stream: SharedStream,
    tx: FrameSender,
    early: oneshot::Sender<EarlyEnd>,
) {
    loop {
        let Some(frame) = incoming.frame().await else {
            let verdict = stream.lock().await.request_body(Bytes::new(), true).await;
            let _ = forward_data(verdict, &tx, early).await;
            return;
        };
        let Ok(frame) = frame else {
            let _ = tx.send(abort_frame("client body aborted")).await;
            return;
        };
        let frame = match frame.into_data() {
            Ok(data) => {
                let end = incoming.is_end_stream();
                let verdict = stream.lock().await.request_body(data, end).await;
                match verdict {
                    Ok(Verdict::Continue(chunk)) => {
                        if !chunk.is_empty() && tx.send(Ok(Frame::data(chunk))).await.is_err() {
                            return;
                        }
                        if end {
                            return;
                        }
                        continue;
                    }
                    other => {
                        let _ = forward_data(other, &tx, early).await;
                        return;
                    }
                }
            }
            Err(frame) => frame,
        };
        if let Ok(trailers) = frame.into_trailers() {
            let pairs = header_pairs(&trailers);
            match stream.lock().await.request_trailers(pairs).await {
                Ok(Verdict::Continue(edited)) => {
                    let (_, map) = after_filter(trailers, edited);
                    let _ = tx.send(Ok(Frame::trailers(map))).await;
                }
                Ok(Verdict::Respond(local)) => {
                    let _ = early.send(EarlyEnd::Local(local));
                    let _ = tx.send(abort_frame("filter answered locally")).await;
                }
                Err(failure) => {
                    let _ = early.send(EarlyEnd::Failed(failure));
                    let _ = tx.send(abort_frame("filter failed")).await;
                }
            }
            return;
        }
    }
}

/// Applies a body verdict that ends the pump: forwards the last chunk, or reports an early end.
async fn forward_data(
    verdict: Result<Verdict<Bytes>, FilterFailure>,
    tx: &FrameSender,
    early: oneshot::Sender<EarlyEnd>,
) -> Result<(), ()> {
    match verdict {
        Ok(Verdict::Continue(chunk)) => {
            if !chunk.is_empty() {
                tx.send(Ok(Frame::data(chunk))).await.map_err(|_| ())?;
            }
            Ok(())
        }
        // The filter's answer is handed over before the upstream body is aborted, so the abort
        // (which fails the upstream exchange) can never overtake it.
        Ok(Verdict::Respond(local)) => {
            let _ = early.send(EarlyEnd::Local(local));
            let _ = tx.send(abort_frame("filter answered locally")).await;
            Err(())
        }
        Err(failure) => {
            let _ = early.send(EarlyEnd::Failed(failure));
            let _ = tx.send(abort_frame("filter failed")).await;
            Err(())
        }
    }
}
