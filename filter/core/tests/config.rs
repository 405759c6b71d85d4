//! Configuration parsing: defaults, field paths in errors, issuer forms and patterns.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use oidc_filter_core::config::url::FetchUrl;
use oidc_filter_core::config::{Config, KeySource, PathMatch, TokenSource, DEFAULT_SCOPES_CLAIMS};
use oidc_filter_core::Alg;
use serde_json::json;

fn parse(doc: serde_json::Value) -> Result<Config, oidc_filter_core::ConfigError> {
    Config::from_json(doc.to_string().as_bytes())
}

fn minimal() -> serde_json::Value {
    json!({"providers": [{"name": "okta", "issuer": "https://dev-1.okta.com/oauth2/default"}]})
}

fn error_of(doc: serde_json::Value) -> (String, String) {
    let e = parse(doc).expect_err("document should be refused");
    (e.path, e.reason)
}

#[test]
fn minimal_document_gets_every_top_level_default() {
    let cfg = parse(minimal()).unwrap();
    assert_eq!(cfg.token_sources, TokenSource::default_sources());
    assert_eq!(
        cfg.token_sources[0],
        TokenSource::Header {
            name: "authorization".into(),
            prefix: Some("Bearer ".into())
        }
    );
    assert_eq!(cfg.clock_skew_secs, 60);
    assert_eq!(cfg.max_token_lifetime_secs, None);
    assert!(cfg.require_exp);
    assert!(cfg.rules.is_empty());
    assert_eq!(cfg.scopes_claim, DEFAULT_SCOPES_CLAIMS.to_vec());
    assert_eq!(cfg.scopes_claim, vec!["scope", "scp"]);
    assert_eq!(cfg.roles_claim, "roles");
    assert_eq!(cfg.groups_claim, "groups");
    assert!(cfg.claims_to_headers.is_empty());
    assert!(cfg.forward_token);
    assert!(!cfg.display_errors);
    assert_eq!(cfg.realm, "oidc-filter");
}

#[test]
fn minimal_provider_gets_every_provider_default() {
    let cfg = parse(minimal()).unwrap();
    let p = &cfg.providers[0];
    assert_eq!(p.name, "okta");
    assert_eq!(
        p.issuer.as_deref(),
        Some("https://dev-1.okta.com/oauth2/default")
    );
    assert!(p.discovery);
    assert_eq!(
        p.discovery_url.as_deref(),
        Some("https://dev-1.okta.com/oauth2/default/.well-known/openid-configuration")
    );
    assert_eq!(p.jwks_uri, None);
    assert_eq!(p.jwks, None);
    assert_eq!(p.cluster, None);
    assert!(p.audiences.is_empty());
    assert!(!p.checks_audience());
    assert_eq!(p.audience_claim, "aud");
    assert_eq!(p.algorithms, Alg::ALL.to_vec());
    assert_eq!(p.jwks_cache_ttl_secs, 600);
    assert_eq!(p.jwks_refetch_interval_secs, 30);
    assert_eq!(p.jwks_stale_max_secs, 86_400);
    assert_eq!(p.fetch_timeout_ms, 5_000);
    assert!(p.issuers_allowed.is_empty());
    assert_eq!(p.typ, None);
    assert!(
        matches!(p.key_source(), Some(KeySource::Discovery(u)) if u.ends_with("/openid-configuration"))
    );
}

