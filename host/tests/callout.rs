//! The callout client against local servers: named clusters, plain host:port, timeouts, size caps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use oidc_host::callout::HttpCallouts;
use oidc_host::config::ClusterConfig;
use oidc_host::echo::EchoServer;
use oidc_host::runtime::{Callout, CalloutResult, CalloutSender};

fn request(upstream: &str, path: &str, timeout: Duration) -> Callout {
    Callout {
        upstream: upstream.to_owned(),
        headers: vec![
            (":method".into(), "POST".into()),
            (":path".into(), path.into()),
            (":authority".into(), "idp.test".into()),
            ("x-probe".into(), "1".into()),
        ],
        body: b"hello".to_vec(),
        trailers: Vec::new(),
        timeout,
    }
}

fn clusters(entries: &[(&str, &str, Option<u64>)]) -> BTreeMap<String, ClusterConfig> {
    entries
        .iter()
        .map(|(name, url, timeout_ms)| {
            (
                (*name).to_owned(),
                ClusterConfig {
                    url: (*url).to_owned(),
                    ca_file: None,
                    timeout_ms: *timeout_ms,
                },
            )
        })
        .collect()
}

fn echoed(result: CalloutResult) -> serde_json::Value {
    match result {
        CalloutResult::Response { headers, body, .. } => {
            assert!(
                headers.contains(&(":status".into(), "200".into())),
                "{headers:?}"
            );
            serde_json::from_slice(&body).unwrap()
        }
        CalloutResult::Failed { reason } => panic!("callout failed: {reason}"),
    }
}

fn failure(result: CalloutResult) -> String {
    match result {
        CalloutResult::Failed { reason } => reason,
        CalloutResult::Response { headers, .. } => panic!("expected a failure, got {headers:?}"),
    }
}

#[tokio::test]
async fn reaches_a_named_cluster_with_method_path_headers_and_body() {
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let callouts = HttpCallouts::new(
        &clusters(&[("idp", &echo.url(), None)]),
        tokio::runtime::Handle::current(),
    )
    .unwrap();
    let seen = echoed(
        callouts
            .call(request("idp", "/jwks?x=1", Duration::from_secs(10)))
            .await,
    );
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/jwks?x=1");
    assert_eq!(seen["headers"]["host"], "idp.test");
    assert_eq!(seen["headers"]["x-probe"], "1");
    assert_eq!(seen["body"], "hello");
}

#[tokio::test]
async fn reaches_host_and_port_when_no_cluster_has_that_name() {
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let callouts = HttpCallouts::new(&BTreeMap::new(), tokio::runtime::Handle::current()).unwrap();
    let target = echo.addr().to_string();
    let seen = echoed(
        callouts
            .call(request(
                &target,
                "/.well-known/openid-configuration",
                Duration::from_secs(10),
            ))
            .await,
    );
    assert_eq!(seen["path"], "/.well-known/openid-configuration");
}

#[tokio::test]
async fn reports_through_done_exactly_once_from_send() {
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let callouts = HttpCallouts::new(&BTreeMap::new(), tokio::runtime::Handle::current()).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    callouts.send(
        request(&echo.addr().to_string(), "/", Duration::from_secs(10)),
        Box::new(move |result| {
            let _ = tx.send(result);
        }),
    );
    let result = tokio::time::timeout(Duration::from_secs(20), rx)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(echoed(result)["path"], "/");
}

#[tokio::test]
async fn fails_an_unknown_cluster_name() {
    let callouts = HttpCallouts::new(&BTreeMap::new(), tokio::runtime::Handle::current()).unwrap();
    let reason = failure(
        callouts
            .call(request("no such cluster", "/", Duration::from_secs(1)))
            .await,
    );
    assert!(reason.contains("unknown cluster"), "{reason}");
}

#[tokio::test]
async fn fails_when_nothing_listens() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let callouts = HttpCallouts::new(&BTreeMap::new(), tokio::runtime::Handle::current()).unwrap();
    let reason = failure(
        callouts
            .call(request(&closed.to_string(), "/", Duration::from_secs(10)))
            .await,
    );
    assert!(reason.contains("connect"), "{reason}");
}

/// A server that accepts connections and never answers.
async fn silent_server() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (addr, task)
}

#[tokio::test]
async fn fails_with_timeout_when_the_server_never_answers() {
    let (addr, server) = silent_server().await;
    let callouts = HttpCallouts::new(&BTreeMap::new(), tokio::runtime::Handle::current()).unwrap();
    let reason = failure(
        callouts
            .call(request(&addr.to_string(), "/", Duration::from_millis(200)))
            .await,
    );
    assert_eq!(reason, "timeout");
    server.abort();
}

#[tokio::test]
async fn applies_the_cluster_timeout_when_shorter_than_the_calls() {
    let (addr, server) = silent_server().await;
    let callouts = HttpCallouts::new(
        &clusters(&[("slow", &format!("http://{addr}"), Some(100))]),
        tokio::runtime::Handle::current(),
    )
    .unwrap();
    let reason = failure(
        callouts
            .call(request("slow", "/", Duration::from_secs(60)))
            .await,
    );
    assert_eq!(reason, "timeout");
    server.abort();
}

#[tokio::test]
async fn refuses_a_response_larger_than_the_cap() {
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let callouts = HttpCallouts::new(&BTreeMap::new(), tokio::runtime::Handle::current()).unwrap();
    let mut call = request(&echo.addr().to_string(), "/", Duration::from_secs(10));
    // The echo returns the body it received: just over the cap.
    call.body = vec![b'a'; oidc_host::limits::MAX_CALLOUT_RESPONSE_BYTES];
    let reason = failure(callouts.call(call).await);
    assert!(reason.contains("exceeds"), "{reason}");
}

#[test]
fn refuses_a_cluster_ca_file_that_does_not_exist() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let clusters = BTreeMap::from([(
        "idp".to_owned(),
        ClusterConfig {
            url: "https://idp.example".into(),
            ca_file: Some("/nonexistent/ca.pem".into()),
            timeout_ms: None,
        },
    )]);
    let error = HttpCallouts::new(&clusters, runtime.handle().clone()).unwrap_err();
    assert!(
        error.to_string().starts_with("clusters.idp.ca_file:"),
        "{error}"
    );
}
