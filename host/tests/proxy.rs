//! The reverse proxy end to end on loopback with tiny guests standing in for the filter:
//! forwarding, X-Forwarded-*, streaming, hop-by-hop removal, h2c, 431, 502, fail-closed 503, admin.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::convert::Infallible;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use oidc_host::config::HostConfig;
use oidc_host::echo::EchoServer;
use oidc_host::proxy::Gateway;

async fn gateway(upstream: &str, wasm: Vec<u8>, extra: &str) -> Gateway {
    let config = HostConfig::parse(&config_yaml(upstream, None, extra)).unwrap();
    Gateway::start_with_wasm(&config, wasm).await.unwrap()
}

#[tokio::test]
async fn forwards_an_allowed_request_with_forwarded_headers() {
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let gw = gateway(&echo.url(), pass_through_guest(), "").await;
    let reply = send(
        gw.addr(),
        "POST",
        "/orders?id=7",
        &[
            ("x-forwarded-for", "203.0.113.9"),
            ("content-type", "text/plain"),
        ],
        "order body",
    )
    .await;
    assert_eq!(reply.status, 200);
    let seen = reply.json();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/orders?id=7");
    assert_eq!(seen["body"], "order body");
    assert_eq!(seen["headers"]["host"], "app.test");
    assert_eq!(seen["headers"]["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(seen["headers"]["x-forwarded-proto"], "http");
    assert_eq!(seen["headers"]["x-forwarded-host"], "app.test");
}

#[tokio::test]
async fn removes_hop_by_hop_headers_before_the_upstream() {
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let gw = gateway(&echo.url(), pass_through_guest(), "").await;
    let reply = get(
        gw.addr(),
        "/",
        &[
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("proxy-authorization", "Basic eA=="),
        ],
    )
    .await;
    let headers = &reply.json()["headers"];
    assert!(headers.get("x-private").is_none(), "{headers}");
    assert!(headers.get("proxy-authorization").is_none(), "{headers}");
    assert!(headers.get("connection").is_none(), "{headers}");
}

#[tokio::test]
async fn passes_the_upstreams_response_headers_through_a_filter_that_leaves_them() {
    // The pass-through guest changes no header, so the proxy forwards the upstream's own map:
    // repeated values keep their order, hop-by-hop headers still go.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let service = hyper::service::service_fn(|_req| async {
            let response = hyper::Response::builder()
                .status(201)
                .header("set-cookie", "a=1")
                .header("x-upstream", "yes")
                .header("set-cookie", "b=2")
                .header("connection", "x-private")
                .header("x-private", "hop")
                .header("keep-alive", "timeout=5")
                .body(Full::new(Bytes::from_static(b"made")))
                .unwrap();
            Ok::<_, Infallible>(response)
        });
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(tcp), service)
            .await
            .ok();
    });
    let gw = gateway(&format!("http://{upstream}"), pass_through_guest(), "").await;
    let reply = get(gw.addr(), "/", &[]).await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.body, Bytes::from_static(b"made"));
    let cookies: Vec<_> = reply.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(reply.headers["x-upstream"], "yes");
    for hop in ["x-private", "keep-alive"] {
        assert!(
            reply.headers.get(hop).is_none(),
            "{hop}: {:?}",
            reply.headers
        );
    }
}

