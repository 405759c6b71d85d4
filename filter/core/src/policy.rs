//! Route policy: which rule covers a request, and whether a token's claims meet it.
//!
//! Matching:
//! - Rules are tried in order; the first whose path and method match wins. Methods compare
//!   upper-cased; paths are case-sensitive.
//! - `path` matches the whole path; `path_prefix` matches on segment boundaries: `/api` covers
//!   `/api`, `/api/` and `/api/orders`, never `/apix` (Envoy's plain string prefix would).
//! - The query string is ignored.
//!
//! Security invariant: an odd spelling of a path must never reach a rule the clean path would not.
//! The path is read three ways (see `path`): as sent, normalised strictly, and normalised loosely
//! the way lenient upstreams do (`%2F` as `/`, `;params` dropped, case folded). When the readings
//! select different rules, the route is [`Route::Ambiguous`] and the request should be refused
//! (400) rather than guessed at; so are paths with NUL or control characters or broken escapes.
//! Requirements:
//! - `scopes_required`, `roles_required`, `groups_required`: entries are OR, space-separated names
//!   inside one entry are AND (Kong's semantics).
//! - `claims_required`: every listed claim must hold at least one accepted value.

mod path;

use crate::claims::{lookup, string_values};
use crate::config::{AnyOf, Config, PathMatch, Rule};
use crate::error::AuthError;
use serde_json::{Map, Value};

/// The rules and the claim paths entitlements are read from.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
    scopes_claim: Vec<String>,
    roles_claim: String,
    groups_claim: String,
}

/// Which rule covers a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Route<'a> {
    /// The first matching rule and its index in `rules`.
    Rule(usize, &'a Rule),
    /// No rule matches: a valid token is required, no entitlements are checked.
    Default,
    /// The path reads differently to different servers, or not at all: refuse the request
    /// (400, `AuthError::AmbiguousPath`) before looking for a token.
    Ambiguous,
}

impl<'a> Route<'a> {
    /// The matched rule, if any.
    pub fn rule(&self) -> Option<(usize, &'a Rule)> {
        match *self {
            Route::Rule(i, r) => Some((i, r)),
            _ => None,
        }
    }
}

/// What kind of entitlement a token lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entitlement {
    Scopes,
    Roles,
    Groups,
    /// A `claims_required` entry, by claim path.
    Claim(String),
}

/// The first requirement of a rule that a token does not meet, for logs and the 403.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    pub kind: Entitlement,
    /// The failing list as configured: every name of its alternatives, space-joined, each once
    /// (holding all of them satisfies it); for a claim, its accepted values as JSON, space-joined.
    pub required: String,
}

impl Policy {
    pub fn new(cfg: &Config) -> Policy {
        Policy {
            rules: cfg.rules.clone(),
            scopes_claim: cfg.scopes_claim.clone(),
            roles_claim: cfg.roles_claim.clone(),
            groups_claim: cfg.groups_claim.clone(),
        }
    }

    /// The rule covering `method` and `path` (`:path`, a query string is ignored).
    pub fn route(&self, method: &str, path: &str) -> Route<'_> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let chosen = if path::is_plain(path.as_bytes()) {
            self.choose_plain(method, path.as_bytes())
        } else {
            self.choose_by_views(method, path)
        };
        match chosen {
            None => Route::Ambiguous,
            Some(Some(i)) => self
                .rules
                .get(i)
                .map_or(Route::Default, |r| Route::Rule(i, r)),
            Some(None) => Route::Default,
        }
    }

    /// The rule every reading of `path` selects (`Some(None)`: none), or `None` when the
    /// readings disagree or the path cannot be read.
    fn choose_by_views(&self, method: &str, path: &str) -> Option<Option<usize>> {
        let views = path::views(path)?;
        let mut chosen: Option<Option<usize>> = None;
        for view in &views {
            let index = self.first_match(method, &view.bytes, view.case_insensitive);
            match chosen {
                Some(c) if c != index => return None,
                _ => chosen = Some(index),
            }
        }
        chosen
    }

    /// [`Policy::choose_by_views`] for a path whose readings are all the path itself
    /// (`path::is_plain`): only the case-insensitive reading can select another rule.
    fn choose_plain(&self, method: &str, path: &[u8]) -> Option<Option<usize>> {
        if self.rules.is_empty() {
            return Some(None);
        }
        let exact = self.first_match(method, path, false);
        (self.first_match(method, path, true) == exact).then_some(exact)
    }

    fn first_match(&self, method: &str, path: &[u8], case_insensitive: bool) -> Option<usize> {
        self.rules
            .iter()
            .position(|r| applies(r, method, path, case_insensitive))
    }

    /// Checks a verified token's claims against a rule. A failure is `InsufficientScope`;
    /// `required` carries the scope names to obtain when scopes are missing (the 403's `scope`
    /// attribute), and is empty for roles, groups and claims, which a client cannot request
    /// (use [`Policy::unmet`] for the details).
    pub fn check(&self, rule: &Rule, claims: &Map<String, Value>) -> Result<(), AuthError> {
        match self.unmet(rule, claims) {
            None => Ok(()),
            Some(Unmet {
                kind: Entitlement::Scopes,
                required,
            }) => Err(AuthError::InsufficientScope { required }),
            Some(_) => Err(AuthError::InsufficientScope {
                required: String::new(),
            }),
        }
    }

    /// The first unmet requirement, checked in order scopes, roles, groups, claims.
    pub fn unmet(&self, rule: &Rule, claims: &Map<String, Value>) -> Option<Unmet> {
        let scopes = self.scopes_claim.iter().find_map(|p| lookup(claims, p));
        let lists = [
            (Entitlement::Scopes, &rule.scopes_required, scopes),
            (
                Entitlement::Roles,
                &rule.roles_required,
                lookup(claims, &self.roles_claim),
            ),
            (
                Entitlement::Groups,
                &rule.groups_required,
                lookup(claims, &self.groups_claim),
            ),
        ];
        for (kind, required, held) in lists {
            if !required.is_empty() && !any_of_held(required, held) {
                return Some(Unmet {
                    kind,
                    required: render(required),
                });
            }
        }
        for (path, accepted) in &rule.claims_required {
            if !claim_accepted(lookup(claims, path), accepted) {
                let values: Vec<String> = accepted.iter().map(Value::to_string).collect();
                return Some(Unmet {
                    kind: Entitlement::Claim(path.clone()),
                    required: values.join(" "),
                });
            }
        }
        None
    }
}

