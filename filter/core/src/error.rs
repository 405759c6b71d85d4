//! Request outcomes and configuration errors.
//!
//! `AuthError` is the one flat list of reasons a request is refused. Each reason has a stable
//! `code()` used in logs and metric names, an HTTP status and an RFC 6750 error code. Nothing here
//! may carry token bytes or secrets: descriptions are fixed strings.

use std::fmt;

/// Why a request was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No credential in any configured token source.
    Missing,
    /// Not a compact JWS: wrong number of parts, bad base64url, non-JSON, duplicate names, too deep.
    Malformed,
    /// Larger than the token size cap.
    TooLarge,
    /// `alg` is not supported, not allowed for the provider, or does not fit the selected key.
    UnsupportedAlg,
    /// The header asks for something we never honour: `jku`, `x5u`, an embedded `jwk`, unknown `crit`.
    ForbiddenHeader,
    /// `iss` is missing or matches no configured provider.
    UnknownIssuer,
    /// No key in the provider's key set has the token's `kid` (after any allowed refetch).
    UnknownKid,
    /// The signature does not verify under the selected key.
    BadSignature,
    /// `exp` is in the past (beyond the clock skew).
    Expired,
    /// `nbf` is in the future (beyond the clock skew).
    NotYetValid,
    /// `iat` is in the future (beyond the clock skew).
    IssuedInFuture,
    /// `exp - iat` (or `exp - now`) exceeds `max_token_lifetime_secs`.
    LifetimeTooLong,
    /// A required registered claim is absent or has the wrong JSON type (`exp` as a string).
    InvalidClaim,
    /// `aud` does not contain any configured audience.
    AudienceNotAllowed,
    /// `typ` is not the one the provider requires.
    WrongType,
    /// The route requires scopes, roles, groups or claim values the token lacks.
    InsufficientScope {
        /// The requirement that failed, as configured (space-separated names).
        required: String,
    },
    /// No key set could be loaded for the token's provider.
    KeysUnavailable,
    /// The request path reads differently to different servers (encoded slashes, dot segments
    /// that would change which rule applies): refused rather than guessed.
    AmbiguousPath,
    /// A login callback without a matching pending login: no login cookie, an expired or altered
    /// one, a `state` that differs, or no `code`.
    LoginStateInvalid,
    /// The provider refused the login, the code exchange failed, or the ID token was invalid.
    LoginFailed,
    /// The provider's token or introspection endpoint could not be reached or answered wrongly.
    IdpUnavailable,
    /// Introspection (RFC 7662) says the token is not active.
    InactiveToken,
    /// No random bytes for a login or a session cookie.
    EntropyUnavailable,
}

impl AuthError {
    /// Stable identifier for logs and metric names.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Malformed => "malformed",
            AuthError::TooLarge => "too_large",
            AuthError::UnsupportedAlg => "unsupported_alg",
            AuthError::ForbiddenHeader => "forbidden_header",
            AuthError::UnknownIssuer => "unknown_issuer",
            AuthError::UnknownKid => "unknown_kid",
            AuthError::BadSignature => "bad_signature",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::IssuedInFuture => "issued_in_future",
            AuthError::LifetimeTooLong => "lifetime_too_long",
            AuthError::InvalidClaim => "invalid_claim",
            AuthError::AudienceNotAllowed => "audience_not_allowed",
            AuthError::WrongType => "wrong_type",
            AuthError::InsufficientScope { .. } => "insufficient_scope",
            AuthError::KeysUnavailable => "keys_unavailable",
            AuthError::AmbiguousPath => "ambiguous_path",
            AuthError::LoginStateInvalid => "login_state_invalid",
            AuthError::LoginFailed => "login_failed",
            AuthError::IdpUnavailable => "idp_unavailable",
            AuthError::InactiveToken => "inactive_token",
            AuthError::EntropyUnavailable => "entropy_unavailable",
        }
    }

    /// Every code, for pre-declaring one metric per reason.
    pub const ALL_CODES: &'static [&'static str] = &[
        "missing",
        "malformed",
        "too_large",
        "unsupported_alg",
        "forbidden_header",
        "unknown_issuer",
        "unknown_kid",
        "bad_signature",
        "expired",
        "not_yet_valid",
        "issued_in_future",
        "lifetime_too_long",
        "invalid_claim",
        "audience_not_allowed",
        "wrong_type",
        "insufficient_scope",
        "keys_unavailable",
        "ambiguous_path",
        "login_state_invalid",
        "login_failed",
        "idp_unavailable",
        "inactive_token",
        "entropy_unavailable",
    ];

    /// 401 for a missing or invalid token, 403 for missing entitlements, 503 when keys are missing,
    /// 400 for a path that cannot be matched to a rule safely.
    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::InsufficientScope { .. } => 403,
            AuthError::KeysUnavailable
            | AuthError::IdpUnavailable
            | AuthError::EntropyUnavailable => 503,
            AuthError::AmbiguousPath | AuthError::LoginStateInvalid => 400,
            _ => 401,
        }
    }

    /// RFC 6750 section 3.1 error code; `None` when the request carried no credential at all
    /// (RFC 6750 section 3.1: the server SHOULD NOT include an error code then).
    pub fn bearer_error(&self) -> Option<&'static str> {
        match self {
            AuthError::Missing => None,
            AuthError::InsufficientScope { .. } => Some("insufficient_scope"),
            AuthError::KeysUnavailable
            | AuthError::IdpUnavailable
            | AuthError::EntropyUnavailable => Some("temporarily_unavailable"),
            AuthError::AmbiguousPath | AuthError::LoginStateInvalid => Some("invalid_request"),
            _ => Some("invalid_token"),
        }
    }

    /// A fixed, human-readable description (never derived from the token).
    pub fn description(&self) -> &'static str {
        match self {
            AuthError::Missing => "no bearer token in the request",
            AuthError::Malformed => "the token is not a well-formed JWT",
            AuthError::TooLarge => "the token is too large",
            AuthError::UnsupportedAlg => "the token's signing algorithm is not accepted",
            AuthError::ForbiddenHeader => "the token header uses a parameter that is not accepted",
            AuthError::UnknownIssuer => "the token issuer is not trusted",
            AuthError::UnknownKid => "the token was signed with an unknown key",
            AuthError::BadSignature => "the token signature is invalid",
            AuthError::Expired => "the token has expired",
            AuthError::NotYetValid => "the token is not valid yet",
            AuthError::IssuedInFuture => "the token was issued in the future",
            AuthError::LifetimeTooLong => "the token lifetime exceeds the allowed maximum",
            AuthError::InvalidClaim => "a required claim is missing or invalid",
            AuthError::AudienceNotAllowed => "the token audience is not accepted",
            AuthError::WrongType => "the token type is not accepted",
            AuthError::InsufficientScope { .. } => "the token lacks the required scope",
            AuthError::KeysUnavailable => "signing keys are temporarily unavailable",
            AuthError::AmbiguousPath => "the request path is ambiguous",
            AuthError::LoginStateInvalid => "no matching login is under way; start again",
            AuthError::LoginFailed => "the sign-in could not be completed",
            AuthError::IdpUnavailable => "the identity provider is temporarily unavailable",
            AuthError::InactiveToken => "the token is not active",
            AuthError::EntropyUnavailable => "the service is temporarily unavailable",
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for AuthError {}

/// A configuration document was refused. `path` names the field (`providers[0].issuer`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ConfigError {
    /// Field path in the JSON document, `.` for the document itself.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
