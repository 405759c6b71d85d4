//! Claim paths, claim values as names and headers, and the registered-claim checks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use oidc_filter_core::claims::{
    header_value, lookup, string_values, typ_matches, verify_registered,
};
use oidc_filter_core::config::Config;
use oidc_filter_core::AuthError;
use serde_json::{json, Map, Value};

const NOW: u64 = 1_700_000_000;

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn config(extra: Value) -> Config {
    let mut doc = json!({"providers": [{"name": "p", "issuer": "https://idp.example.com"}]});
    for (k, v) in extra.as_object().unwrap() {
        if k == "provider" {
            for (pk, pv) in v.as_object().unwrap() {
                doc["providers"][0][pk] = pv.clone();
            }
        } else {
            doc[k] = v.clone();
        }
    }
    Config::from_json(doc.to_string().as_bytes()).unwrap()
}

fn check(claims: Value, extra: Value) -> Result<(), AuthError> {
    check_typ(claims, None, extra)
}

fn check_typ(claims: Value, typ: Option<&str>, extra: Value) -> Result<(), AuthError> {
    let cfg = config(extra);
    verify_registered(&obj(claims), typ, &cfg.providers[0], &cfg, NOW)
}

#[test]
fn lookup_follows_nested_objects() {
    let c = obj(
        json!({"realm_access": {"roles": ["a"]}, "resource_access": {"orders": {"roles": ["w"]}}}),
    );
    assert_eq!(lookup(&c, "realm_access.roles"), Some(&json!(["a"])));
    assert_eq!(
        lookup(&c, "resource_access.orders.roles"),
        Some(&json!(["w"]))
    );
    assert_eq!(lookup(&c, "resource_access.billing.roles"), None);
    assert_eq!(lookup(&c, "realm_access.roles.x"), None);
}

#[test]
fn lookup_treats_a_colon_as_part_of_the_name() {
    let c = obj(json!({"cognito:groups": ["admins"], "cognito": {"groups": ["wrong"]}}));
    assert_eq!(lookup(&c, "cognito:groups"), Some(&json!(["admins"])));
}

#[test]
fn lookup_finds_auth0_namespaced_claims_with_dots_as_one_key() {
    let c = obj(
        json!({"https://example.com/roles": ["admin"], "https://example": {"com/roles": ["no"]}}),
    );
    assert_eq!(
        lookup(&c, "https://example.com/roles"),
        Some(&json!(["admin"]))
    );
}

#[test]
fn lookup_prefers_the_longest_dotted_key_at_each_level() {
    let c = obj(json!({"https://example.com/app": {"roles": ["r"]}}));
    assert_eq!(
        lookup(&c, "https://example.com/app.roles"),
        Some(&json!(["r"]))
    );
}

#[test]
fn string_values_reads_arrays_and_space_delimited_strings() {
    assert_eq!(
        string_values(&json!("read  write\tadmin")),
        vec!["read", "write", "admin"]
    );
    assert_eq!(string_values(&json!(["a", 1, "b", null])), vec!["a", "b"]);
    assert!(string_values(&json!(42)).is_empty());
    assert!(string_values(&json!({"a": "b"})).is_empty());
}

#[test]
fn header_value_renders_each_json_type() {
    assert_eq!(header_value(&json!("alice")), "alice");
    assert_eq!(header_value(&json!(["a", "b", 3])), "a,b,3");
    assert_eq!(header_value(&json!(42)), "42");
    assert_eq!(header_value(&json!(true)), "true");
    assert_eq!(
        header_value(&json!({"b": 1, "a": [1, 2]})),
        r#"{"a":[1,2],"b":1}"#
    );
}

#[test]
fn header_value_strips_control_characters_so_claims_cannot_inject_headers() {
    let v = json!("alice\r\nX-Admin: true\u{0}\u{7f}");
    assert_eq!(header_value(&v), "aliceX-Admin: true");
    assert_eq!(header_value(&json!(["a\nb", "c\rd"])), "ab,cd");
    assert!(!header_value(&json!({"k": "a\nb"})).contains('\n'));
}

#[test]
fn valid_token_passes() {
    assert_eq!(
        check(json!({"exp": NOW + 300, "iat": NOW, "nbf": NOW}), json!({})),
        Ok(())
    );
}

#[test]
fn exp_as_string_is_an_invalid_claim() {
    assert_eq!(
        check(json!({"exp": "1700000300"}), json!({})),
        Err(AuthError::InvalidClaim)
    );
    assert_eq!(
        check(json!({"exp": NOW + 60, "nbf": "x"}), json!({})),
        Err(AuthError::InvalidClaim)
    );
    assert_eq!(
        check(json!({"exp": NOW + 60, "iat": null}), json!({})),
        Err(AuthError::InvalidClaim)
    );
}

#[test]
fn missing_exp_is_refused_unless_not_required() {
    assert_eq!(
        check(json!({"iat": NOW}), json!({})),
        Err(AuthError::InvalidClaim)
    );
    assert_eq!(
        check(json!({"iat": NOW}), json!({"require_exp": false})),
        Ok(())
    );
}

#[test]
fn fractional_times_are_accepted() {
    assert_eq!(
        check(json!({"exp": (NOW + 10) as f64 + 0.5}), json!({})),
        Ok(())
    );
}

