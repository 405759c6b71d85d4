//! Native proxy-wasm host.

pub mod abi;
pub mod clock;
pub mod limits;
pub mod runtime;
#[cfg(feature = "testkit")]
pub mod testkit;

// Proxy, callouts, configuration, admin and demo.
pub mod admin;
pub mod callout;
pub mod config;
pub mod demo;
pub mod echo;
pub mod embedded;
pub mod issuer;
pub mod logs;
pub mod proxy;
