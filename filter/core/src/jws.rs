//! Compact JWS parsing: splits a token, decodes its header and claims with strict JSON rules, and
//! refuses header parameters we never honour. It does not verify signatures (`verify`) nor judge
//! claims (`claims`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::AuthError;
use crate::json;

/// Signature algorithms the filter can verify. HMAC and `none` are deliberately absent: a public
/// key must never be usable as an HMAC secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl Alg {
    pub const ALL: [Alg; 9] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::EdDSA,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::EdDSA => "EdDSA",
        }
    }

    pub fn from_name(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// Tokens larger than this are refused before any decoding (401 `too_large`).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Header parameters that point at or embed key material. Honouring any of them would let the
/// token choose the key it is checked against, so their mere presence refuses the token
/// (RFC 8725 §3.10). `x5c` is refused too although we would only ignore it: it is an embedded
/// key like `jwk`, no IdP we target sends it in tokens, and a service behind us that re-checks
/// the forwarded token with a permissive library must not be handed one. `x5t` and `x5t#S256`
/// are mere thumbprints and stay allowed (and ignored).
const FORBIDDEN_HEADER_PARAMS: [&str; 4] = ["jku", "x5u", "jwk", "x5c"];

/// The JOSE header, reduced to what the filter uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub alg: Alg,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

/// A parsed, not yet verified, compact JWS.
#[derive(Debug, Clone, PartialEq)]
pub struct Jws<'a> {
    pub header: Header,
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// The decoded payload: the JSON text `claims` was parsed from, as received.
    pub payload: Vec<u8>,
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`, exactly as received.
    pub signing_input: &'a [u8],
    pub signature: Vec<u8>,
}

/// Splits and decodes a compact JWS. Nothing here is trusted until `verify` has checked the
/// signature over `signing_input`.
pub fn parse(token: &str) -> Result<Jws<'_>, AuthError> {
    // Size first, before any allocation or decoding proportional to attacker input.
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    // An unsigned token (`a.b.`) is never acceptable, whatever its header says.
    if signature_b64.is_empty() {
        return Err(AuthError::Malformed);
    }
    let header = parse_header(&decode(header_b64)?)?;
    let payload = decode(payload_b64)?;
    let claims = json::parse_object(&payload).map_err(|_| AuthError::Malformed)?;
    let signature = decode(signature_b64)?;
    let signing_input = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    Ok(Jws {
        header,
        claims,
        payload,
        signing_input,
        signature,
    })
}

/// Base64url without padding (RFC 7515 §2): `=`, `+`, `/`, whitespace and non-canonical
/// trailing bits are all refused by the engine's default configuration.
fn decode(part: &str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::Malformed)
}

fn parse_header(bytes: &[u8]) -> Result<Header, AuthError> {
    let members = json::parse_object(bytes).map_err(|_| AuthError::Malformed)?;
    let Some(Value::String(alg_name)) = members.get("alg") else {
        return Err(AuthError::Malformed);
    };
    // `none` and HS* are absent from `Alg`, so they fail here: a verifier that has only public
    // keys must never accept an unsigned token or treat a public key as an HMAC secret.
    let alg = Alg::from_name(alg_name).ok_or(AuthError::UnsupportedAlg)?;
    if FORBIDDEN_HEADER_PARAMS
        .iter()
        .any(|name| members.contains_key(*name))
    {
        return Err(AuthError::ForbiddenHeader);
    }
    // We implement no JWS extensions, so any `crit` (even the empty list, which RFC 7515
    // §4.1.11 forbids producers to send) names something we do not understand: refuse.
    if members.contains_key("crit") {
        return Err(AuthError::ForbiddenHeader);
    }
    Ok(Header {
        alg,
        kid: optional_string(&members, "kid")?,
        typ: optional_string(&members, "typ")?,
    })
}

fn optional_string(members: &Map<String, Value>, name: &str) -> Result<Option<String>, AuthError> {
    match members.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(AuthError::Malformed),
    }
}
