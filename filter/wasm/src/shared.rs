//! The engine's shared-data port on proxy-wasm `proxy_get_shared_data` / `proxy_set_shared_data`.
//!
//! These two imports are called directly rather than through the SDK's wrappers, which abort the VM
//! on any status they do not expect. Shared data is the one place where hosts really differ (Kong
//! refuses writes without an `shm_kv` zone), and every failure here must degrade to "fetch alone".

use oidc_filter_core::shared::{SharedError, SharedStore};

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
}

/// proxy-wasm ABI v0.2.1 `proxy_status_t` values used here.
const STATUS_OK: u32 = 0;
const STATUS_CAS_MISMATCH: u32 = 8;

pub(crate) struct HostShared;

impl SharedStore for HostShared {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        let mut data: *mut u8 = std::ptr::null_mut();
        let mut size: usize = 0;
        let mut cas: u32 = 0;
        // SAFETY: the key is a live slice; the out-pointers are valid locals for the call.
        let status = unsafe {
            proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas)
        };
        if status != STATUS_OK {
            return None;
        }
        if data.is_null() || size == 0 {
            return Some((Vec::new(), cas));
        }
        // SAFETY: on OK the host copied `size` bytes into memory it obtained from this module's
        // `proxy_on_memory_allocate` (the SDK's export, backed by the global allocator with a
        // byte-aligned `Vec<u8>` of exactly that capacity); ownership passes to us here.
        let value = unsafe { Vec::from_raw_parts(data, size, size) };
        Some((value, cas))
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), SharedError> {
        // SAFETY: key and value are live slices for the duration of the call.
        let status = unsafe {
            proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas)
        };
        match status {
            STATUS_OK => Ok(()),
            STATUS_CAS_MISMATCH => Err(SharedError::CasMismatch),
            _ => Err(SharedError::Unavailable),
        }
    }
}