fn applies(rule: &Rule, method: &str, path: &[u8], case_insensitive: bool) -> bool {
    let method_ok =
        rule.methods.is_empty() || rule.methods.iter().any(|m| m.eq_ignore_ascii_case(method));
    method_ok && path_matches(&rule.path, path, case_insensitive)
}

fn path_matches(pattern: &PathMatch, path: &[u8], case_insensitive: bool) -> bool {
    let eq = |a: &[u8], b: &[u8]| {
        if case_insensitive {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    match pattern {
        PathMatch::Exact(p) => eq(p.as_bytes(), path),
        PathMatch::Prefix(p) => {
            let p = p.as_bytes();
            path.len() >= p.len()
                && eq(p, &path[..p.len()])
                && (p.ends_with(b"/") || path.len() == p.len() || path[p.len()] == b'/')
        }
    }
}

fn any_of_held(required: &AnyOf, held: Option<&Value>) -> bool {
    let held = held.map(string_values).unwrap_or_default();
    required
        .iter()
        .any(|all| all.iter().all(|name| held.contains(&name.as_str())))
}

fn render(required: &AnyOf) -> String {
    let mut names: Vec<&str> = Vec::new();
    for name in required.iter().flatten() {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    names.join(" ")
}

fn claim_accepted(value: Option<&Value>, accepted: &[Value]) -> bool {
    match value {
        None => false,
        Some(Value::Array(items)) => items.iter().any(|v| accepted.iter().any(|a| same(v, a))),
        Some(v) => accepted.iter().any(|a| same(v, a)),
    }
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rules: serde_json::Value) -> Policy {
        let doc = serde_json::json!({
            "providers": [{"name": "p", "issuer": "https://idp.example.com"}],
            "rules": rules,
        });
        let config = Config::from_json(doc.to_string().as_bytes());
        Policy::new(&config.unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn plain_paths_route_as_their_readings_do() {
        let rule_sets = [
            serde_json::json!([]),
            serde_json::json!([
                {"path_prefix": "/Admin"},
                {"path_prefix": "/api/", "methods": ["POST"]},
                {"path": "/api"},
                {"path_prefix": "/"}
            ]),
            serde_json::json!([{"path": "/health", "methods": ["GET"]}, {"path_prefix": "/a"}]),
        ];
        let paths = [
            "/",
            "/admin",
            "/Admin",
            "/ADMIN/x",
            "/Admin/",
            "/api",
            "/api/",
            "/api/x",
            "/API",
            "/health",
            "/Health",
            "/ab",
            "/a/b/",
            "/caf\u{e9}",
        ];
        for rules in rule_sets {
            let p = policy(rules);
            for path in paths {
                assert!(path::is_plain(path.as_bytes()), "{path}");
                for method in ["GET", "post"] {
                    assert_eq!(
                        p.choose_plain(method, path.as_bytes()),
                        p.choose_by_views(method, path),
                        "{method} {path}"
                    );
                }
            }
        }
    }
}
