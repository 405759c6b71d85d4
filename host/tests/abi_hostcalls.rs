//! Each import answers with the spec's status codes, never a host panic: bad pointers,
//! empty-map encodings, unknown contexts and properties, unimplemented imports, bad allocators.

mod guests;

use guests::{kit, module, module_with_allocator, GET};

/// Runs `expr` (a hostcall) in `proxy_on_request_headers` and returns its status code.
#[allow(clippy::expect_used)]
fn status_of(imports: &str, data: &str, expr: &str) -> u16 {
    let body = format!(
        r#"{data}
        (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
          (call $reply {expr}) (i32.const 1))"#
    );
    let k = kit(&module(imports, &body));
    let o = k.request(GET);
    o.status.expect("the guest answered locally") - 600
}

const INVALID_MEMORY_ACCESS: u16 = 6;

#[test]
fn bad_pointers_give_invalid_memory_access_for_every_kind_of_argument() {
    let cases: &[(&str, &str)] = &[
        ("", "(call $log (i32.const 2) (i32.const -16) (i32.const 100))"),
        (
            r#"(import "env" "proxy_get_header_map_pairs" (func $f (param i32 i32 i32) (result i32)))"#,
            "(call $f (i32.const 0) (i32.const -16) (i32.const 0))",
        ),
        (
            r#"(import "env" "proxy_get_header_map_value" (func $f (param i32 i32 i32 i32 i32) (result i32)))"#,
            "(call $f (i32.const 0) (i32.const -16) (i32.const 5) (i32.const 0) (i32.const 4))",
        ),
        (
            r#"(import "env" "proxy_get_buffer_bytes" (func $f (param i32 i32 i32 i32 i32) (result i32)))"#,
            "(call $f (i32.const 7) (i32.const 0) (i32.const 100) (i32.const -16) (i32.const 0))",
        ),
        (
            r#"(import "env" "proxy_set_header_map_pairs" (func $f (param i32 i32 i32) (result i32)))"#,
            "(call $f (i32.const 0) (i32.const 100) (i32.const -1))",
        ),
        (
            r#"(import "env" "proxy_get_property" (func $f (param i32 i32 i32 i32) (result i32)))"#,
            "(call $f (i32.const -16) (i32.const 4) (i32.const 0) (i32.const 4))",
        ),
        (
            r#"(import "env" "proxy_set_shared_data" (func $f (param i32 i32 i32 i32 i32) (result i32)))"#,
            "(call $f (i32.const -16) (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0))",
        ),
        (
            r#"(import "env" "proxy_get_log_level" (func $f (param i32) (result i32)))"#,
            "(call $f (i32.const -2))",
        ),
        (
            r#"(import "env" "proxy_http_call" (func $f (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))"#,
            "(call $f (i32.const -16) (i32.const 8) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))",
        ),
    ];
    for (imports, expr) in cases {
        assert_eq!(
            status_of(imports, "", expr),
            INVALID_MEMORY_ACCESS,
            "{expr}"
        );
    }
}

#[test]
fn unknown_contexts_properties_and_unimplemented_imports_get_their_statuses() {
    let set_ctx =
        r#"(import "env" "proxy_set_effective_context" (func $f (param i32) (result i32)))"#;
    assert_eq!(
        status_of(set_ctx, "", "(call $f (i32.const 9999))"),
        2,
        "BAD_ARGUMENT"
    );
    let prop =
        r#"(import "env" "proxy_get_property" (func $f (param i32 i32 i32 i32) (result i32)))"#;
    let data = r#"(data (i32.const 100) "nope\00such")"#;
    assert_eq!(
        status_of(
            prop,
            data,
            "(call $f (i32.const 100) (i32.const 9) (i32.const 200) (i32.const 204))"
        ),
        1,
        "NOT_FOUND"
    );
    let grpc = r#"(import "env" "proxy_grpc_cancel" (func $f (param i32) (result i32)))"#;
    assert_eq!(
        status_of(grpc, "", "(call $f (i32.const 1))"),
        12,
        "UNIMPLEMENTED"
    );
    let done = r#"(import "env" "proxy_done" (func $f (result i32)))"#;
    assert_eq!(
        status_of(done, "", "(call $f)"),
        1,
        "NOT_FOUND: nothing pending"
    );
}

#[test]
fn properties_return_request_fields_and_plugin_identity() {
    // Reads `request.path` and answers 600 + its length.
    let imports =
        r#"(import "env" "proxy_get_property" (func $f (param i32 i32 i32 i32) (result i32)))"#;
    let body = r#"(data (i32.const 100) "request\00path")
        (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
          (drop (call $f (i32.const 100) (i32.const 12) (i32.const 200) (i32.const 204)))
          (call $reply (i32.load (i32.const 204))) (i32.const 1))"#;
    let k = kit(&module(imports, body));
    let o = k.request(&[
        (":method", "GET"),
        (":path", "/hello/world"),
        (":authority", "a"),
    ]);
    assert_eq!(o.status, Some(612));
}

fn set_pairs_module(size: u32) -> Vec<u8> {
    let imports =
        r#"(import "env" "proxy_set_header_map_pairs" (func $f (param i32 i32 i32) (result i32)))"#;
    let body = format!(
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
          (if (call $f (i32.const 0) (i32.const 100) (i32.const {size})) (then (call $reply (i32.const 0))))
          (i32.const 0))"#
    );
    module(imports, &body)
}

#[test]
fn both_empty_map_encodings_replace_the_headers_with_none() {
    for size in [0, 1, 4] {
        let k = kit(&set_pairs_module(size));
        let o = k.request(GET);
        assert_eq!(o.upstream_headers, Some(vec![]), "encoding of {size} bytes");
    }
}

fn garbage_allocator(addr: i32) -> String {
    format!(
        r#"(func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const {addr}))"#
    )
}

#[test]
fn a_guest_whose_allocator_returns_garbage_gets_invalid_memory_access() {
    let imports =
        r#"(import "env" "proxy_get_header_map_pairs" (func $f (param i32 i32 i32) (result i32)))"#;
    let body = r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
          (call $reply (call $f (i32.const 0) (i32.const 200) (i32.const 204))) (i32.const 1))"#;
    for addr in [0, -16, 131_070] {
        let k = guests::kit(&module_with_allocator(
            imports,
            &garbage_allocator(addr),
            body,
        ));
        assert_eq!(
            k.request(GET).status,
            Some(606),
            "allocator returning {addr}"
        );
        assert_eq!(k.request(GET).status, Some(606), "the host keeps serving");
    }
}
