//! A provider's OAuth 2.0 client registration: who the filter is at the token, introspection and
//! end-session endpoints (`client_id`, `client_secret`, `token_endpoint_auth_method`), and what
//! it asks for at login (`scopes`, `redirect_uri`). Validation only; nothing is sent from here.

use super::check_text;
use super::raw::RawProvider;
use super::secret::Secret;
use super::url::FetchUrl;
use crate::error::ConfigError;

/// Default `scopes` requested at login.
pub const DEFAULT_LOGIN_SCOPES: &str = "openid";

/// How the client authenticates at the token and introspection endpoints (OIDC Core section 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic` (the default): HTTP Basic, RFC 6749 section 2.3.1.
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
    /// `none`: a public client; only `client_id` is sent (PKCE protects the code).
    None,
}

/// The client registration of a provider, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`; required unless the method is `none`. Never logged or printed.
    pub client_secret: Option<Secret>,
    /// `token_endpoint_auth_method` (default `client_secret_basic`).
    pub auth_method: ClientAuth,
    /// `scopes` requested at login (default `["openid"]`; `openid` is always included).
    pub scopes: Vec<String>,
    /// `redirect_uri`: the absolute callback URL registered at the provider, if given here.
    pub redirect_uri: Option<String>,
}

/// Validates the client fields of `providers[index]`; `None` when no `client_id` is given.
pub(super) fn validate(
    raw: &mut RawProvider,
    index: usize,
) -> Result<Option<ClientConfig>, ConfigError> {
    let at = |field: &str| format!("providers[{index}].{field}");
    let Some(client_id) = raw.client_id.take() else {
        for (field, given) in [
            ("client_secret", raw.client_secret.is_some()),
            (
                "token_endpoint_auth_method",
                raw.token_endpoint_auth_method.is_some(),
            ),
            ("scopes", raw.scopes.is_some()),
            ("redirect_uri", raw.redirect_uri.is_some()),
        ] {
            if given {
                return Err(ConfigError::new(at(field), "needs client_id"));
            }
        }
        return Ok(None);
    };
    check_text(&client_id, 256).map_err(|r| ConfigError::new(at("client_id"), r))?;
    let auth_method = match raw.token_endpoint_auth_method.as_deref() {
        None | Some("client_secret_basic") => ClientAuth::Basic,
        Some("client_secret_post") => ClientAuth::Post,
        Some("none") => ClientAuth::None,
        Some(_) => {
            return Err(ConfigError::new(
                at("token_endpoint_auth_method"),
                "must be client_secret_basic, client_secret_post or none",
            ))
        }
    };
    let client_secret = raw.client_secret.take();
    match (&client_secret, auth_method) {
        (None, ClientAuth::Basic | ClientAuth::Post) => {
            return Err(ConfigError::new(
                at("client_secret"),
                "required by this token_endpoint_auth_method",
            ))
        }
        (Some(_), ClientAuth::None) => {
            return Err(ConfigError::new(
                at("client_secret"),
                "not used with token_endpoint_auth_method \"none\"",
            ))
        }
        // Never quote the value: the error ends up in logs.
        (Some(s), _) if s.expose().is_empty() || s.expose().chars().any(char::is_control) => {
            return Err(ConfigError::new(
                at("client_secret"),
                "must be non-empty text without control characters",
            ))
        }
        _ => {}
    }
    let scopes = scopes(raw.scopes.take(), &at("scopes"))?;
    let redirect_uri = raw.redirect_uri.take();
    if let Some(uri) = &redirect_uri {
        check_redirect_uri(uri).map_err(|r| ConfigError::new(at("redirect_uri"), r))?;
    }
    Ok(Some(ClientConfig {
        client_id,
        client_secret,
        auth_method,
        scopes,
        redirect_uri,
    }))
}

fn scopes(list: Option<Vec<String>>, at: &str) -> Result<Vec<String>, ConfigError> {
    let mut out = vec![DEFAULT_LOGIN_SCOPES.to_string()];
    for (i, scope) in list.unwrap_or_default().into_iter().enumerate() {
        // RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        let ok = !scope.is_empty()
            && scope
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if !ok {
            return Err(ConfigError::new(
                format!("{at}[{i}]"),
                "must be one scope token (no spaces, quotes or backslashes)",
            ));
        }
        if !out.contains(&scope) {
            out.push(scope);
        }
    }
    Ok(out)
}

/// An absolute URL where the provider sends the browser back: https, or http on loopback.
pub(super) fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let url = FetchUrl::parse(uri).map_err(|e| e.to_string())?;
    if url.path_and_query.contains('?') {
        return Err("must not contain a query".to_string());
    }
    Ok(())
}
