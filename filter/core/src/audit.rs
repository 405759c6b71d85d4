//! Who did what: one structured record per decision, and the counters the filter keeps.
//! Records carry identities and reasons, never a token, a query string or a secret.

use serde::Serialize;
use serde_json::{Map, Value};

/// Longest identity value copied into a record; claims are attacker-controlled until verified.
const MAX_FIELD_CHARS: usize = 256;

/// One decision, as logged. Serialised as a single JSON line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Audit {
    /// `allow`, `deny`, `login` (sent to the provider, or back from it) or `logout`.
    pub decision: &'static str,
    /// `ok`, `anonymous`, or an `AuthError::code()`.
    pub reason: &'static str,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// `azp`, `client_id` or `appid`, the first present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Index of the matched rule in `rules`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<usize>,
    pub method: String,
    /// The path without its query string (a token may travel in the query).
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Whether the verified-token cache answered.
    pub cached: bool,
}

impl Audit {
    /// Copies the identity fields from (possibly unverified) claims, bounded and printable.
    pub fn set_identity(&mut self, claims: &Map<String, Value>) {
        self.sub = text_claim(claims, "sub");
        self.iss = text_claim(claims, "iss");
        self.client = ["azp", "client_id", "appid"]
            .iter()
            .find_map(|k| text_claim(claims, k));
    }

    /// The record as one JSON line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn text_claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    let s = claims.get(name)?.as_str()?;
    Some(
        s.chars()
            .filter(|c| !c.is_control())
            .take(MAX_FIELD_CHARS)
            .collect(),
    )
}

/// A counter the filter increments. Names are Prometheus-style and stable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metric {
    Allowed,
    Denied(&'static str),
    JwksFetchOk,
    JwksFetchFailed,
    DiscoveryFetchOk,
    DiscoveryFetchFailed,
    KeyRotation,
    CacheHit,
    CacheMiss,
    LoginStarted,
    LoginCompleted,
    SessionRefreshed,
    IntrospectionOk,
    IntrospectionFailed,
}

impl Metric {
    pub fn name(&self) -> String {
        match self {
            Metric::Allowed => "oidc_filter_allowed_total".to_string(),
            Metric::Denied(code) => format!("oidc_filter_denied_{code}_total"),
            Metric::JwksFetchOk => "oidc_filter_jwks_fetch_ok_total".to_string(),
            Metric::JwksFetchFailed => "oidc_filter_jwks_fetch_failed_total".to_string(),
            Metric::DiscoveryFetchOk => "oidc_filter_discovery_fetch_ok_total".to_string(),
            Metric::DiscoveryFetchFailed => "oidc_filter_discovery_fetch_failed_total".to_string(),
            Metric::KeyRotation => "oidc_filter_key_rotations_total".to_string(),
            Metric::CacheHit => "oidc_filter_cache_hits_total".to_string(),
            Metric::CacheMiss => "oidc_filter_cache_misses_total".to_string(),
            Metric::LoginStarted => "oidc_filter_logins_started_total".to_string(),
            Metric::LoginCompleted => "oidc_filter_logins_completed_total".to_string(),
            Metric::SessionRefreshed => "oidc_filter_sessions_refreshed_total".to_string(),
            Metric::IntrospectionOk => "oidc_filter_introspection_ok_total".to_string(),
            Metric::IntrospectionFailed => "oidc_filter_introspection_failed_total".to_string(),
        }
    }

    /// Every metric, so an adapter can define them all up front.
    pub fn all() -> Vec<Metric> {
        let mut all = vec![
            Metric::Allowed,
            Metric::JwksFetchOk,
            Metric::JwksFetchFailed,
            Metric::DiscoveryFetchOk,
            Metric::DiscoveryFetchFailed,
            Metric::KeyRotation,
            Metric::CacheHit,
            Metric::CacheMiss,
            Metric::LoginStarted,
            Metric::LoginCompleted,
            Metric::SessionRefreshed,
            Metric::IntrospectionOk,
            Metric::IntrospectionFailed,
        ];
        all.extend(
            crate::error::AuthError::ALL_CODES
                .iter()
                .map(|c| Metric::Denied(c)),
        );
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_prefers_azp_and_strips_control_characters() {
        let claims: Map<String, Value> = serde_json::from_str(
            r#"{"sub":"alice\r\nX-Evil: 1","iss":"https://idp","client_id":"c2","azp":"c1"}"#,
        )
        .unwrap();
        let mut a = Audit::default();
        a.set_identity(&claims);
        assert_eq!(a.sub.as_deref(), Some("aliceX-Evil: 1"));
        assert_eq!(a.client.as_deref(), Some("c1"));
        let line = a.to_json();
        assert!(!line.contains('\n'));
    }

    #[test]
    fn long_identities_are_truncated() {
        let long = "x".repeat(10_000);
        let claims: Map<String, Value> =
            serde_json::from_value(serde_json::json!({ "sub": long })).unwrap();
        let mut a = Audit::default();
        a.set_identity(&claims);
        assert_eq!(a.sub.map(|s| s.len()), Some(MAX_FIELD_CHARS));
    }

    #[test]
    fn every_denial_reason_has_its_own_metric() {
        let names: Vec<String> = Metric::all().iter().map(Metric::name).collect();
        assert!(names.contains(&"oidc_filter_denied_expired_total".to_string()));
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }
}
