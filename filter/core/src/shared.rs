//! The port to host-wide shared data (proxy-wasm `get/set_shared_data`), through which worker VMs
//! share fetched key sets and the lease that says who is fetching. The core calls it synchronously,
//! as it would a clock; it never assumes the store works: every failure degrades to "fetch alone".

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Why a write did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedError {
    /// Someone wrote the key since we read it.
    CasMismatch,
    /// The host has no shared data (or no zone for the key, as in Kong without `shm_kv`).
    Unavailable,
}

/// Host-wide key/value data with compare-and-swap, as proxy-wasm ABI v0.2.1 defines it:
/// a `cas` of 0 writes unconditionally; a non-zero `cas` must equal the current one.
pub trait SharedStore {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)>;
    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), SharedError>;
}

/// A store that holds nothing, for hosts without shared data: every worker fetches for itself.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoShared;

impl SharedStore for NoShared {
    fn get(&self, _key: &str) -> Option<(Vec<u8>, u32)> {
        None
    }
    fn set(&mut self, _key: &str, _value: &[u8], _cas: u32) -> Result<(), SharedError> {
        Err(SharedError::Unavailable)
    }
}

/// An in-memory store with the ABI's semantics. Clones share the same data, so several engines in a
/// test (or a benchmark) behave like worker VMs on one host.
/// Value and CAS token per key.
type Entries = HashMap<String, (Vec<u8>, u32)>;

#[derive(Debug, Default, Clone)]
pub struct MemoryShared {
    inner: Rc<RefCell<Entries>>,
}

impl MemoryShared {
    pub fn new() -> Self {
        Self::default()
    }
}

impl SharedStore for MemoryShared {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.inner.borrow().get(key).cloned()
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), SharedError> {
        let mut map = self.inner.borrow_mut();
        let current = map.get(key).map_or(0, |(_, c)| *c);
        if cas != 0 && cas != current {
            return Err(SharedError::CasMismatch);
        }
        map.insert(
            key.to_string(),
            (value.to_vec(), current.wrapping_add(1).max(1)),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_refuses_a_stale_cas() {
        let mut a = MemoryShared::new();
        let mut b = a.clone();
        a.set("k", b"1", 0).unwrap();
        let (_, cas) = b.get("k").unwrap();
        a.set("k", b"2", cas).unwrap();
        assert_eq!(b.set("k", b"3", cas), Err(SharedError::CasMismatch));
        assert_eq!(b.get("k").unwrap().0, b"2");
    }
}
