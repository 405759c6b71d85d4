//! A scripted browser, provider and clock for the login, session and introspection tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use oidc_filter_core::config::Config;
use oidc_filter_core::engine::{Effect, Engine, Fetch, FetchResult};
use oidc_filter_core::entropy::{Entropy, EntropyError};
use oidc_filter_core::shared::MemoryShared;
use oidc_filter_core::{Decision, Request};
use oidc_testdata::{keys::jwks, TestKey, NOW};
use serde_json::{json, Value};

pub const ISS: &str = "https://idp.example";
pub const SECRET: &str = "s3cr3t/+&=value";
/// base64 of 32 bytes of 7 and of 9.
pub const KEY_A: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
pub const KEY_B: &str = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=";

/// Deterministic "random" bytes: a counter.
pub struct Counter(pub u8);

impl Entropy for Counter {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
        Ok(())
    }
}

pub fn merge(mut doc: Value, extra: Value) -> Value {
    if let (Some(d), Some(e)) = (doc.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            d.insert(k.clone(), v.clone());
        }
    }
    doc
}

pub fn config(extra: Value) -> Config {
    let doc = json!({
        "providers": [{"name": "idp", "issuer": ISS, "audiences": ["orders-api"],
                        "client_id": "app", "client_secret": SECRET, "scopes": ["profile"]}],
        "external_url": "https://app.example",
        "post_logout_redirect_uri": "https://app.example/bye",
        "session": {"keys": [KEY_A]},
        "rules": [
            {"path_prefix": "/app", "login": true},
            {"path_prefix": "/api", "login": true, "api": true},
            {"path_prefix": "/admin", "login": true, "roles_required": ["admin"]}
        ],
        "claims_to_headers": {"x-user": "sub"}
    });
    Config::from_json(merge(doc, extra).to_string().as_bytes()).unwrap()
}

pub fn discovery() -> Value {
    json!({"issuer": ISS, "jwks_uri": format!("{ISS}/certs"),
           "authorization_endpoint": format!("{ISS}/auth"),
           "token_endpoint": format!("{ISS}/token"),
           "end_session_endpoint": format!("{ISS}/session/end"),
           "introspection_endpoint": format!("{ISS}/token/introspection")})
}

pub struct World {
    pub engine: Engine,
    pub shared: MemoryShared,
    pub now: Duration,
    pub key: TestKey,
    pub fetches: Vec<Fetch>,
    pub resolved: Vec<(u32, Decision)>,
    /// Every log line and audit record, as text.
    pub lines: Vec<String>,
    next_id: u32,
}

impl World {
    /// An engine that has just started: its discovery fetch is under way, unanswered.
    pub fn starting(config: Config) -> World {
        let engine = Engine::with_entropy(config, 1, Box::new(Counter(0))).unwrap();
        let mut w = World {
            engine,
            shared: MemoryShared::new(),
            now: Duration::from_secs(NOW),
            key: TestKey::es256("k1"),
            fetches: vec![],
            resolved: vec![],
            lines: vec![],
            next_id: 1,
        };
        w.drain();
        w.engine.on_tick(w.now, &mut w.shared);
        w.drain();
        w
    }

    /// Answers the discovery and key fetches under way (and those they lead to); any other
    /// fetch stays for the test.
    pub fn answer_provider_fetches(&mut self) {
        let keys = jwks(&[&self.key]);
        let provider = |f: &Fetch| f.path.ends_with("openid-configuration") || f.path == "/certs";
        while let Some(i) = self.fetches.iter().position(provider) {
            let f = self.fetches.remove(i);
            let body = if f.path.ends_with("openid-configuration") {
                discovery()
            } else {
                keys.clone()
            };
            self.answer(&f, 200, &body.to_string());
        }
    }

    /// An engine whose provider's discovery document and keys have arrived.
    pub fn ready(config: Config) -> World {
        let mut w = World::starting(config);
        w.answer_provider_fetches();
        w
    }

    pub fn drain(&mut self) {
        while let Some(effect) = self.engine.poll_effect() {
            match effect {
                Effect::Fetch(f) => self.fetches.push(f),
                Effect::Resolve { request, decision } => self.resolved.push((request, decision)),
                Effect::Log { message, .. } => self.lines.push(message),
                Effect::Audit(a) => self.lines.push(a.to_json()),
                Effect::Count(_) => {}
            }
        }
    }

    pub fn take_fetch(&mut self) -> Option<Fetch> {
        (!self.fetches.is_empty()).then(|| self.fetches.remove(0))
    }

