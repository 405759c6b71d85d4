//! Helpers shared by the host's end-to-end tests: tiny WAT guests, a minimal HTTP client, scratch
//! directories and configs. Everything talks to 127.0.0.1 on ephemeral ports.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod processes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Bound on any single network step of a test, so a hang fails instead of blocking CI.
pub const STEP: Duration = Duration::from_secs(20);

/// The exports every guest below shares: allocator, lifecycle and callbacks that continue.
fn guest(on_configure: &str, on_request_headers: &str, data: &str) -> String {
    guest_with_body(on_configure, on_request_headers, "(i32.const 0)", data)
}

fn guest_with_body(
    on_configure: &str,
    on_request_headers: &str,
    on_request_body: &str,
    data: &str,
) -> String {
    format!(
        r#"(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response"
    (func $send_local_response (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value"
    (func $add_header (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 17)
  (global $bump (mut i32) (i32.const 65536))
  {data}
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $p i32)
    (if (i32.gt_u (i32.add (global.get $bump) (local.get $size)) (i32.const 1048576))
      (then (global.set $bump (i32.const 65536))))
    (local.set $p (global.get $bump))
    (global.set $bump (i32.and (i32.add (i32.add (global.get $bump) (local.get $size)) (i32.const 7)) (i32.const -8)))
    (local.get $p))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) {on_configure})
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) {on_request_headers})
  (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32) {on_request_body})
  (func (export "proxy_on_request_trailers") (param i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_response_body") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_response_trailers") (param i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_log") (param i32))
  (func (export "proxy_on_delete") (param i32))
)"#
    )
}

/// A guest that lets everything through.
pub fn pass_through_guest() -> Vec<u8> {
    wat::parse_str(guest("(i32.const 1)", "(i32.const 0)", "")).expect("valid WAT")
}

/// A guest that counts the requests its instance has seen and adds the count (1 to 9) to each
/// request as `x-instance-count`: requests handled by one instance see consecutive counts.
pub fn counting_guest() -> Vec<u8> {
    let on_request = "(global.set $count (i32.add (global.get $count) (i32.const 1))) \
        (i32.store8 (i32.const 48) (i32.add (i32.const 48) (global.get $count))) \
        (drop (call $add_header (i32.const 0) (i32.const 16) (i32.const 16) (i32.const 48) (i32.const 1))) \
        (i32.const 0)";
    wat::parse_str(guest(
        "(i32.const 1)",
        on_request,
        r#"(global $count (mut i32) (i32.const 0)) (data (i32.const 16) "x-instance-count")"#,
    ))
    .expect("valid WAT")
}

/// A guest that traps in `proxy_on_request_headers`.
pub fn trapping_guest() -> Vec<u8> {
    wat::parse_str(guest("(i32.const 1)", "(unreachable)", "")).expect("valid WAT")
}

/// A guest that answers every request with a local 403 and body `denied`.
pub fn denying_guest() -> Vec<u8> {
    let on_request =
        "(drop (call $send_local_response (i32.const 403) (i32.const 0) (i32.const 0) \
                      (i32.const 16) (i32.const 6) (i32.const 0) (i32.const 0) (i32.const -1))) \
                      (i32.const 1)";
    wat::parse_str(guest(
        "(i32.const 1)",
        on_request,
        r#"(data (i32.const 16) "denied")"#,
    ))
    .expect("valid WAT")
}

/// A guest that lets request heads through and answers 403 `denied` once it sees the body.
pub fn body_denying_guest() -> Vec<u8> {
    let deny = "(drop (call $send_local_response (i32.const 403) (i32.const 0) (i32.const 0) \
                (i32.const 16) (i32.const 6) (i32.const 0) (i32.const 0) (i32.const -1))) \
                (i32.const 1)";
    wat::parse_str(guest_with_body(
        "(i32.const 1)",
        "(i32.const 0)",
        deny,
        r#"(data (i32.const 16) "denied")"#,
    ))
    .expect("valid WAT")
}

/// The reason the rejecting guest logs before refusing its configuration.
pub const REJECT_REASON: &str = "providers[0].issuer: must be an absolute https URL";

/// A guest whose `proxy_on_configure` logs `REJECT_REASON` at error level and returns false.
pub fn rejecting_guest() -> Vec<u8> {
    let on_configure = format!(
        "(drop (call $log (i32.const 4) (i32.const 16) (i32.const {}))) (i32.const 0)",
        REJECT_REASON.len()
    );
    wat::parse_str(guest(
        &on_configure,
        "(i32.const 0)",
        &format!(r#"(data (i32.const 16) "{REJECT_REASON}")"#),
    ))
    .expect("valid WAT")
}

/// A fresh directory under the system temp dir, unique per call.
pub fn scratch_dir(label: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "oidc-host-test-{}-{}-{}",
        std::process::id(),
        label,
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// An address nothing listens on (bound once, then released).
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// Sends one HTTP/1.1 request on a fresh connection and reads the whole reply.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    tokio::time::timeout(STEP, async {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "app.test");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("request");
        let response = sender.send_request(request).await.expect("response");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    })
    .await
    .expect("request finished in time")
}

pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    send(addr, "GET", path, headers, "").await
}

/// A host config for `upstream` with the given filter file, as YAML.
pub fn config_yaml(upstream: &str, wasm: Option<&std::path::Path>, extra: &str) -> String {
    let mut yaml = format!("listen: 127.0.0.1:0\nupstream: {upstream}\nworkers: 1\n");
    if let Some(wasm) = wasm {
        yaml.push_str(&format!(
            "filter:\n  wasm: {}\n  config: {{}}\n",
            wasm.display()
        ));
    }
    yaml.push_str(extra);
    yaml
}
