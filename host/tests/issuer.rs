//! The in-process test issuer: discovery, JWKS and the client-credentials token endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::*;
use oidc_host::issuer::{IssuerClient, IssuerConfig, TestIssuer};
use serde_json::json;

async fn issuer() -> TestIssuer {
    let mut extra = serde_json::Map::new();
    extra.insert("roles".into(), json!(["reader"]));
    TestIssuer::start(IssuerConfig {
        clients: vec![IssuerClient {
            id: "svc".into(),
            secret: "s3cret".into(),
            scopes: vec!["read".into(), "admin".into()],
            extra_claims: extra,
        }],
        ..IssuerConfig::default()
    })
    .await
    .unwrap()
}

fn claims_of(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn publishes_discovery_pointing_at_its_jwks() {
    let issuer = issuer().await;
    let discovery = get(issuer.addr(), "/.well-known/openid-configuration", &[])
        .await
        .json();
    assert_eq!(discovery["issuer"], issuer.issuer_url());
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/jwks", issuer.issuer_url())
    );
    let jwks = get(issuer.addr(), "/jwks", &[]).await.json();
    assert_eq!(jwks["keys"][0]["kid"], issuer.signer().kid());
    assert_eq!(jwks["keys"][0]["crv"], "P-256");
}

#[tokio::test]
async fn issues_a_token_to_a_client_with_basic_credentials() {
    let issuer = issuer().await;
    let basic = format!("Basic {}", STANDARD.encode("svc:s3cret"));
    let reply = send(
        issuer.addr(),
        "POST",
        "/token",
        &[
            ("authorization", &basic),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        "grant_type=client_credentials&scope=read",
    )
    .await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    let claims = claims_of(body["access_token"].as_str().unwrap());
    assert_eq!(claims["iss"], issuer.issuer_url());
    assert_eq!(claims["sub"], "svc");
    assert_eq!(claims["client_id"], "svc");
    assert_eq!(claims["aud"], "demo-api");
    assert_eq!(claims["scope"], "read");
    assert_eq!(claims["roles"], json!(["reader"]));
    assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());
}

#[tokio::test]
async fn accepts_client_credentials_in_the_form() {
    let issuer = issuer().await;
    let reply = send(
        issuer.addr(),
        "POST",
        "/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        "grant_type=client_credentials&client_id=svc&client_secret=s3cret",
    )
    .await;
    assert_eq!(reply.status, 200);
    let claims = claims_of(reply.json()["access_token"].as_str().unwrap());
    assert_eq!(claims["scope"], "read admin");
}

#[tokio::test]
async fn refuses_a_wrong_secret_without_echoing_it() {
    let issuer = issuer().await;
    let reply = send(
        issuer.addr(),
        "POST",
        "/token",
        &[],
        "grant_type=client_credentials&client_id=svc&client_secret=guess",
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"], "invalid_client");
    assert!(!String::from_utf8_lossy(&reply.body).contains("guess"));
}

#[tokio::test]
async fn refuses_a_scope_the_client_may_not_have() {
    let issuer = issuer().await;
    let reply = send(
        issuer.addr(),
        "POST",
        "/token",
        &[],
        "grant_type=client_credentials&client_id=svc&client_secret=s3cret&scope=root",
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "invalid_scope");
}

#[tokio::test]
async fn refuses_other_grant_types() {
    let issuer = issuer().await;
    let reply = send(
        issuer.addr(),
        "POST",
        "/token",
        &[],
        "grant_type=password&client_id=svc&client_secret=s3cret",
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn mints_arbitrary_claim_sets_with_its_key() {
    let issuer = issuer().await;
    let token = issuer.mint(&json!({"sub": "alice", "groups": ["ops"]}));
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], issuer.signer().kid());
    assert_eq!(claims_of(&token)["groups"], json!(["ops"]));
}
