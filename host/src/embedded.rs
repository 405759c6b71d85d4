//! The OIDC filter module built by `build.rs` and embedded in the binary as the default filter.
//! A `filter.wasm` path in the host config overrides it.

/// The bytes of `oidc_filter.wasm` (wasm32-wasip1, proxy-wasm ABI v0.2.1).
pub const FILTER_WASM: &[u8] = include_bytes!(env!("OIDC_FILTER_WASM"));
