//! What the browser-login end-to-end tests share: the real OpenID Provider (`e2e/op/server.mjs`,
//! a child process killed on drop), the gateway configured from the browser-login guide, and a
//! minimal browser: an HTTP/1.1 client with a cookie jar that follows the provider's login and
//! consent forms. Everything talks to 127.0.0.1 on ephemeral ports; every step is bounded.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use oidc_host::config::HostConfig;
use oidc_host::echo::EchoServer;
use oidc_host::embedded::FILTER_WASM;
use oidc_host::proxy::Gateway;
use serde_json::Value;
use tokio::net::TcpStream;

/// Bound on any single network step, so a hang fails instead of blocking CI.
pub const STEP: Duration = Duration::from_secs(20);
/// Most redirects or pages one sign-in may take.
const MAX_HOPS: usize = 12;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh directory under the system temp dir, unique per call.
pub fn scratch_dir(label: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "oidc-login-test-{}-{}-{}",
        std::process::id(),
        label,
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A loopback port nothing listens on now (bound once, then released) for a server that must
/// know its own URL before it starts.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A child process killed (and reaped) when dropped, whatever the test's outcome.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `oidc-provider` from e2e/op, on 127.0.0.1.
pub struct Op {
    pub port: u16,
    _child: ChildGuard,
}

impl Op {
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the provider with `env` (OP_REDIRECTS and friends) and waits for its discovery.
    pub async fn start(label: &str, env: &[(&str, String)]) -> Op {
        let op_dir = repo().join("e2e/op");
        assert!(
            op_dir.join("node_modules/oidc-provider").is_dir(),
            "e2e/op/node_modules is missing: run `npm ci --prefix e2e/op`"
        );
        let dir = scratch_dir(label);
        let keys = dir.join("keys.json");
        let status = Command::new("node")
            .arg(op_dir.join("keys.mjs"))
            .arg(&keys)
            .arg("rsa-1:rsa")
            .status()
            .expect("node runs (Node.js 20.19 or later is needed)");
        assert!(status.success(), "keys.mjs failed");
        let port = free_port();
        let mut command = Command::new("node");
        command
            .arg(op_dir.join("server.mjs"))
            .env("OP_PORT", port.to_string())
            .env("OP_KEYS", &keys)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        let op = Op {
            port,
            _child: ChildGuard(command.spawn().expect("start node e2e/op/server.mjs")),
        };
        let url = format!("{}/.well-known/openid-configuration", op.issuer());
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                let reply = fetch("GET", &url, &[], None).await;
                assert_eq!(reply.status, 200, "discovery of the test provider");
                return op;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the test provider did not listen on {port} within 20 s");
    }

    pub async fn discovery(&self) -> Value {
        let url = format!("{}/.well-known/openid-configuration", self.issuer());
        fetch("GET", &url, &[], None).await.json()
    }

    /// The provider's introspection answer for `token`, asked as the `svc` client.
    pub async fn introspect(&self, token: &str) -> Value {
        let url = format!("{}/token/introspection", self.issuer());
        let body = format!("token={}", form_encode(token));
        fetch("POST", &url, &svc_form_headers(), Some(body))
            .await
            .json()
    }
}

pub fn svc_form_headers() -> Vec<(&'static str, String)> {
    use base64::engine::general_purpose::STANDARD;
    vec![
        (
            "authorization",
            format!("Basic {}", STANDARD.encode("svc:svc-secret")),
        ),
        (
            "content-type",
            "application/x-www-form-urlencoded".to_string(),
        ),
    ]
}

/// The gateway.yaml of docs/guides/browser-login.md, the one its readers copy.
pub fn guide_gateway_yaml() -> String {
    let text = std::fs::read_to_string(repo().join("docs/guides/browser-login.md")).unwrap();
    let mut blocks = text.split("```yaml\n").skip(1);
    let block = blocks.next().expect("a ```yaml block in the guide");
    block.split("```").next().unwrap().to_string()
}

/// The guide's gateway.yaml with this test's ports for the gateway, the provider and the app.
pub fn guide_config(gateway_port: u16, op_port: u16, upstream: &str) -> HostConfig {
    let yaml = guide_gateway_yaml();
    for placeholder in ["127.0.0.1:8080", "127.0.0.1:9000", "http://127.0.0.1:3000"] {
        assert!(
            yaml.contains(placeholder),
            "the guide's yaml lacks {placeholder}"
        );
    }
    let yaml = yaml
        .replace("http://127.0.0.1:3000", upstream)
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{gateway_port}"))
        .replace("127.0.0.1:9000", &format!("127.0.0.1:{op_port}"));
    HostConfig::parse(&yaml).unwrap_or_else(|e| panic!("the guide's gateway.yaml: {e}"))
}

/// A provider, the echo app and a gateway configured from the guide, wired to one another.
pub struct LoginWorld {
    pub op: Op,
    pub echo: EchoServer,
    pub gateway: Gateway,
}

impl LoginWorld {
    /// `op_env`: extra settings of the provider (short token lifetimes, large tokens).
    pub async fn start(label: &str, op_env: &[(&str, String)]) -> LoginWorld {
        let gateway_port = free_port();
        let origin = format!("http://127.0.0.1:{gateway_port}");
        let mut env = vec![
            ("OP_REDIRECTS", format!("{origin}/callback")),
            ("OP_POST_LOGOUT_REDIRECTS", format!("{origin}/signed-out")),
        ];
        env.extend(op_env.iter().cloned());
        let op = Op::start(label, &env).await;
        let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let config = guide_config(gateway_port, op.port, &echo.url());
        let gateway = Gateway::start_with_wasm(&config, FILTER_WASM.to_vec())
            .await
            .unwrap_or_else(|e| panic!("gateway: {e}"));
        assert_eq!(gateway.addr().port(), gateway_port);
        LoginWorld { op, echo, gateway }
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.gateway.addr())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }
}

