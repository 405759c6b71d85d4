//! Tiny purpose-built proxy-wasm guests in WAT for the ABI and runtime tests.
#![allow(dead_code, clippy::panic)]

use oidc_host::limits::Limits;
use oidc_host::testkit::TestKit;

/// Imports, memory, a bump allocator, the ABI marker, and `$reply` (answers 600 + code, so a test
/// reads a hostcall's status from the response status).
pub const PRELUDE: &str = r#"
  (import "env" "proxy_send_local_response" (func $slr (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 32768))
  (func (export "proxy_abi_version_0_2_1"))
  (func $reply (param $code i32)
    (drop (call $slr (i32.add (i32.const 600) (local.get $code))
      (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const -1))))
"#;

pub const BUMP_ALLOCATOR: &str = r#"
  (func (export "proxy_on_memory_allocate") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
"#;

/// A module: `imports` first (WAT wants imports before definitions), then prelude, allocator, body.
pub fn module(imports: &str, body: &str) -> Vec<u8> {
    let text = format!("(module {imports} {PRELUDE} {BUMP_ALLOCATOR} {body})");
    wat::parse_str(&text).unwrap_or_else(|e| panic!("bad WAT: {e}\n{text}"))
}

/// A module with a custom allocator.
pub fn module_with_allocator(imports: &str, allocator: &str, body: &str) -> Vec<u8> {
    let text = format!("(module {imports} {PRELUDE} {allocator} {body})");
    wat::parse_str(&text).unwrap_or_else(|e| panic!("bad WAT: {e}\n{text}"))
}

pub fn kit(wasm: &[u8]) -> TestKit {
    TestKit::new(wasm, "{}", 1).unwrap_or_else(|e| panic!("start: {e}"))
}

pub fn kit_with(wasm: &[u8], limits: Limits) -> TestKit {
    TestKit::builder(wasm)
        .limits(limits)
        .start()
        .unwrap_or_else(|e| panic!("start: {e}"))
}

pub const GET: &[(&str, &str)] = &[
    (":method", "GET"),
    (":path", "/"),
    (":authority", "example.com"),
];
