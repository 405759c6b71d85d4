//! Token sources (`token_sources`): where a credential may be found, in order.

use super::raw::RawTokenSource;
use super::{check_text, is_http_token};
use crate::error::ConfigError;

/// One entry of `token_sources`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `{"header": NAME, "prefix": OPTIONAL}`. `name` is lower-cased; `prefix` is matched
    /// case-insensitively (`Bearer ` also matches `bearer `).
    Header {
        name: String,
        prefix: Option<String>,
    },
    /// `{"cookie": NAME}`; cookie names are case-sensitive.
    Cookie { name: String },
    /// `{"query": NAME}`; the parameter name is compared after percent-decoding.
    Query { name: String },
}

impl TokenSource {
    /// The default: `Authorization: Bearer <token>`.
    pub fn default_sources() -> Vec<TokenSource> {
        vec![TokenSource::Header {
            name: "authorization".to_string(),
            prefix: Some("Bearer ".to_string()),
        }]
    }
}

pub(super) fn validate(raw: RawTokenSource, index: usize) -> Result<TokenSource, ConfigError> {
    let at = format!("token_sources[{index}]");
    let given = [&raw.header, &raw.cookie, &raw.query]
        .iter()
        .filter(|f| f.is_some())
        .count();
    if given != 1 {
        return Err(ConfigError::new(
            at,
            "must have exactly one of \"header\", \"cookie\", \"query\"",
        ));
    }
    if raw.prefix.is_some() && raw.header.is_none() {
        return Err(ConfigError::new(
            format!("{at}.prefix"),
            "is only allowed with \"header\"",
        ));
    }
    if let Some(name) = raw.header {
        if !is_http_token(&name) {
            return Err(ConfigError::new(
                format!("{at}.header"),
                "must be a valid HTTP header name",
            ));
        }
        if let Some(prefix) = &raw.prefix {
            check_text(prefix, 64).map_err(|r| ConfigError::new(format!("{at}.prefix"), r))?;
        }
        return Ok(TokenSource::Header {
            name: name.to_ascii_lowercase(),
            prefix: raw.prefix.filter(|p| !p.is_empty()),
        });
    }
    if let Some(name) = raw.cookie {
        if !is_http_token(&name) {
            return Err(ConfigError::new(
                format!("{at}.cookie"),
                "must be a valid cookie name",
            ));
        }
        return Ok(TokenSource::Cookie { name });
    }
    let name = raw.query.unwrap_or_default();
    check_text(&name, 128).map_err(|r| ConfigError::new(format!("{at}.query"), r))?;
    if name.contains(['&', '=', '#', '?', '%', '+']) {
        return Err(ConfigError::new(
            format!("{at}.query"),
            "must be a plain parameter name",
        ));
    }
    Ok(TokenSource::Query { name })
}
