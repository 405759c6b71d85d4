//! The release `oidc-host` with the real filter against a real OpenID Provider (oidc-provider in
//! `e2e/op/`, on loopback): client-credentials and authorization-code tokens, RS256 and ES256,
//! refusals, a key rotation, and the OP going away and coming back. Fails, never skips, without node
//! or the OP's packages (`npm ci --prefix e2e/op`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::processes::{HostProcess, OpenIdProvider};
use common::*;
use oidc_host::echo::EchoServer;
use serde_json::{json, Value};

const ORDERS: &str = "https://orders-api";
const ORDERS_EC: &str = "https://orders-api-ec";
const BILLING: &str = "https://billing-api";
const AT_JWT: &str = "at+jwt";
const JWKS_FETCHED: &str = "oidc_filter_jwks_fetch_ok_total";
/// Requests polled while waiting for the filter's own retry to succeed: its backoff (1 s doubling)
/// retries at 1, 3, 7, 15 and 31 s, so a slow OP start still recovers within the bound.
const RECOVERY_ATTEMPTS: usize = 180;
const RECOVERY_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// The filter configuration for the OP: discovery from the issuer, callouts to its `host:port` (the
/// default without `cluster`), `orders:write` for POST and `orders:read` for the rest of `/orders`,
/// identity headers upstream. Access tokens are RFC 9068 `at+jwt`; ID tokens carry no `typ`.
fn filter_for(op: &OpenIdProvider, audiences: &[&str], typ: Option<&str>) -> Value {
    let mut provider = json!({
        "name": "op",
        "issuer": op.issuer(),
        "discovery": true,
        "audiences": audiences,
        "algorithms": ["RS256", "ES256"],
    });
    if let Some(typ) = typ {
        provider["typ"] = json!(typ);
    }
    json!({
        "providers": [provider],
        "realm": "orders",
        "rules": [
            {"path_prefix": "/orders", "methods": ["POST"], "scopes_required": ["orders:write"]},
            {"path_prefix": "/orders", "scopes_required": ["orders:read"]},
        ],
        "claims_to_headers": {
            "x-user-id": "sub",
            "x-client-id": "client_id",
            "x-user-roles": "roles",
            "x-user-groups": "groups",
            "x-realm-roles": "realm_access.roles",
        },
    })
}

struct Setup {
    op: OpenIdProvider,
    host: HostProcess,
    // Held for the upstream's lifetime.
    _echo: EchoServer,
}

/// A running OP, an echo upstream and a host with `workers` filter instances in front of it.
async fn setup(label: &str, workers: usize) -> Setup {
    let op = OpenIdProvider::start_new(label);
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let host = HostProcess::start(
        label,
        &echo.url(),
        workers,
        &filter_for(&op, &["orders-api"], Some(AT_JWT)),
    );
    Setup {
        op,
        host,
        _echo: echo,
    }
}

async fn call(host: &HostProcess, method: &str, path: &str, token: &str) -> Reply {
    let bearer = format!("Bearer {token}");
    send(host.addr, method, path, &[("authorization", &bearer)], "").await
}

