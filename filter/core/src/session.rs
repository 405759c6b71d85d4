//! A signed-in person's session as the filter keeps it: in the browser, sealed (`seal`) into the
//! session cookie, never on the server (worker VMs do not share memory reliably). It owns what a
//! session holds and when it ends or must be renewed; it reads no cookies and draws no randomness.
//!
//! Times (seconds since the epoch, from the caller's `now`):
//! - absolute: `created + absolute_timeout_secs`, then the person signs in again;
//! - idle: `issued + idle_timeout_secs`, where `issued` is when the cookie was last written, which
//!   happens at most once per [`touch_interval`] while requests come in;
//! - rolling: tokens come from the provider again (refresh) at least every `rolling_timeout_secs`,
//!   so a session revoked there ends here too; without a refresh token that means a new login;
//! - access token: refreshed [`REFRESH_AHEAD_SECS`] before its expiry.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::SessionConfig;
use crate::{jws, seal};

/// An access token is refreshed this long before it expires.
pub const REFRESH_AHEAD_SECS: u64 = 60;

/// The sealed content of the session cookie. Short field names keep the cookie small.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Name of the provider that signed the person in.
    #[serde(rename = "p")]
    pub provider: String,
    /// The ID token, verified when it was stored; `id_token_hint` at logout.
    #[serde(rename = "i")]
    pub id_token: String,
    #[serde(rename = "a")]
    pub access_token: String,
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When the access token expires (`expires_in` from the token response).
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub access_expires: Option<u64>,
    /// The granted `scope` of the token response, when the provider says.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Login time.
    #[serde(rename = "c")]
    pub created: u64,
    /// When this cookie value was written.
    #[serde(rename = "t")]
    pub issued: u64,
    /// When the tokens last came from the provider.
    #[serde(rename = "f")]
    pub refreshed: u64,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("provider", &self.provider)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("access_expires", &self.access_expires)
            .field("created", &self.created)
            .field("issued", &self.issued)
            .field("refreshed", &self.refreshed)
            .finish_non_exhaustive()
    }
}

/// What a request with a live session must do first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// Nothing: pass the request.
    None,
    /// Write the cookie again so the idle timer restarts.
    Touch,
    /// Get new tokens with the refresh token (or sign in again without one).
    Refresh,
}

/// How often a live session's cookie is rewritten: once a minute, or at half the idle timeout
/// when that is shorter.
pub fn touch_interval(cfg: &SessionConfig) -> u64 {
    (cfg.idle_timeout_secs / 2).clamp(1, 60)
}

impl Session {
    /// Whether the session is over: past its absolute or idle timeout.
    pub fn expired(&self, now: u64, cfg: &SessionConfig) -> bool {
        now >= self.created.saturating_add(cfg.absolute_timeout_secs)
            || now >= self.issued.saturating_add(cfg.idle_timeout_secs)
    }

    /// Whether the access token has expired (and can no longer be sent upstream).
    pub fn access_expired(&self, now: u64) -> bool {
        self.access_expires.is_some_and(|e| now >= e)
    }

    pub fn renewal(&self, now: u64, cfg: &SessionConfig) -> Renewal {
        let expiring = self
            .access_expires
            .is_some_and(|e| now.saturating_add(REFRESH_AHEAD_SECS) >= e);
        if expiring || now >= self.refreshed.saturating_add(cfg.rolling_timeout_secs) {
            Renewal::Refresh
        } else if now >= self.issued.saturating_add(touch_interval(cfg)) {
            Renewal::Touch
        } else {
            Renewal::None
        }
    }

    /// The claims the policy and identity headers see: the ID token's, plus `scope` from the
    /// token response when the ID token has none.
    pub fn claims(&self) -> Map<String, Value> {
        let mut claims = jws::parse(&self.id_token)
            .map(|j| j.claims)
            .unwrap_or_default();
        if let (false, Some(scope)) = (claims.contains_key("scope"), &self.scope) {
            claims.insert("scope".to_string(), Value::String(scope.clone()));
        }
        claims
    }

    /// The session sealed for the cookie `name` with the first configured key.
    pub fn seal(&self, cfg: &SessionConfig, nonce: [u8; 12]) -> Option<String> {
        let json = serde_json::to_vec(self).ok()?;
        seal::seal(cfg.keys.first()?, &cfg.cookie_name, &json, nonce)
    }

    /// The session in a cookie value, if it opens under a configured key and parses.
    pub fn open(cfg: &SessionConfig, text: &str) -> Option<Session> {
        let json = seal::open(&cfg.keys, &cfg.cookie_name, text)?;
        serde_json::from_slice(&json).ok()
    }
}
