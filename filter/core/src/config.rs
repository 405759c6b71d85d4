//! The filter's configuration: one JSON document, byte-for-byte the same in Envoy, Kong and our
//! host. Owns the field names (they are promises to users), their defaults and every check that
//! can be made before the first request. It fetches nothing and parses no keys.
//!
//! Parsing is two steps: serde into the document's own shapes (`raw`, unknown fields refused,
//! errors carrying the field path via `serde_path_to_error`), then validation into the plain
//! types below, which report paths the same way (`providers[1].audiences[0]: ...`).

mod client;
mod headers;
mod issuer;
mod login;
mod provider;
mod raw;
mod rule;
#[cfg(feature = "schema")]
mod schema;
mod secret;
mod source;
pub mod url;

pub use client::{ClientAuth, ClientConfig, DEFAULT_LOGIN_SCOPES};
pub use issuer::IssuerPattern;
pub use login::{
    LoginConfig, SessionConfig, SessionKey, UpstreamToken, DEFAULT_ABSOLUTE_TIMEOUT_SECS,
    DEFAULT_CALLBACK_PATH, DEFAULT_COOKIE_NAME, DEFAULT_IDLE_TIMEOUT_SECS, DEFAULT_LOGOUT_PATH,
    DEFAULT_ROLLING_TIMEOUT_SECS,
};
pub use provider::{
    KeySource, ProviderConfig, DEFAULT_FETCH_TIMEOUT_MS, DEFAULT_INTROSPECTION_CACHE_MAX_SECS,
    DEFAULT_JWKS_CACHE_TTL_SECS, DEFAULT_JWKS_REFETCH_INTERVAL_SECS, DEFAULT_JWKS_STALE_MAX_SECS,
    MAX_FETCH_TIMEOUT_MS,
};
pub use rule::{AnyOf, PathMatch, Rule};
#[cfg(feature = "schema")]
pub use schema::{json_schema, DRAFT_04};
pub use secret::Secret;
pub use source::TokenSource;
pub use url::{is_loopback, FetchUrl, UrlError};

use crate::error::ConfigError;
use raw::RawConfig;

/// Default `clock_skew_secs`.
pub const DEFAULT_CLOCK_SKEW_SECS: u64 = 60;
/// Largest accepted `clock_skew_secs`: more would keep expired tokens alive for too long.
pub const MAX_CLOCK_SKEW_SECS: u64 = 600;
/// Default `realm` of `WWW-Authenticate` challenges.
pub const DEFAULT_REALM: &str = "oidc-filter";
/// Claim paths tried for scopes when `scopes_claim` is not set: `scope` (RFC 9068, Okta,
/// Keycloak, Cognito), then `scp` (Entra ID).
pub const DEFAULT_SCOPES_CLAIMS: [&str; 2] = ["scope", "scp"];
/// Default `roles_claim`.
pub const DEFAULT_ROLES_CLAIM: &str = "roles";
/// Default `groups_claim`.
pub const DEFAULT_GROUPS_CLAIM: &str = "groups";

/// The whole configuration, validated, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `providers`: at least one; names unique.
    pub providers: Vec<ProviderConfig>,
    /// `token_sources` (default `[{"header": "Authorization", "prefix": "Bearer "}]`).
    pub token_sources: Vec<TokenSource>,
    /// `clock_skew_secs` (default 60, at most 600).
    pub clock_skew_secs: u64,
    /// `max_token_lifetime_secs` (default none: no cap).
    pub max_token_lifetime_secs: Option<u64>,
    /// `require_exp` (default true).
    pub require_exp: bool,
    /// `rules` (default none): first match wins.
    pub rules: Vec<Rule>,
    /// Claim paths for scopes, tried in order; the first present one is used. `scopes_claim`
    /// gives one path; unset, it is `["scope", "scp"]`.
    pub scopes_claim: Vec<String>,
    /// `roles_claim` (default `roles`).
    pub roles_claim: String,
    /// `groups_claim` (default `groups`).
    pub groups_claim: String,
    /// `claims_to_headers`: (lower-cased header name, claim path), in document order. Incoming
    /// headers with these names must always be removed.
    pub claims_to_headers: Vec<(String, String)>,
    /// `forward_token` (default true); false strips the credential before the upstream.
    pub forward_token: bool,
    /// `display_errors` (default false): detailed error descriptions in responses.
    pub display_errors: bool,
    /// `realm` (default `oidc-filter`): the `realm` of `WWW-Authenticate` challenges.
    pub realm: String,
    /// Browser login (`callback_path`, `logout_path`, `external_url`, `post_logout_redirect_uri`,
    /// `login_provider`, `session`): present when a rule has `login`.
    pub login: Option<LoginConfig>,
}

impl Config {
    /// Parses and validates a configuration document. The error names the field path.
    pub fn from_json(bytes: &[u8]) -> Result<Config, ConfigError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let raw: RawConfig = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            ConfigError::new(path, e.into_inner().to_string())
        })?;
        de.end().map_err(|e| ConfigError::new(".", e.to_string()))?;
        validate(raw)
    }

    /// The provider named `name`.
    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.name == name)
    }
}

