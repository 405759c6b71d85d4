//! Where the credential is: finds the one token a request carries in the configured
//! `token_sources`, and says how to remove it before the upstream sees it.
//!
//! Decisions:
//! - Header names compare case-insensitively; a header prefix (`Bearer `) case-insensitively. A
//!   header with another scheme (`Basic ...`) is not a credential for that source.
//! - A request carrying more than one credential (two `Authorization: Bearer` headers, or one in a
//!   header and one in the query, even if equal) is `Malformed`: RFC 6750 section 3.1 calls that an
//!   invalid request, and choosing one would leave the other to reach the upstream unchecked.
//! - An empty token (`Authorization: Bearer`) is `Malformed`; one over the token size cap is
//!   `TooLarge`, decided before anything is copied.
//! - Cookies are read per RFC 6265 (`name=value` pairs separated by `;`, optional quotes, no
//!   decoding); query parameters per `application/x-www-form-urlencoded` (percent-decoding, `+`
//!   as space).

use std::borrow::Cow;

use crate::config::TokenSource;
use crate::cookie;
use crate::decision::{Allow, Request};
use crate::error::AuthError;
use crate::form::decode;
use crate::jws::MAX_TOKEN_BYTES;

/// The credential found, and the index of the token source it came from. A token from a header
/// or a cookie is a slice of the request; one from the query is decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<'r> {
    pub token: Cow<'r, str>,
    pub source: usize,
}

/// Request changes that remove a credential: apply removals, then sets, then the path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Strip {
    /// Headers to remove (lower-case names).
    pub remove_headers: Vec<String>,
    /// Headers to set after the removals (the `cookie` header without the token cookie).
    pub set_headers: Vec<(String, String)>,
    /// The `:path` without the token's query parameter.
    pub new_path: Option<String>,
}

impl Strip {
    /// Adds these changes to an allow decision.
    pub fn apply_to(&self, allow: &mut Allow) {
        allow
            .remove_headers
            .extend(self.remove_headers.iter().cloned());
        allow.set_headers.extend(self.set_headers.iter().cloned());
        if self.new_path.is_some() {
            allow.new_path.clone_from(&self.new_path);
        }
    }
}

/// The one credential in the request, `None` when there is none.
pub fn find_token<'r>(
    sources: &[TokenSource],
    req: &'r Request,
) -> Result<Option<Found<'r>>, AuthError> {
    let mut found: Option<Found<'r>> = None;
    for (index, source) in sources.iter().enumerate() {
        for token in candidates(source, req)? {
            if found.is_some() {
                return Err(AuthError::Malformed);
            }
            found = Some(Found {
                token,
                source: index,
            });
        }
    }
    Ok(found)
}

fn candidates<'r>(source: &TokenSource, req: &'r Request) -> Result<Vec<Cow<'r, str>>, AuthError> {
    let mut out = Vec::new();
    match source {
        TokenSource::Header { name, prefix } => {
            for value in req.header_values(name) {
                if let Some(token) = after_prefix(value, prefix.as_deref()) {
                    out.push(Cow::Borrowed(checked(token)?));
                }
            }
        }
        TokenSource::Cookie { name } => {
            for (cookie, value) in cookie::all(req) {
                if cookie == name {
                    out.push(Cow::Borrowed(checked(value)?));
                }
            }
        }
        TokenSource::Query { name } => {
            for (param, value) in query_params(req.path.as_str()) {
                if decode(param).as_deref() == Some(name.as_str()) {
                    if value.len() > 3 * MAX_TOKEN_BYTES {
                        return Err(AuthError::TooLarge);
                    }
                    let value = decode(value).ok_or(AuthError::Malformed)?;
                    checked(&value)?;
                    out.push(Cow::Owned(value));
                }
            }
        }
    }
    Ok(out)
}

fn checked(token: &str) -> Result<&str, AuthError> {
    if token.is_empty() {
        Err(AuthError::Malformed)
    } else if token.len() > MAX_TOKEN_BYTES {
        Err(AuthError::TooLarge)
    } else {
        Ok(token)
    }
}

/// The token part of a header value, `None` when the value is not for this source (another
/// scheme). `Bearer` alone (a proxy trimmed the space) gives an empty token.
fn after_prefix<'v>(value: &'v str, prefix: Option<&str>) -> Option<&'v str> {
    let ows: &[char] = &[' ', '\t'];
    let Some(prefix) = prefix else {
        return Some(value.trim_matches(ows));
    };
    match value.get(..prefix.len()) {
        Some(head) if head.eq_ignore_ascii_case(prefix) => {
            Some(value[prefix.len()..].trim_matches(ows))
        }
        _ => {
            let bare = prefix.trim_end_matches(ows);
            (!bare.is_empty() && value.trim_matches(ows).eq_ignore_ascii_case(bare)).then_some("")
        }
    }
}

/// Raw `(name, value)` pairs of the query string.
fn query_params(path: &str) -> impl Iterator<Item = (&str, &str)> {
    let query = path.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or_default();
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// How to remove `found` from the request so the upstream never sees it.
pub fn strip(sources: &[TokenSource], found: &Found<'_>, req: &Request) -> Strip {
    match sources.get(found.source) {
        Some(TokenSource::Header { name, .. }) => Strip {
            remove_headers: vec![name.clone()],
            ..Strip::default()
        },
        Some(TokenSource::Cookie { name }) => {
            let kept: Vec<String> = req
                .header_values("cookie")
                .flat_map(|h| h.split(';'))
                .map(str::trim)
                .filter(|pair| !pair.is_empty())
                .filter(|pair| pair.split_once('=').map_or(pair.trim(), |(n, _)| n.trim()) != name)
                .map(str::to_string)
                .collect();
            let set_headers = if kept.is_empty() {
                Vec::new()
            } else {
                vec![("cookie".to_string(), kept.join("; "))]
            };
            Strip {
                remove_headers: vec!["cookie".to_string()],
                set_headers,
                new_path: None,
            }
        }
        Some(TokenSource::Query { name }) => Strip {
            new_path: Some(without_param(&req.path, name)),
            ..Strip::default()
        },
        None => Strip::default(),
    }
}

/// `path` without every query parameter whose decoded name is `name`; the rest kept verbatim.
fn without_param(path: &str, name: &str) -> String {
    let (base, query) = match path.split_once('?') {
        Some((b, q)) => (b, q),
        None => return path.to_string(),
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| {
            let param = p.split_once('=').map_or(*p, |(n, _)| n);
            decode(param).as_deref() != Some(name)
        })
        .collect();
    let query = kept.join("&");
    if query.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{query}")
    }
}
