//! Browser login through the engine: the redirect to the provider, the callback and code
//! exchange, and every way a callback is refused; logout; secrets kept out of what is printed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use oidc_filter_core::Decision;
use serde_json::json;
use sha2::{Digest, Sha256};
use support::*;

#[test]
fn sends_a_browser_to_the_provider_with_pkce_s256_state_and_nonce() {
    let mut w = World::ready(config(json!({})));
    let (_, d) = w.send(&browser("/app/orders?page=2", &[]));
    assert_eq!(status(&d), 302);
    let location = header(&d, "location").unwrap();
    assert!(
        location.starts_with("https://idp.example/auth?"),
        "{location}"
    );
    assert_eq!(query(&location, "response_type"), "code");
    assert_eq!(query(&location, "client_id"), "app");
    assert_eq!(
        query(&location, "redirect_uri"),
        "https://app.example/callback"
    );
    assert_eq!(query(&location, "scope"), "openid profile");
    assert_eq!(query(&location, "code_challenge_method"), "S256");
    assert!(query(&location, "state").len() >= 22);
    assert!(query(&location, "nonce").len() >= 22);
    let lines = set_cookie_lines(&d);
    let login = lines
        .iter()
        .find(|l| l.starts_with("oidc_session_login="))
        .unwrap();
    for attr in [
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=600",
    ] {
        assert!(login.contains(attr), "{login}");
    }
    // The callback exchanges the code with the verifier whose S256 hash is the challenge.
    let state = query(&location, "state");
    let (_, d2) = w.send(&browser(
        &format!("/callback?code=abc&state={state}"),
        &cookies(&d),
    ));
    assert_eq!(d2, Decision::Pause);
    let f = w.take_fetch().unwrap();
    assert_eq!(
        (f.method, f.path.as_str(), f.upstream.as_str()),
        ("POST", "/token", "idp.example:443")
    );
    let body = String::from_utf8(f.body.clone()).unwrap();
    let verifier = query(&format!("?{body}"), "code_verifier");
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    assert_eq!(challenge, query(&location, "code_challenge"));
    assert_eq!(
        query(&format!("?{body}"), "grant_type"),
        "authorization_code"
    );
    assert_eq!(query(&format!("?{body}"), "code"), "abc");
    assert_eq!(
        query(&format!("?{body}"), "redirect_uri"),
        "https://app.example/callback"
    );
    // client_secret_basic: id and secret form-urlencoded before base64 (RFC 6749 2.3.1).
    let basic = f
        .headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .unwrap();
    let expected = STANDARD.encode("app:s3cr3t%2F%2B%26%3Dvalue");
    assert_eq!(basic.1, format!("Basic {expected}"));
    assert!(f.headers.contains(&(
        "content-type".into(),
        "application/x-www-form-urlencoded".into()
    )));
}

#[test]
fn a_completed_login_sets_the_session_and_returns_to_the_original_path() {
    let mut w = World::ready(config(json!({})));
    let (_, d) = w.send(&browser("/app/orders?page=2", &[]));
    let location = header(&d, "location").unwrap();
    let (id, _) = w.send(&browser(
        &format!("/callback?code=c&state={}", query(&location, "state")),
        &cookies(&d),
    ));
    let f = w.take_fetch().unwrap();
    let body = w.token_response(&query(&location, "nonce"), "at-1", json!({}));
    w.answer(&f, 200, &body);
    let done = w.resolution(id);
    assert_eq!(status(&done), 302);
    assert_eq!(
        header(&done, "location").as_deref(),
        Some("/app/orders?page=2")
    );
    let set = cookies(&done);
    assert!(set
        .iter()
        .any(|(n, v)| n == "oidc_session" && !v.is_empty()));
    assert!(
        set.iter()
            .any(|(n, v)| n == "oidc_session_login" && v.is_empty()),
        "login cookie cleared"
    );
    let session: Vec<_> = set
        .into_iter()
        .filter(|(n, _)| n == "oidc_session")
        .collect();
    let (_, d) = w.send(&browser("/app/orders", &session));
    let Decision::Allow(allow) = d else {
        panic!("{d:?}")
    };
    assert!(allow
        .set_headers
        .contains(&("authorization".into(), "Bearer at-1".into())));
    assert!(allow
        .set_headers
        .contains(&("x-user".into(), "alice".into())));
}