#[test]
fn exp_is_accepted_exactly_at_the_skew_boundary_and_refused_one_second_later() {
    let skew = json!({"clock_skew_secs": 60});
    assert_eq!(check(json!({"exp": NOW - 60}), skew.clone()), Ok(()));
    assert_eq!(
        check(json!({"exp": NOW - 61}), skew),
        Err(AuthError::Expired)
    );
    assert_eq!(
        check(json!({"exp": NOW}), json!({"clock_skew_secs": 0})),
        Ok(())
    );
    assert_eq!(
        check(json!({"exp": NOW - 1}), json!({"clock_skew_secs": 0})),
        Err(AuthError::Expired)
    );
}

#[test]
fn nbf_ahead_beyond_the_skew_is_not_yet_valid() {
    assert_eq!(
        check(json!({"exp": NOW + 600, "nbf": NOW + 60}), json!({})),
        Ok(())
    );
    assert_eq!(
        check(json!({"exp": NOW + 600, "nbf": NOW + 61}), json!({})),
        Err(AuthError::NotYetValid)
    );
}

#[test]
fn iat_in_the_future_beyond_the_skew_is_refused() {
    assert_eq!(
        check(json!({"exp": NOW + 600, "iat": NOW + 60}), json!({})),
        Ok(())
    );
    assert_eq!(
        check(json!({"exp": NOW + 600, "iat": NOW + 61}), json!({})),
        Err(AuthError::IssuedInFuture)
    );
}

#[test]
fn checks_run_in_order_exp_before_nbf() {
    assert_eq!(
        check(json!({"exp": NOW - 100, "nbf": NOW + 100}), json!({})),
        Err(AuthError::Expired)
    );
}

#[test]
fn lifetime_cap_uses_iat_when_present() {
    let cap = json!({"max_token_lifetime_secs": 3600});
    assert_eq!(
        check(json!({"iat": NOW, "exp": NOW + 3600}), cap.clone()),
        Ok(())
    );
    assert_eq!(
        check(json!({"iat": NOW, "exp": NOW + 3601}), cap),
        Err(AuthError::LifetimeTooLong)
    );
}

#[test]
fn lifetime_cap_without_iat_counts_from_now_plus_skew() {
    let cap = json!({"max_token_lifetime_secs": 3600});
    assert_eq!(check(json!({"exp": NOW + 3660}), cap.clone()), Ok(()));
    assert_eq!(
        check(json!({"exp": NOW + 3661}), cap),
        Err(AuthError::LifetimeTooLong)
    );
}

#[test]
fn lifetime_cap_refuses_a_token_that_never_expires() {
    let cfg = json!({"max_token_lifetime_secs": 3600, "require_exp": false});
    assert_eq!(
        check(json!({"iat": NOW}), cfg),
        Err(AuthError::LifetimeTooLong)
    );
}

#[test]
fn audience_must_match_one_configured_value_exactly() {
    let aud = json!({"provider": {"audiences": ["api://orders", "orders"]}});
    assert_eq!(
        check(json!({"exp": NOW + 60, "aud": "orders"}), aud.clone()),
        Ok(())
    );
    assert_eq!(
        check(
            json!({"exp": NOW + 60, "aud": ["x", "api://orders"]}),
            aud.clone()
        ),
        Ok(())
    );
    assert_eq!(
        check(json!({"exp": NOW + 60, "aud": "Orders"}), aud.clone()),
        Err(AuthError::AudienceNotAllowed)
    );
    assert_eq!(
        check(json!({"exp": NOW + 60, "aud": []}), aud.clone()),
        Err(AuthError::AudienceNotAllowed)
    );
    assert_eq!(
        check(json!({"exp": NOW + 60}), aud.clone()),
        Err(AuthError::AudienceNotAllowed)
    );
    assert_eq!(
        check(json!({"exp": NOW + 60, "aud": 5}), aud.clone()),
        Err(AuthError::InvalidClaim)
    );
    assert_eq!(
        check(json!({"exp": NOW + 60, "aud": ["orders", 5]}), aud),
        Err(AuthError::InvalidClaim)
    );
}

#[test]
fn audience_is_not_checked_when_none_is_configured() {
    assert_eq!(
        check(json!({"exp": NOW + 60, "aud": "anything"}), json!({})),
        Ok(())
    );
}

#[test]
fn cognito_access_tokens_are_matched_by_client_id() {
    let cognito = json!({"provider": {"audiences": ["7abc"], "audience_claim": "client_id"}});
    assert_eq!(
        check(
            json!({"exp": NOW + 60, "client_id": "7abc"}),
            cognito.clone()
        ),
        Ok(())
    );
    assert_eq!(
        check(
            json!({"exp": NOW + 60, "aud": "7abc", "client_id": "other"}),
            cognito
        ),
        Err(AuthError::AudienceNotAllowed)
    );
}

#[test]
fn required_typ_accepts_the_application_prefix_and_any_case() {
    let typ = json!({"provider": {"typ": "at+jwt"}});
    let claims = json!({"exp": NOW + 60});
    assert_eq!(
        check_typ(claims.clone(), Some("at+jwt"), typ.clone()),
        Ok(())
    );
    assert_eq!(
        check_typ(claims.clone(), Some("application/AT+JWT"), typ.clone()),
        Ok(())
    );
    assert_eq!(
        check_typ(claims.clone(), Some("JWT"), typ.clone()),
        Err(AuthError::WrongType)
    );
    assert_eq!(
        check_typ(claims.clone(), None, typ),
        Err(AuthError::WrongType)
    );
    assert_eq!(check_typ(claims, Some("JWT"), json!({})), Ok(()));
}

#[test]
fn typ_comparison_keeps_other_media_types_distinct() {
    assert!(typ_matches("application/at+jwt", "at+jwt"));
    assert!(!typ_matches("at+jwt", "text/at+jwt"));
    assert!(!typ_matches("at+jwt", "application/x/at+jwt"));
}
