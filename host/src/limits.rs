//! Every cap the host enforces, each a named constant with the reason for its value, and the
//! `Limits` struct the runtime and proxy read them from.

use std::time::Duration;

/// Request or response header block (names + values) accepted from a client: above it, 431.
/// Matches the common 64 KiB default of Envoy's `max_request_headers_kb` upper range and nginx buffers.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Body bytes the runtime buffers for a filter that stops iteration to buffer: bounds memory per stream.
pub const MAX_BODY_BUFFERED_BYTES: usize = 1024 * 1024;
/// Callout response body accepted from an IdP (discovery, JWKS, token): real ones are a few KiB.
pub const MAX_CALLOUT_RESPONSE_BYTES: usize = 1024 * 1024;
/// Upper bound on a guest-requested callout timeout, so a stuck call cannot pin a context forever.
pub const MAX_CALLOUT_TIMEOUT: Duration = Duration::from_secs(60);
/// Timeout used when the guest passes 0 (no explicit timeout), as Envoy's default for async clients.
pub const DEFAULT_CALLOUT_TIMEOUT: Duration = Duration::from_secs(5);
/// Linear memory one instance may grow to: a filter with caches needs a few MiB, not gigabytes.
pub const MAX_INSTANCE_MEMORY_BYTES: usize = 64 * 1024 * 1024;
/// CPU time one callback may take before it is interrupted: validation takes microseconds, a loop forever.
pub const CALLBACK_DEADLINE: Duration = Duration::from_millis(500);
/// Period of the epoch ticker that enforces the callback deadline (its resolution).
pub const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Callouts in flight per worker: more means the guest is looping on dispatches.
pub const MAX_CALLOUTS_IN_FLIGHT: usize = 1024;
/// Items one shared queue holds before enqueue fails: a queue nobody drains must not grow unbounded.
pub const MAX_SHARED_QUEUE_ITEMS: usize = 10_000;
/// Total bytes of keys and values in shared data: guards the host against a leaking guest.
pub const MAX_SHARED_DATA_BYTES: usize = 64 * 1024 * 1024;
/// Bytes `random_get` serves in one call; larger asks get `INVAL`, as the spec allows.
pub const MAX_RANDOM_BYTES: usize = 64 * 1024;
/// Instance replacements per minute per worker before the worker stops restarting a crash-looping VM.
pub const MAX_RESTARTS_PER_MINUTE: u32 = 30;

/// The caps in force for one pool. `Limits::default()` uses the constants above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_header_bytes: usize,
    pub max_body_buffered_bytes: usize,
    pub max_callout_response_bytes: usize,
    pub max_callout_timeout: Duration,
    pub default_callout_timeout: Duration,
    pub max_instance_memory_bytes: usize,
    pub callback_deadline: Duration,
    pub epoch_tick: Duration,
    pub max_callouts_in_flight: usize,
    pub max_shared_queue_items: usize,
    pub max_shared_data_bytes: usize,
    pub max_restarts_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: MAX_HEADER_BYTES,
            max_body_buffered_bytes: MAX_BODY_BUFFERED_BYTES,
            max_callout_response_bytes: MAX_CALLOUT_RESPONSE_BYTES,
            max_callout_timeout: MAX_CALLOUT_TIMEOUT,
            default_callout_timeout: DEFAULT_CALLOUT_TIMEOUT,
            max_instance_memory_bytes: MAX_INSTANCE_MEMORY_BYTES,
            callback_deadline: CALLBACK_DEADLINE,
            epoch_tick: EPOCH_TICK,
            max_callouts_in_flight: MAX_CALLOUTS_IN_FLIGHT,
            max_shared_queue_items: MAX_SHARED_QUEUE_ITEMS,
            max_shared_data_bytes: MAX_SHARED_DATA_BYTES,
            max_restarts_per_minute: MAX_RESTARTS_PER_MINUTE,
        }
    }
}

impl Limits {
    /// The timeout a callout really gets: 0 means the default; anything is capped.
    pub fn callout_timeout(&self, requested_ms: u32) -> Duration {
        if requested_ms == 0 {
            return self.default_callout_timeout.min(self.max_callout_timeout);
        }
        Duration::from_millis(u64::from(requested_ms)).min(self.max_callout_timeout)
    }
}
