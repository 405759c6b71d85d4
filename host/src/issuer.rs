//! An in-process OpenID provider for `oidc-host demo` and end-to-end tests: a fresh ES256 key per run,
//! discovery (`/.well-known/openid-configuration`), the key set (`/jwks`) and a client-credentials token
//! endpoint (`POST /token`), served over plain HTTP on loopback. `mint` signs any claim set for tests.
//! It is a test double, not an identity provider: no refresh tokens, no users, no persistence.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand_core::{OsRng, RngCore};
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;

/// Form bodies larger than this are refused: a token request is a few hundred bytes.
const MAX_TOKEN_REQUEST_BYTES: usize = 16 * 1024;

/// A client allowed to use the token endpoint.
#[derive(Clone)]
pub struct IssuerClient {
    pub id: String,
    pub secret: String,
    /// Scopes the client may request; a request without `scope` gets all of them.
    pub scopes: Vec<String>,
    /// Claims added to every token of this client (e.g. `roles`, `groups`).
    pub extra_claims: Map<String, Value>,
}

impl std::fmt::Debug for IssuerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerClient")
            .field("id", &self.id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// What the issuer serves.
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    /// Address to bind; port 0 picks a free one.
    pub bind: SocketAddr,
    /// The `aud` of issued tokens.
    pub audience: String,
    pub token_ttl: Duration,
    pub clients: Vec<IssuerClient>,
}

impl Default for IssuerConfig {
    fn default() -> Self {
        IssuerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            audience: "demo-api".into(),
            token_ttl: Duration::from_secs(3600),
            clients: Vec::new(),
        }
    }
}

/// The signing half: a key, its `kid`, and the issuer URL tokens carry.
pub struct TokenSigner {
    key: SigningKey,
    kid: String,
    issuer: String,
}