fn challenge(reply: &Reply) -> &str {
    reply
        .headers
        .get("www-authenticate")
        .expect("WWW-Authenticate")
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn allows_a_client_credentials_token_and_forwards_identity_headers() {
    let s = setup("op-allow", 2).await;
    let token = s.op.client_credentials(ORDERS, "orders:read").await;

    let reply = call(&s.host, "GET", "/orders/42", &token).await;
    assert_eq!(reply.status, 200, "{:?}\n{}", reply.body, s.host.log());
    let seen = &reply.json()["headers"];
    assert_eq!(seen["x-user-id"], "svc");
    assert_eq!(seen["x-client-id"], "svc");
    assert_eq!(seen["x-user-roles"], "reader,order-manager");
    assert_eq!(seen["x-user-groups"], "staff");
    assert_eq!(seen["x-realm-roles"], "customer,offline_access");

    // More requests, spread over both workers, ride on the one fetch the workers share.
    for _ in 0..6 {
        let again = s.op.client_credentials(ORDERS, "orders:read").await;
        assert_eq!(call(&s.host, "GET", "/orders", &again).await.status, 200);
    }
    assert_eq!(s.host.metric(JWKS_FETCHED).await, 1, "{}", s.host.log());
}

#[tokio::test]
async fn refuses_no_token_another_audience_and_a_missing_scope() {
    let s = setup("op-refuse", 1).await;

    let anonymous = get(s.host.addr, "/orders", &[]).await;
    assert_eq!(anonymous.status, 401);
    assert!(
        challenge(&anonymous).starts_with("Bearer realm=\"orders\""),
        "{}",
        challenge(&anonymous)
    );

    let billing = s.op.client_credentials(BILLING, "orders:read").await;
    let wrong_audience = call(&s.host, "GET", "/orders", &billing).await;
    assert_eq!(wrong_audience.status, 401);
    assert!(challenge(&wrong_audience).contains("error=\"invalid_token\""));

    let reader = s.op.client_credentials(ORDERS, "orders:read").await;
    assert_eq!(call(&s.host, "GET", "/orders", &reader).await.status, 200);
    let write = call(&s.host, "POST", "/orders", &reader).await;
    assert_eq!(write.status, 403);
    assert!(
        challenge(&write).contains("error=\"insufficient_scope\""),
        "{}",
        challenge(&write)
    );

    let writer =
        s.op.client_credentials(ORDERS, "orders:read orders:write")
            .await;
    assert_eq!(call(&s.host, "POST", "/orders", &writer).await.status, 200);
}

#[tokio::test]
async fn accepts_es256_tokens() {
    let s = setup("op-es256", 1).await;
    let token = s.op.client_credentials(ORDERS_EC, "orders:read").await;
    let header = token.split('.').next().unwrap();
    assert!(
        String::from_utf8(base64_url(header))
            .unwrap()
            .contains("\"ES256\""),
        "the OP signed with another algorithm"
    );
    let reply = call(&s.host, "GET", "/orders", &token).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.json()["headers"]["x-user-id"], "svc");
}

/// JWKS fetches by the host: before the rotation, after the first new-key token, and after new-key,
/// old-key and EC tokens on every worker. Every token is asserted accepted on the way.
async fn rotate_and_count_fetches(label: &str, workers: usize) -> [u64; 3] {
    let mut s = setup(label, workers).await;
    let before = s.op.client_credentials(ORDERS, "orders:read").await;
    assert_eq!(call(&s.host, "GET", "/orders", &before).await.status, 200);
    // Signed by the first key, presented only after the rotation: in no cache of verified tokens.
    let unseen_old_key = s.op.client_credentials(ORDERS, "orders:read").await;
    let fetched_before = s.host.metric(JWKS_FETCHED).await;

    s.op.rotate_rsa_key("rsa-2");
    let rotated = s.op.client_credentials(ORDERS, "orders:read").await;
    assert_eq!(kid(&rotated), "rsa-2");
    let reply = call(&s.host, "GET", "/orders", &rotated).await;
    assert_eq!(reply.status, 200, "{:?}\n{}", reply.body, s.host.log());
    let fetched_first = s.host.metric(JWKS_FETCHED).await;

    // New-key tokens on every worker (requests are spread over them), then the old key, which the
    // OP still publishes, and the untouched EC key.
    for _ in 0..2 * workers {
        let fresh = s.op.client_credentials(ORDERS, "orders:read").await;
        assert_eq!(call(&s.host, "GET", "/orders", &fresh).await.status, 200);
    }
    assert_eq!(kid(&unseen_old_key), "rsa-1");
    let old = call(&s.host, "GET", "/orders", &unseen_old_key).await;
    assert_eq!(old.status, 200, "{:?}", old.body);
    assert_eq!(call(&s.host, "GET", "/orders", &before).await.status, 200);
    let ec = s.op.client_credentials(ORDERS_EC, "orders:read").await;
    assert_eq!(call(&s.host, "GET", "/orders", &ec).await.status, 200);
    [
        fetched_before,
        fetched_first,
        s.host.metric(JWKS_FETCHED).await,
    ]
}

#[tokio::test]
async fn follows_a_key_rotation_with_exactly_one_jwks_refetch_and_keeps_the_old_key() {
    let [before, first, all] = rotate_and_count_fetches("op-rotate", 1).await;
    assert_eq!(before, 1, "one fetch at start-up");
    assert_eq!(first, before + 1, "the first new-kid token refetches once");
    assert_eq!(
        all, first,
        "old-key, new-key and EC tokens need no further fetch"
    );
}

