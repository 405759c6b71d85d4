//! ID token validation for the client side of login (OIDC Core 3.1.3.7 and 3.1.3.8, and 12.2 for
//! ID tokens that come with a refresh). Unlike access tokens, an ID token is meant for the filter
//! itself: its audience is our `client_id`, not the API's `audiences`. Keys come from the
//! provider's key set, selected by `kid` and `alg` as for bearer tokens; nothing is fetched here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::config::ProviderConfig;
use crate::error::AuthError;
use crate::jwks::KeySet;
use crate::jws::{self, Alg};
use crate::verify;

/// What the ID token must match.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub client_id: &'a str,
    /// The login's `nonce`; on refresh, the original ID token's (12.2), if it had one.
    pub nonce: Option<&'a str>,
    /// The access token issued with it, checked against `at_hash` when present (3.1.3.8).
    pub access_token: Option<&'a str>,
    /// On refresh, the `sub` of the session's ID token (12.2: it must not change).
    pub sub: Option<&'a str>,
    pub now_secs: u64,
    pub skew_secs: u64,
}

/// Why an ID token was refused: a stable code for logs, never token content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    #[error("not a valid JWS")]
    Malformed,
    #[error("algorithm not allowed")]
    Algorithm,
    #[error("no usable key: {0}")]
    Key(&'static str),
    #[error("bad signature")]
    Signature,
    #[error("issuer mismatch")]
    Issuer,
    #[error("audience does not contain client_id")]
    Audience,
    #[error("azp is missing or not client_id")]
    AuthorizedParty,
    #[error("expired or exp missing")]
    Expired,
    #[error("iat missing or in the future")]
    IssuedAt,
    #[error("nonce mismatch")]
    Nonce,
    #[error("at_hash mismatch")]
    AccessTokenHash,
    #[error("sub missing or changed")]
    Subject,
}

/// Validates `token` from `provider` and returns its claims.
pub fn validate(
    token: &str,
    provider: &ProviderConfig,
    keys: Option<&KeySet>,
    expected: &Expected<'_>,
) -> Result<Map<String, Value>, IdTokenError> {
    let jws = jws::parse(token).map_err(|_| IdTokenError::Malformed)?;
    let alg = jws.header.alg;
    if !provider.algorithms.contains(&alg) {
        return Err(IdTokenError::Algorithm);
    }
    let keys = keys.ok_or(IdTokenError::Key("keys_unavailable"))?;
    let jwk = keys
        .select(jws.header.kid.as_deref(), alg)
        .map_err(|e| IdTokenError::Key(e.code()))?;
    verify::verify_signature(alg, &jwk.key, jws.signing_input, &jws.signature)
        .map_err(|_| IdTokenError::Signature)?;
    let claims = jws.claims;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if !text("iss").is_some_and(|iss| provider.matches_issuer(iss)) {
        return Err(IdTokenError::Issuer);
    }
    check_audience(&claims, expected.client_id)?;
    let now = expected.now_secs as f64;
    let skew = expected.skew_secs as f64;
    let number = |name: &str| claims.get(name).and_then(Value::as_f64);
    if !number("exp").is_some_and(|exp| now <= exp + skew) {
        return Err(IdTokenError::Expired);
    }
    if !number("iat").is_some_and(|iat| iat <= now + skew) {
        return Err(IdTokenError::IssuedAt);
    }
    if let Some(nonce) = expected.nonce {
        if text("nonce") != Some(nonce) {
            return Err(IdTokenError::Nonce);
        }
    }
    match (text("sub"), expected.sub) {
        (None, _) => return Err(IdTokenError::Subject),
        (Some(sub), Some(before)) if sub != before => return Err(IdTokenError::Subject),
        _ => {}
    }
    if let (Some(at_hash), Some(access_token)) = (text("at_hash"), expected.access_token) {
        if at_hash != token_hash(alg, access_token) {
            return Err(IdTokenError::AccessTokenHash);
        }
    }
    Ok(claims)
}

/// 3.1.3.7 items 3 to 5: `aud` contains our client id; with several audiences `azp` must be
/// present, and when present it must be our client id.
fn check_audience(claims: &Map<String, Value>, client_id: &str) -> Result<(), IdTokenError> {
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&client_id) {
        return Err(IdTokenError::Audience);
    }
    let azp = claims.get("azp").and_then(Value::as_str);
    match azp {
        Some(azp) if azp != client_id => Err(IdTokenError::AuthorizedParty),
        None if audiences.len() > 1 => Err(IdTokenError::AuthorizedParty),
        _ => Ok(()),
    }
}

/// `at_hash` (3.1.3.8): base64url of the left half of the hash of the access token, with the hash
/// of the ID token's `alg`. EdDSA (Ed25519) uses SHA-512, as the errata set 2 of OIDC Core says.
pub fn token_hash(alg: Alg, token: &str) -> String {
    let digest: Vec<u8> = match alg {
        Alg::RS256 | Alg::PS256 | Alg::ES256 => Sha256::digest(token).to_vec(),
        Alg::RS384 | Alg::PS384 | Alg::ES384 => Sha384::digest(token).to_vec(),
        Alg::RS512 | Alg::PS512 | Alg::EdDSA => Sha512::digest(token).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

impl From<IdTokenError> for AuthError {
    fn from(_: IdTokenError) -> AuthError {
        AuthError::LoginFailed
    }
}
