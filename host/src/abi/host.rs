//! `ProxyHost`: the plain-Rust side of every hostcall. It owns the per-instance state (contexts,
//! header maps, buffers, pending callouts, recorded actions) and answers with `Status`; it never
//! touches guest memory or wasmtime.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{LogLevel, LogLine, LogSink, Status};
use crate::clock::Clock;
use crate::limits::Limits;
use crate::runtime::{Callout, CalloutResult, CalloutSender, Inbox, LocalResponse, Msg, Shared};

/// The plugin as configured.
#[derive(Debug, Clone, Default)]
pub struct PluginInfo {
    pub name: String,
    pub root_id: String,
    pub vm_id: String,
    pub plugin_config: Vec<u8>,
    pub vm_config: Vec<u8>,
}

/// `proxy_stream_type_t` for HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamType {
    Request,
    Response,
}

/// Something a hostcall asked for, applied by the runtime once the callback has returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Continue {
        context: u32,
        stream: StreamType,
    },
    LocalResponse {
        context: u32,
        response: LocalResponse,
    },
    Close {
        context: u32,
        stream: StreamType,
    },
    Done {
        context: u32,
    },
}

/// The HTTP state of one stream context.
#[derive(Debug, Clone, Default)]
pub struct StreamData {
    pub request_headers: Vec<(String, String)>,
    pub request_body: Vec<u8>,
    pub request_trailers: Vec<(String, String)>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Vec<u8>,
    pub response_trailers: Vec<(String, String)>,
    pub source: Option<SocketAddr>,
    /// Properties set by the proxy or by the guest (`proxy_set_property`), keyed by dotted path.
    pub properties: HashMap<String, Vec<u8>>,
    /// The four header maps a hostcall may have changed since the proxy gave them (bit
    /// `1 << map_type`): a phase that left its map alone answers "unchanged", and the proxy
    /// keeps its own copy instead of rebuilding one from the pairs.
    edited: u8,
}

impl StreamData {
    /// A new stream from `source`, with nothing given yet.
    pub fn new(source: Option<SocketAddr>) -> StreamData {
        StreamData {
            source,
            ..StreamData::default()
        }
    }

    /// Gives the filter `pairs` as `map`, one of the four stream header maps, not yet changed.
    pub fn give(&mut self, map: i32, pairs: Vec<(String, String)>) {
        if let Some(slot) = self.stream_map(map) {
            *slot = pairs;
            self.edited &= !(1 << map);
        }
    }

    /// The pairs of `map` (one of the four stream header maps) when a hostcall may have
    /// changed them since they were given; `None` when none did.
    pub fn changed(&self, map: i32) -> Option<&Vec<(String, String)>> {
        use map_type::*;
        if self.edited & (1 << map) == 0 {
            return None;
        }
        match map {
            REQUEST_HEADERS => Some(&self.request_headers),
            REQUEST_TRAILERS => Some(&self.request_trailers),
            RESPONSE_HEADERS => Some(&self.response_headers),
            RESPONSE_TRAILERS => Some(&self.response_trailers),
            _ => None,
        }
    }

    /// One of the four stream header maps, for a change: it counts as edited from here on.
    fn edit(&mut self, map: i32) -> Option<&mut Vec<(String, String)>> {
        self.edited |= 1 << map;
        self.stream_map(map)
    }

    fn stream_map(&mut self, map: i32) -> Option<&mut Vec<(String, String)>> {
        use map_type::*;
        match map {
            REQUEST_HEADERS => Some(&mut self.request_headers),
            REQUEST_TRAILERS => Some(&mut self.request_trailers),
            RESPONSE_HEADERS => Some(&mut self.response_headers),
            RESPONSE_TRAILERS => Some(&mut self.response_trailers),
            _ => None,
        }
    }
}

/// The callout answer being delivered in `proxy_on_http_call_response`.
#[derive(Debug, Clone, Default)]
pub struct CallResponse {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
}

/// Where guest logs go: `tracing`, plus an optional capture for start errors and the test kit.
pub struct Logger {
    pub plugin: String,
    pub worker: usize,
    /// Lines kept while the instance starts, to explain a refusal.
    pub capture: Option<Vec<String>>,
    pub sink: Option<Arc<LogSink>>,
    unimplemented: HashSet<&'static str>,
}