pub struct Reply {
    pub url: String,
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "{} {}: not JSON: {}",
                self.status,
                self.url,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn location(&self) -> Option<String> {
        self.headers
            .get("location")
            .map(|l| l.to_str().unwrap().to_string())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }

    /// Names of the cookies this reply sets with a value (not expiring).
    pub fn cookies_set(&self) -> Vec<String> {
        self.set_cookies()
            .iter()
            .filter(|l| !expires_now(l))
            .map(|l| l.split('=').next().unwrap().to_string())
            .collect()
    }

    /// Names of the cookies this reply expires.
    pub fn cookies_expired(&self) -> Vec<String> {
        self.set_cookies()
            .iter()
            .filter(|l| expires_now(l))
            .map(|l| l.split('=').next().unwrap().to_string())
            .collect()
    }
}

fn expires_now(set_cookie: &str) -> bool {
    let lower = set_cookie.to_ascii_lowercase();
    lower.contains("max-age=0") || lower.contains("expires=thu, 01 jan 1970")
}

/// `(authority, path and query)` of an `http://127.0.0.1:port/...` URL.
pub fn split_url(url: &str) -> (String, String) {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not an http URL: {url}"));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    assert!(
        authority.starts_with("127.0.0.1:"),
        "the tests only talk to 127.0.0.1, not {authority}"
    );
    (authority.to_string(), path.to_string())
}

/// One HTTP/1.1 request on a fresh connection; the whole reply is read.
pub async fn fetch(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<String>,
) -> Reply {
    let (authority, path) = split_url(url);
    let addr: SocketAddr = authority.parse().unwrap();
    tokio::time::timeout(STEP, async {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        let mut request = http::Request::builder()
            .method(method)
            .uri(path.as_str())
            .header("host", authority.as_str());
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .expect("request");
        let response = sender.send_request(request).await.expect("response");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Reply {
            url: url.to_string(),
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{method} {url} did not finish within {STEP:?}"))
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Percent-decoding of a query value (`+` is a space).
pub fn form_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// The value of query parameter `name` in `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        (n == name).then(|| form_decode(v))
    })
}

/// The claims of a JWT, unverified (the tests compare what reached the upstream).
pub fn jwt_claims(token: &str) -> Value {
    jwt_part(token, 1)
}

/// The protected header of a JWT.
pub fn jwt_header(token: &str) -> Value {
    jwt_part(token, 0)
}

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A cookie the browser keeps.
#[derive(Debug, Clone)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    pub path: String,
}

/// A browser as far as the flow needs one: a cookie jar for 127.0.0.1 (cookies ignore the port,
/// as browsers do, so the provider's and the gateway's cookies share it), `Accept: text/html`,
/// redirects followed by the tests themselves.
#[derive(Default)]
pub struct Browser {
    pub jar: Vec<Cookie>,
}

