//! OAuth 2.0 Token Introspection (RFC 7662) for tokens that cannot be checked locally: the
//! request (section 2.1, with client authentication), the reading of the answer (section 2.2:
//! only `"active": true` is active), and a bounded cache of answers. The engine decides when to
//! introspect and makes the callout; the claims of an active answer feed the same route policy
//! and identity headers as a verified JWT's.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::claims::{lookup, string_values};
use crate::config::{ClientConfig, ProviderConfig};
use crate::json;
use crate::tokens::{self, FormPost};

/// Answers kept at most per worker VM.
pub const MAX_ENTRIES: usize = 4096;

/// The introspection request for `token` (section 2.1).
pub fn request(client: &ClientConfig, token: &str) -> FormPost {
    tokens::authenticated_post(
        client,
        &[("token", token), ("token_type_hint", "access_token")],
    )
}

/// What the provider said about a token, after our own checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Active, within its times, for one of our audiences: its claims.
    Active(Rc<Map<String, Value>>),
    /// Not active, expired, for another issuer or audience.
    Inactive,
}

/// Reads a 2xx introspection response. `Err` (fail closed, 503) when it is not a JSON object
/// with a boolean `active`.
pub fn parse(
    body: &[u8],
    provider: &ProviderConfig,
    now_secs: u64,
    skew_secs: u64,
) -> Result<Answer, &'static str> {
    let claims = json::parse_object(body).map_err(|_| "not a JSON object")?;
    match claims.get("active") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => return Ok(Answer::Inactive),
        _ => return Err("no boolean \"active\""),
    }
    let now = now_secs as f64;
    let skew = skew_secs as f64;
    let number = |name: &str| claims.get(name).and_then(Value::as_f64);
    let expired = number("exp").is_some_and(|exp| now > exp + skew);
    let early = number("nbf").is_some_and(|nbf| nbf > now + skew);
    // The issuer is optional in the answer; when given it must be the provider's.
    let foreign = claims
        .get("iss")
        .is_some_and(|iss| !iss.as_str().is_some_and(|i| provider.matches_issuer(i)));
    let audience_ok = !provider.checks_audience()
        || lookup(&claims, &provider.audience_claim)
            .map(string_values)
            .is_some_and(|held| {
                provider
                    .audiences
                    .iter()
                    .any(|a| held.contains(&a.as_str()))
            });
    if expired || early || foreign || !audience_ok {
        return Ok(Answer::Inactive);
    }
    Ok(Answer::Active(Rc::new(claims)))
}

/// Until when an answer may be reused: an active token's `exp`, bounded by the provider's
/// `introspection_cache_max_secs`; an inactive answer for that bound.
pub fn cache_until(answer: &Answer, provider: &ProviderConfig, now: Duration) -> Duration {
    let cap = now + Duration::from_secs(provider.introspection_cache_max_secs);
    match answer {
        Answer::Active(claims) => claims
            .get("exp")
            .and_then(Value::as_f64)
            .filter(|e| e.is_finite() && *e >= 0.0)
            .map_or(cap, |exp| cap.min(Duration::from_secs_f64(exp))),
        Answer::Inactive => cap,
    }
}

/// SHA-256 of a token.
pub type Digest32 = [u8; 32];

/// Introspection answers by SHA-256 of the token, each until its time; the oldest makes room.
#[derive(Debug, Default)]
pub struct AnswerCache {
    entries: HashMap<Digest32, (Answer, Duration)>,
    order: VecDeque<Digest32>,
}

impl AnswerCache {
    pub fn get(&mut self, token: &str, now: Duration) -> Option<Answer> {
        let key = digest(token);
        match self.entries.get(&key) {
            Some((answer, until)) if now < *until => Some(answer.clone()),
            Some(_) => {
                self.entries.remove(&key);
                self.order.retain(|k| *k != key);
                None
            }
            None => None,
        }
    }

    /// Keeps `answer` for the token whose digest is `key`.
    pub fn insert(&mut self, key: Digest32, answer: Answer, until: Duration) {
        if self.entries.insert(key, (answer, until)).is_none() {
            self.order.push_back(key);
        }
        while self.entries.len() > MAX_ENTRIES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }
}

/// SHA-256 of a token: how waiting requests and cache entries name it without keeping it.
pub fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}
