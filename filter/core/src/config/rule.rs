//! Route rules (`rules`): which requests they cover and what they require.

use super::raw::RawRule;
use super::{check_claim_path, check_text};
use crate::error::ConfigError;
use serde_json::Value;

/// How a rule selects paths. Patterns are compared with the normalised request path (see
/// `policy`), so they must be normalised themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    /// `path`: the whole path, exactly.
    Exact(String),
    /// `path_prefix`: on segment boundaries. `/api` matches `/api`, `/api/` and `/api/x`, never
    /// `/apix`; `/api/` matches `/api/` and below but not `/api`; `/` matches every path.
    Prefix(String),
}

/// Names a token must carry: outer list OR, inner list AND. `["read write", "admin"]` in the
/// document is `[["read", "write"], ["admin"]]` here (Kong's semantics).
pub type AnyOf = Vec<Vec<String>>;

/// One entry of `rules`, validated. Defaults: any method, no anonymous access, no requirements.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `path` or `path_prefix` (exactly one).
    pub path: PathMatch,
    /// `methods`, upper-cased; empty means every method.
    pub methods: Vec<String>,
    /// `allow_anonymous` (default false): a request without a token passes; a request with a
    /// token still has it validated.
    pub allow_anonymous: bool,
    /// `scopes_required` (default none).
    pub scopes_required: AnyOf,
    /// `roles_required` (default none).
    pub roles_required: AnyOf,
    /// `groups_required` (default none).
    pub groups_required: AnyOf,
    /// `claims_required`: claim path → accepted values (strings, numbers or booleans); every
    /// listed claim must hold at least one accepted value. In document order.
    pub claims_required: Vec<(String, Vec<Value>)>,
    /// `login` (default false): a request without a bearer token is authenticated by the session
    /// cookie; without a session a browser is sent to the provider to sign in.
    pub login: bool,
    /// `api` (default false, only with `login`): never redirect, answer 401 without a session.
    pub api: bool,
}

pub(super) fn validate(raw: RawRule, index: usize) -> Result<Rule, ConfigError> {
    let at = |field: &str| format!("rules[{index}].{field}");
    let path = match (raw.path, raw.path_prefix) {
        (Some(p), None) => {
            check_pattern(&p).map_err(|r| ConfigError::new(at("path"), r))?;
            PathMatch::Exact(p)
        }
        (None, Some(p)) => {
            check_pattern(&p).map_err(|r| ConfigError::new(at("path_prefix"), r))?;
            PathMatch::Prefix(p)
        }
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                at("path_prefix"),
                "give either path or path_prefix, not both",
            ))
        }
        (None, None) => {
            return Err(ConfigError::new(
                format!("rules[{index}]"),
                "needs path or path_prefix",
            ))
        }
    };
    let mut methods = Vec::new();
    for (i, m) in raw.methods.unwrap_or_default().iter().enumerate() {
        if !super::is_http_token(m) {
            return Err(ConfigError::new(
                format!("{}[{i}]", at("methods")),
                "must be an HTTP method name",
            ));
        }
        methods.push(m.to_ascii_uppercase());
    }
    let login = raw.login.unwrap_or(false);
    let api = raw.api.unwrap_or(false);
    if login && raw.allow_anonymous == Some(true) {
        return Err(ConfigError::new(
            at("login"),
            "cannot be combined with allow_anonymous",
        ));
    }
    if api && !login {
        return Err(ConfigError::new(
            at("api"),
            "only meaningful with \"login\": true",
        ));
    }
    Ok(Rule {
        login,
        api,
        path,
        methods,
        allow_anonymous: raw.allow_anonymous.unwrap_or(false),
        scopes_required: any_of(raw.scopes_required, &at("scopes_required"))?,
        roles_required: any_of(raw.roles_required, &at("roles_required"))?,
        groups_required: any_of(raw.groups_required, &at("groups_required"))?,
        claims_required: claims(raw.claims_required.map(|m| m.0), &at("claims_required"))?,
    })
}

/// A rule pattern must already be in the form `policy` normalises request paths to; otherwise it
/// could never match, or would match less than its author thinks.
fn check_pattern(p: &str) -> Result<(), &'static str> {
    if !p.starts_with('/') {
        return Err("must start with '/'");
    }
    if p.bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || b >= 0x80)
    {
        return Err("must not contain spaces, control or non-ASCII characters");
    }
    if p.contains(['?', '#', ';', '\\', '%']) {
        return Err("must not contain '?', '#', ';', '\\' or '%'");
    }
    if p.contains("//") {
        return Err("must not contain empty segments ('//')");
    }
    if p.split('/').any(|s| s == "." || s == "..") {
        return Err("must not contain '.' or '..' segments");
    }
    Ok(())
}

fn any_of(list: Option<Vec<String>>, at: &str) -> Result<AnyOf, ConfigError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    if list.is_empty() {
        return Err(ConfigError::new(
            at,
            "must not be empty; omit it for no requirement",
        ));
    }
    let mut out = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let names: Vec<String> = entry.split_whitespace().map(str::to_string).collect();
        if names.is_empty() {
            return Err(ConfigError::new(
                format!("{at}[{i}]"),
                "must name at least one value",
            ));
        }
        check_text(entry.trim(), 1024).map_err(|r| ConfigError::new(format!("{at}[{i}]"), r))?;
        out.push(names);
    }
    Ok(out)
}

fn claims(
    entries: Option<Vec<(String, Vec<Value>)>>,
    at: &str,
) -> Result<Vec<(String, Vec<Value>)>, ConfigError> {
    let entries = entries.unwrap_or_default();
    for (claim, accepted) in &entries {
        let here = format!("{at}.{claim}");
        check_claim_path(claim).map_err(|r| ConfigError::new(&here, r))?;
        if accepted.is_empty() {
            return Err(ConfigError::new(
                here,
                "must list at least one accepted value",
            ));
        }
        for (i, v) in accepted.iter().enumerate() {
            if !(v.is_string() || v.is_number() || v.is_boolean()) {
                return Err(ConfigError::new(
                    format!("{here}[{i}]"),
                    "must be a string, number or boolean",
                ));
            }
        }
    }
    Ok(entries)
}