impl Browser {
    pub fn new() -> Browser {
        Browser::default()
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.value.clone())
    }

    pub fn cookie_names(&self) -> Vec<String> {
        self.jar.iter().map(|c| c.name.clone()).collect()
    }

    /// Replaces the value of cookie `name` (path `/`).
    pub fn set_cookie(&mut self, name: &str, value: String) {
        self.jar.retain(|c| c.name != name);
        self.jar.push(Cookie {
            name: name.to_string(),
            value,
            path: "/".to_string(),
        });
    }

    fn cookie_header(&self, path: &str) -> Option<String> {
        let path = path.split('?').next().unwrap_or("/");
        let matching: Vec<String> = self
            .jar
            .iter()
            .filter(|c| {
                path == c.path
                    || (path.starts_with(&c.path)
                        && (c.path.ends_with('/') || path[c.path.len()..].starts_with('/')))
            })
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        (!matching.is_empty()).then(|| matching.join("; "))
    }

    fn store(&mut self, reply: &Reply, request_path: &str) {
        for line in reply.set_cookies() {
            let mut parts = line.split(';');
            let (name, value) = parts.next().unwrap().split_once('=').unwrap();
            let (name, value) = (name.trim().to_string(), value.trim().to_string());
            let mut path = None;
            let mut secure = false;
            for attr in parts {
                let attr = attr.trim();
                let lower = attr.to_ascii_lowercase();
                if let Some(p) = lower.strip_prefix("path=") {
                    path = Some(attr[5..5 + p.len()].to_string());
                } else if lower == "secure" {
                    secure = true;
                }
            }
            let path = path.unwrap_or_else(|| {
                let dir = request_path.split('?').next().unwrap_or("/");
                match dir.rfind('/') {
                    Some(0) | None => "/".to_string(),
                    Some(i) => dir[..i].to_string(),
                }
            });
            self.jar.retain(|c| !(c.name == name && c.path == path));
            // Plain http: a Secure cookie is not kept.
            if expires_now(&line) || secure {
                continue;
            }
            self.jar.push(Cookie { name, value, path });
        }
    }

    /// Sends a request with the jar's cookies and `Accept: text/html` and keeps what it sets.
    pub async fn request(
        &mut self,
        method: &str,
        url: &str,
        extra: &[(&str, String)],
        body: Option<String>,
    ) -> Reply {
        let (_, path) = split_url(url);
        let mut headers: Vec<(&str, String)> = vec![(
            "accept",
            "text/html,application/xhtml+xml,*/*;q=0.8".to_string(),
        )];
        if let Some(cookies) = self.cookie_header(&path) {
            headers.push(("cookie", cookies));
        }
        headers.extend(extra.iter().cloned());
        let reply = fetch(method, url, &headers, body).await;
        self.store(&reply, &path);
        reply
    }

    pub async fn get(&mut self, url: &str) -> Reply {
        self.request("GET", url, &[], None).await
    }

    /// Follows redirects from `reply` until one leads to a URL starting with `stop` (returned
    /// without being requested) or a page answers; `Err` carries that page.
    pub async fn follow(&mut self, mut reply: Reply, stop: &str) -> Result<String, Reply> {
        for _ in 0..MAX_HOPS {
            if !(300..400).contains(&reply.status) {
                return Err(reply);
            }
            let location = reply.location().expect("a redirect has a location");
            let next = absolute(&reply.url, &location);
            if next.starts_with(stop) {
                return Ok(next);
            }
            reply = self.get(&next).await;
        }
        panic!("more than {MAX_HOPS} redirects");
    }

    /// From the gateway's redirect to the provider, through its login and consent pages, to the
    /// URL the provider sends the browser back to (`callback`, not requested).
    pub async fn sign_in_at_provider(
        &mut self,
        start: Reply,
        callback: &str,
        user: &str,
    ) -> String {
        let mut step = self.follow(start, callback).await;
        for _ in 0..MAX_HOPS {
            let page = match step {
                Ok(url) => return url,
                Err(page) => page,
            };
            assert_eq!(page.status, 200, "{}: {}", page.url, page.text());
            let html = page.text();
            let (action, mut form) =
                parse_form(&html).unwrap_or_else(|| panic!("no form on {}: {html}", page.url));
            if html.contains("name=\"login\"") {
                form.push(("login".into(), user.into()));
                form.push(("password".into(), "pw".into()));
            }
            let body = form
                .iter()
                .map(|(n, v)| format!("{}={}", form_encode(n), form_encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            let target = absolute(&page.url, &action);
            let reply = self
                .request(
                    "POST",
                    &target,
                    &[(
                        "content-type",
                        "application/x-www-form-urlencoded".to_string(),
                    )],
                    Some(body),
                )
                .await;
            step = self.follow(reply, callback).await;
        }
        panic!("the provider's pages did not lead back to {callback}");
    }
}

/// `location` resolved against `base` (absolute, or a path on the same origin).
pub fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let (authority, _) = split_url(base);
    assert!(location.starts_with('/'), "relative location {location}");
    format!("http://{authority}{location}")
}

/// The first form of a page: its action and hidden inputs.
pub fn parse_form(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let form = &html[html.find("<form")?..];
    let action = attribute(&form[..form.find('>')?], "action")?;
    let mut fields = Vec::new();
    let mut rest = form;
    while let Some(i) = rest.find("<input") {
        let tag = &rest[i..i + rest[i..].find('>')?];
        if attribute(tag, "type").as_deref() == Some("hidden") {
            if let (Some(name), Some(value)) = (attribute(tag, "name"), attribute(tag, "value")) {
                fields.push((name, value));
            }
        }
        rest = &rest[i + tag.len()..];
    }
    Some((action.replace("&amp;", "&"), fields))
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = start + tag[start..].find('"')?;
    Some(tag[start..end].to_string())
}