#[test]
fn every_field_given_is_kept() {
    let cfg = parse(json!({
        "providers": [{
            "name": "cognito", "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc",
            "discovery": false, "jwks_uri": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json",
            "cluster": "cognito", "audiences": ["client-1"], "audience_claim": "client_id",
            "algorithms": ["RS256"], "jwks_cache_ttl_secs": 60, "jwks_refetch_interval_secs": 5,
            "jwks_stale_max_secs": 0, "fetch_timeout_ms": 2000, "typ": "at+jwt"
        }],
        "token_sources": [{"header": "X-Token"}, {"cookie": "at"}, {"query": "access_token"}],
        "clock_skew_secs": 0, "max_token_lifetime_secs": 3600, "require_exp": false,
        "scopes_claim": "scp", "roles_claim": "realm_access.roles", "groups_claim": "cognito:groups",
        "claims_to_headers": {"X-User": "sub", "x-groups": "cognito:groups"},
        "forward_token": false, "display_errors": true, "realm": "api",
        "rules": [{"path": "/health", "allow_anonymous": true, "methods": ["get"]}]
    }))
    .unwrap();
    let p = &cfg.providers[0];
    assert!(!p.discovery);
    assert_eq!(p.cluster.as_deref(), Some("cognito"));
    assert_eq!(p.audiences, vec!["client-1"]);
    assert!(p.checks_audience());
    assert_eq!(p.audience_claim, "client_id");
    assert_eq!(p.algorithms, vec![Alg::RS256]);
    assert_eq!(
        (p.jwks_cache_ttl_secs, p.jwks_refetch_interval_secs),
        (60, 5)
    );
    assert_eq!((p.jwks_stale_max_secs, p.fetch_timeout_ms), (0, 2000));
    assert_eq!(p.typ.as_deref(), Some("at+jwt"));
    assert!(matches!(p.key_source(), Some(KeySource::JwksUri(_))));
    assert_eq!(
        cfg.token_sources,
        vec![
            TokenSource::Header {
                name: "x-token".into(),
                prefix: None
            },
            TokenSource::Cookie { name: "at".into() },
            TokenSource::Query {
                name: "access_token".into()
            },
        ]
    );
    assert_eq!(cfg.clock_skew_secs, 0);
    assert_eq!(cfg.max_token_lifetime_secs, Some(3600));
    assert!(!cfg.require_exp);
    assert_eq!(cfg.scopes_claim, vec!["scp"]);
    assert_eq!(cfg.roles_claim, "realm_access.roles");
    assert_eq!(cfg.groups_claim, "cognito:groups");
    assert_eq!(
        cfg.claims_to_headers,
        vec![
            ("x-user".to_string(), "sub".to_string()),
            ("x-groups".into(), "cognito:groups".into())
        ]
    );
    assert!(!cfg.forward_token);
    assert!(cfg.display_errors);
    assert_eq!(cfg.realm, "api");
    assert_eq!(cfg.rules[0].path, PathMatch::Exact("/health".into()));
    assert_eq!(cfg.rules[0].methods, vec!["GET"]);
    assert!(cfg.rules[0].allow_anonymous);
}

#[test]
fn rule_defaults_and_kong_and_or_lists_are_parsed() {
    let doc = br#"{"providers": [{"name": "a", "issuer": "https://a.example.com"}],
        "rules": [{"path_prefix": "/api", "scopes_required": ["read write", "admin"],
        "claims_required": {"tid": ["t1", "t2"], "email_verified": [true]}}]}"#;
    let cfg = Config::from_json(doc).unwrap();
    let r = &cfg.rules[0];
    assert_eq!(r.path, PathMatch::Prefix("/api".into()));
    assert!(r.methods.is_empty());
    assert!(!r.allow_anonymous);
    assert_eq!(
        r.scopes_required,
        vec![vec!["read", "write"], vec!["admin"]]
    );
    assert!(r.roles_required.is_empty() && r.groups_required.is_empty());
    assert_eq!(
        r.claims_required[0],
        ("tid".to_string(), vec![json!("t1"), json!("t2")])
    );
    assert_eq!(
        r.claims_required[1],
        ("email_verified".to_string(), vec![json!(true)])
    );
}

#[test]
fn unknown_top_level_field_is_reported_by_its_name() {
    let mut doc = minimal();
    doc["clock_skew"] = json!(30);
    let (path, reason) = error_of(doc);
    assert_eq!(path, "clock_skew");
    assert!(reason.contains("unknown field `clock_skew`"), "{reason}");
}

#[test]
fn unknown_provider_field_is_reported_with_its_provider_index() {
    let doc = json!({"providers": [
        {"name": "a", "issuer": "https://a.example.com"},
        {"name": "b", "issuer": "https://b.example.com", "audience": ["x"]}]});
    let (path, reason) = error_of(doc);
    assert_eq!(path, "providers[1].audience");
    assert!(reason.contains("unknown field `audience`"), "{reason}");
}