impl TokenSigner {
    /// A fresh P-256 key.
    pub fn generate(issuer: impl Into<String>) -> TokenSigner {
        let key = SigningKey::random(&mut OsRng);
        let mut id = [0u8; 8];
        OsRng.fill_bytes(&mut id);
        TokenSigner {
            key,
            kid: URL_SAFE_NO_PAD.encode(id),
            issuer: issuer.into(),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The public key set (`{"keys":[…]}`) with this key as an ES256 JWK.
    pub fn jwks(&self) -> Value {
        let point = self.key.verifying_key().to_encoded_point(false);
        let x = point
            .x()
            .map(|x| URL_SAFE_NO_PAD.encode(x))
            .unwrap_or_default();
        let y = point
            .y()
            .map(|y| URL_SAFE_NO_PAD.encode(y))
            .unwrap_or_default();
        json!({ "keys": [{
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "kid": self.kid, "alg": "ES256", "use": "sig"
        }]})
    }

    /// Signs `claims` with the default header (`alg: ES256`, `typ: JWT`, this `kid`).
    pub fn mint(&self, claims: &Value) -> String {
        self.mint_with_header(
            &json!({ "alg": "ES256", "typ": "JWT", "kid": self.kid }),
            claims,
        )
    }

    /// Signs `claims` under an arbitrary protected header (tests use it for hostile headers).
    pub fn mint_with_header(&self, header: &Value, claims: &Value) -> String {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: Signature = self.key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }
}

struct State {
    signer: TokenSigner,
    config: IssuerConfig,
}

/// A running issuer; dropping it stops accepting connections.
pub struct TestIssuer {
    addr: SocketAddr,
    state: Arc<State>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl TestIssuer {
    /// Binds and starts serving on the current tokio runtime.
    pub async fn start(config: IssuerConfig) -> std::io::Result<TestIssuer> {
        let listener = TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let signer = TokenSigner::generate(format!("http://{addr}"));
        let state = Arc::new(State { signer, config });
        let accept = tokio::spawn(serve(listener, state.clone()));
        Ok(TestIssuer {
            addr,
            state,
            accept,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `host:port`, usable as a Kong-style callout target.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }
    /// The `iss` of issued tokens (`http://127.0.0.1:port`).
    pub fn issuer_url(&self) -> &str {
        self.state.signer.issuer()
    }
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer_url())
    }
    pub fn signer(&self) -> &TokenSigner {
        &self.state.signer
    }
    /// Signs an arbitrary claim set with the issuer's key.
    pub fn mint(&self, claims: &Value) -> String {
        self.state.signer.mint(claims)
    }
    /// A token as the token endpoint would issue it for `client_id` with `scope`.
    pub fn access_token(&self, client_id: &str, scope: &str) -> String {
        let extra = self
            .state
            .config
            .clients
            .iter()
            .find(|c| c.id == client_id)
            .map(|c| c.extra_claims.clone())
            .unwrap_or_default();
        self.mint(&access_claims(&self.state, client_id, scope, &extra))
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn access_claims(state: &State, client_id: &str, scope: &str, extra: &Map<String, Value>) -> Value {
    let now = unix_now();
    let mut jti = [0u8; 12];
    OsRng.fill_bytes(&mut jti);
    let mut claims = Map::new();
    for (name, value) in extra {
        claims.insert(name.clone(), value.clone());
    }
    claims.insert("iss".into(), json!(state.signer.issuer()));
    claims.insert("sub".into(), json!(client_id));
    claims.insert("aud".into(), json!(state.config.audience));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + state.config.token_ttl.as_secs()));
    claims.insert("scope".into(), json!(scope));
    claims.insert("client_id".into(), json!(client_id));
    claims.insert("jti".into(), json!(URL_SAFE_NO_PAD.encode(jti)));
    Value::Object(claims)
}

async fn serve(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(state.clone(), req));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

type Reply = Response<Full<Bytes>>;

fn json_reply(status: StatusCode, body: &Value) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

fn oauth_error(status: StatusCode, error: &str) -> Reply {
    json_reply(status, &json!({ "error": error }))
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let issuer = state.signer.issuer().to_owned();
    let reply = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/.well-known/openid-configuration") => json_reply(
            StatusCode::OK,
            &json!({
                "issuer": issuer,
                "jwks_uri": format!("{issuer}/jwks"),
                "token_endpoint": format!("{issuer}/token"),
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "response_types_supported": ["token"],
                "subject_types_supported": ["public"],
            }),
        ),
        ("GET", "/jwks") => json_reply(StatusCode::OK, &state.signer.jwks()),
        ("POST", "/token") => token(&state, req).await,
        _ => oauth_error(StatusCode::NOT_FOUND, "not_found"),
    };
    Ok(reply)
}

async fn token(state: &State, req: Request<Incoming>) -> Reply {
    let basic = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_basic);
    let body = match Limited::new(req.into_body(), MAX_TOKEN_REQUEST_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request"),
    };
    let form = parse_form(&body);
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if field("grant_type") != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let (id, secret) = match (basic, field("client_id"), field("client_secret")) {
        (Some(pair), _, _) => pair,
        (None, Some(id), Some(secret)) => (id.to_owned(), secret.to_owned()),
        _ => return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client"),
    };
    let Some(client) = state
        .config
        .clients
        .iter()
        .find(|c| c.id == id && constant_time_eq(c.secret.as_bytes(), secret.as_bytes()))
    else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    };
    let scope = match field("scope") {
        Some(requested) => {
            let unknown = requested
                .split(' ')
                .filter(|s| !s.is_empty())
                .any(|s| !client.scopes.iter().any(|allowed| allowed == s));
            if unknown {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope");
            }
            requested.split_whitespace().collect::<Vec<_>>().join(" ")
        }
        None => client.scopes.join(" "),
    };
    let token = state.signer.mint(&access_claims(
        state,
        &client.id,
        &scope,
        &client.extra_claims,
    ));
    json_reply(
        StatusCode::OK,
        &json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": state.config.token_ttl.as_secs(),
            "scope": scope,
        }),
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((percent_decode(id)?, percent_decode(secret)?))
}

/// `application/x-www-form-urlencoded` pairs; malformed pairs are skipped.
fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((percent_decode(name)?, percent_decode(value)?))
        })
        .collect()
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_form_fields_with_plus_and_percent_escapes() {
        let form = parse_form(b"grant_type=client_credentials&scope=read+admin%3Aall");
        assert_eq!(form[1], ("scope".into(), "read admin:all".into()));
    }

    #[test]
    fn reads_basic_credentials() {
        let header = format!("Basic {}", STANDARD.encode("demo:s%3Acret"));
        assert_eq!(parse_basic(&header), Some(("demo".into(), "s:cret".into())));
    }

    #[test]
    fn minted_token_verifies_with_the_published_key() {
        use p256::ecdsa::signature::Verifier;
        let signer = TokenSigner::generate("http://127.0.0.1:1");
        let token = signer.mint(&json!({"sub": "x"}));
        let parts: Vec<&str> = token.split('.').collect();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        signer
            .key
            .verifying_key()
            .verify(input.as_bytes(), &signature)
            .unwrap();
        assert_eq!(signer.jwks()["keys"][0]["kid"], json!(signer.kid()));
    }
}
