//! The authorization code flow's front half (OIDC Core section 3.1.2, RFC 7636): the pending login
//! a browser carries in its own short-lived sealed cookie while it is at the provider, the
//! authorization request URL, the callback's parameters, and where the browser may be sent back.
//! Nothing is kept on the server: the cookie is the whole state, cleared when the callback uses it.

use serde::{Deserialize, Serialize};
use subtle_eq::constant_time_eq;

use crate::config::{ClientConfig, SessionConfig};
use crate::{form, pkce, seal};

/// A pending login lives this long: time to sign in at the provider.
pub const LOGIN_TTL_SECS: u64 = 600;
/// Where the browser goes after login when its original URL is not a safe local path.
pub const FALLBACK_RETURN: &str = "/";
/// Longest original URL kept.
const MAX_RETURN_BYTES: usize = 2048;

/// The login cookie's name for a session cookie name.
pub fn cookie_name(session: &SessionConfig) -> String {
    format!("{}_login", session.cookie_name)
}

/// A login under way, sealed into the login cookie.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    #[serde(rename = "p")]
    pub provider: String,
    /// `state` (OIDC Core 3.1.2.1): ties the callback to this browser (CSRF).
    #[serde(rename = "s")]
    pub state: String,
    /// `nonce`: ties the ID token to this login (replay).
    #[serde(rename = "n")]
    pub nonce: String,
    /// PKCE `code_verifier`.
    #[serde(rename = "v")]
    pub verifier: String,
    /// The same-origin path (and query) to return to.
    #[serde(rename = "u")]
    pub return_to: String,
    #[serde(rename = "c")]
    pub created: u64,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("provider", &self.provider)
            .field("return_to", &self.return_to)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl PendingLogin {
    pub fn seal(&self, cfg: &SessionConfig, nonce: [u8; 12]) -> Option<String> {
        let json = serde_json::to_vec(self).ok()?;
        seal::seal(cfg.keys.first()?, &cookie_name(cfg), &json, nonce)
    }

    /// The pending login in a login cookie value, if it opens, parses and is not too old.
    pub fn open(cfg: &SessionConfig, text: &str, now: u64) -> Option<PendingLogin> {
        let json = seal::open(&cfg.keys, &cookie_name(cfg), text)?;
        let login: PendingLogin = serde_json::from_slice(&json).ok()?;
        (now < login.created.saturating_add(LOGIN_TTL_SECS)
            && login.created <= now.saturating_add(60))
        .then_some(login)
    }

    /// Whether the callback's `state` is this login's, compared in constant time.
    pub fn state_matches(&self, state: &str) -> bool {
        constant_time_eq(self.state.as_bytes(), state.as_bytes())
    }
}

/// The authorization request (OIDC Core 3.1.2.1) for `login` at `endpoint`.
pub fn authorization_url(
    endpoint: &str,
    client: &ClientConfig,
    redirect_uri: &str,
    login: &PendingLogin,
) -> String {
    let scope = client.scopes.join(" ");
    let challenge = pkce::challenge(&login.verifier);
    let query = form::serialize(&[
        ("response_type", "code"),
        ("client_id", &client.client_id),
        ("redirect_uri", redirect_uri),
        ("scope", &scope),
        ("state", &login.state),
        ("nonce", &login.nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    form::append_query(endpoint, &query)
}

/// Where to send the browser back: `target` when it is a path on this origin, else `/`.
///
/// Security: the value ends up in a `Location` header, so anything a browser could read as
/// another origin is refused: `//host` and `/\host` (browsers treat `\` as `/`), absolute URLs,
/// and control characters or spaces (header injection, and browsers strip tabs and newlines
/// before parsing, turning `/\t/host` into `//host`).
pub fn safe_return(target: &str) -> String {
    let bytes = target.as_bytes();
    let ok = bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && !target.contains('\\')
        && bytes.iter().all(|b| b.is_ascii_graphic())
        && target.len() <= MAX_RETURN_BYTES;
    if ok {
        target.to_string()
    } else {
        FALLBACK_RETURN.to_string()
    }
}

/// The parameters of a callback request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// The provider refused (`access_denied`, `login_required`...): OIDC Core 3.1.2.6.
    pub error: Option<String>,
    /// RFC 9207 `iss`, when the provider sends it.
    pub iss: Option<String>,
}

impl Callback {
    /// Reads the callback's query; a parameter given twice counts as absent.
    pub fn parse(path: &str) -> Callback {
        let one = |name: &str| match form::query_values(path, name).as_slice() {
            [v] => Some(v.clone()),
            _ => None,
        };
        Callback {
            code: one("code"),
            state: one("state"),
            error: one("error"),
            iss: one("iss"),
        }
    }
}

mod subtle_eq {
    /// Equality whose time does not depend on where the inputs differ.
    pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::safe_return;

    #[test]
    fn only_local_paths_are_kept() {
        assert_eq!(safe_return("/orders?x=1"), "/orders?x=1");
        for evil in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "/a\\b",
            "/\t/evil",
            "x",
        ] {
            assert_eq!(safe_return(evil), "/", "{evil:?}");
        }
    }
}