/// The second worker to see the new kid takes the set the first one refetched: one refetch per host.
#[tokio::test]
async fn shares_the_key_rotation_refetch_across_workers() {
    let [before, first, all] = rotate_and_count_fetches("op-rotate-workers", 2).await;
    assert_eq!(before, 1, "one fetch at start-up for both workers");
    assert_eq!(first, before + 1, "the first new-kid token refetches once");
    assert_eq!(all, first, "the other worker adopts the refetched keys");
}

#[tokio::test]
async fn keeps_accepting_tokens_from_cached_keys_while_the_op_is_down() {
    let mut s = setup("op-outage", 1).await;
    let seen = s.op.client_credentials(ORDERS, "orders:read").await;
    assert_eq!(call(&s.host, "GET", "/orders", &seen).await.status, 200);
    let unseen = s.op.client_credentials(ORDERS, "orders:read").await;

    s.op.stop();
    assert_eq!(call(&s.host, "GET", "/orders", &seen).await.status, 200);
    let reply = call(&s.host, "GET", "/orders", &unseen).await;
    assert_eq!(reply.status, 200, "{:?}\n{}", reply.body, s.host.log());
    assert_eq!(reply.json()["headers"]["x-user-id"], "svc");
}

#[tokio::test]
async fn a_host_started_while_the_op_is_down_answers_503_then_recovers_by_itself() {
    let mut op = OpenIdProvider::start_new("op-late");
    let token = op.client_credentials(ORDERS, "orders:read").await;
    op.stop();
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let host = HostProcess::start(
        "op-late",
        &echo.url(),
        2,
        &filter_for(&op, &["orders-api"], Some(AT_JWT)),
    );

    let down = call(&host, "GET", "/orders", &token).await;
    assert_eq!(down.status, 503, "{:?}\n{}", down.body, host.log());
    assert_eq!(down.headers["retry-after"], "1");

    op.start();
    let mut statuses = Vec::new();
    for _ in 0..RECOVERY_ATTEMPTS {
        let status = call(&host, "GET", "/orders", &token).await.status;
        statuses.push(status);
        if status == 200 {
            break;
        }
        tokio::time::sleep(RECOVERY_POLL).await;
    }
    assert_eq!(
        statuses.last(),
        Some(&200),
        "no recovery after {} attempts: {statuses:?}\n{}",
        RECOVERY_ATTEMPTS,
        host.log()
    );
    assert!(
        statuses.iter().all(|s| *s == 503 || *s == 200),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn accepts_an_id_token_from_the_authorization_code_flow_where_its_audience_is_configured() {
    let op = OpenIdProvider::start_new("op-idtoken");
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let host = HostProcess::start(
        "op-idtoken",
        &echo.url(),
        1,
        &filter_for(&op, &["web"], None),
    );
    let tokens = op.authorization_code();
    let id_token = tokens["id_token"].as_str().expect("id_token");
    let access_token = tokens["access_token"].as_str().expect("access_token");

    let reply = call(&host, "GET", "/profile", id_token).await;
    assert_eq!(reply.status, 200, "{:?}\n{}", reply.body, host.log());
    assert_eq!(reply.json()["headers"]["x-user-id"], "alice");
    // The access token of the same flow is for orders-api, not for this audience...
    assert_eq!(
        call(&host, "GET", "/profile", access_token).await.status,
        401
    );
    // ...and where orders-api's at+jwt access tokens are configured, that one passes and the
    // ID token does not.
    let orders = HostProcess::start(
        "op-idtoken-orders",
        &echo.url(),
        1,
        &filter_for(&op, &["orders-api"], Some(AT_JWT)),
    );
    assert_eq!(
        call(&orders, "GET", "/profile", access_token).await.status,
        200
    );
    let refused = call(&orders, "GET", "/profile", id_token).await;
    assert_eq!(refused.status, 401);
    assert!(challenge(&refused).contains("error=\"invalid_token\""));
}

fn base64_url(part: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url")
}

fn kid(token: &str) -> String {
    let header: Value =
        serde_json::from_slice(&base64_url(token.split('.').next().unwrap())).unwrap();
    header["kid"].as_str().expect("kid").to_owned()
}
