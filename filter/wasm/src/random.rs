//! The engine's random source: WASI `random_get`, the one import std itself uses for randomness
//! on wasm32-wasip1 (Envoy, Kong and our host all provide it). On other targets there is none, and
//! logins fail closed.

use oidc_filter_core::entropy::{Entropy, EntropyError};

pub(crate) struct WasiRandom;

#[cfg(target_os = "wasi")]
#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn random_get(buf: *mut u8, buf_len: usize) -> u16;
}

impl Entropy for WasiRandom {
    #[cfg(target_os = "wasi")]
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
        // SAFETY: `buf` is a live, writable slice of exactly `buf.len()` bytes for the call.
        let errno = unsafe { random_get(buf.as_mut_ptr(), buf.len()) };
        if errno == 0 {
            Ok(())
        } else {
            Err(EntropyError)
        }
    }

    #[cfg(not(target_os = "wasi"))]
    fn fill(&mut self, _buf: &mut [u8]) -> Result<(), EntropyError> {
        Err(EntropyError)
    }
}
