//! Test material shared by the core's tests, the host's test kit and end-to-end tests, and the
//! benchmarks: fixed signing keys, token minting from claim sets, IdP profiles and golden cases.
//! Never linked into the filter or the host binary.

pub mod golden;
pub mod keys;

pub use keys::TestKey;

use std::path::PathBuf;

/// The `testdata/` directory.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixed "now" for minted tokens and test clocks: 2026-01-01T00:00:00Z.
pub const NOW: u64 = 1_767_225_600;