impl Logger {
    pub fn new(plugin: String, worker: usize, sink: Option<Arc<LogSink>>) -> Self {
        Self {
            plugin,
            worker,
            capture: None,
            sink,
            unimplemented: HashSet::new(),
        }
    }

    pub fn log(&mut self, level: LogLevel, message: &str) {
        let (plugin, worker) = (self.plugin.as_str(), self.worker);
        match level {
            LogLevel::Trace => tracing::trace!(plugin, worker, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, worker, "{message}"),
            LogLevel::Info => tracing::info!(plugin, worker, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, worker, "{message}"),
            LogLevel::Error | LogLevel::Critical => tracing::error!(plugin, worker, "{message}"),
        }
        if let Some(c) = &mut self.capture {
            c.push(message.to_string());
        }
        if let Some(s) = &self.sink {
            s.push(LogLine {
                level,
                worker,
                message: message.to_string(),
            });
        }
    }

    /// Whether a line at `level` goes anywhere: to a capture, a sink, or `tracing` at its level.
    pub fn enabled(&self, level: LogLevel) -> bool {
        self.capture.is_some() || level >= self.level()
    }

    /// The level below which the host discards guest logs: everything when a sink captures
    /// logs (the test kit), else `tracing`'s global maximum.
    pub fn level(&self) -> LogLevel {
        use tracing::level_filters::LevelFilter;
        if self.sink.is_some() {
            return LogLevel::Trace;
        }
        match LevelFilter::current() {
            LevelFilter::TRACE => LogLevel::Trace,
            LevelFilter::DEBUG => LogLevel::Debug,
            LevelFilter::INFO => LogLevel::Info,
            LevelFilter::WARN => LogLevel::Warn,
            LevelFilter::ERROR => LogLevel::Error,
            _ => LogLevel::Critical,
        }
    }

    /// Logs the first use of an import this host does not implement.
    pub fn unimplemented(&mut self, name: &'static str) {
        if self.unimplemented.insert(name) {
            tracing::warn!(plugin = %self.plugin, import = name, "filter called an unimplemented proxy-wasm import");
        }
    }
}

/// Per-instance host state behind the hostcalls.
pub struct ProxyHost {
    pub plugin: Arc<PluginInfo>,
    pub generation: u64,
    pub clock: Arc<dyn Clock>,
    pub shared: Arc<Shared>,
    pub limits: Limits,
    pub callouts: Arc<dyn CalloutSender>,
    pub(crate) inbox: Inbox,
    pub log: Logger,
    pub root_context: u32,
    /// The context hostcalls act on; reset to the callback's own context by the runtime.
    pub effective: u32,
    pub streams: HashMap<u32, StreamData>,
    pub call_response: Option<CallResponse>,
    pub foreign_args: Option<Vec<u8>>,
    pub actions: Vec<Action>,
    pub tick_period: Option<Duration>,
    pub tick_dirty: bool,
    next_call_id: u32,
    /// In-flight callouts: call id -> dispatching context.
    pub calls: HashMap<u32, u32>,
    /// Contexts whose `proxy_on_done` returned false.
    pub awaiting_done: HashSet<u32>,
}

/// `proxy_map_type_t` values.
pub mod map_type {
    pub const REQUEST_HEADERS: i32 = 0;
    pub const REQUEST_TRAILERS: i32 = 1;
    pub const RESPONSE_HEADERS: i32 = 2;
    pub const RESPONSE_TRAILERS: i32 = 3;
    pub const GRPC_INITIAL_METADATA: i32 = 4;
    pub const GRPC_TRAILING_METADATA: i32 = 5;
    pub const HTTP_CALL_RESPONSE_HEADERS: i32 = 6;
    pub const HTTP_CALL_RESPONSE_TRAILERS: i32 = 7;
}

/// `proxy_buffer_type_t` values.
pub mod buffer_type {
    pub const HTTP_REQUEST_BODY: i32 = 0;
    pub const HTTP_RESPONSE_BODY: i32 = 1;
    pub const DOWNSTREAM_DATA: i32 = 2;
    pub const UPSTREAM_DATA: i32 = 3;
    pub const HTTP_CALL_RESPONSE_BODY: i32 = 4;
    pub const GRPC_CALL_MESSAGE: i32 = 5;
    pub const VM_CONFIGURATION: i32 = 6;
    pub const PLUGIN_CONFIGURATION: i32 = 7;
    pub const FOREIGN_FUNCTION_ARGUMENTS: i32 = 8;
}

