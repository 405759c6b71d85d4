//! Issuer patterns for multi-tenant providers (`issuers_allowed`).
//!
//! A pattern is an issuer URL in which whole path segments may be `{name}` placeholders. A
//! placeholder matches one segment of unreserved characters (`[A-Za-z0-9-._~]+`, not `.` or `..`);
//! nothing else is a wildcard, and nothing in the scheme, host or port can vary, so a look-alike
//! host (`login.microsoftonline.com.evil.com`) or an extra segment never matches.

use super::url::FetchUrl;

/// One `issuers_allowed` entry, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerPattern {
    /// The pattern as configured.
    pub text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Segment,
}

impl IssuerPattern {
    /// Parses a pattern; the reason is meant for a `ConfigError`.
    pub fn parse(text: &str) -> Result<IssuerPattern, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .ok_or("unbalanced '{' in pattern")?;
            let name = &rest[open + 1..close];
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!(
                    "placeholder {{{name}}} must be a name of letters, digits and '_'"
                ));
            }
            let before = &rest[..open];
            let after = &rest[close + 1..];
            if !before.ends_with('/') || !(after.is_empty() || after.starts_with('/')) {
                return Err("a placeholder must be a whole path segment, like /{tenantid}/".into());
            }
            if before.contains('}') {
                return Err("unbalanced '}' in pattern".into());
            }
            parts.push(Part::Literal(before.to_string()));
            parts.push(Part::Segment);
            rest = after;
        }
        if rest.contains('}') {
            return Err("unbalanced '}' in pattern".into());
        }
        parts.push(Part::Literal(rest.to_string()));
        // The pattern, with a sample value in each placeholder, must itself be a valid issuer, and
        // the first placeholder must come after the host: `https://{x}/` is refused here.
        let sample: String = parts
            .iter()
            .map(|p| match p {
                Part::Literal(s) => s.as_str(),
                Part::Segment => "x",
            })
            .collect();
        FetchUrl::parse_issuer(&sample).map_err(|e| e.to_string())?;
        if let Some(Part::Literal(head)) = parts.first() {
            let authority_end = head
                .find("://")
                .map(|i| i + 3)
                .and_then(|i| head[i..].find('/').map(|j| i + j));
            if parts.len() > 1 && authority_end.is_none() {
                return Err("placeholders are allowed in the path only".into());
            }
        }
        Ok(IssuerPattern {
            text: text.to_string(),
            parts,
        })
    }

    /// The pattern as configured.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `iss` is an instance of the pattern. Exact, case-sensitive comparison of every
    /// literal part, as RFC 7519 requires for `iss`.
    pub fn matches(&self, iss: &str) -> bool {
        let mut rest = iss;
        for part in &self.parts {
            match part {
                Part::Literal(lit) => match rest.strip_prefix(lit.as_str()) {
                    Some(r) => rest = r,
                    None => return false,
                },
                Part::Segment => {
                    let len = rest
                        .bytes()
                        .take_while(|b| b.is_ascii_alphanumeric() || b"-._~".contains(b))
                        .count();
                    let value = &rest[..len];
                    if value.is_empty() || value.bytes().all(|b| b == b'.') {
                        return false;
                    }
                    rest = &rest[len..];
                }
            }
        }
        rest.is_empty()
    }
}