#[test]
fn a_large_session_is_split_into_chunked_cookies_that_are_read_back() {
    let mut w = World::ready(config(json!({})));
    let (_, d) = w.send(&browser("/app", &[]));
    let location = header(&d, "location").unwrap();
    let (id, _) = w.send(&browser(
        &format!("/callback?code=c&state={}", query(&location, "state")),
        &cookies(&d),
    ));
    let f = w.take_fetch().unwrap();
    let big = "A".repeat(6000);
    let body = w.token_response(&query(&location, "nonce"), &big, json!({}));
    w.answer(&f, 200, &body);
    let set: Vec<_> = cookies(&w.resolution(id))
        .into_iter()
        .filter(|(n, v)| n.starts_with("oidc_session.") && !v.is_empty())
        .collect();
    let names: Vec<&str> = set.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["oidc_session.0", "oidc_session.1", "oidc_session.2"]
    );
    assert!(set.iter().all(|(n, v)| n.len() + v.len() < 4000));
    let (_, d) = w.send(&browser("/app", &set));
    let Decision::Allow(allow) = d else {
        panic!("{d:?}")
    };
    assert!(allow
        .set_headers
        .contains(&("authorization".into(), format!("Bearer {big}"))));
    // A missing chunk is no session.
    let (_, d) = w.send(&browser("/app", &set[..2]));
    assert_eq!(status(&d), 302);
}

#[test]
fn refuses_a_callback_without_a_pending_login_with_400() {
    let mut w = World::ready(config(json!({})));
    let (_, d) = w.send(&browser("/callback?code=c&state=s", &[]));
    assert_eq!(status(&d), 400);
    assert!(w.fetches.is_empty(), "no code exchange");
}

#[test]
fn refuses_a_wrong_or_replayed_state() {
    let mut w = World::ready(config(json!({})));
    let (_, d) = w.send(&browser("/app", &[]));
    let location = header(&d, "location").unwrap();
    let login = cookies(&d);
    let (_, bad) = w.send(&browser("/callback?code=c&state=forged", &login));
    assert_eq!(status(&bad), 400);
    assert!(cookies(&bad)
        .iter()
        .any(|(n, v)| n == "oidc_session_login" && v.is_empty()));
    assert!(w.fetches.is_empty());
    // The browser's cookie jar no longer has the login cookie: replaying the right state fails.
    let state = query(&location, "state");
    let (_, replay) = w.send(&browser(&format!("/callback?code=c&state={state}"), &[]));
    assert_eq!(status(&replay), 400);
    assert!(w.fetches.is_empty());
}

#[test]
fn refuses_an_id_token_with_another_nonce() {
    let mut w = World::ready(config(json!({})));
    let (_, d) = w.send(&browser("/app", &[]));
    let location = header(&d, "location").unwrap();
    let (id, _) = w.send(&browser(
        &format!("/callback?code=c&state={}", query(&location, "state")),
        &cookies(&d),
    ));
    let f = w.take_fetch().unwrap();
    let body = w.token_response("another-nonce", "at-1", json!({}));
    w.answer(&f, 200, &body);
    let done = w.resolution(id);
    assert_eq!(status(&done), 401);
    assert!(!cookies(&done)
        .iter()
        .any(|(n, v)| n == "oidc_session" && !v.is_empty()));
}

#[test]
fn refuses_an_id_token_whose_at_hash_does_not_match_the_access_token() {
    let mut w = World::ready(config(json!({})));
    let (_, d) = w.send(&browser("/app", &[]));
    let location = header(&d, "location").unwrap();
    let (id, _) = w.send(&browser(
        &format!("/callback?code=c&state={}", query(&location, "state")),
        &cookies(&d),
    ));
    let f = w.take_fetch().unwrap();
    let now = w.now.as_secs();
    let id_token = w.key.mint(
        &json!({"iss": ISS, "sub": "alice", "aud": ["app", "other"], "azp": "app",
        "iat": now, "exp": now + 300, "nonce": query(&location, "nonce"), "at_hash": "wrong"}),
    );
    let body =
        json!({"access_token": "at-1", "token_type": "Bearer", "id_token": id_token}).to_string();
    w.answer(&f, 200, &body);
    assert_eq!(status(&w.resolution(id)), 401);
}

#[test]
fn an_original_url_pointing_elsewhere_never_becomes_the_return_location() {
    for evil in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "//evil.example/app",
    ] {
        let mut w = World::ready(config(
            json!({"rules": [{"path_prefix": "/", "login": true}]}),
        ));
        let (_, d) = w.send(&browser(evil, &[]));
        if status(&d) != 302 {
            assert_eq!(
                status(&d),
                400,
                "{evil}: refused as ambiguous, or redirected"
            );
            continue;
        }
        let location = header(&d, "location").unwrap();
        let (id, _) = w.send(&browser(
            &format!("/callback?code=c&state={}", query(&location, "state")),
            &cookies(&d),
        ));
        let f = w.take_fetch().unwrap();
        let body = w.token_response(&query(&location, "nonce"), "at-1", json!({}));
        w.answer(&f, 200, &body);
        assert_eq!(
            header(&w.resolution(id), "location").as_deref(),
            Some("/"),
            "{evil}"
        );
    }
}

