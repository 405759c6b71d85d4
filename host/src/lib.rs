//! Native proxy-wasm host.

pub mod abi;
pub mod clock;
pub mod limits;
pub mod runtime;
#[cfg(feature = "testkit")]
pub mod testkit;
