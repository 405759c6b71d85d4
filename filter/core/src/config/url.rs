//! The URLs the filter fetches or compares: issuers, discovery documents and JWKS endpoints.
//!
//! Owns the one rule for what such a URL may look like (absolute `https://`, or `http://` to a
//! loopback host for local setups; no user info, no fragment) and how it becomes a callout target.
//! It does no I/O and no percent-decoding: the text is kept as given.

use std::fmt;

/// Why a URL was refused; rendered into a [`crate::ConfigError`] reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlError {
    /// Not `https://`, nor `http://` to 127.0.0.1, `[::1]` or `localhost`.
    NotHttps,
    /// Empty or malformed host.
    BadHost,
    /// Port that is not a number in 1..=65535.
    BadPort,
    /// `user@host`: credentials have no place in these URLs.
    UserInfo,
    /// `#fragment`.
    Fragment,
    /// `?query` where none is allowed (issuers).
    Query,
    /// Whitespace or control characters.
    BadCharacter,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::NotHttps => {
                "must be an absolute https URL (http is accepted only for 127.0.0.1, [::1] and localhost)"
            }
            UrlError::BadHost => "must name a valid host",
            UrlError::BadPort => "must have a port between 1 and 65535",
            UrlError::UserInfo => "must not contain user information",
            UrlError::Fragment => "must not contain a fragment",
            UrlError::Query => "must not contain a query",
            UrlError::BadCharacter => "must not contain whitespace or control characters",
        })
    }
}

/// A URL split into the parts a callout needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchUrl {
    /// `true` for `https`.
    pub tls: bool,
    /// Host as given, lower-cased; IPv6 literals keep their brackets (`[::1]`).
    pub host: String,
    /// Explicit port, or 443 / 80 by scheme.
    pub port: u16,
    /// Whether the port was written in the URL.
    pub explicit_port: bool,
    /// Path and query, at least `/`.
    pub path_and_query: String,
}

impl FetchUrl {
    /// Parses an absolute URL the filter may fetch. Queries are allowed (Azure AD B2C JWKS URIs
    /// carry `?p=policy`); use [`FetchUrl::parse_issuer`] for issuers.
    pub fn parse(text: &str) -> Result<FetchUrl, UrlError> {
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::BadCharacter);
        }
        let (tls, rest) = if let Some(rest) = strip_prefix_ci(text, "https://") {
            (true, rest)
        } else if let Some(rest) = strip_prefix_ci(text, "http://") {
            (false, rest)
        } else {
            return Err(UrlError::NotHttps);
        };
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = split_authority(authority)?;
        let host = host.to_ascii_lowercase();
        // Plain http would let anyone on the path swap the keys: only loopback is tolerated.
        if !tls && !is_loopback(&host) {
            return Err(UrlError::NotHttps);
        }
        let path_and_query = match path.strip_prefix('?') {
            Some(_) => format!("/{path}"),
            None if path.is_empty() => "/".to_string(),
            None => path.to_string(),
        };
        Ok(FetchUrl {
            tls,
            host,
            port: port.unwrap_or(if tls { 443 } else { 80 }),
            explicit_port: port.is_some(),
            path_and_query,
        })
    }

    /// Parses an issuer: like [`FetchUrl::parse`], and without a query (OpenID Connect Discovery
    /// 1.0 section 3: scheme, host, optional port and path only).
    pub fn parse_issuer(text: &str) -> Result<FetchUrl, UrlError> {
        let url = FetchUrl::parse(text)?;
        if url.path_and_query.contains('?') {
            return Err(UrlError::Query);
        }
        Ok(url)
    }

    /// `host:port`, the callout target Kong and our host expect.
    pub fn host_port(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The `:authority` header value: the host, with the port only when it was written.
    pub fn authority(&self) -> String {
        if self.explicit_port {
            self.host_port()
        } else {
            self.host.clone()
        }
    }

    /// `https` or `http`, for the `:scheme` header.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn split_authority(authority: &str) -> Result<(&str, Option<u16>), UrlError> {
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']').ok_or(UrlError::BadHost)?;
        let (host, rest) = authority.split_at(close + 1);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':').ok_or(UrlError::BadHost)?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if !valid_host(host) {
        return Err(UrlError::BadHost);
    }
    let port = match port {
        None => None,
        Some(p) => Some(parse_port(p)?),
    };
    Ok((host, port))
}

fn parse_port(text: &str) -> Result<u16, UrlError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::BadPort);
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(UrlError::BadPort),
        Ok(port) => Ok(port),
    }
}

fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    }
    !host.is_empty()
        && host.len() <= 253
        && !host.starts_with(['.', '-'])
        && !host.contains("..")
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

/// Hosts for which plain `http://` is tolerated.
pub fn is_loopback(host: &str) -> bool {
    host == "127.0.0.1" || host == "[::1]" || host.eq_ignore_ascii_case("localhost")
}
