//! Browser login settings: the paths the filter answers itself (`callback_path`, `logout_path`),
//! where the browser goes (`external_url`, `post_logout_redirect_uri`), which provider signs people
//! in (`login_provider`), and the `session` cookie. Present only when some rule has `login`.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

use super::client::check_redirect_uri;
use super::raw::{RawConfig, RawSession};
use super::url::FetchUrl;
use super::{is_http_token, KeySource, ProviderConfig, Rule};
use crate::error::ConfigError;

/// Default `callback_path`.
pub const DEFAULT_CALLBACK_PATH: &str = "/callback";
/// Default `logout_path`.
pub const DEFAULT_LOGOUT_PATH: &str = "/logout";
/// Default `session.cookie_name`.
pub const DEFAULT_COOKIE_NAME: &str = "oidc_session";
/// Default `session.idle_timeout_secs`: 15 minutes without a request ends a session.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 900;
/// Default `session.rolling_timeout_secs`: tokens are renewed at the provider at least hourly.
pub const DEFAULT_ROLLING_TIMEOUT_SECS: u64 = 3_600;
/// Default `session.absolute_timeout_secs`: a day after login, sign in again.
pub const DEFAULT_ABSOLUTE_TIMEOUT_SECS: u64 = 86_400;
/// Most `session.keys`: every key is tried on every cookie.
pub const MAX_SESSION_KEYS: usize = 8;

/// A 256-bit session key. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey(pub [u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// What the upstream receives as `Authorization` on a session-authenticated request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamToken {
    /// `access_token` (default): `Authorization: Bearer <access token>`.
    AccessToken,
    /// `id_token`: `Authorization: Bearer <ID token>`.
    IdToken,
    /// `none`: no `Authorization` header (any the client sent is removed).
    None,
}

/// `session`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    /// `keys`: the first encrypts, all decrypt (rotation).
    pub keys: Vec<SessionKey>,
    /// `cookie_name` (default `oidc_session`); chunks are `<name>.0`, `<name>.1`, ...; the pending
    /// login lives in `<name>_login`.
    pub cookie_name: String,
    /// `secure` (default true): the `Secure` cookie attribute.
    pub secure: bool,
    pub idle_timeout_secs: u64,
    pub rolling_timeout_secs: u64,
    pub absolute_timeout_secs: u64,
    /// `upstream_token` (default `access_token`).
    pub upstream_token: UpstreamToken,
}

/// Everything browser login needs, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginConfig {
    /// Index in `providers` of the provider people sign in with.
    pub provider: usize,
    pub callback_path: String,
    pub logout_path: String,
    /// The provider's `redirect_uri`, or `external_url` + `callback_path`.
    pub redirect_uri: String,
    pub post_logout_redirect_uri: Option<String>,
    pub session: SessionConfig,
}

/// Validates the top-level login fields against the providers and rules.
pub(super) fn validate(
    raw: &mut RawConfig,
    providers: &[ProviderConfig],
    rules: &[Rule],
) -> Result<Option<LoginConfig>, ConfigError> {
    if !rules.iter().any(|r| r.login) {
        let given = [
            ("session", raw.session.is_some()),
            ("callback_path", raw.callback_path.is_some()),
            ("logout_path", raw.logout_path.is_some()),
            (
                "post_logout_redirect_uri",
                raw.post_logout_redirect_uri.is_some(),
            ),
            ("external_url", raw.external_url.is_some()),
            ("login_provider", raw.login_provider.is_some()),
        ];
        if let Some((field, _)) = given.iter().find(|(_, g)| *g) {
            return Err(ConfigError::new(
                *field,
                "only used when a rule has \"login\": true",
            ));
        }
        return Ok(None);
    }
    let provider = login_provider(raw.login_provider.take(), providers)?;
    let p = &providers[provider];
    let at = |field: &str| format!("providers[{provider}].{field}");
    if !matches!(p.key_source(), Some(KeySource::Discovery(_))) {
        return Err(ConfigError::new(
            at("discovery"),
            "login needs discovery (authorization and token endpoints); remove jwks and jwks_uri",
        ));
    }
    let callback_path = path(
        raw.callback_path.take(),
        DEFAULT_CALLBACK_PATH,
        "callback_path",
    )?;
    let logout_path = path(raw.logout_path.take(), DEFAULT_LOGOUT_PATH, "logout_path")?;
    if callback_path == logout_path {
        return Err(ConfigError::new(
            "logout_path",
            "must differ from callback_path",
        ));
    }
    let external = match raw.external_url.take() {
        Some(url) => Some(origin(&url).map_err(|r| ConfigError::new("external_url", r))?),
        None => None,
    };
    let client_redirect = p.client.as_ref().and_then(|c| c.redirect_uri.clone());
    let redirect_uri = match (client_redirect, &external) {
        (Some(uri), _) => {
            let url = FetchUrl::parse(&uri)
                .map_err(|e| ConfigError::new(at("redirect_uri"), e.to_string()))?;
            if url.path_and_query != callback_path {
                return Err(ConfigError::new(
                    at("redirect_uri"),
                    "its path must be callback_path",
                ));
            }
            uri
        }
        (None, Some(origin)) => format!("{origin}{callback_path}"),
        (None, None) => {
            return Err(ConfigError::new(
                "external_url",
                "required for login unless the provider gives redirect_uri",
            ))
        }
    };
    let post_logout_redirect_uri = raw.post_logout_redirect_uri.take();
    if let Some(uri) = &post_logout_redirect_uri {
        check_redirect_uri(uri).map_err(|r| ConfigError::new("post_logout_redirect_uri", r))?;
    }
    let Some(session) = raw.session.take() else {
        return Err(ConfigError::new(
            "session",
            "required for login (at least its keys)",
        ));
    };
    Ok(Some(LoginConfig {
        provider,
        callback_path,
        logout_path,
        redirect_uri,
        post_logout_redirect_uri,
        session: session_config(session)?,
    }))
}

