//! The configuration document exactly as users write it: serde shapes with `deny_unknown_fields`,
//! so a typo is reported with its path. Validation into the public types lives in the sibling
//! modules; nothing here interprets values.
//!
//! With the `schema` feature these shapes also describe themselves as JSON Schema (the doc
//! comments become `description`s, `deny_unknown_fields` becomes `additionalProperties: false`):
//! see `config::json_schema`.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::marker::PhantomData;

use super::secret::Secret;

/// The filter's configuration document.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    /// Identity providers; a token is matched to its provider by `iss`.
    pub providers: Vec<RawProvider>,
    /// Where tokens are looked for, in order (default: the `Authorization` header, `Bearer `).
    pub token_sources: Option<Vec<RawTokenSource>>,
    /// Tolerance for `exp`, `nbf` and `iat` in seconds (default 60, at most 600).
    pub clock_skew_secs: Option<u64>,
    /// Refuse tokens living longer than this many seconds (default: no cap).
    pub max_token_lifetime_secs: Option<u64>,
    /// Refuse tokens without `exp` (default true).
    pub require_exp: Option<bool>,
    /// Route rules, first match wins; a request no rule matches still needs a valid token.
    pub rules: Option<Vec<RawRule>>,
    /// Claim path of the scopes (default `scope`, then `scp`).
    pub scopes_claim: Option<String>,
    /// Claim path of the roles (default `roles`).
    pub roles_claim: Option<String>,
    /// Claim path of the groups (default `groups`).
    pub groups_claim: Option<String>,
    /// Header name -> claim path, sent upstream; incoming headers of these names are removed.
    pub claims_to_headers: Option<UniqueMap<String>>,
    /// `false` removes the credential before the upstream sees it (default true).
    pub forward_token: Option<bool>,
    /// Put the precise reason in `error_description` and the body (default false).
    pub display_errors: Option<bool>,
    /// `realm` of the `WWW-Authenticate` challenge (default `oidc-filter`).
    pub realm: Option<String>,
    pub callback_path: Option<String>,
    pub logout_path: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub external_url: Option<String>,
    pub login_provider: Option<String>,
    pub session: Option<RawSession>,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(super) struct RawSession {
    pub keys: Vec<Secret>,
    pub cookie_name: Option<String>,
    pub secure: Option<bool>,
    pub idle_timeout_secs: Option<u64>,
    pub rolling_timeout_secs: Option<u64>,
    pub absolute_timeout_secs: Option<u64>,
    pub upstream_token: Option<String>,
}

/// An identity provider.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvider {
    /// Unique name, `[A-Za-z0-9_.-]{1,64}`, used in logs, metrics and shared-data keys.
    pub name: String,
    /// Compared byte for byte with `iss`; required unless `issuers_allowed` is given.
    pub issuer: Option<String>,
    /// Fetch `{issuer}/.well-known/openid-configuration`, then its `jwks_uri` (default true).
    pub discovery: Option<bool>,
    /// Fetch keys here directly (default: from discovery).
    pub jwks_uri: Option<String>,
    /// Inline JWKS (`{"keys": [...]}`): nothing is fetched.
    pub jwks: Option<serde_json::Value>,
    /// Callout target: an Envoy cluster name, or `host:port` for Kong (default: from the URL).
    pub cluster: Option<String>,
    /// Accepted audiences, any match accepts; empty means the audience is not checked.
    pub audiences: Option<Vec<String>>,
    /// Claim path of the audience (default `aud`).
    pub audience_claim: Option<String>,
    /// Allowed `alg` values (default: every supported asymmetric algorithm).
    pub algorithms: Option<Vec<String>>,
    /// Key-set lifetime in seconds, refreshed at 90 % of it (default 600).
    pub jwks_cache_ttl_secs: Option<u64>,
    /// At most one unknown-`kid` refetch per this many seconds (default 30).
    pub jwks_refetch_interval_secs: Option<u64>,
    /// How long the last good keys are used while fetches fail, in seconds (default 86400).
    pub jwks_stale_max_secs: Option<u64>,
    /// Timeout of each discovery or JWKS callout in milliseconds (default 5000, 1-60000).
    pub fetch_timeout_ms: Option<u64>,
    /// Issuer patterns for multi-tenant apps: `{name}` matches one path segment.
    pub issuers_allowed: Option<Vec<String>>,
    /// Required JWS `typ`, e.g. `at+jwt`.
    pub typ: Option<String>,
    pub client_id: Option<String>,
    /// A `Secret`: its Debug prints a placeholder, and its Deserialize error never echoes the value.
    pub client_secret: Option<Secret>,
    pub token_endpoint_auth_method: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub redirect_uri: Option<String>,
    pub introspection: Option<bool>,
    pub introspection_endpoint: Option<String>,
    pub introspection_cache_max_secs: Option<u64>,
}

/// Where a token is looked for: exactly one of `header`, `cookie` or `query`.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(super) struct RawTokenSource {
    /// A request header.
    pub header: Option<String>,
    /// Prefix of the header value, e.g. `Bearer ` (the scheme word matches in any case).
    pub prefix: Option<String>,
    /// A cookie.
    pub cookie: Option<String>,
    /// A query parameter.
    pub query: Option<String>,
}

/// A route rule: exactly one of `path_prefix` or `path`, plus requirements.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    /// Path prefix, matched on segment boundaries.
    pub path_prefix: Option<String>,
    /// Exact path.
    pub path: Option<String>,
    /// Methods the rule applies to (default: all).
    pub methods: Option<Vec<String>>,
    /// No token needed; a bad token makes the request anonymous.
    pub allow_anonymous: Option<bool>,
    /// Entries are OR; space-separated names inside one entry are AND.
    pub scopes_required: Option<Vec<String>>,
    /// Entries are OR; space-separated names inside one entry are AND.
    pub roles_required: Option<Vec<String>>,
    /// Entries are OR; space-separated names inside one entry are AND.
    pub groups_required: Option<Vec<String>>,
    /// Claim path -> accepted values; every listed claim needs one accepted value.
    pub claims_required: Option<UniqueMap<Vec<serde_json::Value>>>,
    pub login: Option<bool>,
    pub api: Option<bool>,
}

/// A JSON object kept in document order that refuses duplicate keys (serde_json's own maps keep
/// the last one silently, which would hide a mistake in a security setting).
pub(super) struct UniqueMap<V>(pub Vec<(String, V)>);

/// In the schema: an object whose values are `V`s (duplicate keys cannot be expressed there; the
/// parser refuses them).
#[cfg(feature = "schema")]
impl<V: schemars::JsonSchema> schemars::JsonSchema for UniqueMap<V> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Map_of_{}", V::schema_name()).into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "additionalProperties": generator.subschema_for::<V>(),
        })
    }
}

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
