//! The configuration document exactly as users write it: serde shapes with `deny_unknown_fields`,
//! so a typo is reported with its path. Validation into the public types lives in the sibling
//! modules; nothing here interprets values.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::marker::PhantomData;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub providers: Vec<RawProvider>,
    pub token_sources: Option<Vec<RawTokenSource>>,
    pub clock_skew_secs: Option<u64>,
    pub max_token_lifetime_secs: Option<u64>,
    pub require_exp: Option<bool>,
    pub rules: Option<Vec<RawRule>>,
    pub scopes_claim: Option<String>,
    pub roles_claim: Option<String>,
    pub groups_claim: Option<String>,
    pub claims_to_headers: Option<UniqueMap<String>>,
    pub forward_token: Option<bool>,
    pub display_errors: Option<bool>,
    pub realm: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvider {
    pub name: String,
    pub issuer: Option<String>,
    pub discovery: Option<bool>,
    pub jwks_uri: Option<String>,
    pub jwks: Option<serde_json::Value>,
    pub cluster: Option<String>,
    pub audiences: Option<Vec<String>>,
    pub audience_claim: Option<String>,
    pub algorithms: Option<Vec<String>>,
    pub jwks_cache_ttl_secs: Option<u64>,
    pub jwks_refetch_interval_secs: Option<u64>,
    pub jwks_stale_max_secs: Option<u64>,
    pub fetch_timeout_ms: Option<u64>,
    pub issuers_allowed: Option<Vec<String>>,
    pub typ: Option<String>,
    // A future `client_secret` goes here as a `Secret` newtype: its Debug prints a placeholder, and
    // its Deserialize error must not echo the value (serde_json's "invalid type" messages quote it).
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTokenSource {
    pub header: Option<String>,
    pub prefix: Option<String>,
    pub cookie: Option<String>,
    pub query: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub path_prefix: Option<String>,
    pub path: Option<String>,
    pub methods: Option<Vec<String>>,
    pub allow_anonymous: Option<bool>,
    pub scopes_required: Option<Vec<String>>,
    pub roles_required: Option<Vec<String>>,
    pub groups_required: Option<Vec<String>>,
    pub claims_required: Option<UniqueMap<Vec<serde_json::Value>>>,
}

/// A JSON object kept in document order that refuses duplicate keys (serde_json's own maps keep
/// the last one silently, which would hide a mistake in a security setting).
pub(super) struct UniqueMap<V>(pub Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UniqueMapVisitor(PhantomData))
    }
}

struct UniqueMapVisitor<V>(PhantomData<V>);

impl<'de, V: Deserialize<'de>> Visitor<'de> for UniqueMapVisitor<V> {
    type Value = UniqueMap<V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries: Vec<(String, V)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
            }
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(UniqueMap(entries))
    }
}
