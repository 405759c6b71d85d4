//! `ProxyHost`: the plain-Rust side of every hostcall. It owns the per-instance state (contexts,
//! header maps, buffers, pending callouts, recorded actions) and answers with `Status`; it never
//! touches guest memory or wasmtime. The streams' HTTP state and the header-map and buffer
//! hostcalls on it are in `stream`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use super::stream::{CallResponse, StreamData};
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
