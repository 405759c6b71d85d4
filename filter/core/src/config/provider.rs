//! One identity provider: where its keys come from, which tokens it may issue, and how they are
//! judged. Validation turns a raw provider object into a [`ProviderConfig`] or a path-named error.

use super::client::{self, ClientConfig};
use super::issuer::IssuerPattern;
use super::raw::RawProvider;
use super::url::FetchUrl;
use super::{check_claim_path, check_text};
use crate::error::ConfigError;
use crate::jws::Alg;

const DISCOVERY_SUFFIX: &str = "/.well-known/openid-configuration";

/// Default `jwks_cache_ttl_secs`: keys are refreshed (ahead of expiry) every 10 minutes.
pub const DEFAULT_JWKS_CACHE_TTL_SECS: u64 = 600;
/// Default `jwks_refetch_interval_secs`: at most one unknown-`kid` refetch per 30 s.
pub const DEFAULT_JWKS_REFETCH_INTERVAL_SECS: u64 = 30;
/// Default `jwks_stale_max_secs`: last good keys survive a day of fetch failures.
pub const DEFAULT_JWKS_STALE_MAX_SECS: u64 = 86_400;
/// Default `fetch_timeout_ms` for discovery and JWKS callouts.
pub const DEFAULT_FETCH_TIMEOUT_MS: u64 = 5_000;
/// Default `introspection_cache_max_secs`.
pub const DEFAULT_INTROSPECTION_CACHE_MAX_SECS: u64 = 300;
/// Upper bound of `fetch_timeout_ms`: a paused request must not wait longer than this.
pub const MAX_FETCH_TIMEOUT_MS: u64 = 60_000;

/// A provider object of `providers`, validated. Defaults are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    /// `name`: unique, `[A-Za-z0-9_.-]{1,64}` (used in metric names and shared-data keys).
    pub name: String,
    /// `issuer` exactly as configured (a trailing `/` is kept: `iss` is compared byte for byte),
    /// or with `/.well-known/openid-configuration` removed when given in Kong's form. `None` only
    /// when `issuers_allowed` is given.
    pub issuer: Option<String>,
    /// `discovery` (default `true`).
    pub discovery: bool,
    /// The discovery document URL: `issuer` as given in Kong's form, else `issuer` without a
    /// trailing `/` plus `/.well-known/openid-configuration`. `None` without an issuer.
    pub discovery_url: Option<String>,
    /// `jwks_uri`: when given, discovery is skipped for keys.
    pub jwks_uri: Option<String>,
    /// `jwks`: an inline JWKS (an object with a `keys` array); nothing is fetched.
    pub jwks: Option<serde_json::Value>,
    /// `cluster`: the callout target; see [`ProviderConfig::callout_target`].
    pub cluster: Option<String>,
    /// `audiences` (default empty: the audience is not checked; see `checks_audience`).
    pub audiences: Vec<String>,
    /// `audience_claim` (default `aud`): claim path holding the audience. Cognito access tokens
    /// carry `client_id` instead.
    pub audience_claim: String,
    /// `algorithms` (default: every supported algorithm, `Alg::ALL`).
    pub algorithms: Vec<Alg>,
    /// `jwks_cache_ttl_secs` (default 600, at least 1).
    pub jwks_cache_ttl_secs: u64,
    /// `jwks_refetch_interval_secs` (default 30, at least 1): minimum time between refetches
    /// caused by an unknown `kid`.
    pub jwks_refetch_interval_secs: u64,
    /// `jwks_stale_max_secs` (default 86400): how long the last good keys are used while fetches fail.
    pub jwks_stale_max_secs: u64,
    /// `fetch_timeout_ms` (default 5000, 1..=60000): timeout of each discovery or JWKS callout.
    pub fetch_timeout_ms: u64,
    /// `issuers_allowed` (default empty).
    pub issuers_allowed: Vec<IssuerPattern>,
    /// `typ`: the JWS `typ` header tokens must carry (`at+jwt`, RFC 9068), if any.
    pub typ: Option<String>,
    /// `client_id`, `client_secret`, `token_endpoint_auth_method`, `scopes`, `redirect_uri`: the
    /// filter's client registration, for login and introspection. The secret never prints.
    pub client: Option<ClientConfig>,
    /// `introspection` (default false): opaque tokens, and this provider's JWTs, are checked at
    /// the RFC 7662 introspection endpoint instead of locally. At most one provider sets it.
    pub introspection: bool,
    /// `introspection_endpoint`: overrides discovery's `introspection_endpoint`.
    pub introspection_endpoint: Option<String>,
    /// `introspection_cache_max_secs` (default 300, at least 1): the longest an introspection
    /// answer is reused, even when the token's `exp` is later.
    pub introspection_cache_max_secs: u64,
}

