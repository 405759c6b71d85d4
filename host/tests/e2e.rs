//! The real OIDC filter (the embedded `.wasm`) end to end through the proxy, against the in-process
//! issuer and the echo upstream: 200 with identity headers, 401, 403, forged identity headers
//! removed, and 503 when no keys can be had.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use oidc_host::config::{FilterJson, HostConfig};
use oidc_host::demo::{Demo, DEMO_AUDIENCE, DEMO_CLIENT_ID};
use oidc_host::echo::EchoServer;
use oidc_host::embedded::FILTER_WASM;
use oidc_host::issuer::unix_now;
use oidc_host::proxy::Gateway;
use serde_json::json;

async fn demo() -> Demo {
    Demo::start(0, FILTER_WASM.to_vec()).await.unwrap()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn allows_a_valid_token_and_forwards_identity_headers() {
    let demo = demo().await;
    let token = demo.issuer.access_token(DEMO_CLIENT_ID, "read");
    let reply = get(
        demo.gateway.addr(),
        "/api/orders",
        &[("authorization", &bearer(&token))],
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let seen = reply.json();
    assert_eq!(seen["path"], "/api/orders");
    assert_eq!(seen["headers"]["x-auth-subject"], DEMO_CLIENT_ID);
    assert_eq!(seen["headers"]["x-auth-scope"], "read");
}

#[tokio::test]
async fn removes_forged_identity_headers_before_the_upstream() {
    let demo = demo().await;
    let token = demo.issuer.access_token(DEMO_CLIENT_ID, "read");
    let reply = get(
        demo.gateway.addr(),
        "/api/orders",
        &[
            ("authorization", &bearer(&token)),
            ("x-auth-subject", "admin"),
            ("x-auth-scope", "admin"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200);
    let seen = reply.json();
    assert_eq!(seen["headers"]["x-auth-subject"], DEMO_CLIENT_ID);
    assert_eq!(seen["headers"]["x-auth-scope"], "read");

    // On an anonymous route the forged headers are removed too, not passed along.
    let open = get(
        demo.gateway.addr(),
        "/public",
        &[("x-auth-subject", "admin")],
    )
    .await;
    assert_eq!(open.status, 200);
    assert!(open.json()["headers"].get("x-auth-subject").is_none());
}

#[tokio::test]
async fn answers_401_without_a_token() {
    let demo = demo().await;
    let reply = get(demo.gateway.addr(), "/api/orders", &[]).await;
    assert_eq!(reply.status, 401);
    let challenge = reply.headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
}

#[tokio::test]
async fn answers_401_to_an_expired_token() {
    let demo = demo().await;
    let now = unix_now();
    let token = demo.issuer.mint(&json!({
        "iss": demo.issuer.issuer_url(), "sub": "late", "aud": DEMO_AUDIENCE,
        "iat": now - 7200, "exp": now - 3600, "scope": "read",
    }));
    let reply = get(
        demo.gateway.addr(),
        "/api/orders",
        &[("authorization", &bearer(&token))],
    )
    .await;
    assert_eq!(reply.status, 401);
    assert!(reply.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
}

#[tokio::test]
async fn answers_403_when_the_token_lacks_the_admin_scope() {
    let demo = demo().await;
    let token = demo.issuer.access_token(DEMO_CLIENT_ID, "read");
    let reply = get(
        demo.gateway.addr(),
        "/api/admin/users",
        &[("authorization", &bearer(&token))],
    )
    .await;
    assert_eq!(reply.status, 403);
    let challenge = reply.headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
}

#[tokio::test]
async fn allows_the_admin_route_with_the_admin_scope() {
    let demo = demo().await;
    let admin = demo.issuer.access_token(DEMO_CLIENT_ID, "read admin");
    let reply = get(
        demo.gateway.addr(),
        "/api/admin/users",
        &[("authorization", &bearer(&admin))],
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["headers"]["x-auth-scope"], "read admin");
}

/// Two workers: the first request makes worker 0 fetch the keys; the second, on worker 1 right
/// after, is paused until the keys reach it and must then be resumed and forwarded.
#[tokio::test]
async fn resumes_a_request_paused_on_another_worker_while_keys_are_fetched() {
    let demo = demo().await;
    let token = demo.issuer.access_token(DEMO_CLIENT_ID, "read");
    let first = get(
        demo.gateway.addr(),
        "/api/a",
        &[("authorization", &bearer(&token))],
    )
    .await;
    assert_eq!(first.status, 200);
    let second = get(
        demo.gateway.addr(),
        "/api/b",
        &[("authorization", &bearer(&token))],
    )
    .await;
    assert_eq!(second.status, 200);
}

#[tokio::test]
async fn issues_tokens_from_its_endpoint_that_the_gateway_accepts() {
    let demo = demo().await;
    let form = format!(
        "grant_type=client_credentials&scope=read&client_id={DEMO_CLIENT_ID}&client_secret={}",
        demo.client_secret
    );
    let token = send(demo.issuer.addr(), "POST", "/token", &[], &form)
        .await
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = get(
        demo.gateway.addr(),
        "/api/x",
        &[("authorization", &bearer(&token))],
    )
    .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn answers_503_when_the_keys_cannot_be_fetched() {
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dead = closed_port();
    let filter = json!({
        "providers": [{
            "name": "gone",
            "issuer": format!("http://{dead}"),
            "cluster": dead.to_string(),
            "audiences": ["api"],
        }],
    });
    let mut config = HostConfig::parse(&config_yaml(&echo.url(), None, "")).unwrap();
    config.filter.config = FilterJson(serde_json::to_vec(&filter).unwrap());
    let gateway = Gateway::start_with_wasm(&config, FILTER_WASM.to_vec())
        .await
        .unwrap();
    let signer = oidc_host::issuer::TokenSigner::generate(format!("http://{dead}"));
    let now = unix_now();
    let token = signer.mint(&json!({
        "iss": format!("http://{dead}"), "sub": "x", "aud": "api", "iat": now, "exp": now + 600,
    }));
    let reply = get(
        gateway.addr(),
        "/anything",
        &[("authorization", &bearer(&token))],
    )
    .await;
    assert_eq!(reply.status, 503);
    assert!(
        reply.json().get("method").is_none(),
        "the upstream must not have answered"
    );
}