#[test]
fn requests_that_are_not_browser_navigations_get_401_not_a_redirect() {
    let mut w = World::ready(config(json!({})));
    let (_, d) = w.send(&request("GET", "/app", "application/json", &[]));
    assert_eq!(status(&d), 401);
    let (_, d) = w.send(&browser("/api/orders", &[]));
    assert_eq!(status(&d), 401, "routes marked api never redirect");
    let (_, d) = w.send(&request("POST", "/app", "text/html", &[]));
    assert_eq!(status(&d), 401);
    assert!(header(&d, "location").is_none());
}

#[test]
fn the_provider_refusing_the_login_is_a_401() {
    let mut w = World::ready(config(json!({})));
    let (_, d) = w.send(&browser("/app", &[]));
    let location = header(&d, "location").unwrap();
    let path = format!(
        "/callback?error=access_denied&state={}",
        query(&location, "state")
    );
    let (_, d) = w.send(&browser(&path, &cookies(&d)));
    assert_eq!(status(&d), 401);
    assert!(w.fetches.is_empty());
}

#[test]
fn logout_clears_the_session_and_redirects_with_id_token_hint() {
    let mut w = World::ready(config(json!({})));
    let session = w.login("/app");
    let (_, d) = w.send(&browser("/logout", &session));
    assert_eq!(status(&d), 302);
    let location = header(&d, "location").unwrap();
    assert!(
        location.starts_with("https://idp.example/session/end?"),
        "{location}"
    );
    assert_eq!(query(&location, "id_token_hint").split('.').count(), 3);
    assert_eq!(
        query(&location, "post_logout_redirect_uri"),
        "https://app.example/bye"
    );
    assert!(cookies(&d)
        .iter()
        .any(|(n, v)| n == "oidc_session" && v.is_empty()));
    assert!(set_cookie_lines(&d).iter().all(|l| l.contains("Max-Age=0")));
}

#[test]
fn secrets_appear_in_no_debug_output_log_or_error_body() {
    let cfg = config(json!({"display_errors": true}));
    assert!(!format!("{cfg:?}").contains(SECRET));
    assert!(!format!("{cfg:?}").contains(KEY_A));
    let mut w = World::ready(cfg);
    let (_, d) = w.send(&browser("/app", &[]));
    let location = header(&d, "location").unwrap();
    let (id, _) = w.send(&browser(
        &format!(
            "/callback?code=the-code&state={}",
            query(&location, "state")
        ),
        &cookies(&d),
    ));
    let f = w.take_fetch().unwrap();
    let printed = format!("{f:?}");
    assert!(
        !printed.contains("the-code") && !printed.contains("Basic"),
        "{printed}"
    );
    assert!(!format!("{:?}", w.engine).contains(SECRET));
    w.answer(&f, 400, r#"{"error":"invalid_grant"}"#);
    let Decision::Deny(deny) = w.resolution(id) else {
        panic!()
    };
    let everything = format!("{} {:?} {}", deny.body, deny.headers, w.lines.join("\n"));
    for secret in [
        SECRET,
        "the-code",
        &STANDARD.encode("app:s3cr3t%2F%2B%26%3Dvalue"),
    ] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked: {everything}"
        );
    }
}

#[test]
fn a_secret_of_the_wrong_type_is_refused_without_echoing_it() {
    let doc = json!({"providers": [{"name": "idp", "issuer": ISS, "client_id": "app", "client_secret": 123456789}]});
    let err = oidc_filter_core::config::Config::from_json(doc.to_string().as_bytes()).unwrap_err();
    assert!(err.path.contains("client_secret"), "{err}");
    assert!(!err.to_string().contains("123456789"), "{err}");
    let doc = json!({"providers": [{"name": "idp", "issuer": ISS, "client_id": "app", "client_secret": "x"}],
                     "external_url": "https://app.example", "session": {"keys": ["not-a-key-0123456789"]},
                     "rules": [{"path_prefix": "/", "login": true}]});
    let err = oidc_filter_core::config::Config::from_json(doc.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.path, "session.keys[0]");
    assert!(!err.to_string().contains("not-a-key"), "{err}");
}