#[test]
fn wrong_type_is_reported_with_the_field_path() {
    let doc = json!({"providers": [{"name": "a", "issuer": "https://a.example.com", "jwks_cache_ttl_secs": "600"}]});
    assert_eq!(error_of(doc).0, "providers[0].jwks_cache_ttl_secs");
    let mut doc = minimal();
    doc["rules"] = json!([{"path": "/", "methods": "GET"}]);
    assert_eq!(error_of(doc).0, "rules[0].methods");
}

#[test]
fn missing_providers_and_empty_providers_are_refused() {
    let (path, reason) = error_of(json!({}));
    assert_eq!(path, ".");
    assert!(reason.contains("missing field `providers`"));
    assert_eq!(error_of(json!({"providers": []})).0, "providers");
}

#[test]
fn trailing_garbage_and_non_json_are_refused() {
    assert!(Config::from_json(b"{\"providers\": [] } x").is_err());
    assert!(Config::from_json(b"not json").is_err());
}

#[test]
fn http_issuer_for_a_public_host_is_refused() {
    let doc = json!({"providers": [{"name": "a", "issuer": "http://idp.example.com/realms/x"}]});
    let (path, reason) = error_of(doc);
    assert_eq!(path, "providers[0].issuer");
    assert!(reason.contains("https"), "{reason}");
}

#[test]
fn http_issuer_on_loopback_is_accepted_for_local_setups() {
    for issuer in [
        "http://127.0.0.1:8080/realms/dev",
        "http://localhost:8080",
        "http://[::1]:9000/x",
    ] {
        let cfg = parse(json!({"providers": [{"name": "a", "issuer": issuer}]})).unwrap();
        assert_eq!(cfg.providers[0].issuer.as_deref(), Some(issuer));
    }
}

#[test]
fn issuers_with_query_fragment_user_info_or_bad_port_are_refused() {
    for issuer in [
        "https://idp.example.com/?x=1",
        "https://idp.example.com/#x",
        "https://user@idp.example.com/",
        "https://idp.example.com:0/",
        "https://idp.example.com:99999/",
        "https:///x",
        "idp.example.com",
        "https://idp.example.com/ x",
    ] {
        let doc = json!({"providers": [{"name": "a", "issuer": issuer}]});
        assert_eq!(error_of(doc).0, "providers[0].issuer", "{issuer}");
    }
}

#[test]
fn duplicate_provider_names_are_refused_at_the_second() {
    let doc = json!({"providers": [
        {"name": "a", "issuer": "https://a.example.com"},
        {"name": "a", "issuer": "https://b.example.com"}]});
    let (path, reason) = error_of(doc);
    assert_eq!(path, "providers[1].name");
    assert!(reason.contains("duplicate"));
}

#[test]
fn provider_names_unfit_for_metric_names_are_refused() {
    for name in ["", "has space", "a/b", &"x".repeat(65)] {
        let doc = json!({"providers": [{"name": name, "issuer": "https://a.example.com"}]});
        assert_eq!(error_of(doc).0, "providers[0].name", "{name}");
    }
}

#[test]
fn rule_with_both_path_and_path_prefix_is_refused() {
    let mut doc = minimal();
    doc["rules"] = json!([{"path": "/a"}, {"path": "/a", "path_prefix": "/a"}]);
    let (path, reason) = error_of(doc);
    assert_eq!(path, "rules[1].path_prefix");
    assert!(reason.contains("either"));
}

#[test]
fn rule_paths_must_be_absolute_and_normalised() {
    for bad in [
        "api", "/a//b", "/a/../b", "/a/./b", "/a?x", "/a%2Fb", "/a;b",
    ] {
        let mut doc = minimal();
        doc["rules"] = json!([{"path_prefix": bad}]);
        assert_eq!(error_of(doc).0, "rules[0].path_prefix", "{bad}");
    }
    let mut doc = minimal();
    doc["rules"] = json!([{"methods": ["GET"]}]);
    assert_eq!(error_of(doc).0, "rules[0]");
}

