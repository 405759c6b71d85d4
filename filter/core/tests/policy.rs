//! Route matching (including path-spelling bypass attempts) and entitlement checks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use oidc_filter_core::config::Config;
use oidc_filter_core::policy::{Entitlement, Policy, Route, Unmet};
use oidc_filter_core::AuthError;
use serde_json::{json, Map, Value};

fn policy(rules: Value, extra: Value) -> Policy {
    let mut doc =
        json!({"providers": [{"name": "p", "issuer": "https://idp.example.com"}], "rules": rules});
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    Policy::new(&Config::from_json(doc.to_string().as_bytes()).unwrap())
}

/// `/public` anonymous, `/admin` needing role admin, `/api` needing scope read.
fn guarded() -> Policy {
    policy(
        json!([
            {"path_prefix": "/public", "allow_anonymous": true},
            {"path_prefix": "/admin", "roles_required": ["admin"]},
            {"path_prefix": "/api", "scopes_required": ["read"]},
            {"path": "/health", "methods": ["GET"], "allow_anonymous": true}
        ]),
        json!({}),
    )
}

fn index(p: &Policy, method: &str, path: &str) -> Option<usize> {
    match p.route(method, path) {
        Route::Rule(i, _) => Some(i),
        Route::Default => None,
        Route::Ambiguous => panic!("{path} was ambiguous"),
    }
}

