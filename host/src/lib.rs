//! Native proxy-wasm host.