#[test]
fn empty_requirement_lists_are_refused_rather_than_guessed() {
    let mut doc = minimal();
    doc["rules"] = json!([{"path": "/", "roles_required": []}]);
    assert_eq!(error_of(doc).0, "rules[0].roles_required");
    let mut doc = minimal();
    doc["rules"] = json!([{"path": "/", "groups_required": ["a", "  "]}]);
    assert_eq!(error_of(doc).0, "rules[0].groups_required[1]");
    let mut doc = minimal();
    doc["rules"] = json!([{"path": "/", "claims_required": {"tid": []}}]);
    assert_eq!(error_of(doc).0, "rules[0].claims_required.tid");
    let mut doc = minimal();
    doc["rules"] = json!([{"path": "/", "claims_required": {"tid": [{"a": 1}]}}]);
    assert_eq!(error_of(doc).0, "rules[0].claims_required.tid[0]");
}

#[test]
fn duplicate_keys_in_claims_required_are_refused() {
    let doc = br#"{"providers": [{"name": "a", "issuer": "https://a.example.com"}],
        "rules": [{"path": "/", "claims_required": {"tid": ["a"], "tid": ["b"]}}]}"#;
    let e = Config::from_json(doc).unwrap_err();
    assert_eq!(e.path, "rules[0].claims_required");
    assert!(e.reason.contains("duplicate key `tid`"));
}

#[test]
fn hmac_and_none_algorithms_are_refused_with_a_reason() {
    let doc = json!({"providers": [{"name": "a", "issuer": "https://a.example.com", "algorithms": ["RS256", "HS256"]}]});
    let (path, reason) = error_of(doc);
    assert_eq!(path, "providers[0].algorithms[1]");
    assert!(reason.contains("HMAC"), "{reason}");
    let doc = json!({"providers": [{"name": "a", "issuer": "https://a.example.com", "algorithms": ["none"]}]});
    let (path, reason) = error_of(doc);
    assert_eq!(path, "providers[0].algorithms[0]");
    assert!(reason.contains("never"), "{reason}");
    let doc = json!({"providers": [{"name": "a", "issuer": "https://a.example.com", "algorithms": ["RS999"]}]});
    assert!(error_of(doc).1.contains("supported: RS256"));
    let doc =
        json!({"providers": [{"name": "a", "issuer": "https://a.example.com", "algorithms": []}]});
    assert_eq!(error_of(doc).0, "providers[0].algorithms");
}

#[test]
fn kong_form_discovery_url_is_split_into_issuer_and_discovery_url() {
    let url = "https://kc.example.com/realms/demo/.well-known/openid-configuration";
    let cfg = parse(json!({"providers": [{"name": "kc", "issuer": url}]})).unwrap();
    let p = &cfg.providers[0];
    assert_eq!(
        p.issuer.as_deref(),
        Some("https://kc.example.com/realms/demo")
    );
    assert_eq!(p.discovery_url.as_deref(), Some(url));
    assert!(p.matches_issuer("https://kc.example.com/realms/demo"));
}

#[test]
fn issuer_trailing_slash_is_kept_and_trimmed_for_discovery() {
    let issuer = "https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/";
    let cfg = parse(json!({"providers": [{"name": "entra1", "issuer": issuer}]})).unwrap();
    let p = &cfg.providers[0];
    assert_eq!(p.issuer.as_deref(), Some(issuer));
    assert_eq!(
        p.discovery_url.as_deref(),
        Some("https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/.well-known/openid-configuration")
    );
    assert!(p.matches_issuer(issuer));
    assert!(!p.matches_issuer(issuer.trim_end_matches('/')));
}

#[test]
fn issuer_is_required_unless_patterns_are_given() {
    let doc = json!({"providers": [{"name": "a", "jwks_uri": "https://a.example.com/keys"}]});
    let (path, reason) = error_of(doc);
    assert_eq!(path, "providers[0].issuer");
    assert!(reason.contains("issuers_allowed"));
    let doc = json!({"providers": [{"name": "a", "jwks_uri": "https://a.example.com/keys",
        "issuers_allowed": ["https://a.example.com/{t}/"]}]});
    assert!(parse(doc).is_ok());
}