fn validate(mut raw: RawConfig) -> Result<Config, ConfigError> {
    let providers = providers(std::mem::take(&mut raw.providers))?;
    let token_sources = token_sources(raw.token_sources.take())?;
    let clock_skew_secs = raw.clock_skew_secs.unwrap_or(DEFAULT_CLOCK_SKEW_SECS);
    if clock_skew_secs > MAX_CLOCK_SKEW_SECS {
        return Err(ConfigError::new("clock_skew_secs", "must be at most 600"));
    }
    if raw.max_token_lifetime_secs == Some(0) {
        return Err(ConfigError::new(
            "max_token_lifetime_secs",
            "must be at least 1",
        ));
    }
    let rules = raw
        .rules
        .take()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, r)| rule::validate(r, i))
        .collect::<Result<Vec<_>, _>>()?;
    let login = login::validate(&mut raw, &providers, &rules)?;
    if providers.iter().filter(|p| p.introspection).count() > 1 {
        return Err(ConfigError::new(
            "providers",
            "at most one provider may set introspection: opaque tokens name no issuer",
        ));
    }
    let scopes_claim = match raw.scopes_claim.take() {
        Some(path) => vec![claim_path(path, "scopes_claim")?],
        None => DEFAULT_SCOPES_CLAIMS
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let roles_claim = claim_path(
        raw.roles_claim.take().unwrap_or(DEFAULT_ROLES_CLAIM.into()),
        "roles_claim",
    )?;
    let groups_claim = claim_path(
        raw.groups_claim
            .take()
            .unwrap_or(DEFAULT_GROUPS_CLAIM.into()),
        "groups_claim",
    )?;
    let claims_to_headers = headers::validate(
        raw.claims_to_headers
            .take()
            .map(|m| m.0)
            .unwrap_or_default(),
        &token_sources,
    )?;
    let realm = raw
        .realm
        .take()
        .unwrap_or_else(|| DEFAULT_REALM.to_string());
    check_realm(&realm).map_err(|r| ConfigError::new("realm", r))?;
    Ok(Config {
        providers,
        token_sources,
        clock_skew_secs,
        max_token_lifetime_secs: raw.max_token_lifetime_secs,
        require_exp: raw.require_exp.unwrap_or(true),
        rules,
        scopes_claim,
        roles_claim,
        groups_claim,
        claims_to_headers,
        forward_token: raw.forward_token.unwrap_or(true),
        display_errors: raw.display_errors.unwrap_or(false),
        realm,
        login,
    })
}

fn providers(raw: Vec<raw::RawProvider>) -> Result<Vec<ProviderConfig>, ConfigError> {
    if raw.is_empty() {
        return Err(ConfigError::new(
            "providers",
            "must list at least one provider",
        ));
    }
    let mut providers: Vec<ProviderConfig> = Vec::new();
    for (i, p) in raw.into_iter().enumerate() {
        let p = provider::validate(p, i)?;
        if providers.iter().any(|q| q.name == p.name) {
            return Err(ConfigError::new(
                format!("providers[{i}].name"),
                format!("duplicate provider name \"{}\"", p.name),
            ));
        }
        providers.push(p);
    }
    Ok(providers)
}

fn token_sources(raw: Option<Vec<raw::RawTokenSource>>) -> Result<Vec<TokenSource>, ConfigError> {
    let sources: Vec<TokenSource> = match raw {
        None => return Ok(TokenSource::default_sources()),
        Some(list) if list.is_empty() => {
            return Err(ConfigError::new("token_sources", "must not be empty"))
        }
        Some(list) => list
            .into_iter()
            .enumerate()
            .map(|(i, s)| source::validate(s, i))
            .collect::<Result<_, _>>()?,
    };
    // The same source twice would make every credential look like two (refused as ambiguous).
    for (i, s) in sources.iter().enumerate() {
        if sources[..i].contains(s) {
            return Err(ConfigError::new(
                format!("token_sources[{i}]"),
                "duplicate token source",
            ));
        }
    }
    Ok(sources)
}

fn claim_path(path: String, field: &str) -> Result<String, ConfigError> {
    check_claim_path(&path).map_err(|r| ConfigError::new(field, r))?;
    Ok(path)
}

/// The realm goes inside a quoted-string of `WWW-Authenticate`: no quotes, backslashes or controls.
fn check_realm(realm: &str) -> Result<(), &'static str> {
    check_text(realm, 128)?;
    if realm.contains(['"', '\\']) {
        return Err("must not contain '\"' or '\\'");
    }
    Ok(())
}

/// Non-empty, at most `max` bytes, no control characters.
fn check_text(text: &str, max: usize) -> Result<(), &'static str> {
    if text.is_empty() {
        return Err("must not be empty");
    }
    if text.len() > max {
        return Err("is too long");
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(())
}

/// A claim path: `.` separates names, every other character (`:` in `cognito:groups`, `/` in
/// Auth0's namespaced claims) is part of a name. See `claims::lookup`.
fn check_claim_path(path: &str) -> Result<(), &'static str> {
    check_text(path, 256)
}

/// An RFC 9110 token: header names, cookie names, methods.
fn is_http_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