/// Where a provider's keys come from, in order of precedence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeySource<'a> {
    /// `jwks`: inline, never fetched.
    Inline(&'a serde_json::Value),
    /// `jwks_uri`: fetched directly.
    JwksUri(&'a str),
    /// Discovery document at this URL, then its `jwks_uri`.
    Discovery(&'a str),
}

impl ProviderConfig {
    /// Whether `iss` belongs to this provider: exactly `issuer`, or an `issuers_allowed` pattern.
    pub fn matches_issuer(&self, iss: &str) -> bool {
        self.issuer.as_deref() == Some(iss) || self.issuers_allowed.iter().any(|p| p.matches(iss))
    }

    /// Whether `aud` is checked. When not, the engine should log a warning at configuration time:
    /// any token from the issuer, meant for any application, would be accepted.
    pub fn checks_audience(&self) -> bool {
        !self.audiences.is_empty()
    }

    /// The callout target for fetching `url`: `cluster` when configured (an Envoy cluster name,
    /// or Kong's `host:port`), else `host:port` from the URL (443 for https, 80 for http).
    pub fn callout_target(&self, url: &FetchUrl) -> String {
        match &self.cluster {
            Some(cluster) => cluster.clone(),
            None => url.host_port(),
        }
    }

    /// Where the keys come from. Validation guarantees one of the three exists.
    pub fn key_source(&self) -> Option<KeySource<'_>> {
        if let Some(jwks) = &self.jwks {
            return Some(KeySource::Inline(jwks));
        }
        if let Some(uri) = &self.jwks_uri {
            return Some(KeySource::JwksUri(uri));
        }
        match (&self.discovery_url, self.discovery) {
            (Some(url), true) => Some(KeySource::Discovery(url)),
            _ => None,
        }
    }
}

/// Validates `providers[index]`.
pub(super) fn validate(mut raw: RawProvider, index: usize) -> Result<ProviderConfig, ConfigError> {
    let at = |field: &str| format!("providers[{index}].{field}");
    let client = client::validate(&mut raw, index)?;
    validate_name(&raw.name).map_err(|r| ConfigError::new(at("name"), r))?;
    let (issuer, kong_discovery) = match &raw.issuer {
        Some(text) => split_issuer(text).map_err(|r| ConfigError::new(at("issuer"), r))?,
        None => (None, None),
    };
    let issuers_allowed = parse_patterns(raw.issuers_allowed.unwrap_or_default(), index)?;
    if issuer.is_none() && issuers_allowed.is_empty() {
        return Err(ConfigError::new(
            at("issuer"),
            "required unless issuers_allowed is given",
        ));
    }
    let discovery_url = kong_discovery.or_else(|| {
        issuer
            .as_deref()
            .map(|i| format!("{}{DISCOVERY_SUFFIX}", i.trim_end_matches('/')))
    });
    let provider = ProviderConfig {
        name: raw.name,
        issuer,
        discovery: raw.discovery.unwrap_or(true),
        discovery_url,
        jwks_uri: raw.jwks_uri,
        jwks: raw.jwks,
        cluster: raw.cluster,
        audiences: raw.audiences.unwrap_or_default(),
        audience_claim: raw.audience_claim.unwrap_or_else(|| "aud".to_string()),
        algorithms: parse_algorithms(raw.algorithms, index)?,
        jwks_cache_ttl_secs: raw
            .jwks_cache_ttl_secs
            .unwrap_or(DEFAULT_JWKS_CACHE_TTL_SECS),
        jwks_refetch_interval_secs: raw
            .jwks_refetch_interval_secs
            .unwrap_or(DEFAULT_JWKS_REFETCH_INTERVAL_SECS),
        jwks_stale_max_secs: raw
            .jwks_stale_max_secs
            .unwrap_or(DEFAULT_JWKS_STALE_MAX_SECS),
        fetch_timeout_ms: raw.fetch_timeout_ms.unwrap_or(DEFAULT_FETCH_TIMEOUT_MS),
        issuers_allowed,
        typ: raw.typ,
        client,
        introspection: raw.introspection.unwrap_or(false),
        introspection_endpoint: raw.introspection_endpoint,
        introspection_cache_max_secs: raw
            .introspection_cache_max_secs
            .unwrap_or(DEFAULT_INTROSPECTION_CACHE_MAX_SECS),
    };
    check_introspection(&provider, &at)?;
    check_key_source(&provider, &at)?;
    check_settings(&provider, &at)?;
    Ok(provider)
}

/// Exactly one way to get keys: inline `jwks`, `jwks_uri`, or discovery of the issuer.
fn check_key_source(p: &ProviderConfig, at: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
    if let Some(uri) = &p.jwks_uri {
        FetchUrl::parse(uri).map_err(|e| ConfigError::new(at("jwks_uri"), e.to_string()))?;
    }
    if let Some(jwks) = &p.jwks {
        validate_inline_jwks(jwks, &at("jwks"))?;
        if p.jwks_uri.is_some() {
            return Err(ConfigError::new(
                at("jwks"),
                "give either jwks or jwks_uri, not both",
            ));
        }
    }
    if p.key_source().is_none() {
        return Err(ConfigError::new(
            at("jwks_uri"),
            "required: without discovery of an issuer there is no other way to find keys",
        ));
    }
    Ok(())
}

fn check_settings(p: &ProviderConfig, at: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
    if let Some(cluster) = &p.cluster {
        check_text(cluster, 256).map_err(|r| ConfigError::new(at("cluster"), r))?;
    }
    for (i, aud) in p.audiences.iter().enumerate() {
        check_text(aud, 1024)
            .map_err(|r| ConfigError::new(format!("{}[{i}]", at("audiences")), r))?;
    }
    check_claim_path(&p.audience_claim).map_err(|r| ConfigError::new(at("audience_claim"), r))?;
    if let Some(typ) = &p.typ {
        check_text(typ, 128).map_err(|r| ConfigError::new(at("typ"), r))?;
    }
    if p.jwks_cache_ttl_secs == 0 {
        return Err(ConfigError::new(
            at("jwks_cache_ttl_secs"),
            "must be at least 1",
        ));
    }
    // Zero would let tokens with random `kid`s turn every request into a JWKS fetch.
    if p.jwks_refetch_interval_secs == 0 {
        return Err(ConfigError::new(
            at("jwks_refetch_interval_secs"),
            "must be at least 1",
        ));
    }
    if p.fetch_timeout_ms == 0 || p.fetch_timeout_ms > MAX_FETCH_TIMEOUT_MS {
        return Err(ConfigError::new(
            at("fetch_timeout_ms"),
            "must be between 1 and 60000",
        ));
    }
    Ok(())
}

fn check_introspection(p: &ProviderConfig, at: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
    if let Some(uri) = &p.introspection_endpoint {
        FetchUrl::parse(uri)
            .map_err(|e| ConfigError::new(at("introspection_endpoint"), e.to_string()))?;
        if !p.introspection {
            return Err(ConfigError::new(
                at("introspection_endpoint"),
                "only used with \"introspection\": true",
            ));
        }
    }
    if p.introspection_cache_max_secs == 0 {
        return Err(ConfigError::new(
            at("introspection_cache_max_secs"),
            "must be at least 1",
        ));
    }
    if !p.introspection {
        return Ok(());
    }
    if p.client.is_none() {
        return Err(ConfigError::new(
            at("client_id"),
            "required for introspection",
        ));
    }
    if p.introspection_endpoint.is_none()
        && !matches!(p.key_source(), Some(KeySource::Discovery(_)))
    {
        return Err(ConfigError::new(
            at("introspection_endpoint"),
            "required when discovery does not run (jwks or jwks_uri given)",
        ));
    }
    Ok(())
}

fn validate_name(name: &str) -> Result<(), &'static str> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', '-'")
    }
}

