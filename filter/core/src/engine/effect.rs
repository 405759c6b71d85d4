//! What the engine hands the adapter: effects to carry out, the fetches among them, and the
//! answers the adapter feeds back.

use std::fmt;
use std::time::Duration;

use crate::audit::{Audit, Metric};
use crate::decision::Decision;

use super::{FetchId, RequestId};

/// An outbound HTTP call the adapter should dispatch (`dispatch_http_call`): a GET for discovery
/// and key sets, a form POST for the token and introspection endpoints.
#[derive(Clone, PartialEq, Eq)]
pub struct Fetch {
    pub id: FetchId,
    /// The callout target: an Envoy cluster name or `host:port` (Kong, our host).
    pub upstream: String,
    /// `:scheme` (`https` asks Kong's ngx_wasm_module for TLS).
    pub scheme: &'static str,
    pub authority: String,
    pub path: String,
    pub timeout: Duration,
    /// `:method`: `GET` or `POST`.
    pub method: &'static str,
    /// Headers besides the pseudo-headers (`content-type`, `authorization` for
    /// `client_secret_basic`). Empty for GETs: the adapter adds `accept` and `user-agent`.
    pub headers: Vec<(String, String)>,
    /// The request body; empty for GETs.
    pub body: Vec<u8>,
}

/// Debug never shows header values or the body: they carry client secrets, codes and tokens.
impl fmt::Debug for Fetch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Fetch")
            .field("id", &self.id)
            .field("upstream", &self.upstream)
            .field("method", &self.method)
            .field("scheme", &self.scheme)
            .field("authority", &self.authority)
            .field("path", &self.path)
            .field("timeout", &self.timeout)
            .field("headers", &names)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// The answer to a fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchResult {
    /// The response status and body.
    Response { status: u16, body: Vec<u8> },
    /// No response: dispatch refused, connection failed, timed out.
    Failed(String),
}

/// A log line's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// Something the adapter must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Fetch(Fetch),
    /// The decision for a request that was paused.
    Resolve {
        request: RequestId,
        decision: Decision,
    },
    Log {
        level: Level,
        message: String,
    },
    /// One audit record (JSON) per decision.
    Audit(Audit),
    Count(Metric),
}
