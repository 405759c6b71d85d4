//! Talking to a provider's token endpoint as an OAuth 2.0 client (RFC 6749): the form bodies of
//! the authorization-code and refresh grants, client authentication, and reading the token
//! response. It sends nothing itself; the engine turns [`FormPost`] into a callout.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

use crate::config::{ClientAuth, ClientConfig};
use crate::{form, json};

/// A form POST for a callout: headers besides the pseudo-headers, and the body. Its Debug never
/// shows the body or the credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct FormPost {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl std::fmt::Debug for FormPost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FormPost(<redacted>)")
    }
}

/// A form POST with client authentication (OIDC Core section 9):
/// - `client_secret_basic`: `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`,
///   each part form-urlencoded first as RFC 6749 section 2.3.1 requires;
/// - `client_secret_post`: `client_id` and `client_secret` in the body;
/// - `none`: `client_id` in the body.
pub fn authenticated_post(client: &ClientConfig, params: &[(&str, &str)]) -> FormPost {
    let mut pairs: Vec<(&str, &str)> = params.to_vec();
    let mut headers = vec![
        (
            "content-type".to_string(),
            "application/x-www-form-urlencoded".to_string(),
        ),
        ("accept".to_string(), "application/json".to_string()),
    ];
    let secret = client.client_secret.as_ref().map_or("", |s| s.expose());
    match client.auth_method {
        ClientAuth::Basic => {
            let user_pass = format!(
                "{}:{}",
                form::encode(&client.client_id),
                form::encode(secret)
            );
            headers.push((
                "authorization".to_string(),
                format!("Basic {}", STANDARD.encode(user_pass)),
            ));
        }
        ClientAuth::Post => {
            pairs.push(("client_id", &client.client_id));
            pairs.push(("client_secret", secret));
        }
        ClientAuth::None => pairs.push(("client_id", &client.client_id)),
    }
    FormPost {
        headers,
        body: form::serialize(&pairs),
    }
}

/// The authorization-code grant (RFC 6749 section 4.1.3, with RFC 7636 section 4.5's verifier).
pub fn code_grant(
    client: &ClientConfig,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> FormPost {
    authenticated_post(
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ],
    )
}

/// The refresh grant (RFC 6749 section 6).
pub fn refresh_grant(client: &ClientConfig, refresh_token: &str) -> FormPost {
    authenticated_post(
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
}

/// A successful token response (RFC 6749 section 5.1, OIDC Core 3.1.3.3).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Why a token response was not accepted. Never carries token material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token response is not a JSON object")]
    NotJson,
    #[error("token response lacks access_token")]
    NoAccessToken,
    #[error("token_type is not Bearer")]
    NotBearer,
    #[error("token response lacks id_token")]
    NoIdToken,
}

/// Parses a 2xx token response body.
pub fn parse_response(body: &[u8]) -> Result<TokenResponse, TokenError> {
    let doc = json::parse_object(body).map_err(|_| TokenError::NotJson)?;
    let text = |name: &str| {
        doc.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let access_token = text("access_token").ok_or(TokenError::NoAccessToken)?;
    // RFC 6749 section 7.1: the type is case-insensitive; only Bearer tokens can be forwarded.
    if !text("token_type").is_some_and(|t| t.eq_ignore_ascii_case("bearer")) {
        return Err(TokenError::NotBearer);
    }
    let expires_in = match doc.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        // Some providers send it as a string.
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    Ok(TokenResponse {
        access_token,
        id_token: text("id_token"),
        refresh_token: text("refresh_token"),
        expires_in,
        scope: text("scope"),
    })
}
