//! proxy-wasm adapter (see DESIGN.md).
