//! The session cookie through the engine: tampering, truncation, key rotation, timeouts,
//! refresh before expiry and what happens when it fails, and what the upstream receives.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use oidc_filter_core::Decision;
use serde_json::json;
use support::*;

fn allowed(d: &Decision) -> &oidc_filter_core::Allow {
    match d {
        Decision::Allow(a) => a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_upstream_gets_the_access_token_and_identity_but_not_the_filters_cookies() {
    let mut w = World::ready(config(json!({})));
    let mut jar = w.login("/app");
    jar.push(("theme".into(), "dark".into()));
    let mut req = browser("/app/x", &jar);
    req.headers.push(("x-user".into(), "mallory".into()));
    let (_, d) = w.send(&req);
    let allow = allowed(&d);
    assert!(allow.remove_headers.contains(&"x-user".to_string()));
    assert!(allow
        .set_headers
        .contains(&("x-user".into(), "alice".into())));
    assert!(allow
        .set_headers
        .contains(&("authorization".into(), "Bearer at-1".into())));
    assert!(allow
        .set_headers
        .contains(&("cookie".into(), "theme=dark".into())));
    // The route policy runs on the session's claims (the ID token has roles ["viewer"]).
    let (_, d) = w.send(&browser("/admin", &jar));
    assert_eq!(status(&d), 403);
}

#[test]
fn tampered_truncated_or_renamed_cookies_are_no_session() {
    let mut w = World::ready(config(json!({})));
    let jar = w.login("/app");
    let value = jar[0].1.clone();
    let mut flipped = value.clone().into_bytes();
    let i = flipped.len() / 2;
    flipped[i] = if flipped[i] == b'A' { b'B' } else { b'A' };
    let cases = [
        String::from_utf8(flipped).unwrap(),
        value[..value.len() - 4].to_string(),
        value[..20].to_string(),
    ];
    for bad in cases {
        let (_, d) = w.send(&browser("/app", &[("oidc_session".into(), bad)]));
        assert_eq!(status(&d), 302, "sent to sign in again");
        assert!(
            cookies(&d)
                .iter()
                .any(|(n, v)| n == "oidc_session" && v.is_empty()),
            "broken cookie expired"
        );
    }
    // A session value under the login cookie's name does not open either.
    let (_, d) = w.send(&browser(
        "/callback?code=c&state=s",
        &[("oidc_session_login".into(), value)],
    ));
    assert_eq!(status(&d), 400);
}

#[test]
fn an_old_key_still_opens_sessions_after_rotation_and_a_removed_key_does_not() {
    let mut w = World::ready(config(json!({})));
    let jar = w.login("/app");
    let mut rotated = World::ready(config(json!({"session": {"keys": [KEY_B, KEY_A]}})));
    let (_, d) = rotated.send(&browser("/app", &jar));
    assert_eq!(status(&d), 200);
    let mut removed = World::ready(config(json!({"session": {"keys": [KEY_B]}})));
    let (_, d) = removed.send(&browser("/app", &jar));
    assert_eq!(status(&d), 302);
}

#[test]
fn an_idle_session_ends_and_an_active_one_is_rewritten_at_most_every_half_idle_timeout() {
    let mut w = World::ready(config(
        json!({"session": {"keys": [KEY_A], "idle_timeout_secs": 100}}),
    ));
    let jar = w.login("/app");
    w.advance(30);
    let (_, d) = w.send(&browser("/app", &jar));
    assert!(
        allowed(&d).response_headers.is_empty(),
        "no rewrite within half the idle timeout"
    );
    w.advance(40);
    let (_, d) = w.send(&browser("/app", &jar));
    let fresh: Vec<_> = cookies(&d)
        .into_iter()
        .filter(|(n, _)| n == "oidc_session")
        .collect();
    assert_eq!(fresh.len(), 1, "rewritten after half the idle timeout");
    w.advance(99);
    let (_, d) = w.send(&browser("/app", &fresh));
    assert_eq!(status(&d), 200, "the rewrite restarted the idle timer");
    w.advance(101);
    let (_, d) = w.send(&browser("/app", &fresh));
    assert_eq!(status(&d), 302, "idle too long");
}

#[test]
fn a_session_ends_at_its_absolute_timeout_however_active() {
    let mut w = World::ready(config(
        json!({"session": {"keys": [KEY_A], "absolute_timeout_secs": 120,
                                                        "idle_timeout_secs": 100}}),
    ));
    let mut jar = w.login("/app");
    for _ in 0..2 {
        w.advance(59);
        let (_, d) = w.send(&browser("/app", &jar));
        assert_eq!(status(&d), 200);
        let fresh: Vec<_> = cookies(&d)
            .into_iter()
            .filter(|(n, v)| n == "oidc_session" && !v.is_empty())
            .collect();
        if !fresh.is_empty() {
            jar = fresh;
        }
    }
    w.advance(3);
    let (_, d) = w.send(&browser("/app", &jar));
    assert_eq!(status(&d), 302);
}

#[test]
fn refreshes_the_access_token_shortly_before_it_expires_once_for_concurrent_requests() {
    let mut w = World::ready(config(json!({})));
    let jar = w.login("/app");
    w.now += std::time::Duration::from_secs(245); // expires_in 300: inside the last minute
    let (a, da) = w.send(&browser("/app/1", &jar));
    let (b, db) = w.send(&request("GET", "/api/2", "application/json", &jar));
    assert_eq!((da, db), (Decision::Pause, Decision::Pause));
    assert_eq!(w.fetches.len(), 1, "one refresh for both");
    let f = w.take_fetch().unwrap();
    let body = String::from_utf8(f.body.clone()).unwrap();
    assert_eq!(query(&format!("?{body}"), "grant_type"), "refresh_token");
    assert_eq!(query(&format!("?{body}"), "refresh_token"), "rt-1");
    w.answer(
        &f,
        200,
        r#"{"access_token":"at-2","token_type":"bearer","expires_in":300}"#,
    );
    for id in [a, b] {
        let d = w.resolution(id);
        let allow = allowed(&d);
        assert!(allow
            .set_headers
            .contains(&("authorization".into(), "Bearer at-2".into())));
        assert!(cookies(&d)
            .iter()
            .any(|(n, v)| n == "oidc_session" && !v.is_empty()));
    }
}

#[test]
fn a_failed_refresh_starts_a_new_login_for_browsers_and_401_for_apis() {
    let mut w = World::ready(config(json!({})));
    let jar = w.login("/app");
    w.now += std::time::Duration::from_secs(245);
    let (a, _) = w.send(&browser("/app/1", &jar));
    let (b, _) = w.send(&browser("/api/1", &jar));
    let f = w.take_fetch().unwrap();
    w.answer(&f, 400, r#"{"error":"invalid_grant"}"#);
    let da = w.resolution(a);
    assert_eq!(status(&da), 302);
    assert!(header(&da, "location")
        .unwrap()
        .starts_with("https://idp.example/auth?"));
    assert_eq!(status(&w.resolution(b)), 401);
}

#[test]
fn without_a_refresh_token_an_expired_access_token_means_a_new_login() {
    let mut w = World::ready(config(json!({})));
    let (_, d) = w.send(&browser("/app", &[]));
    let location = header(&d, "location").unwrap();
    let (id, _) = w.send(&browser(
        &format!("/callback?code=c&state={}", query(&location, "state")),
        &cookies(&d),
    ));
    let f = w.take_fetch().unwrap();
    let mut body: serde_json::Value =
        serde_json::from_str(&w.token_response(&query(&location, "nonce"), "at-1", json!({})))
            .unwrap();
    body.as_object_mut().unwrap().remove("refresh_token");
    w.answer(&f, 200, &body.to_string());
    let jar: Vec<_> = cookies(&w.resolution(id))
        .into_iter()
        .filter(|(n, v)| n == "oidc_session" && !v.is_empty())
        .collect();
    w.now += std::time::Duration::from_secs(250);
    let (_, d) = w.send(&browser("/app", &jar));
    assert_eq!(status(&d), 200, "still valid, nothing to refresh with");
    w.now += std::time::Duration::from_secs(60);
    let (_, d) = w.send(&browser("/app", &jar));
    assert_eq!(status(&d), 302);
    assert!(w.fetches.is_empty());
}