impl ProxyHost {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        plugin: Arc<PluginInfo>,
        generation: u64,
        clock: Arc<dyn Clock>,
        shared: Arc<Shared>,
        limits: Limits,
        callouts: Arc<dyn CalloutSender>,
        inbox: Inbox,
        log: Logger,
    ) -> Self {
        Self {
            plugin,
            generation,
            clock,
            shared,
            limits,
            callouts,
            inbox,
            log,
            root_context: 1,
            effective: 1,
            streams: HashMap::new(),
            call_response: None,
            foreign_args: None,
            actions: Vec::new(),
            tick_period: None,
            tick_dirty: false,
            next_call_id: 0,
            calls: HashMap::new(),
            awaiting_done: HashSet::new(),
        }
    }

    fn stream(&self) -> Result<&StreamData, Status> {
        self.streams.get(&self.effective).ok_or(Status::NotFound)
    }

    fn stream_mut(&mut self) -> Result<&mut StreamData, Status> {
        self.streams
            .get_mut(&self.effective)
            .ok_or(Status::NotFound)
    }

    fn map_ref(&self, map: i32) -> Result<&Vec<(String, String)>, Status> {
        use map_type::*;
        match map {
            REQUEST_HEADERS => Ok(&self.stream()?.request_headers),
            REQUEST_TRAILERS => Ok(&self.stream()?.request_trailers),
            RESPONSE_HEADERS => Ok(&self.stream()?.response_headers),
            RESPONSE_TRAILERS => Ok(&self.stream()?.response_trailers),
            HTTP_CALL_RESPONSE_HEADERS => {
                Ok(&self.call_response.as_ref().ok_or(Status::NotFound)?.headers)
            }
            HTTP_CALL_RESPONSE_TRAILERS => Ok(&self
                .call_response
                .as_ref()
                .ok_or(Status::NotFound)?
                .trailers),
            GRPC_INITIAL_METADATA | GRPC_TRAILING_METADATA => Err(Status::NotFound),
            _ => Err(Status::BadArgument),
        }
    }

    fn map_mut(&mut self, map: i32) -> Result<&mut Vec<(String, String)>, Status> {
        use map_type::*;
        match map {
            REQUEST_HEADERS | REQUEST_TRAILERS | RESPONSE_HEADERS | RESPONSE_TRAILERS => {
                self.stream_mut()?.edit(map).ok_or(Status::BadArgument)
            }
            // Callout responses are read-only for the guest.
            HTTP_CALL_RESPONSE_HEADERS | HTTP_CALL_RESPONSE_TRAILERS => Err(Status::BadArgument),
            GRPC_INITIAL_METADATA | GRPC_TRAILING_METADATA => Err(Status::NotFound),
            _ => Err(Status::BadArgument),
        }
    }

    pub fn get_header_map_pairs(&self, map: i32) -> Result<Vec<(String, String)>, Status> {
        self.map_ref(map).cloned()
    }

    /// The pairs of `map`, borrowed (what `get_header_map_pairs` copies).
    pub fn header_map(&self, map: i32) -> Result<&[(String, String)], Status> {
        self.map_ref(map).map(Vec::as_slice)
    }

    pub fn set_header_map_pairs(
        &mut self,
        map: i32,
        pairs: Vec<(String, String)>,
    ) -> Result<(), Status> {
        *self.map_mut(map)? = pairs;
        Ok(())
    }

    /// The first value of `key` (names compare case-insensitively).
    pub fn get_header_map_value(&self, map: i32, key: &str) -> Result<String, Status> {
        self.header_map_value(map, key).map(str::to_string)
    }

    /// The first value of `key`, borrowed (what `get_header_map_value` copies).
    pub fn header_map_value(&self, map: i32, key: &str) -> Result<&str, Status> {
        self.map_ref(map)?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .ok_or(Status::NotFound)
    }

    pub fn add_header_map_value(&mut self, map: i32, key: &str, value: &str) -> Result<(), Status> {
        self.map_mut(map)?
            .push((key.to_string(), value.to_string()));
        Ok(())
    }

    /// Replaces every value of `key` with one (adds it when absent), as Envoy's `setCopy`.
    pub fn replace_header_map_value(
        &mut self,
        map: i32,
        key: &str,
        value: &str,
    ) -> Result<(), Status> {
        let m = self.map_mut(map)?;
        match m.iter().position(|(k, _)| k.eq_ignore_ascii_case(key)) {
            Some(i) => {
                if let Some(slot) = m.get_mut(i) {
                    slot.1 = value.to_string();
                }
                let mut seen = 0usize;
                m.retain(|(k, _)| {
                    if k.eq_ignore_ascii_case(key) {
                        seen += 1;
                        seen == 1
                    } else {
                        true
                    }
                });
            }
            None => m.push((key.to_string(), value.to_string())),
        }
        Ok(())
    }

    pub fn remove_header_map_value(&mut self, map: i32, key: &str) -> Result<(), Status> {
        self.map_mut(map)?
            .retain(|(k, _)| !k.eq_ignore_ascii_case(key));
        Ok(())
    }

    fn buffer_ref(&self, buffer: i32) -> Result<&[u8], Status> {
        use buffer_type::*;
        match buffer {
            HTTP_REQUEST_BODY => Ok(&self.stream()?.request_body),
            HTTP_RESPONSE_BODY => Ok(&self.stream()?.response_body),
            HTTP_CALL_RESPONSE_BODY => {
                Ok(&self.call_response.as_ref().ok_or(Status::NotFound)?.body)
            }
            VM_CONFIGURATION => Ok(&self.plugin.vm_config),
            PLUGIN_CONFIGURATION => Ok(&self.plugin.plugin_config),
            FOREIGN_FUNCTION_ARGUMENTS => self.foreign_args.as_deref().ok_or(Status::NotFound),
            DOWNSTREAM_DATA | UPSTREAM_DATA | GRPC_CALL_MESSAGE => Err(Status::NotFound),
            _ => Err(Status::BadArgument),
        }
    }

    pub fn get_buffer_status(&self, buffer: i32) -> Result<usize, Status> {
        self.buffer_ref(buffer).map(<[u8]>::len)
    }

    /// Up to `max_size` bytes from `start`; a start past the end is `BAD_ARGUMENT`.
    pub fn get_buffer_bytes(
        &self,
        buffer: i32,
        start: u32,
        max_size: u32,
    ) -> Result<Vec<u8>, Status> {
        let mut out = Vec::new();
        self.buffer_bytes_into(buffer, start, max_size, &mut out)?;
        Ok(out)
    }

    /// What `get_buffer_bytes` returns, appended to `out`.
    pub fn buffer_bytes_into(
        &self,
        buffer: i32,
        start: u32,
        max_size: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), Status> {
        let b = self.buffer_ref(buffer)?;
        let start = usize::try_from(start).map_err(|_| Status::BadArgument)?;
        if start > b.len() {
            return Err(Status::BadArgument);
        }
        let max = usize::try_from(max_size).unwrap_or(usize::MAX);
        let end = start.saturating_add(max).min(b.len());
        out.extend_from_slice(b.get(start..end).unwrap_or_default());
        Ok(())
    }

    /// Replaces `size` bytes at `start` with `value` (prepend, append, inject, replace).
    pub fn set_buffer_bytes(
        &mut self,
        buffer: i32,
        start: u32,
        size: u32,
        value: &[u8],
    ) -> Result<(), Status> {
        use buffer_type::*;
        let cap = self.limits.max_body_buffered_bytes;
        let b = match buffer {
            HTTP_REQUEST_BODY => &mut self.stream_mut()?.request_body,
            HTTP_RESPONSE_BODY => &mut self.stream_mut()?.response_body,
            HTTP_CALL_RESPONSE_BODY
            | VM_CONFIGURATION
            | PLUGIN_CONFIGURATION
            | FOREIGN_FUNCTION_ARGUMENTS => return Err(Status::BadArgument),
            DOWNSTREAM_DATA | UPSTREAM_DATA | GRPC_CALL_MESSAGE => return Err(Status::NotFound),
            _ => return Err(Status::BadArgument),
        };
        let start = usize::try_from(start).unwrap_or(usize::MAX).min(b.len());
        let end = start
            .saturating_add(usize::try_from(size).unwrap_or(usize::MAX))
            .min(b.len());
        if b.len() - (end - start) + value.len() > cap {
            return Err(Status::BadArgument);
        }
        b.splice(start..end, value.iter().copied());
        Ok(())
    }

    pub fn continue_stream(&mut self, stream: i32) -> Result<(), Status> {
        let stream = http_stream_type(stream)?;
        let context = self.effective;
        self.stream()?;
        self.actions.push(Action::Continue { context, stream });
        Ok(())
    }

    pub fn close_stream(&mut self, stream: i32) -> Result<(), Status> {
        let stream = http_stream_type(stream)?;
        let context = self.effective;
        self.stream()?;
        self.actions.push(Action::Close { context, stream });
        Ok(())
    }

    pub fn send_local_response(
        &mut self,
        status: u32,
        details: &str,
        body: Vec<u8>,
        headers: Vec<(String, String)>,
    ) -> Result<(), Status> {
        let status = u16::try_from(status)
            .ok()
            .filter(|s| (100..=999).contains(s))
            .ok_or(Status::BadArgument)?;
        let context = self.effective;
        self.stream()?;
        if !details.is_empty() {
            tracing::debug!(plugin = %self.log.plugin, context, status, details, "filter sent a local response");
        }
        self.actions.push(Action::LocalResponse {
            context,
            response: LocalResponse {
                status,
                headers,
                body: body.into(),
            },
        });
        Ok(())
    }

    /// `proxy_done`: the effective context, which returned false from `proxy_on_done`, may go.
    pub fn done(&mut self) -> Result<(), Status> {
        let context = self.effective;
        if !self.awaiting_done.remove(&context) {
            return Err(Status::NotFound);
        }
        self.actions.push(Action::Done { context });
        Ok(())
    }

    pub fn set_effective_context(&mut self, context: u32) -> Result<(), Status> {
        if context == self.root_context || self.streams.contains_key(&context) {
            self.effective = context;
            Ok(())
        } else {
            Err(Status::BadArgument)
        }
    }

    pub fn set_tick_period(&mut self, period_ms: u32) {
        self.tick_period = (period_ms > 0).then(|| Duration::from_millis(u64::from(period_ms)));
        self.tick_dirty = true;
    }

    pub fn current_time_nanos(&self) -> u64 {
        self.clock
            .now_system()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    /// Starts a callout on behalf of the effective context; the answer arrives through the worker inbox.
    pub fn http_call(
        &mut self,
        upstream: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        trailers: Vec<(String, String)>,
        timeout_ms: u32,
    ) -> Result<u32, Status> {
        if upstream.is_empty() {
            return Err(Status::BadArgument);
        }
        // Envoy refuses a call without the pseudo-headers a request line needs.
        for required in [":method", ":path", ":authority"] {
            if !headers.iter().any(|(k, v)| k == required && !v.is_empty()) {
                return Err(Status::BadArgument);
            }
        }
        if self.calls.len() >= self.limits.max_callouts_in_flight {
            return Err(Status::InternalFailure);
        }
        self.next_call_id = self.next_call_id.wrapping_add(1).max(1);
        let call_id = self.next_call_id;
        self.calls.insert(call_id, self.effective);
        let call = Callout {
            upstream,
            headers,
            body,
            trailers,
            timeout: self.limits.callout_timeout(timeout_ms),
        };
        let inbox = self.inbox.clone();
        let generation = self.generation;
        self.callouts.send(
            call,
            Box::new(move |result: CalloutResult| {
                let _ = inbox.send(Msg::CalloutDone {
                    generation,
                    call_id,
                    result,
                });
            }),
        );
        Ok(call_id)
    }

    pub fn register_shared_queue(&mut self, name: &str) -> u32 {
        let owner = crate::runtime::QueueOwner {
            inbox: self.inbox.clone(),
            generation: self.generation,
            context: self.effective,
        };
        self.shared.register_queue(&self.plugin.vm_id, name, owner)
    }
}

fn http_stream_type(v: i32) -> Result<StreamType, Status> {
    match v {
        0 => Ok(StreamType::Request),
        1 => Ok(StreamType::Response),
        // Downstream/upstream are TCP streams, which an HTTP context does not have.
        2 | 3 => Err(Status::NotFound),
        _ => Err(Status::BadArgument),
    }
}
