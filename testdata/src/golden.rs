//! Golden cases: one directory per case under `testdata/golden/`, each a `case.json` that names an
//! IdP profile (`testdata/idp/<profile>/`), the keys the IdP publishes, a token to mint and a request
//! to send, and the outcome to expect. The same cases run through the core, through the `.wasm` in
//! the host's test kit, and end to end through the proxy.
//!
//! Token times are minted relative to a `now` the runner passes in (a fixed one under a manual
//! clock, the real one end to end), so nothing committed ever expires.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::keys::TestKey;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    #[serde(skip)]
    pub name: String,
    pub description: String,
    /// Directory name under `testdata/idp/`.
    pub profile: String,
    /// Keys the IdP publishes in its JWKS.
    pub keys: Vec<KeySpec>,
    /// A token to mint, if the request carries one.
    #[serde(default)]
    pub token: Option<TokenSpec>,
    pub request: RequestSpec,
    pub expect: Expect,
    /// Replaces top-level fields of the profile's filter configuration.
    #[serde(default)]
    pub config_overrides: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    pub kid: String,
    /// `rs256-a`, `rs256-b`, `ps256-a`, `es256`, `es384`, `ed25519`.
    pub key: String,
    /// Published with `use: enc` (IdPs publish encryption keys beside signing keys).
    #[serde(default)]
    pub enc: bool,
    /// Published without `alg` (as Entra ID does).
    #[serde(default)]
    pub no_alg: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    /// Which published (or unpublished) key signs: a `kid` of `keys`, or a `KeySpec` inline.
    pub signer: KeySpec,
    /// Claims file of the profile (`access_token` → `access_token.json`).
    #[serde(default = "default_claims")]
    pub claims_from: String,
    /// Replaces claims; an object `{"now+": N}` becomes `now + N` seconds.
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// Removes claims.
    #[serde(default)]
    pub remove: Vec<String>,
    /// Replaces header fields (`alg` may lie about the signer; `null` removes a field).
    #[serde(default)]
    pub header: Map<String, Value>,
}

fn default_claims() -> String {
    "access_token".to_string()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    #[serde(default = "default_method")]
    pub method: String,
    pub path: String,
    /// `{token}` in a value is replaced by the minted token.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

fn default_method() -> String {
    "GET".to_string()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: u16,
    /// The audit reason code (`ok`, `expired`, ...).
    pub reason: String,
    /// Headers the upstream must see, with these exact values.
    #[serde(default)]
    pub upstream_headers: BTreeMap<String, String>,
    /// Headers the upstream must not see.
    #[serde(default)]
    pub upstream_headers_absent: Vec<String>,
    /// Substrings of the `WWW-Authenticate` answer.
    #[serde(default)]
    pub www_authenticate_contains: Vec<String>,
}

/// Every case, sorted by name.
pub fn cases() -> Vec<Case> {
    let root = crate::dir().join("golden");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("case.json").is_file())
        .collect();
    names.sort();
    names.iter().map(|dir| load(dir)).collect()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(dir: &Path) -> Case {
    let mut case: Case = serde_json::from_value(read_json(&dir.join("case.json")))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    case.name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    case
}

/// An IdP profile's file (`config.json`, `discovery.json`, `access_token.json`, ...).
pub fn profile_file(profile: &str, file: &str) -> Value {
    read_json(&crate::dir().join("idp").join(profile).join(file))
}

pub fn key(spec: &KeySpec) -> TestKey {
    use oidc_filter_core::Alg;
    match spec.key.as_str() {
        "rs256-a" => TestKey::rsa(&spec.kid, Alg::RS256, false),
        "rs256-b" => TestKey::rsa(&spec.kid, Alg::RS256, true),
        "ps256-a" => TestKey::rsa(&spec.kid, Alg::PS256, false),
        "es256" => TestKey::es256(&spec.kid),
        "es384" => TestKey::es384(&spec.kid),
        "ed25519" => TestKey::ed25519(&spec.kid),
        other => panic!("unknown test key {other}"),
    }
}

impl Case {
    /// The filter configuration (JSON text) this case runs with.
    pub fn config(&self) -> String {
        let mut config = profile_file(&self.profile, "config.json");
        if let Some(obj) = config.as_object_mut() {
            for (k, v) in &self.config_overrides {
                obj.insert(k.clone(), v.clone());
            }
        }
        config.to_string()
    }

    pub fn discovery(&self) -> Value {
        profile_file(&self.profile, "discovery.json")
    }

    /// The JWKS the IdP publishes.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|spec| {
                let mut jwk = key(spec).jwk();
                if spec.enc {
                    jwk["use"] = json!("enc");
                    jwk["alg"] = json!("RSA-OAEP");
                }
                if spec.no_alg {
                    if let Some(o) = jwk.as_object_mut() {
                        o.remove("alg");
                    }
                }
                jwk
            })
            .collect();
        json!({ "keys": keys })
    }

    /// The IdP's answer to a GET of `path` (discovery or JWKS), as an IdP would serve it.
    pub fn serve(&self, path: &str) -> Option<(u16, Vec<u8>)> {
        let discovery = self.discovery();
        let jwks_path = discovery["jwks_uri"]
            .as_str()
            .and_then(url_path)
            .unwrap_or_default();
        if path.ends_with("/.well-known/openid-configuration") {
            return Some((200, discovery.to_string().into_bytes()));
        }
        let config: Value = serde_json::from_str(&self.config()).unwrap_or_default();
        let configured = config["providers"][0]["jwks_uri"]
            .as_str()
            .and_then(url_path);
        if path == jwks_path || configured.as_deref() == Some(path) {
            return Some((200, self.jwks().to_string().into_bytes()));
        }
        None
    }

    /// The token for this case at `now` (Unix seconds), if it carries one.
    pub fn token(&self, now: u64) -> Option<String> {
        let spec = self.token.as_ref()?;
        let mut claims = profile_file(&self.profile, &format!("{}.json", spec.claims_from));
        let obj = claims.as_object_mut()?;
        for (name, offset) in [("iat", -60i64), ("nbf", -60), ("exp", 3600)] {
            if obj.contains_key(name) {
                obj.insert(name.to_string(), json!(now as i64 + offset));
            }
        }
        for (k, v) in &spec.claims {
            obj.insert(k.clone(), resolve_time(v, now));
        }
        for k in &spec.remove {
            obj.remove(k);
        }
        let signer = key(&spec.signer);
        let mut header = json!({"alg": signer.alg.name(), "kid": signer.kid, "typ": "JWT"});
        for (k, v) in &spec.header {
            match v {
                Value::Null => {
                    header.as_object_mut()?.remove(k);
                }
                v => header[k] = v.clone(),
            }
        }
        Some(signer.mint_with_header(header, &claims))
    }

    /// Request headers with `{token}` filled in.
    pub fn request_headers(&self, now: u64) -> Vec<(String, String)> {
        let token = self.token(now).unwrap_or_default();
        self.request
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), v.replace("{token}", &token)))
            .collect()
    }
}

fn resolve_time(v: &Value, now: u64) -> Value {
    match v.get("now+").and_then(Value::as_i64) {
        Some(offset) => json!(now as i64 + offset),
        None => v.clone(),
    }
}

/// The path (and query) of an absolute URL.
pub fn url_path(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    Some(
        rest.find('/')
            .map_or("/".to_string(), |i| rest[i..].to_string()),
    )
}
