//! Builds the local reply for a refused request: status, RFC 6750 `WWW-Authenticate`, JSON body.
//! It decides nothing about *whether* to refuse; the engine does. Without `display_errors` the reply
//! names the error class only, so a client cannot probe which check failed.

use crate::decision::Deny;
use crate::error::AuthError;

/// What shapes a refusal, taken from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct ReplyStyle<'a> {
    pub realm: &'a str,
    pub display_errors: bool,
}

/// The local reply for `err`.
pub fn deny(err: &AuthError, style: ReplyStyle<'_>) -> Deny {
    let status = err.http_status();
    let mut headers = Vec::with_capacity(4);
    if let Some(challenge) = challenge(err, style) {
        headers.push(("www-authenticate".to_string(), challenge));
    }
    if status == 503 {
        // Keys are refetched with backoff starting at one second.
        headers.push(("retry-after".to_string(), "1".to_string()));
    }
    headers.push(("content-type".to_string(), "application/json".to_string()));
    headers.push(("cache-control".to_string(), "no-store".to_string()));
    Deny {
        status,
        headers,
        body: body(err, style),
    }
}

/// RFC 6750 section 3 challenge. 503 answers carry none: the token was not judged.
fn challenge(err: &AuthError, style: ReplyStyle<'_>) -> Option<String> {
    if err.http_status() == 503 {
        return None;
    }
    let mut out = format!("Bearer realm=\"{}\"", quote_safe(style.realm));
    if let Some(code) = err.bearer_error() {
        out.push_str(&format!(", error=\"{code}\""));
        if style.display_errors {
            out.push_str(&format!(", error_description=\"{}\"", err.description()));
        }
    }
    if let AuthError::InsufficientScope { required } = err {
        // RFC 6750 section 3: the scope attribute lists what the resource needs.
        out.push_str(&format!(", scope=\"{}\"", quote_safe(required)));
    }
    Some(out)
}

fn body(err: &AuthError, style: ReplyStyle<'_>) -> String {
    let error = err.bearer_error().unwrap_or("invalid_request");
    let description = if style.display_errors {
        err.description()
    } else {
        generic_description(err.http_status())
    };
    serde_json::json!({ "error": error, "error_description": description }).to_string()
}

fn generic_description(status: u16) -> &'static str {
    match status {
        403 => "access to this resource is not allowed",
        503 => "the service is temporarily unavailable",
        _ => "the request could not be authenticated",
    }
}

/// RFC 6750 section 3: attribute values are quoted-strings; values we emit must not contain `"` or `\`
/// nor control characters (RFC 6750 restricts scope tokens to %x21 / %x23-5B / %x5D-7E).
fn quote_safe(value: &str) -> String {
    value
        .chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIET: ReplyStyle<'static> = ReplyStyle {
        realm: "api",
        display_errors: false,
    };
    const LOUD: ReplyStyle<'static> = ReplyStyle {
        realm: "api",
        display_errors: true,
    };

    fn header<'a>(d: &'a Deny, name: &str) -> Option<&'a str> {
        d.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn missing_token_gets_a_bare_challenge() {
        let d = deny(&AuthError::Missing, QUIET);
        assert_eq!(d.status, 401);
        assert_eq!(header(&d, "www-authenticate"), Some("Bearer realm=\"api\""));
    }

    #[test]
    fn invalid_token_names_the_error_class_only_without_display_errors() {
        let d = deny(&AuthError::Expired, QUIET);
        assert_eq!(
            header(&d, "www-authenticate"),
            Some("Bearer realm=\"api\", error=\"invalid_token\"")
        );
        assert!(!d.body.contains("expired"));
        let v: serde_json::Value = serde_json::from_str(&d.body).unwrap();
        assert_eq!(v["error"], "invalid_token");
    }

    #[test]
    fn display_errors_adds_the_precise_description() {
        let d = deny(&AuthError::Expired, LOUD);
        let challenge = header(&d, "www-authenticate").unwrap();
        assert!(
            challenge.contains("error_description=\"the token has expired\""),
            "{challenge}"
        );
        assert!(d.body.contains("the token has expired"));
    }

    #[test]
    fn insufficient_scope_is_403_with_the_required_scope() {
        let err = AuthError::InsufficientScope {
            required: "orders:write admin".into(),
        };
        let d = deny(&err, QUIET);
        assert_eq!(d.status, 403);
        assert_eq!(
            header(&d, "www-authenticate"),
            Some(
                "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"orders:write admin\""
            )
        );
    }

    #[test]
    fn keys_unavailable_is_503_without_a_challenge() {
        let d = deny(&AuthError::KeysUnavailable, QUIET);
        assert_eq!(d.status, 503);
        assert_eq!(header(&d, "www-authenticate"), None);
        assert_eq!(header(&d, "retry-after"), Some("1"));
    }

    #[test]
    fn quotes_cannot_break_out_of_the_realm() {
        let style = ReplyStyle {
            realm: "a\", error=\"x\r\n",
            display_errors: false,
        };
        let d = deny(&AuthError::Missing, style);
        assert_eq!(
            header(&d, "www-authenticate"),
            Some("Bearer realm=\"a, error=x\"")
        );
    }
}
