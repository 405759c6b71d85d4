//! Who did what: one structured record per decision, and the counters the filter keeps.
//! Records carry identities and reasons, never a token, a query string or a secret.

use std::rc::Rc;

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
    /// Shared with the verified-token cache entry, which works it out once per token.
    #[serde(flatten)]
    pub identity: Rc<Identity>,
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

/// Who a record is about: identity claims of a (possibly unverified) token, bounded and printable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Identity {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// `azp`, `client_id` or `appid`, the first present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

impl Identity {
    pub fn of(claims: &Map<String, Value>) -> Identity {
        Identity {
            sub: text_claim(claims, "sub"),
            iss: text_claim(claims, "iss"),
            client: ["azp", "client_id", "appid"]
                .iter()
                .find_map(|k| text_claim(claims, k)),
        }
    }
}

impl Audit {
    /// Takes the identity fields from (possibly unverified) claims, bounded and printable.
    pub fn set_identity(&mut self, claims: &Map<String, Value>) {
        self.identity = Rc::new(Identity::of(claims));
    }

    /// The record as one JSON line.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(JSON_CAPACITY);
        self.write_json(&mut out);
        out
    }

    /// Appends the record as one JSON line to `out`: the bytes `serde_json` makes of it (members
    /// in declaration order, absent options left out), written without a serializer or a second
    /// buffer, since every decision writes one.
    pub fn write_json(&self, out: &mut String) {
        out.push_str(r#"{"decision":"#);
        push_json_str(out, self.decision);
        out.push_str(r#","reason":"#);
        push_json_str(out, self.reason);
        out.push_str(r#","status":"#);
        push_number(out, u64::from(self.status));
        let texts = [
            ("sub", &self.identity.sub),
            ("iss", &self.identity.iss),
            ("client", &self.identity.client),
            ("provider", &self.provider),
        ];
        for (name, value) in texts {
            if let Some(value) = value {
                push_member(out, name);
                push_json_str(out, value);
            }
        }
        if let Some(rule) = self.rule {
            push_member(out, "rule");
            push_number(out, u64::try_from(rule).unwrap_or(u64::MAX));
        }
        out.push_str(r#","method":"#);
        push_json_str(out, &self.method);
        out.push_str(r#","path":"#);
        push_json_str(out, &self.path);
        if let Some(source) = &self.source {
            out.push_str(r#","source":"#);
            push_json_str(out, source);
        }
        out.push_str(if self.cached {
            r#","cached":true}"#
        } else {
            r#","cached":false}"#
        });
    }
}

/// Room for a typical record, so writing one allocates once.
const JSON_CAPACITY: usize = 256;

fn push_member(out: &mut String, name: &str) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":");
}

fn push_number(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for d in &digits[at..] {
        out.push(char::from(*d));
    }
}

/// A JSON string with serde_json's escapes: `"` and `\\`, the five short forms for control
/// characters that have one, `\u00XX` for the other control characters; nothing else.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `i` is at an ASCII byte, so both slices end on character boundaries.
        out.push_str(s.get(plain..i).unwrap_or_default());
        plain = i + 1;
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(short);
        }
    }
    out.push_str(s.get(plain..).unwrap_or_default());
    out.push('"');
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

/// Metrics other than the per-code denials, which follow them in [`Metric::all`].
const FIXED_METRICS: usize = 13;

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

    /// This metric's place in [`Metric::all`], so an adapter can keep the host's metric ids in a
    /// slice defined once instead of looking names up per request. `None` for a denial code that
    /// is not in `AuthError::ALL_CODES`.
    pub fn index(&self) -> Option<usize> {
        let fixed = match self {
            Metric::Allowed => 0,
            Metric::JwksFetchOk => 1,
            Metric::JwksFetchFailed => 2,
            Metric::DiscoveryFetchOk => 3,
            Metric::DiscoveryFetchFailed => 4,
            Metric::KeyRotation => 5,
            Metric::CacheHit => 6,
            Metric::CacheMiss => 7,
            Metric::LoginStarted => 8,
            Metric::LoginCompleted => 9,
            Metric::SessionRefreshed => 10,
            Metric::IntrospectionOk => 11,
            Metric::IntrospectionFailed => 12,
            Metric::Denied(code) => {
                return crate::error::AuthError::ALL_CODES
                    .iter()
                    .position(|c| c == code)
                    .map(|p| FIXED_METRICS + p)
            }
        };
        Some(fixed)
    }

    /// Every metric, so an adapter can define them all up front; in [`Metric::index`] order.
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
        assert_eq!(a.identity.sub.as_deref(), Some("aliceX-Evil: 1"));
        assert_eq!(a.identity.client.as_deref(), Some("c1"));
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
        assert_eq!(
            a.identity.sub.as_ref().map(|s| s.len()),
            Some(MAX_FIELD_CHARS)
        );
    }

    #[test]
    fn the_json_line_is_what_serde_json_makes_of_the_record() {
        let awkward: String = (0u8..0x80).map(char::from).chain("é€😀".chars()).collect();
        let full = Audit {
            decision: "deny",
            reason: "expired",
            status: 401,
            identity: Rc::new(Identity {
                sub: Some(awkward.clone()),
                iss: Some("https://idp/\"q\"".into()),
                client: Some("c\\1".into()),
            }),
            provider: Some("p".into()),
            rule: Some(usize::MAX),
            method: "GET".into(),
            path: awkward,
            source: Some("127.0.0.1:1".into()),
            cached: true,
        };
        let bare = Audit {
            status: 0,
            rule: Some(0),
            ..Audit::default()
        };
        for audit in [full, bare, Audit::default()] {
            assert_eq!(audit.to_json(), serde_json::to_string(&audit).unwrap());
            let mut line = String::from("prefix ");
            audit.write_json(&mut line);
            assert_eq!(line, format!("prefix {}", audit.to_json()));
        }
    }

    #[test]
    fn every_metric_knows_its_place_among_all() {
        for (i, metric) in Metric::all().iter().enumerate() {
            assert_eq!(metric.index(), Some(i), "{metric:?}");
        }
        assert_eq!(Metric::Denied("no_such_code").index(), None);
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
