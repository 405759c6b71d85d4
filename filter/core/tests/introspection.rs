//! Opaque tokens through RFC 7662 introspection: active, inactive, endpoint failure, caching
//! until `exp`, one callout for concurrent requests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use oidc_filter_core::config::Config;
use oidc_filter_core::{Decision, Request};
use oidc_testdata::NOW;
use serde_json::json;
use support::*;

fn introspecting() -> Config {
    let doc = json!({
        "providers": [{"name": "idp", "issuer": ISS, "audiences": ["orders-api"], "client_id": "rs",
                        "client_secret": SECRET, "token_endpoint_auth_method": "client_secret_post",
                        "introspection": true, "introspection_cache_max_secs": 120}],
        "rules": [{"path_prefix": "/admin", "scopes_required": ["admin"]}],
        "claims_to_headers": {"x-user": "sub"}
    });
    Config::from_json(doc.to_string().as_bytes()).unwrap()
}

fn bearer(path: &str, token: &str) -> Request {
    Request {
        method: "GET".into(),
        path: path.into(),
        headers: vec![("authorization".into(), format!("Bearer {token}"))],
        source: None,
    }
}

fn active(exp: u64) -> String {
    json!({"active": true, "sub": "svc-1", "scope": "read", "aud": "orders-api", "iss": ISS, "exp": exp}).to_string()
}

#[test]
fn an_active_opaque_token_passes_with_its_claims_as_identity_and_policy() {
    let mut w = World::ready(introspecting());
    let (id, d) = w.send(&bearer("/orders", "opaque-1"));
    assert_eq!(d, Decision::Pause);
    let f = w.take_fetch().unwrap();
    assert_eq!(
        (f.method, f.path.as_str()),
        ("POST", "/token/introspection")
    );
    let body = format!("?{}", String::from_utf8(f.body.clone()).unwrap());
    assert_eq!(query(&body, "token"), "opaque-1");
    assert_eq!(query(&body, "client_id"), "rs");
    assert_eq!(query(&body, "client_secret"), SECRET, "client_secret_post");
    w.answer(&f, 200, &active(NOW + 3600));
    let Decision::Allow(allow) = w.resolution(id) else {
        panic!()
    };
    assert!(allow
        .set_headers
        .contains(&("x-user".into(), "svc-1".into())));
    let (_, d) = w.send(&bearer("/admin", "opaque-1"));
    assert_eq!(status(&d), 403, "cached answer, same policy");
}

#[test]
fn an_inactive_token_is_refused_with_401() {
    let mut w = World::ready(introspecting());
    let (id, _) = w.send(&bearer("/orders", "revoked"));
    let f = w.take_fetch().unwrap();
    w.answer(&f, 200, r#"{"active":false}"#);
    assert_eq!(status(&w.resolution(id)), 401);
}

#[test]
fn an_active_answer_for_another_audience_is_refused() {
    let mut w = World::ready(introspecting());
    let (id, _) = w.send(&bearer("/orders", "elsewhere"));
    let f = w.take_fetch().unwrap();
    w.answer(
        &f,
        200,
        &json!({"active": true, "sub": "x", "aud": "other-api"}).to_string(),
    );
    assert_eq!(status(&w.resolution(id)), 401);
}

#[test]
fn a_failing_endpoint_fails_closed_with_503() {
    let mut w = World::ready(introspecting());
    let (a, _) = w.send(&bearer("/orders", "t1"));
    let f = w.take_fetch().unwrap();
    w.fail(&f);
    assert_eq!(status(&w.resolution(a)), 503);
    let (b, _) = w.send(&bearer("/orders", "t2"));
    let f = w.take_fetch().unwrap();
    w.answer(&f, 500, "oops");
    assert_eq!(status(&w.resolution(b)), 503);
    let (c, _) = w.send(&bearer("/orders", "t3"));
    w.take_fetch().unwrap(); // never answered
    w.advance(7);
    assert_eq!(status(&w.resolution(c)), 503);
}

#[test]
fn answers_are_cached_until_exp_bounded_by_the_configured_maximum() {
    let mut w = World::ready(introspecting());
    let (_, _) = w.send(&bearer("/orders", "short"));
    let f = w.take_fetch().unwrap();
    w.answer(&f, 200, &active(NOW + 30));
    w.now += std::time::Duration::from_secs(29);
    assert_eq!(status(&w.send(&bearer("/orders", "short")).1), 200);
    assert!(w.fetches.is_empty(), "answered from the cache");
    w.now += std::time::Duration::from_secs(2);
    assert_eq!(
        w.send(&bearer("/orders", "short")).1,
        Decision::Pause,
        "asked again after exp"
    );
    // A long-lived token is asked about again after introspection_cache_max_secs.
    let (_, _) = w.send(&bearer("/orders", "long"));
    while let Some(f) = w.take_fetch() {
        let body = active(NOW + 10_000);
        w.answer(&f, 200, &body);
    }
    w.now += std::time::Duration::from_secs(119);
    assert_eq!(status(&w.send(&bearer("/orders", "long")).1), 200);
    w.now += std::time::Duration::from_secs(2);
    assert_eq!(w.send(&bearer("/orders", "long")).1, Decision::Pause);
}

#[test]
fn concurrent_requests_with_one_token_share_one_introspection() {
    let mut w = World::ready(introspecting());
    let ids: Vec<u32> = (0..5)
        .map(|_| w.send(&bearer("/orders", "same")).0)
        .collect();
    assert_eq!(w.fetches.len(), 1);
    let f = w.take_fetch().unwrap();
    w.answer(&f, 200, &active(NOW + 600));
    assert!(ids.iter().all(|id| status(&w.resolution(*id)) == 200));
}

/// The first requests after start wait for discovery (the introspection endpoint comes from it);
/// once it arrives they are introspected, not failed.
#[test]
fn a_token_sent_before_discovery_arrived_is_introspected_once_it_has() {
    let mut w = World::starting(introspecting());
    let (id, d) = w.send(&bearer("/orders", "early"));
    assert_eq!(d, Decision::Pause);
    w.answer_provider_fetches();
    assert!(
        !w.resolved.iter().any(|(r, _)| *r == id),
        "decided before introspection: {:?}",
        w.resolved
    );
    let f = w.take_fetch().expect("an introspection callout");
    assert_eq!(f.path, "/token/introspection");
    w.answer(&f, 200, &active(NOW + 3600));
    assert!(matches!(w.resolution(id), Decision::Allow(_)));
}