#[test]
fn a_provider_needs_some_way_to_find_keys() {
    let doc = json!({"providers": [{"name": "a", "issuer": "https://a.example.com", "discovery": false}]});
    assert_eq!(error_of(doc).0, "providers[0].jwks_uri");
    let doc =
        json!({"providers": [{"name": "a", "issuers_allowed": ["https://a.example.com/{t}"]}]});
    assert_eq!(error_of(doc).0, "providers[0].jwks_uri");
}

#[test]
fn inline_jwks_must_be_an_object_with_keys_and_excludes_jwks_uri() {
    let doc = json!({"providers": [{"name": "a", "issuer": "https://a.example.com", "jwks": {"kty": "RSA"}}]});
    assert_eq!(error_of(doc).0, "providers[0].jwks");
    let doc = json!({"providers": [{"name": "a", "issuer": "https://a.example.com", "jwks": {"keys": []},
        "jwks_uri": "https://a.example.com/k"}]});
    assert_eq!(error_of(doc).0, "providers[0].jwks");
    let doc = json!({"providers": [{"name": "a", "issuer": "https://a.example.com", "jwks": {"keys": []}}]});
    let cfg = parse(doc).unwrap();
    assert!(matches!(
        cfg.providers[0].key_source(),
        Some(KeySource::Inline(_))
    ));
}

#[test]
fn entra_v2_multi_tenant_pattern_matches_tenants_and_refuses_look_alikes() {
    let cfg = parse(json!({"providers": [{"name": "entra",
        "issuer": "https://login.microsoftonline.com/common/v2.0",
        "issuers_allowed": ["https://login.microsoftonline.com/{tenantid}/v2.0"]}]}))
    .unwrap();
    let p = &cfg.providers[0];
    assert!(p.matches_issuer(
        "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
    ));
    assert!(p.matches_issuer("https://login.microsoftonline.com/common/v2.0"));
    for bad in [
        "https://login.microsoftonline.com.evil.com/9188040d/v2.0",
        "https://login.microsoftonline.com/a/b/v2.0",
        "https://login.microsoftonline.com//v2.0",
        "https://login.microsoftonline.com/../v2.0",
        "https://login.microsoftonline.com/t/v2.0/",
        "https://login.microsoftonline.com/t/v2.0x",
        "https://login.microsoftonline.com/t%2Fx/v2.0",
        "http://login.microsoftonline.com/t/v2.0",
        "https://LOGIN.microsoftonline.com/t/v2.0",
    ] {
        assert!(!p.matches_issuer(bad), "{bad}");
    }
}

#[test]
fn entra_v1_pattern_keeps_the_trailing_slash() {
    let cfg = parse(json!({"providers": [{"name": "entra1",
        "issuer": "https://login.microsoftonline.com/common/",
        "issuers_allowed": ["https://sts.windows.net/{tenantid}/"]}]}))
    .unwrap();
    let p = &cfg.providers[0];
    assert!(p.matches_issuer("https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/"));
    assert!(!p.matches_issuer("https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad"));
    assert!(!p.matches_issuer("https://sts.windows.net/a/b/"));
    assert!(!p.matches_issuer("https://sts.windows.net.evil.com/a/"));
}

#[test]
fn malformed_issuer_patterns_are_refused_with_their_index() {
    for bad in [
        "https://{tenant}.example.com/",
        "https://{tenant}/",
        "https://example.com/x{tenant}/",
        "https://example.com/{tenant",
        "https://example.com/{}/",
        "http://example.com/{t}/",
        "https://example.com/}/",
    ] {
        let doc = json!({"providers": [{"name": "a", "issuer": "https://example.com/",
            "issuers_allowed": ["https://example.com/{ok}/", bad]}]});
        assert_eq!(error_of(doc).0, "providers[0].issuers_allowed[1]", "{bad}");
    }
}

