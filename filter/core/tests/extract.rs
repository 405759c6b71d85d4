//! Finding the credential in headers, cookies and the query, and stripping it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use oidc_filter_core::config::{Config, TokenSource};
use oidc_filter_core::extract::{find_token, strip, Found, Strip};
use oidc_filter_core::jws::MAX_TOKEN_BYTES;
use oidc_filter_core::{Allow, AuthError, Request};
use serde_json::json;

fn req(path: &str, headers: &[(&str, &str)]) -> Request {
    Request {
        method: "GET".into(),
        path: path.into(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        source: None,
    }
}

fn sources(list: serde_json::Value) -> Vec<TokenSource> {
    let doc = json!({"providers": [{"name": "p", "issuer": "https://idp.example.com"}], "token_sources": list});
    Config::from_json(doc.to_string().as_bytes())
        .unwrap()
        .token_sources
}

fn all_three() -> Vec<TokenSource> {
    sources(
        json!([{"header": "Authorization", "prefix": "Bearer "}, {"cookie": "at"}, {"query": "access_token"}]),
    )
}

fn found(token: &str, source: usize) -> Option<Found<'_>> {
    Some(Found {
        token: token.into(),
        source,
    })
}

#[test]
fn default_source_reads_a_bearer_authorization_header_in_any_case() {
    let s = TokenSource::default_sources();
    assert_eq!(
        find_token(&s, &req("/", &[("authorization", "Bearer abc")])),
        Ok(found("abc", 0))
    );
    assert_eq!(
        find_token(&s, &req("/", &[("AUTHORIZATION", "bearer abc")])),
        Ok(found("abc", 0))
    );
    assert_eq!(
        find_token(&s, &req("/", &[("Authorization", "BEARER   abc  ")])),
        Ok(found("abc", 0))
    );
}

#[test]
fn other_schemes_are_not_a_bearer_credential() {
    let s = TokenSource::default_sources();
    assert_eq!(
        find_token(&s, &req("/", &[("authorization", "Basic dXNlcjpwYXNz")])),
        Ok(None)
    );
    assert_eq!(
        find_token(&s, &req("/", &[("authorization", "Bearerabc")])),
        Ok(None)
    );
    assert_eq!(find_token(&s, &req("/", &[])), Ok(None));
}

#[test]
fn empty_token_after_the_prefix_is_malformed() {
    let s = TokenSource::default_sources();
    assert_eq!(
        find_token(&s, &req("/", &[("authorization", "Bearer ")])),
        Err(AuthError::Malformed)
    );
    assert_eq!(
        find_token(&s, &req("/", &[("authorization", "Bearer")])),
        Err(AuthError::Malformed)
    );
}

#[test]
fn oversized_header_token_is_too_large() {
    let s = TokenSource::default_sources();
    let big = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
    assert_eq!(
        find_token(&s, &req("/", &[("authorization", &big)])),
        Err(AuthError::TooLarge)
    );
    let fits = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES));
    assert!(find_token(&s, &req("/", &[("authorization", &fits)]))
        .unwrap()
        .is_some());
}

#[test]
fn two_bearer_headers_are_malformed() {
    let s = TokenSource::default_sources();
    let r = req(
        "/",
        &[("authorization", "Bearer a"), ("Authorization", "Bearer b")],
    );
    assert_eq!(find_token(&s, &r), Err(AuthError::Malformed));
}

#[test]
fn a_basic_header_next_to_a_bearer_header_is_not_a_second_credential() {
    let s = TokenSource::default_sources();
    let r = req(
        "/",
        &[("authorization", "Basic x"), ("authorization", "Bearer b")],
    );
    assert_eq!(find_token(&s, &r), Ok(found("b", 0)));
}

#[test]
fn credentials_in_two_sources_are_malformed_even_when_equal() {
    let s = all_three();
    let r = req("/x?access_token=a", &[("authorization", "Bearer b")]);
    assert_eq!(find_token(&s, &r), Err(AuthError::Malformed));
    let r = req("/x", &[("authorization", "Bearer a"), ("cookie", "at=a")]);
    assert_eq!(find_token(&s, &r), Err(AuthError::Malformed));
}

#[test]
fn each_source_is_found_with_its_index() {
    let s = all_three();
    assert_eq!(
        find_token(&s, &req("/", &[("Authorization", "Bearer h")])),
        Ok(found("h", 0))
    );
    assert_eq!(
        find_token(&s, &req("/", &[("Cookie", "a=1; at=c; b=2")])),
        Ok(found("c", 1))
    );
    assert_eq!(
        find_token(&s, &req("/p?x=1&access_token=q&y=2", &[])),
        Ok(found("q", 2))
    );
}