/// Splits `issuer` into (issuer, discovery URL given in Kong's form).
fn split_issuer(text: &str) -> Result<(Option<String>, Option<String>), String> {
    FetchUrl::parse_issuer(text).map_err(|e| e.to_string())?;
    match text.strip_suffix(DISCOVERY_SUFFIX) {
        Some(issuer) => {
            FetchUrl::parse_issuer(issuer).map_err(|e| e.to_string())?;
            Ok((Some(issuer.to_string()), Some(text.to_string())))
        }
        None => Ok((Some(text.to_string()), None)),
    }
}

fn parse_patterns(texts: Vec<String>, index: usize) -> Result<Vec<IssuerPattern>, ConfigError> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            IssuerPattern::parse(t).map_err(|r| {
                ConfigError::new(format!("providers[{index}].issuers_allowed[{i}]"), r)
            })
        })
        .collect()
}

fn parse_algorithms(names: Option<Vec<String>>, index: usize) -> Result<Vec<Alg>, ConfigError> {
    let Some(names) = names else {
        return Ok(Alg::ALL.to_vec());
    };
    if names.is_empty() {
        return Err(ConfigError::new(
            format!("providers[{index}].algorithms"),
            "must not be empty; omit it to accept every supported algorithm",
        ));
    }
    let mut algs = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let alg = Alg::from_name(name).ok_or_else(|| {
            ConfigError::new(
                format!("providers[{index}].algorithms[{i}]"),
                alg_refusal(name),
            )
        })?;
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    Ok(algs)
}

fn alg_refusal(name: &str) -> String {
    if name.eq_ignore_ascii_case("none") {
        "\"none\" is never accepted: unsigned tokens prove nothing".to_string()
    } else if name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("HS")) {
        format!(
            "\"{name}\" is refused: HMAC needs a shared secret, and keying it with a public key \
             lets anyone forge tokens"
        )
    } else {
        let all: Vec<&str> = Alg::ALL.iter().map(|a| a.name()).collect();
        format!("unsupported algorithm; supported: {}", all.join(", "))
    }
}

fn validate_inline_jwks(jwks: &serde_json::Value, path: &str) -> Result<(), ConfigError> {
    match jwks.get("keys") {
        Some(serde_json::Value::Array(_)) if jwks.is_object() => Ok(()),
        _ => Err(ConfigError::new(
            path,
            "must be a JWKS object with a \"keys\" array",
        )),
    }
}