    pub fn answer(&mut self, f: &Fetch, status: u16, body: &str) {
        let result = FetchResult::Response {
            status,
            body: body.as_bytes().to_vec(),
        };
        self.engine
            .on_fetch_response(f.id, result, self.now, &mut self.shared);
        self.drain();
    }

    pub fn fail(&mut self, f: &Fetch) {
        let result = FetchResult::Failed("connection refused".into());
        self.engine
            .on_fetch_response(f.id, result, self.now, &mut self.shared);
        self.drain();
    }

    pub fn send(&mut self, req: &Request) -> (u32, Decision) {
        let id = self.next_id;
        self.next_id += 1;
        let d = self.engine.on_request(id, req, self.now, &mut self.shared);
        self.drain();
        (id, d)
    }

    pub fn advance(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
        self.engine.on_tick(self.now, &mut self.shared);
        self.drain();
    }

    /// The decision that resolved request `id`.
    pub fn resolution(&self, id: u32) -> Decision {
        self.resolved
            .iter()
            .find(|(r, _)| *r == id)
            .map(|(_, d)| d.clone())
            .expect("resolved")
    }

    /// A token response with an ID token for `nonce`, from the provider's key.
    pub fn token_response(&self, nonce: &str, access_token: &str, extra: Value) -> String {
        let now = self.now.as_secs();
        let id_token = self.key.mint(&json!({"iss": ISS, "sub": "alice", "aud": "app", "iat": now,
                                              "exp": now + 300, "nonce": nonce, "roles": ["viewer"]}));
        merge(
            json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 300,
                     "id_token": id_token, "refresh_token": "rt-1"}),
            extra,
        )
        .to_string()
    }

    /// Runs a whole login for a browser asking for `path`; returns the session cookies set.
    pub fn login(&mut self, path: &str) -> Vec<(String, String)> {
        let (_, d) = self.send(&browser(path, &[]));
        let location = header(&d, "location").unwrap();
        let login = cookies(&d);
        let state = query(&location, "state");
        let nonce = query(&location, "nonce");
        let (id, d) = self.send(&browser(
            &format!("/callback?code=c1&state={state}"),
            &login,
        ));
        assert_eq!(d, Decision::Pause);
        let f = self.take_fetch().unwrap();
        let body = self.token_response(&nonce, "at-1", json!({}));
        self.answer(&f, 200, &body);
        let done = self.resolution(id);
        assert_eq!(status(&done), 302, "{done:?}");
        cookies(&done)
            .into_iter()
            .filter(|(n, v)| {
                n.starts_with("oidc_session") && !v.is_empty() && !n.ends_with("_login")
            })
            .collect()
    }
}

pub fn request(method: &str, path: &str, accept: &str, cookies: &[(String, String)]) -> Request {
    let mut headers = vec![
        ("Host".to_string(), "app.example".to_string()),
        ("Accept".to_string(), accept.to_string()),
    ];
    if !cookies.is_empty() {
        let jar: Vec<String> = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
        headers.push(("Cookie".to_string(), jar.join("; ")));
    }
    Request {
        method: method.into(),
        path: path.into(),
        headers,
        source: None,
    }
}

pub fn browser(path: &str, cookies: &[(String, String)]) -> Request {
    request(
        "GET",
        path,
        "text/html,application/xhtml+xml,*/*;q=0.8",
        cookies,
    )
}

pub fn status(d: &Decision) -> u16 {
    match d {
        Decision::Allow(_) => 200,
        Decision::Deny(deny) => deny.status,
        Decision::Pause => 0,
    }
}

pub fn header(d: &Decision, name: &str) -> Option<String> {
    let Decision::Deny(deny) = d else { return None };
    deny.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

/// `Set-Cookie` headers of a local reply (or of an allowed request's response) as (name, value).
pub fn cookies(d: &Decision) -> Vec<(String, String)> {
    set_cookie_lines(d)
        .iter()
        .map(|line| {
            let pair = line.split(';').next().unwrap();
            let (n, v) = pair.split_once('=').unwrap();
            (n.to_string(), v.to_string())
        })
        .collect()
}

pub fn set_cookie_lines(d: &Decision) -> Vec<String> {
    let headers = match d {
        Decision::Deny(deny) => &deny.headers,
        Decision::Allow(allow) => &allow.response_headers,
        Decision::Pause => return vec![],
    };
    headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.clone())
        .collect()
}

/// A decoded query parameter of a URL.
pub fn query(url: &str, name: &str) -> String {
    oidc_filter_core::form::query_values(url, name)
        .pop()
        .unwrap_or_default()
}
