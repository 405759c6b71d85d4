//! The proxy-wasm ABI v0.2.1 imports and the WASI preview1 subset, registered on a wasmtime
//! `Linker`. Each import is a thin shim (`imports`, `wasi`) that decodes arguments, reads guest
//! memory through `memory`, and delegates to a plain method of `ProxyHost` (`host`; the header
//! maps and buffers in `stream`), which knows nothing of wasmtime. Hostcalls never re-enter the
//! guest except to allocate result memory: stream continuations, local responses and context
//! ends are recorded as `Action`s and applied by the runtime after the callback returns.

mod host;
mod imports;
mod imports_io;
pub mod map;
pub mod memory;
mod properties;
mod stream;
mod wasi;

use std::sync::{Arc, Mutex};

pub use host::{Action, Logger, PluginInfo, ProxyHost, StreamType};
pub use imports::register;
pub use stream::{map_type, CallResponse, StreamData};
pub use wasi::stub_missing_wasi;

/// `proxy_status_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Status {
    Ok = 0,
    NotFound = 1,
    BadArgument = 2,
    SerializationFailure = 3,
    ParseFailure = 4,
    InvalidMemoryAccess = 6,
    Empty = 7,
    CasMismatch = 8,
    InternalFailure = 10,
    Unimplemented = 12,
}

impl Status {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// `proxy_log_level_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Critical = 5,
}

impl LogLevel {
    pub fn from_abi(v: i32) -> Option<Self> {
        Some(match v {
            0 => Self::Trace,
            1 => Self::Debug,
            2 => Self::Info,
            3 => Self::Warn,
            4 => Self::Error,
            5 => Self::Critical,
            _ => return None,
        })
    }
}

/// One line a guest logged (through `proxy_log` or stdout/stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: LogLevel,
    pub worker: usize,
    pub message: String,
}

/// Collects guest log lines for the test kit, besides sending them to `tracing`.
#[derive(Debug, Default)]
pub struct LogSink {
    lines: Mutex<Vec<LogLine>>,
}

impl LogSink {
    pub fn push(&self, line: LogLine) {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }
    pub fn lines(&self) -> Vec<LogLine> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The data of one wasmtime `Store`: the plain host plus the handles the shims need.
pub struct HostState {
    pub host: ProxyHost,
    pub(crate) memory: Option<wasmtime::Memory>,
    /// Shared rather than cloned per call: a `TypedFunc` clone also clones its registered type,
    /// a cost every hostcall that returns a value would pay.
    pub(crate) alloc: Option<std::sync::Arc<wasmtime::TypedFunc<i32, i32>>>,
    pub(crate) limiter: wasmtime::StoreLimits,
    /// The result buffer hostcalls fill before copying into the guest, kept between calls.
    pub(crate) scratch: Vec<u8>,
}

impl HostState {
    pub fn new(host: ProxyHost, max_memory_bytes: usize) -> Self {
        let limiter = wasmtime::StoreLimitsBuilder::new()
            .memory_size(max_memory_bytes)
            .instances(1)
            .build();
        Self {
            host,
            memory: None,
            alloc: None,
            limiter,
            scratch: Vec::new(),
        }
    }
}

/// Error returned from `proc_exit`: unwinds the guest like a trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcExit(pub i32);

impl std::fmt::Display for ProcExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "guest called proc_exit({})", self.0)
    }
}

impl std::error::Error for ProcExit {}

/// Shared handle kept by the runtime for every worker's guests.
pub type SharedLogSink = Arc<LogSink>;
