//! `claims_to_headers`: which request headers the filter may set from claims.
//!
//! Security invariant: a claim can only ever become the value of a header that carries no
//! meaning to the proxy itself. Framing, routing, forwarding and credential headers are refused,
//! because setting them would let token contents change how the request is delivered.

use super::source::TokenSource;
use super::{check_claim_path, is_http_token};
use crate::error::ConfigError;

/// Header names a claim may never be written to.
const REFUSED: &[&str] = &[
    // framing and hop-by-hop
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-type",
    "content-encoding",
    "expect",
    "http2-settings",
    // routing, forwarding and credentials
    "host",
    "authorization",
    "proxy-authorization",
    "proxy-authenticate",
    "cookie",
    "set-cookie",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-real-ip",
    "via",
    "max-forwards",
];

/// Prefixes of headers proxies act upon (`x-envoy-original-path`, `x-envoy-retry-on`...).
const REFUSED_PREFIXES: &[&str] = &["x-envoy-", "x-kong-"];

pub(super) fn validate(
    entries: Vec<(String, String)>,
    sources: &[TokenSource],
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, claim) in entries {
        let here = format!("claims_to_headers.{name}");
        // Pseudo-headers (`:path`) fail here too: ':' is not a token character.
        if !is_http_token(&name) {
            return Err(ConfigError::new(here, "must be a valid HTTP header name"));
        }
        let lower = name.to_ascii_lowercase();
        if REFUSED.contains(&lower.as_str())
            || REFUSED_PREFIXES.iter().any(|p| lower.starts_with(p))
        {
            return Err(ConfigError::new(
                here,
                "may not be set from a claim: the proxy or upstream gives it meaning",
            ));
        }
        let is_source = sources
            .iter()
            .any(|s| matches!(s, TokenSource::Header { name, .. } if *name == lower));
        if is_source {
            return Err(ConfigError::new(here, "is also a token source header"));
        }
        if out.iter().any(|(n, _)| *n == lower) {
            return Err(ConfigError::new(
                here,
                "duplicate header name (names are case-insensitive)",
            ));
        }
        check_claim_path(&claim).map_err(|r| ConfigError::new(&here, r))?;
        out.push((lower, claim));
    }
    Ok(out)
}
