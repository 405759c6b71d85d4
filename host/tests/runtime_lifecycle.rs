//! Start-up: the ABI version check, `_initialize`, root context, VM start and configure.

mod guests;

use guests::{module, GET};
use oidc_host::runtime::StartError;
use oidc_host::testkit::TestKit;

#[test]
fn a_guest_without_the_abi_version_export_is_refused() {
    let wasm = wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "proxy_abi_version_0_1_0")))"#,
    )
    .unwrap();
    let err = TestKit::new(&wasm, "{}", 1).err().expect("refused");
    assert!(matches!(err, StartError::AbiVersion { .. }), "{err}");
    assert!(err.to_string().contains("proxy_abi_version_0_1_0"), "{err}");
    assert!(err.to_string().contains("0_2_1"), "{err}");
}

#[test]
fn on_configure_false_refuses_start_with_the_guests_logged_reason() {
    let body = r#"(data (i32.const 100) "providers[0].issuer: missing")
        (func (export "proxy_on_configure") (param i32 i32) (result i32)
          (drop (call $log (i32.const 4) (i32.const 100) (i32.const 29))) (i32.const 0))"#;
    let err = TestKit::new(&module("", body), "{}", 2)
        .err()
        .expect("refused");
    assert!(matches!(err, StartError::ConfigureRejected { .. }), "{err}");
    assert!(
        err.to_string().contains("providers[0].issuer: missing"),
        "{err}"
    );
}

#[test]
fn a_trap_during_start_is_a_start_error() {
    let body = r#"(func (export "_initialize") unreachable)"#;
    let err = TestKit::new(&module("", body), "{}", 1)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("_initialize"), "{err}");
}

#[test]
fn configure_reads_the_plugin_configuration_buffer_and_initialize_runs_first() {
    // _initialize sets a flag; on_configure logs the configuration it reads (buffer type 7)
    // only if the flag is set, then every request is allowed.
    let imports = r#"(import "env" "proxy_get_buffer_bytes" (func $get (param i32 i32 i32 i32 i32) (result i32)))"#;
    let body = r#"(global $init (mut i32) (i32.const 0))
        (func (export "_initialize") (global.set $init (i32.const 1)))
        (func (export "proxy_on_configure") (param i32 i32) (result i32)
          (if (i32.eqz (global.get $init)) (then (return (i32.const 0))))
          (drop (call $get (i32.const 7) (i32.const 0) (local.get 1) (i32.const 200) (i32.const 204)))
          (drop (call $log (i32.const 2) (i32.load (i32.const 200)) (i32.load (i32.const 204))))
          (i32.const 1))"#;
    let k = TestKit::new(&module(imports, body), r#"{"issuer":"https://idp"}"#, 1).unwrap();
    assert!(
        k.logs()
            .iter()
            .any(|l| l.message == r#"{"issuer":"https://idp"}"#),
        "{:?}",
        k.logs()
    );
    assert!(k.request(GET).allowed());
}