#[test]
fn header_without_prefix_uses_the_whole_value() {
    let s = sources(json!([{"header": "X-Token"}]));
    assert_eq!(
        find_token(&s, &req("/", &[("x-token", " t ")])),
        Ok(found("t", 0))
    );
    assert_eq!(
        find_token(&s, &req("/", &[("x-token", "")])),
        Err(AuthError::Malformed)
    );
}

#[test]
fn cookies_are_read_across_headers_with_quotes_removed_and_names_case_sensitive() {
    let s = sources(json!([{"cookie": "at"}]));
    assert_eq!(
        find_token(
            &s,
            &req("/", &[("cookie", "x=1"), ("cookie", "at=\"tok\"")])
        ),
        Ok(found("tok", 0))
    );
    assert_eq!(
        find_token(&s, &req("/", &[("cookie", "AT=tok; xat=1; at2=3")])),
        Ok(None)
    );
    assert_eq!(
        find_token(&s, &req("/", &[("cookie", "at=")])),
        Err(AuthError::Malformed)
    );
}

#[test]
fn query_values_and_names_are_percent_decoded() {
    let s = sources(json!([{"query": "access_token"}]));
    assert_eq!(
        find_token(&s, &req("/?access_token=a%2Eb%2ec", &[])),
        Ok(found("a.b.c", 0))
    );
    assert_eq!(
        find_token(&s, &req("/?%61ccess_token=t", &[])),
        Ok(found("t", 0))
    );
    assert_eq!(
        find_token(&s, &req("/?access_token=%zz", &[])),
        Err(AuthError::Malformed)
    );
    assert_eq!(
        find_token(&s, &req("/?access_token", &[])),
        Err(AuthError::Malformed)
    );
    assert_eq!(
        find_token(&s, &req("/?access_token=a&access_token=b", &[])),
        Err(AuthError::Malformed)
    );
    assert_eq!(find_token(&s, &req("/path_access_token=a", &[])), Ok(None));
}

#[test]
fn oversized_query_token_is_too_large() {
    let s = sources(json!([{"query": "t"}]));
    let path = format!("/?t={}", "a".repeat(MAX_TOKEN_BYTES + 1));
    assert_eq!(find_token(&s, &req(&path, &[])), Err(AuthError::TooLarge));
}

#[test]
fn stripping_a_header_token_removes_the_header() {
    let s = all_three();
    let r = req("/", &[("Authorization", "Bearer h")]);
    let f = find_token(&s, &r).unwrap().unwrap();
    assert_eq!(
        strip(&s, &f, &r),
        Strip {
            remove_headers: vec!["authorization".into()],
            ..Strip::default()
        }
    );
}

#[test]
fn stripping_a_cookie_token_keeps_the_other_cookies() {
    let s = all_three();
    let r = req("/", &[("Cookie", "a=1; at=c"), ("cookie", "b=2")]);
    let f = find_token(&s, &r).unwrap().unwrap();
    let st = strip(&s, &f, &r);
    assert_eq!(st.remove_headers, vec!["cookie"]);
    assert_eq!(
        st.set_headers,
        vec![("cookie".to_string(), "a=1; b=2".to_string())]
    );
    assert_eq!(st.new_path, None);
}

#[test]
fn stripping_the_only_cookie_removes_the_cookie_header() {
    let s = all_three();
    let r = req("/", &[("cookie", "at=c")]);
    let f = find_token(&s, &r).unwrap().unwrap();
    let st = strip(&s, &f, &r);
    assert_eq!(st.remove_headers, vec!["cookie"]);
    assert!(st.set_headers.is_empty());
}

#[test]
fn stripping_a_query_token_keeps_the_other_parameters_verbatim() {
    let s = all_three();
    let r = req("/p?x=%20a&access_token=q&y=2", &[]);
    let f = find_token(&s, &r).unwrap().unwrap();
    assert_eq!(strip(&s, &f, &r).new_path.as_deref(), Some("/p?x=%20a&y=2"));
    let r = req("/p?access_token=q", &[]);
    let f = find_token(&s, &r).unwrap().unwrap();
    assert_eq!(strip(&s, &f, &r).new_path.as_deref(), Some("/p"));
}

#[test]
fn strip_applies_to_an_allow_decision() {
    let s = all_three();
    let r = req("/p?access_token=q", &[]);
    let f = find_token(&s, &r).unwrap().unwrap();
    let mut allow = Allow {
        remove_headers: vec!["x-user".into()],
        ..Allow::default()
    };
    strip(&s, &f, &r).apply_to(&mut allow);
    assert_eq!(allow.remove_headers, vec!["x-user"]);
    assert_eq!(allow.new_path.as_deref(), Some("/p"));
}