#[tokio::test]
async fn streams_the_response_body_before_the_upstream_finishes() {
    // The upstream sends one chunk, then waits until the client has seen it before finishing:
    // a proxy that buffered the whole body would never deliver the first chunk.
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let release = std::sync::Arc::new(std::sync::Mutex::new(Some(release_rx)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let service = hyper::service::service_fn(move |_req| {
            let release = release.lock().unwrap().take();
            async move {
                let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(2);
                tokio::spawn(async move {
                    tx.send(Bytes::from_static(b"first;")).await.ok();
                    if let Some(release) = release {
                        release.await.ok();
                    }
                    tx.send(Bytes::from_static(b"second")).await.ok();
                });
                Ok::<_, Infallible>(hyper::Response::new(ChannelBody(rx)))
            }
        });
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(tcp), service)
            .await
            .ok();
    });
    let gw = gateway(&format!("http://{upstream}"), pass_through_guest(), "").await;

    let tcp = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = http::Request::builder()
        .uri("/stream")
        .header("host", "app.test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = tokio::time::timeout(STEP, sender.send_request(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let first = tokio::time::timeout(STEP, body.frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), Bytes::from_static(b"first;"));
    release_tx.send(()).unwrap();
    let rest = tokio::time::timeout(STEP, body.collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    assert_eq!(rest, Bytes::from_static(b"second"));
}

/// A response body fed chunk by chunk from a channel.
struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

#[tokio::test]
async fn answers_h2c_requests_with_prior_knowledge() {
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let gw = gateway(&echo.url(), pass_through_guest(), "").await;
    let tcp = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = http::Request::builder()
        .uri("http://app.test/h2?x=1")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = tokio::time::timeout(STEP, sender.send_request(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let seen: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(seen["path"], "/h2?x=1");
    assert_eq!(seen["headers"]["host"], "app.test");
}

#[tokio::test]
async fn answers_502_when_the_upstream_is_unreachable() {
    let gw = gateway(
        &format!("http://{}", closed_port()),
        pass_through_guest(),
        "",
    )
    .await;
    let reply = get(gw.addr(), "/", &[]).await;
    assert_eq!(reply.status, 502);
    assert_eq!(gw.metrics().upstream_errors(), 1);
}

#[tokio::test]
async fn answers_431_to_oversized_request_headers() {
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let gw = gateway(
        &echo.url(),
        pass_through_guest(),
        "limits:\n  max_request_header_bytes: 4096\n",
    )
    .await;
    let big = "a".repeat(6000);
    let reply = get(gw.addr(), "/", &[("x-big", &big)]).await;
    assert_eq!(reply.status, 431);
    let small = get(gw.addr(), "/", &[("x-small", "a")]).await;
    assert_eq!(small.status, 200);
}

#[tokio::test]
async fn fails_closed_with_503_when_the_filter_traps() {
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let gw = gateway(&echo.url(), trapping_guest(), "").await;
    let reply = get(gw.addr(), "/", &[]).await;
    assert_eq!(reply.status, 503);
    assert!(
        !String::from_utf8_lossy(&reply.body).contains("method"),
        "upstream must not answer"
    );
    assert_eq!(gw.metrics().filter_failures(), 1);
}

#[tokio::test]
async fn returns_the_filters_local_response_without_calling_the_upstream() {
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let gw = gateway(&echo.url(), denying_guest(), "").await;
    let reply = get(gw.addr(), "/", &[]).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.body, Bytes::from_static(b"denied"));
}

#[tokio::test]
async fn serves_metrics_and_readiness_on_the_admin_listener() {
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let gw = gateway(&echo.url(), pass_through_guest(), "admin: 127.0.0.1:0\n").await;
    let admin = gw.admin_addr().unwrap();
    assert_eq!(get(gw.addr(), "/", &[]).await.status, 200);
    let ready = get(admin, "/ready", &[]).await;
    assert_eq!(ready.status, 200);
    let metrics = get(admin, "/metrics", &[]).await;
    assert_eq!(metrics.status, 200);
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(text.contains("oidc_host_requests_total 1"), "{text}");
    assert!(
        text.contains("oidc_host_responses_total{class=\"2xx\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE oidc_host_upstream_errors_total counter"),
        "{text}"
    );
    assert_eq!(get(admin, "/nope", &[]).await.status, 404);
}

#[tokio::test]
async fn stops_accepting_after_shutdown() {
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let gw = gateway(&echo.url(), pass_through_guest(), "").await;
    let addr = gw.addr();
    assert_eq!(get(addr, "/", &[]).await.status, 200);
    tokio::time::timeout(STEP, gw.shutdown()).await.unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn answers_the_filters_body_phase_reply_instead_of_the_upstreams() {
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let gw = gateway(&echo.url(), body_denying_guest(), "").await;
    let reply = send(gw.addr(), "POST", "/upload", &[], "payload").await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.body, Bytes::from_static(b"denied"));
}

/// An upstream answering `ok` to everything that counts the connections it accepted; with
/// `keep_alive` false it answers `Connection: close` and closes after each response.
async fn counting_upstream(
    keep_alive: bool,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                hyper::server::conn::http1::Builder::new()
                    .keep_alive(keep_alive)
                    .serve_connection(TokioIo::new(tcp), service)
                    .await
                    .ok();
            });
        }
    });
    (addr, accepted)
}

/// Sends `n` GETs one after the other on one client connection; the statuses and bodies.
async fn sequential_gets(gateway: std::net::SocketAddr, n: usize) -> Vec<(u16, Bytes)> {
    let tcp = tokio::net::TcpStream::connect(gateway).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut replies = Vec::new();
    for i in 0..n {
        let request = http::Request::builder()
            .uri(format!("/seq/{i}"))
            .header("host", "app.test")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = tokio::time::timeout(STEP, sender.send_request(request))
            .await
            .unwrap()
            .unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        replies.push((status, body));
    }
    replies
}

#[tokio::test]
async fn keeps_one_upstream_connection_per_client_connection() {
    let (upstream, accepted) = counting_upstream(true).await;
    let gw = gateway(&format!("http://{upstream}"), pass_through_guest(), "").await;
    for (status, body) in sequential_gets(gw.addr(), 3).await {
        assert_eq!(status, 200);
        assert_eq!(body, Bytes::from_static(b"ok"));
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    // A second client connection gets its own upstream connection.
    for (status, _) in sequential_gets(gw.addr(), 2).await {
        assert_eq!(status, 200);
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn reopens_the_upstream_connection_when_the_upstream_closes_it() {
    let (upstream, accepted) = counting_upstream(false).await;
    let gw = gateway(&format!("http://{upstream}"), pass_through_guest(), "").await;
    for (status, body) in sequential_gets(gw.addr(), 3).await {
        assert_eq!(status, 200);
        assert_eq!(body, Bytes::from_static(b"ok"));
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(gw.metrics().upstream_errors(), 0);
}

#[tokio::test]
async fn filters_a_connections_requests_on_one_worker() {
    // Two workers, each with its own instance of a guest counting the requests it has seen.
    // Connections go to the workers in turn, and every request of a connection is filtered by
    // the instance of the worker whose thread serves that connection.
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let yaml = format!(
        "listen: 127.0.0.1:0\nupstream: {}\nworkers: 2\n",
        echo.url()
    );
    let config = HostConfig::parse(&yaml).unwrap();
    let gw = Gateway::start_with_wasm(&config, counting_guest())
        .await
        .unwrap();
    let counts = |replies: Vec<(u16, Bytes)>| -> Vec<String> {
        replies
            .into_iter()
            .map(|(status, body)| {
                assert_eq!(status, 200);
                let seen: serde_json::Value = serde_json::from_slice(&body).unwrap();
                seen["headers"]["x-instance-count"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(counts(sequential_gets(gw.addr(), 3).await), ["1", "2", "3"]);
    assert_eq!(counts(sequential_gets(gw.addr(), 2).await), ["1", "2"]);
    assert_eq!(counts(sequential_gets(gw.addr(), 1).await), ["4"]);
}