#[test]
fn callout_target_is_the_cluster_or_host_and_port_of_the_url() {
    let cfg = parse(minimal()).unwrap();
    let p = &cfg.providers[0];
    let https = FetchUrl::parse("https://dev-1.okta.com/oauth2/default/v1/keys").unwrap();
    assert_eq!(p.callout_target(&https), "dev-1.okta.com:443");
    let http = FetchUrl::parse("http://localhost/keys").unwrap();
    assert_eq!(p.callout_target(&http), "localhost:80");
    let port = FetchUrl::parse("https://IdP.example.com:8443/keys?p=b2c").unwrap();
    assert_eq!(port.authority(), "idp.example.com:8443");
    assert_eq!(port.path_and_query, "/keys?p=b2c");
    let mut doc = minimal();
    doc["providers"][0]["cluster"] = json!("okta_cluster");
    let cfg = parse(doc).unwrap();
    assert_eq!(cfg.providers[0].callout_target(&https), "okta_cluster");
}

#[test]
fn token_sources_need_exactly_one_kind_and_prefix_only_with_header() {
    let mut doc = minimal();
    doc["token_sources"] = json!([{"header": "a", "cookie": "b"}]);
    assert_eq!(error_of(doc).0, "token_sources[0]");
    let mut doc = minimal();
    doc["token_sources"] = json!([{"cookie": "b", "prefix": "Bearer "}]);
    assert_eq!(error_of(doc).0, "token_sources[0].prefix");
    let mut doc = minimal();
    doc["token_sources"] = json!([{"header": "bad header"}]);
    assert_eq!(error_of(doc).0, "token_sources[0].header");
    let mut doc = minimal();
    doc["token_sources"] = json!([]);
    assert_eq!(error_of(doc).0, "token_sources");
}

#[test]
fn clock_skew_above_ten_minutes_is_refused() {
    let mut doc = minimal();
    doc["clock_skew_secs"] = json!(600);
    assert!(parse(doc.clone()).is_ok());
    doc["clock_skew_secs"] = json!(601);
    assert_eq!(error_of(doc).0, "clock_skew_secs");
}

#[test]
fn zero_refetch_interval_is_refused() {
    let mut doc = minimal();
    doc["providers"][0]["jwks_refetch_interval_secs"] = json!(0);
    assert_eq!(error_of(doc).0, "providers[0].jwks_refetch_interval_secs");
}

#[test]
fn claims_to_headers_refuses_dangerous_and_invalid_names() {
    for name in [
        ":path",
        "Host",
        "authorization",
        "Transfer-Encoding",
        "x-envoy-original-path",
        "X-Forwarded-For",
        "cookie",
        "bad name",
        "",
    ] {
        let mut doc = minimal();
        doc["claims_to_headers"] = json!({ name: "sub" });
        assert_eq!(
            error_of(doc).0,
            format!("claims_to_headers.{name}"),
            "{name}"
        );
    }
}

#[test]
fn claims_to_headers_refuses_case_duplicates_and_token_source_headers() {
    let mut doc = minimal();
    doc["claims_to_headers"] = json!({"X-Sub": "sub", "x-sub": "oid"});
    assert!(error_of(doc).1.contains("duplicate"));
    let mut doc = minimal();
    doc["token_sources"] = json!([{"header": "X-Token"}]);
    doc["claims_to_headers"] = json!({"x-token": "sub"});
    assert!(error_of(doc).1.contains("token source"));
}

#[test]
fn realm_must_fit_in_a_quoted_string() {
    let mut doc = minimal();
    doc["realm"] = json!("a\"b");
    assert_eq!(error_of(doc).0, "realm");
}

#[test]
fn debug_output_of_a_config_is_available_for_logs() {
    let cfg = parse(minimal()).unwrap();
    assert!(format!("{cfg:?}").contains("dev-1.okta.com"));
}

#[test]
fn duplicate_token_sources_are_refused() {
    let mut doc = minimal();
    doc["token_sources"] = json!([{"cookie": "at"}, {"header": "X-T"}, {"cookie": "at"}]);
    assert_eq!(error_of(doc).0, "token_sources[2]");
}
