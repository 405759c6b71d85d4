//! Claims: finding values by path in a verified claim set, reading them as names or header
//! values, and judging the registered claims (`exp`, `nbf`, `iat`, audience, `typ`).
//!
//! It never sees an unverified token: callers pass claims only after the signature checked out.
//! The issuer is not judged here: the engine picks the provider by `iss` first.

use crate::config::{Config, ProviderConfig};
use crate::error::AuthError;
use serde_json::{Map, Value};

/// Finds the value at a claim path. `.` separates names and nothing else does (`cognito:groups`
/// is one name). At each level the longest run of path names that is a key of the object wins,
/// starting with the whole remaining path: Auth0's namespaced claim
/// `https://example.com/roles` is found as one top-level key, and `realm_access.roles` as a
/// nested one. No backtracking: if a longer key exists, a shorter reading is not tried.
pub fn lookup<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut object = claims;
    let mut rest = path;
    loop {
        let (value, remaining) = longest_key(object, rest)?;
        match remaining {
            None => return Some(value),
            Some(r) => {
                object = value.as_object()?;
                rest = r;
            }
        }
    }
}

/// The value under the longest `.`-bounded head of `path` that is a key of `object`, and the
/// rest of the path after that head's `.`, if any.
fn longest_key<'a, 'p>(
    object: &'a Map<String, Value>,
    path: &'p str,
) -> Option<(&'a Value, Option<&'p str>)> {
    if let Some(v) = object.get(path) {
        return Some((v, None));
    }
    let mut end = path.len();
    while let Some(dot) = path[..end].rfind('.') {
        if let Some(v) = object.get(&path[..dot]) {
            return Some((v, Some(&path[dot + 1..])));
        }
        end = dot;
    }
    None
}

/// Names held by a claim: the strings of an array (other elements ignored), or the words of a
/// space-delimited string (`scope`). Anything else holds no names.
pub fn string_values(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => s.split_ascii_whitespace().collect(),
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A claim as a header value: strings as they are, arrays joined with `,` (elements rendered the
/// same way), other values as compact JSON. Control characters (CR, LF, NUL...) are removed so a
/// claim can never end the header or start another; surrounding whitespace is trimmed.
pub fn header_value(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(plain_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    };
    text.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

fn plain_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks the registered claims, in this order: `exp`, `nbf`, `iat`, lifetime cap, audience,
/// `typ`. Times are seconds since the epoch; integers and fractions are both accepted, other
/// JSON types are `InvalidClaim`. The skew widens every comparison in the token's favour by
/// `clock_skew_secs`, boundaries included (`now == exp + skew` is still valid).
pub fn verify_registered(
    claims: &Map<String, Value>,
    header_typ: Option<&str>,
    provider: &ProviderConfig,
    cfg: &Config,
    now_secs: u64,
) -> Result<(), AuthError> {
    let now = now_secs as f64;
    let skew = cfg.clock_skew_secs as f64;
    let exp = numeric(claims, "exp")?;
    let nbf = numeric(claims, "nbf")?;
    let iat = numeric(claims, "iat")?;
    match exp {
        None if cfg.require_exp => return Err(AuthError::InvalidClaim),
        Some(exp) if now > exp + skew => return Err(AuthError::Expired),
        _ => {}
    }
    if nbf.is_some_and(|nbf| nbf > now + skew) {
        return Err(AuthError::NotYetValid);
    }
    if iat.is_some_and(|iat| iat > now + skew) {
        return Err(AuthError::IssuedInFuture);
    }
    if let Some(max) = cfg.max_token_lifetime_secs {
        let max = max as f64;
        let too_long = match (exp, iat) {
            // Both stamped by the issuer's clock: no skew.
            (Some(exp), Some(iat)) => exp - iat > max,
            // Against our clock: allow for the skew.
            (Some(exp), None) => exp - now > max + skew,
            // A token that never expires exceeds any cap.
            (None, _) => true,
        };
        if too_long {
            return Err(AuthError::LifetimeTooLong);
        }
    }
    check_audience(claims, provider)?;
    match &provider.typ {
        Some(required) if !header_typ.is_some_and(|t| typ_matches(required, t)) => {
            Err(AuthError::WrongType)
        }
        _ => Ok(()),
    }
}

/// A time claim: absent, or a JSON number. `exp: "1700000000"` is `InvalidClaim`.
fn numeric(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or(AuthError::InvalidClaim),
        Some(_) => Err(AuthError::InvalidClaim),
    }
}

/// When audiences are configured, the audience claim (a string or an array of strings) must
/// contain one of them exactly; a missing claim is `AudienceNotAllowed`, a mistyped one
/// `InvalidClaim`. Without configured audiences the claim is not looked at.
fn check_audience(claims: &Map<String, Value>, provider: &ProviderConfig) -> Result<(), AuthError> {
    if provider.audiences.is_empty() {
        return Ok(());
    }
    let accepted = |aud: &str| provider.audiences.iter().any(|a| a == aud);
    let found = match lookup(claims, &provider.audience_claim) {
        None => false,
        Some(Value::String(aud)) => accepted(aud),
        Some(Value::Array(items)) => {
            let mut any = false;
            for item in items {
                any |= accepted(item.as_str().ok_or(AuthError::InvalidClaim)?);
            }
            any
        }
        Some(_) => return Err(AuthError::InvalidClaim),
    };
    if found {
        Ok(())
    } else {
        Err(AuthError::AudienceNotAllowed)
    }
}

/// Compares JWS `typ` values as RFC 7515 section 4.1.9 says: case-insensitively, with an omitted
/// `application/` prefix (`at+jwt` equals `application/at+jwt`).
pub fn typ_matches(required: &str, actual: &str) -> bool {
    fn short(t: &str) -> &str {
        match t.get(..12) {
            Some(head) if head.eq_ignore_ascii_case("application/") && !t[12..].contains('/') => {
                &t[12..]
            }
            _ => t,
        }
    }
    short(required).eq_ignore_ascii_case(short(actual))
}