fn login_provider(
    name: Option<String>,
    providers: &[ProviderConfig],
) -> Result<usize, ConfigError> {
    let clients: Vec<usize> = (0..providers.len())
        .filter(|&i| providers[i].client.is_some())
        .collect();
    let index = match name {
        Some(name) => providers
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| ConfigError::new("login_provider", "names no provider"))?,
        None => match clients.as_slice() {
            [only] => *only,
            [] => {
                return Err(ConfigError::new(
                    "providers",
                    "login needs a provider with client_id",
                ))
            }
            _ => {
                return Err(ConfigError::new(
                    "login_provider",
                    "required: several providers have client_id",
                ))
            }
        },
    };
    if providers[index].client.is_none() {
        return Err(ConfigError::new(
            format!("providers[{index}].client_id"),
            "required for login",
        ));
    }
    Ok(index)
}

fn path(given: Option<String>, default: &str, field: &str) -> Result<String, ConfigError> {
    let p = given.unwrap_or_else(|| default.to_string());
    let ok = p.starts_with('/')
        && !p.starts_with("//")
        && p.bytes()
            .all(|b| b.is_ascii_graphic() && !b"?#%\\;".contains(&b));
    if !ok {
        return Err(ConfigError::new(
            field,
            "must be a plain absolute path like /callback",
        ));
    }
    Ok(p)
}

/// `scheme://host[:port]` of an absolute URL with an empty path (or `/`).
fn origin(url: &str) -> Result<String, String> {
    let parsed = FetchUrl::parse(url).map_err(|e| e.to_string())?;
    if parsed.path_and_query != "/" {
        return Err("must be an origin, like https://app.example.com, without a path".to_string());
    }
    Ok(format!("{}://{}", parsed.scheme(), parsed.authority()))
}

fn session_config(raw: RawSession) -> Result<SessionConfig, ConfigError> {
    if raw.keys.is_empty() || raw.keys.len() > MAX_SESSION_KEYS {
        return Err(ConfigError::new("session.keys", "must list 1 to 8 keys"));
    }
    let lenient = |alphabet| {
        GeneralPurpose::new(
            alphabet,
            GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
        )
    };
    let (standard, url_safe) = (
        lenient(&base64::alphabet::STANDARD),
        lenient(&base64::alphabet::URL_SAFE),
    );
    let mut keys: Vec<SessionKey> = Vec::new();
    for (i, key) in raw.keys.iter().enumerate() {
        let text = key.expose().trim();
        let bytes = standard.decode(text).or_else(|_| url_safe.decode(text));
        // Never quote the key: the error ends up in logs.
        let key = match bytes.ok().and_then(|b| <[u8; 32]>::try_from(b).ok()) {
            Some(k) => SessionKey(k),
            None => {
                return Err(ConfigError::new(
                    format!("session.keys[{i}]"),
                    "must be base64 of exactly 32 random bytes (openssl rand -base64 32)",
                ))
            }
        };
        if keys.contains(&key) {
            return Err(ConfigError::new(
                format!("session.keys[{i}]"),
                "duplicate key",
            ));
        }
        keys.push(key);
    }
    let cookie_name = raw
        .cookie_name
        .unwrap_or_else(|| DEFAULT_COOKIE_NAME.to_string());
    if !is_http_token(&cookie_name) || cookie_name.len() > 64 || cookie_name.contains('.') {
        return Err(ConfigError::new(
            "session.cookie_name",
            "must be a cookie name of at most 64 characters, without '.'",
        ));
    }
    let secs = |v: Option<u64>, d: u64, field: &str| match v.unwrap_or(d) {
        0 => Err(ConfigError::new(
            format!("session.{field}"),
            "must be at least 1",
        )),
        n => Ok(n),
    };
    let upstream_token = match raw.upstream_token.as_deref() {
        None | Some("access_token") => UpstreamToken::AccessToken,
        Some("id_token") => UpstreamToken::IdToken,
        Some("none") => UpstreamToken::None,
        Some(_) => {
            return Err(ConfigError::new(
                "session.upstream_token",
                "must be access_token, id_token or none",
            ))
        }
    };
    Ok(SessionConfig {
        keys,
        cookie_name,
        secure: raw.secure.unwrap_or(true),
        idle_timeout_secs: secs(
            raw.idle_timeout_secs,
            DEFAULT_IDLE_TIMEOUT_SECS,
            "idle_timeout_secs",
        )?,
        rolling_timeout_secs: secs(
            raw.rolling_timeout_secs,
            DEFAULT_ROLLING_TIMEOUT_SECS,
            "rolling_timeout_secs",
        )?,
        absolute_timeout_secs: secs(
            raw.absolute_timeout_secs,
            DEFAULT_ABSOLUTE_TIMEOUT_SECS,
            "absolute_timeout_secs",
        )?,
        upstream_token,
    })
}