fn claims(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

#[test]
fn first_matching_rule_wins() {
    let p = policy(
        json!([{"path_prefix": "/api/admin"}, {"path_prefix": "/api"}]),
        json!({}),
    );
    assert_eq!(index(&p, "GET", "/api/admin/users"), Some(0));
    assert_eq!(index(&p, "GET", "/api/orders"), Some(1));
}

#[test]
fn prefix_matches_on_segment_boundaries_only() {
    let p = guarded();
    assert_eq!(index(&p, "GET", "/api"), Some(2));
    assert_eq!(index(&p, "GET", "/api/"), Some(2));
    assert_eq!(index(&p, "GET", "/api/orders/1"), Some(2));
    assert_eq!(index(&p, "GET", "/apix"), None);
    assert_eq!(index(&p, "GET", "/ap"), None);
}

#[test]
fn prefix_with_trailing_slash_does_not_cover_the_bare_path() {
    let p = policy(
        json!([{"path_prefix": "/api/"}, {"path_prefix": "/"}]),
        json!({}),
    );
    assert_eq!(index(&p, "GET", "/api/x"), Some(0));
    assert_eq!(index(&p, "GET", "/api"), Some(1));
    assert_eq!(index(&p, "GET", "/anything"), Some(1));
}

#[test]
fn exact_path_ignores_the_query_and_checks_the_method_in_any_case() {
    let p = guarded();
    assert_eq!(index(&p, "GET", "/health?verbose=1"), Some(3));
    assert_eq!(index(&p, "get", "/health"), Some(3));
    assert_eq!(index(&p, "POST", "/health"), None);
    assert_eq!(index(&p, "GET", "/health/x"), None);
}

#[test]
fn unmatched_request_routes_to_the_default() {
    assert_eq!(guarded().route("GET", "/other"), Route::Default);
    assert!(guarded().route("GET", "/other").rule().is_none());
}

#[test]
fn dot_segments_cannot_climb_out_of_an_anonymous_prefix() {
    let p = guarded();
    for path in [
        "/public/../admin",
        "/public/%2e%2e/admin",
        "/public/%2E%2E/admin",
        "/public/./../admin/x",
    ] {
        assert_ne!(
            p.route("GET", path).rule().map(|(i, _)| i),
            Some(0),
            "{path}"
        );
    }
}

#[test]
fn dot_segments_cannot_climb_into_an_anonymous_prefix_either() {
    // Raw reading: /admin rule; normalised: /public. The readings disagree: refused.
    assert_eq!(
        guarded().route("GET", "/admin/../public/x"),
        Route::Ambiguous
    );
}

#[test]
fn doubled_slashes_and_encoded_letters_never_reach_a_weaker_rule() {
    let p = guarded();
    for path in ["//admin", "/%61dmin", "/admin//x/..", "///admin/x"] {
        let route = p.route("GET", path);
        assert!(
            matches!(route, Route::Ambiguous | Route::Rule(1, _)),
            "{path}: {route:?}"
        );
    }
}

#[test]
fn encoded_slash_that_would_change_the_rule_is_ambiguous() {
    let p = guarded();
    assert_eq!(p.route("GET", "/public%2F..%2Fadmin"), Route::Ambiguous);
    assert_eq!(p.route("GET", "/public%2f..%2fadmin"), Route::Ambiguous);
    assert_eq!(p.route("GET", "/public\\..\\admin"), Route::Ambiguous);
}

#[test]
fn encoded_slash_that_changes_nothing_is_routed() {
    let p = guarded();
    assert_eq!(index(&p, "GET", "/api/projects/group%2Fproject"), Some(2));
}

#[test]
fn path_parameters_and_double_encoding_are_not_a_way_around_a_rule() {
    let p = guarded();
    assert_eq!(p.route("GET", "/public/..;/admin"), Route::Ambiguous);
    assert_eq!(p.route("GET", "/public/%252e%252e/admin"), Route::Ambiguous);
    assert_eq!(p.route("GET", "/admin;x=1"), Route::Ambiguous);
}

#[test]
fn case_variants_that_a_case_insensitive_upstream_would_route_elsewhere_are_refused() {
    let p = guarded();
    assert_eq!(p.route("GET", "/ADMIN"), Route::Ambiguous);
    assert_eq!(p.route("GET", "/Public/x"), Route::Ambiguous);
    let upper = policy(json!([{"path_prefix": "/API/v1"}]), json!({}));
    assert_eq!(index(&upper, "GET", "/API/v1/Orders"), Some(0));
}

#[test]
fn nul_control_characters_and_broken_escapes_are_refused() {
    let p = guarded();
    for path in [
        "/public/%00/x",
        "/public/\u{1}",
        "/public/%zz",
        "/public/%4",
        "*",
        "public",
        "",
    ] {
        assert_eq!(p.route("GET", path), Route::Ambiguous, "{path:?}");
    }
}

#[test]
fn harmless_encodings_are_routed_normally() {
    let p = guarded();
    assert_eq!(index(&p, "GET", "/api/files/my%20file.txt"), Some(2));
    assert_eq!(index(&p, "GET", "/api/caf%C3%A9"), Some(2));
    assert_eq!(index(&p, "GET", "/other/%2e%2e"), None);
}

#[test]
fn scopes_entries_are_or_and_names_inside_an_entry_are_and() {
    let p = policy(
        json!([{"path": "/", "scopes_required": ["read write", "admin"]}]),
        json!({}),
    );
    let rule = p.route("GET", "/").rule().unwrap().1;
    assert_eq!(
        p.check(rule, &claims(json!({"scope": "write read"}))),
        Ok(())
    );
    assert_eq!(p.check(rule, &claims(json!({"scope": "admin"}))), Ok(()));
    assert_eq!(
        p.check(rule, &claims(json!({"scope": "read"}))),
        Err(AuthError::InsufficientScope {
            required: "read write admin".into()
        })
    );
    assert_eq!(
        p.check(rule, &claims(json!({}))),
        Err(AuthError::InsufficientScope {
            required: "read write admin".into()
        })
    );
}

#[test]
fn scopes_are_read_from_scope_then_scp_by_default() {
    let p = policy(
        json!([{"path": "/", "scopes_required": ["orders.read"]}]),
        json!({}),
    );
    let rule = p.route("GET", "/").rule().unwrap().1;
    assert_eq!(
        p.check(rule, &claims(json!({"scp": "orders.read"}))),
        Ok(())
    );
    assert_eq!(
        p.check(rule, &claims(json!({"scp": ["orders.read"]}))),
        Ok(())
    );
    // `scope` present wins, even when it lacks the scope that `scp` has.
    assert!(p
        .check(rule, &claims(json!({"scope": "x", "scp": "orders.read"})))
        .is_err());
}

#[test]
fn configured_scopes_claim_replaces_the_default() {
    let p = policy(
        json!([{"path": "/", "scopes_required": ["a"]}]),
        json!({"scopes_claim": "permissions"}),
    );
    let rule = p.route("GET", "/").rule().unwrap().1;
    assert_eq!(
        p.check(rule, &claims(json!({"permissions": ["a"]}))),
        Ok(())
    );
    assert!(p.check(rule, &claims(json!({"scope": "a"}))).is_err());
}

#[test]
fn roles_are_read_from_a_nested_claim_path() {
    let p = policy(
        json!([{"path": "/", "roles_required": ["admin", "ops auditor"]}]),
        json!({"roles_claim": "realm_access.roles"}),
    );
    let rule = p.route("GET", "/").rule().unwrap().1;
    assert_eq!(
        p.check(
            rule,
            &claims(json!({"realm_access": {"roles": ["ops", "auditor"]}}))
        ),
        Ok(())
    );
    let lacking = claims(json!({"realm_access": {"roles": ["ops"]}}));
    assert_eq!(
        p.check(rule, &lacking),
        Err(AuthError::InsufficientScope {
            required: String::new()
        })
    );
    assert_eq!(
        p.unmet(rule, &lacking),
        Some(Unmet {
            kind: Entitlement::Roles,
            required: "admin ops auditor".into()
        })
    );
}

#[test]
fn cognito_groups_claim_with_a_colon_is_used_for_groups() {
    let p = policy(
        json!([{"path": "/", "groups_required": ["admins"]}]),
        json!({"groups_claim": "cognito:groups"}),
    );
    let rule = p.route("GET", "/").rule().unwrap().1;
    assert_eq!(
        p.check(rule, &claims(json!({"cognito:groups": ["admins"]}))),
        Ok(())
    );
    assert!(p
        .check(rule, &claims(json!({"groups": ["admins"]})))
        .is_err());
}

#[test]
fn claims_required_needs_every_claim_with_one_accepted_value() {
    let p = policy(
        json!([{"path": "/", "claims_required": {"tid": ["t1", "t2"], "email_verified": [true], "level": [2]}}]),
        json!({}),
    );
    let rule = p.route("GET", "/").rule().unwrap().1;
    assert_eq!(
        p.check(
            rule,
            &claims(json!({"tid": "t2", "email_verified": true, "level": 2.0}))
        ),
        Ok(())
    );
    assert_eq!(
        p.check(
            rule,
            &claims(json!({"tid": ["x", "t1"], "email_verified": true, "level": 2}))
        ),
        Ok(())
    );
    let wrong_tid = claims(json!({"tid": "t3", "email_verified": true, "level": 2}));
    assert_eq!(
        p.unmet(rule, &wrong_tid),
        Some(Unmet {
            kind: Entitlement::Claim("tid".into()),
            required: r#""t1" "t2""#.into()
        })
    );
    assert!(p
        .check(
            rule,
            &claims(json!({"tid": "t1", "email_verified": "true", "level": 2}))
        )
        .is_err());
    assert!(p
        .check(rule, &claims(json!({"tid": "t1", "level": 2})))
        .is_err());
}

#[test]
fn checks_run_scopes_before_roles() {
    let p = policy(
        json!([{"path": "/", "scopes_required": ["s"], "roles_required": ["r"]}]),
        json!({}),
    );
    let rule = p.route("GET", "/").rule().unwrap().1;
    assert_eq!(
        p.unmet(rule, &claims(json!({}))).map(|u| u.kind),
        Some(Entitlement::Scopes)
    );
    assert_eq!(
        p.unmet(rule, &claims(json!({"scope": "s"})))
            .map(|u| u.kind),
        Some(Entitlement::Roles)
    );
}

#[test]
fn a_rule_without_requirements_accepts_any_claims() {
    let p = guarded();
    let rule = p.route("GET", "/public/x").rule().unwrap().1;
    assert_eq!(p.check(rule, &claims(json!({}))), Ok(()));
}
