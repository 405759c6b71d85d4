//! The shipped filter module imports only what Envoy and Kong provide: proxy-wasm ABI v0.2.1 host
//! functions (`env`) and the WASI preview1 functions proxy-wasm hosts register; and it exports the
//! entry points hosts look for.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

/// WASI preview1 functions registered by proxy-wasm-cpp-host, Envoy's host
/// (`FOR_ALL_WASI_FUNCTIONS` in include/proxy-wasm/exports.h of proxy-wasm/proxy-wasm-cpp-host).
const ENVOY_WASI: &[&str] = &[
    "fd_write",
    "fd_read",
    "fd_seek",
    "fd_close",
    "fd_fdstat_get",
    "environ_get",
    "environ_sizes_get",
    "args_get",
    "args_sizes_get",
    "clock_time_get",
    "random_get",
    "proc_exit",
    "path_open",
    "fd_prestat_get",
    "fd_prestat_dir_name",
];

/// `proxy_*` host functions of ABI v0.2.1, read from the specification's headings (callbacks the
/// module exports, `proxy_on_*` and the version marker, are not host functions).
fn spec_host_functions() -> BTreeSet<String> {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/specs/proxy-wasm-abi-v0.2.1.md"
    ))
    .unwrap();
    spec.lines()
        .filter_map(|l| l.strip_prefix("#### `")?.strip_suffix('`'))
        .filter(|name| {
            name.starts_with("proxy_")
                && !name.starts_with("proxy_on_")
                && !name.starts_with("proxy_abi_version")
        })
        .map(str::to_string)
        .collect()
}

fn module() -> (wasmtime::Engine, wasmtime::Module) {
    let bytes = std::fs::read(env!("OIDC_FILTER_WASM")).unwrap();
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&engine, &bytes).unwrap();
    (engine, module)
}

#[test]
fn the_filter_imports_only_proxy_wasm_v0_2_1_and_envoys_wasi_functions() {
    let allowed = spec_host_functions();
    assert!(allowed.len() > 40, "spec headings found: {}", allowed.len());
    let (_engine, module) = module();
    let mut seen = 0;
    for import in module.imports() {
        seen += 1;
        match import.module() {
            "env" => assert!(
                allowed.contains(import.name()),
                "not a v0.2.1 host function: {}",
                import.name()
            ),
            "wasi_snapshot_preview1" => {
                assert!(
                    ENVOY_WASI.contains(&import.name()),
                    "WASI function Envoy lacks: {}",
                    import.name()
                )
            }
            other => panic!("import from unexpected module {other}::{}", import.name()),
        }
    }
    assert!(seen > 0);
}

/// Host functions of v0.2.1 that Kong's ngx_wasm_module registers with another signature than
/// the ABI's: a module importing one fails to instantiate there.
const KONG_MISMATCHED: &[&str] = &["proxy_get_log_level"];

#[test]
fn the_filter_imports_nothing_kong_registers_with_another_signature() {
    let (_engine, module) = module();
    let env: Vec<&str> = module
        .imports()
        .filter(|i| i.module() == "env")
        .map(|i| i.name())
        .collect();
    assert!(env.contains(&"proxy_log"), "imports: {env:?}");
    for name in KONG_MISMATCHED {
        assert!(!env.contains(name), "imports {name}");
    }
}

#[test]
fn the_filter_exports_what_proxy_wasm_hosts_call() {
    let (_engine, module) = module();
    let exports: BTreeSet<&str> = module.exports().map(|e| e.name()).collect();
    for name in [
        "proxy_abi_version_0_2_1",
        "_initialize",
        "proxy_on_memory_allocate",
        "proxy_on_context_create",
        "proxy_on_configure",
        "proxy_on_tick",
        "proxy_on_request_headers",
        "proxy_on_http_call_response",
        "memory",
    ] {
        assert!(exports.contains(name), "missing export {name}");
    }
}

#[test]
fn the_filter_module_stays_under_one_mebibyte() {
    let size = std::fs::metadata(env!("OIDC_FILTER_WASM")).unwrap().len();
    assert!(size <= 1024 * 1024, "oidc_filter.wasm is {size} bytes");
}
