//! OpenID Connect Discovery 1.0: where the metadata lives and what we take from it. It checks the
//! document's `issuer` before trusting its `jwks_uri` (Discovery section 4.3), and refuses key-set
//! URLs we would not fetch.

use crate::config::url::FetchUrl;
use crate::json;

/// RFC 8414 / OIDC Discovery section 4: the well-known suffix.
pub const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// What the filter uses from a discovery document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub jwks_uri: String,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub end_session_endpoint: Option<String>,
    pub introspection_endpoint: Option<String>,
}

/// Why a discovery document was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error("discovery document is not valid JSON: {0}")]
    Json(String),
    #[error("discovery document lacks `{0}`")]
    MissingField(&'static str),
    #[error("discovery issuer `{found}` is not the configured issuer")]
    IssuerMismatch { found: String },
    #[error("jwks_uri must be an https URL (http only on loopback)")]
    InsecureJwksUri,
}

/// The discovery URL for an issuer: the issuer without a trailing `/`, plus the well-known suffix.
pub fn url_for_issuer(issuer: &str) -> String {
    format!("{}{WELL_KNOWN}", issuer.trim_end_matches('/'))
}

/// Parses a discovery document. `issuer_ok` says whether the document's `issuer` is one we accept
/// (the configured issuer, or for multi-tenant apps one of the allowed patterns as published).
pub fn parse(body: &[u8], issuer_ok: impl Fn(&str) -> bool) -> Result<Metadata, DiscoveryError> {
    let doc = json::parse_object(body).map_err(|e| DiscoveryError::Json(e.to_string()))?;
    let text = |name: &'static str| doc.get(name).and_then(|v| v.as_str()).map(str::to_string);
    let issuer = text("issuer").ok_or(DiscoveryError::MissingField("issuer"))?;
    if !issuer_ok(&issuer) {
        return Err(DiscoveryError::IssuerMismatch {
            found: printable(&issuer),
        });
    }
    let jwks_uri = text("jwks_uri").ok_or(DiscoveryError::MissingField("jwks_uri"))?;
    if FetchUrl::parse(&jwks_uri).is_err() {
        return Err(DiscoveryError::InsecureJwksUri);
    }
    Ok(Metadata {
        issuer,
        jwks_uri,
        authorization_endpoint: text("authorization_endpoint"),
        token_endpoint: text("token_endpoint"),
        end_session_endpoint: text("end_session_endpoint"),
        introspection_endpoint: text("introspection_endpoint"),
    })
}

fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://idp.example/realms/demo";

    #[test]
    fn builds_the_well_known_url_without_a_double_slash() {
        assert_eq!(
            url_for_issuer("https://sts.windows.net/t/"),
            "https://sts.windows.net/t/.well-known/openid-configuration"
        );
        assert_eq!(
            url_for_issuer(ISS),
            format!("{ISS}/.well-known/openid-configuration")
        );
    }

    #[test]
    fn takes_jwks_uri_from_a_matching_document() {
        let body = format!(
            r#"{{"issuer":"{ISS}","jwks_uri":"{ISS}/certs","token_endpoint":"{ISS}/token"}}"#
        );
        let m = parse(body.as_bytes(), |i| i == ISS).unwrap();
        assert_eq!(m.jwks_uri, format!("{ISS}/certs"));
        assert_eq!(
            m.token_endpoint.as_deref(),
            Some("https://idp.example/realms/demo/token")
        );
    }

    #[test]
    fn refuses_a_document_for_another_issuer() {
        let body = br#"{"issuer":"https://evil.example","jwks_uri":"https://evil.example/keys"}"#;
        assert!(matches!(
            parse(body, |i| i == ISS),
            Err(DiscoveryError::IssuerMismatch { .. })
        ));
    }

    #[test]
    fn refuses_plain_http_key_sets_off_loopback() {
        let body = format!(r#"{{"issuer":"{ISS}","jwks_uri":"http://idp.example/certs"}}"#);
        assert_eq!(
            parse(body.as_bytes(), |_| true),
            Err(DiscoveryError::InsecureJwksUri)
        );
    }

    #[test]
    fn refuses_documents_without_jwks_uri() {
        let body = format!(r#"{{"issuer":"{ISS}"}}"#);
        assert_eq!(
            parse(body.as_bytes(), |_| true),
            Err(DiscoveryError::MissingField("jwks_uri"))
        );
    }
}
