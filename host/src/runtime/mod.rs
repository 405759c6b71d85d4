//! The runtime: a pool of worker threads, each owning one wasmtime `Store` and one instance of the
//! filter (a VM per worker, as Envoy runs them), and the `Stream` handle the proxy drives one HTTP
//! exchange through. It owns instance lifecycle, deadlines, memory caps, crash replacement and the
//! delivery of callout answers; it knows nothing of sockets (callouts go through `CalloutSender`).

#[cfg(feature = "testkit")]
mod bench;
mod engine;
mod messages;
mod phases;
mod shared;
mod stream;
mod worker;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use shared::{MetricKind, MetricSample, Shared};
#[cfg(feature = "testkit")]
pub(crate) use stream::HeadersAnswer;
pub use stream::Stream;

pub(crate) use messages::{Inbox, Msg};
pub(crate) use shared::QueueOwner;

/// Starts outbound HTTP calls for the guests.
pub trait CalloutSender: Send + Sync + 'static {
    /// Start an outbound HTTP call; must not block. `done` is called exactly once, from any thread.
    fn send(&self, call: Callout, done: Box<dyn FnOnce(CalloutResult) + Send>);
}

/// One `proxy_http_call` as the guest made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callout {
    /// As the guest gave it: a cluster name or `host:port`.
    pub upstream: String,
    /// Includes `:method`, `:path`, `:authority` and optionally `:scheme`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
    /// Already capped by `Limits::max_callout_timeout`; the sender fails the call after it.
    pub timeout: Duration,
}

/// The answer to a `Callout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalloutResult {
    /// A response arrived; `headers` include `:status`.
    Response {
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        trailers: Vec<(String, String)>,
    },
    /// Unreachable, timeout, TLS error, unknown cluster... The guest sees a response with zero
    /// headers, body and trailers counts; `proxy_get_header_map_pairs` on the response headers
    /// returns the `:dispatch_status` pseudo-header carrying `reason` (as ngx_wasm_module does).
    Failed { reason: String },
}

/// Everything a pool needs to start.
#[derive(Clone)]
pub struct PoolConfig {
    pub wasm: Vec<u8>,
    pub plugin_config: Vec<u8>,
    pub vm_config: Vec<u8>,
    pub plugin_name: String,
    pub root_id: String,
    pub workers: usize,
    pub limits: crate::limits::Limits,
    pub clock: Arc<dyn crate::clock::Clock>,
    pub callouts: Arc<dyn CalloutSender>,
}

/// What the filter decided for one phase of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<T> {
    /// Go on with this. For headers and trailers, `None` when the filter changed nothing: the
    /// caller goes on with what it gave (and need not rebuild it from pairs); `Some` pairs when
    /// a hostcall may have changed them.
    Continue(T),
    /// Answer the client with this instead.
    Respond(LocalResponse),
}

/// A headers or trailers phase's answer: `Continue(None)` when the filter changed nothing.
pub type HeadersVerdict = Result<Verdict<Option<Vec<(String, String)>>>, FilterFailure>;

/// A response the filter produced with `proxy_send_local_response`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: bytes::Bytes,
}

/// Why the filter could not decide; the proxy answers 503 (fail closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterFailure {
    /// The instance trapped (or was replaced after a trap) while holding this stream.
    #[error("filter trapped: {0}")]
    Trapped(String),
    /// A callback ran past `Limits::callback_deadline`.
    #[error("filter callback exceeded its deadline")]
    DeadlineExceeded,
    /// The worker is shut down or could not restart its instance.
    #[error("filter worker is gone")]
    WorkerGone,
}

/// Why a pool did not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("invalid filter module: {0}")]
    Compile(String),
    #[error("filter does not export proxy_abi_version_0_2_1 (found: {found}); only proxy-wasm ABI v0.2.1 is supported")]
    AbiVersion { found: String },
    #[error("cannot instantiate filter: {0}")]
    Instantiate(String),
    #[error("filter refused to start (proxy_on_vm_start returned false): {logs}")]
    VmStartRejected { logs: String },
    #[error("filter rejected its configuration (proxy_on_configure returned false): {logs}")]
    ConfigureRejected { logs: String },
    #[error("filter failed during {phase}: {reason}; filter logs: {logs}")]
    Failed {
        phase: String,
        reason: String,
        logs: String,
    },
    #[error("cannot start worker thread: {0}")]
    Thread(String),
}

/// N worker threads, each with its own instance of the filter.
pub struct Pool {
    workers: Vec<worker::Handle>,
    next: AtomicUsize,
    next_context: Arc<AtomicU32>,
    shared: Arc<Shared>,
    ticker_stop: Arc<AtomicBool>,
}

/// Optional observers a pool reports to (the test kit's log capture).
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) log_sink: Option<Arc<crate::abi::LogSink>>,
}

impl Pool {
    /// Compiles once, starts every worker: `_initialize`/`_start`, `proxy_on_context_create(root)`,
    /// `proxy_on_vm_start`, `proxy_on_configure`. A false from `on_configure` (or a trap) is
    /// `Err(StartError)` whose Display includes what the filter logged.
    pub fn start(cfg: PoolConfig) -> Result<Pool, StartError> {
        Self::start_with(cfg, Hooks::default())
    }

    pub(crate) fn start_with(cfg: PoolConfig, hooks: Hooks) -> Result<Pool, StartError> {
        let compiled = Arc::new(engine::Compiled::new(&cfg)?);
        let shared = Arc::new(Shared::new(cfg.limits.clone()));
        let ticker_stop = Arc::new(AtomicBool::new(false));
        engine::spawn_epoch_ticker(
            compiled.engine.clone(),
            cfg.limits.epoch_tick,
            ticker_stop.clone(),
        )
        .map_err(|e| StartError::Thread(e.to_string()))?;
        let next_context = Arc::new(AtomicU32::new(2));
        let mut workers = Vec::new();
        let mut ready = Vec::new();
        let mut result = Ok(());
        for index in 0..cfg.workers.max(1) {
            match worker::spawn(index, &cfg, &compiled, shared.clone(), hooks.clone()) {
                Ok((h, r)) => {
                    workers.push(h);
                    ready.push(r);
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        for r in ready {
            let booted = r
                .recv()
                .unwrap_or_else(|_| Err(StartError::Thread("worker exited while starting".into())));
            if result.is_ok() {
                result = booted;
            }
        }
        if let Err(e) = result {
            ticker_stop.store(true, Ordering::Relaxed);
            for w in &workers {
                w.send(Msg::Shutdown);
            }
            return Err(e);
        }
        Ok(Pool {
            workers,
            next: AtomicUsize::new(0),
            next_context,
            shared,
            ticker_stop,
        })
    }

    /// A new HTTP stream on the next worker (round robin). `source` feeds `source.address`.
    pub fn stream(&self, source: Option<SocketAddr>) -> Stream {
        self.stream_on(self.next_worker(), source)
    }

    /// A new HTTP stream on worker `worker` (taken modulo the number of workers): the proxy
    /// opens a connection's streams on the worker whose thread runs the connection.
    pub fn stream_on(&self, worker: usize, source: Option<SocketAddr>) -> Stream {
        let context_id = self.next_context.fetch_add(1, Ordering::Relaxed);
        match self.workers.get(worker % self.workers.len().max(1)) {
            Some(w) => Stream::open(w.inbox.clone(), context_id, source),
            None => Stream::detached(context_id),
        }
    }

    /// The next worker in round-robin order, for a new connection or a new stream.
    pub fn next_worker(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.workers.len().max(1)
    }

    /// The runtime of worker `worker`'s thread (modulo the number of workers). Tasks spawned on it
    /// run on the same thread as that worker's filter instance, between its callbacks; a stream
    /// driven from such a task reaches its worker without crossing threads. The runtime stops with
    /// the worker (`shutdown`, drop), dropping the tasks still on it.
    pub fn runtime(&self, worker: usize) -> Option<&tokio::runtime::Handle> {
        self.workers
            .get(worker % self.workers.len().max(1))
            .map(|w| &w.runtime)
    }

    /// Every metric the guests defined plus host metrics, for `/metrics`. Metrics are host-wide,
    /// so a counter incremented on several workers is already summed. A histogram is reported as
    /// two samples, `<name>_count` and `<name>_sum`.
    pub fn metrics(&self) -> Vec<MetricSample> {
        self.shared.metric_samples()
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Asks every worker to fire the ticks that are due by the clock and waits until they have.
    /// The system clock does this by itself; the test kit calls it after advancing a manual clock.
    #[cfg(feature = "testkit")]
    pub(crate) fn run_due_timers(&self) {
        let mut replies = Vec::new();
        for w in &self.workers {
            let (tx, rx) = std::sync::mpsc::channel();
            w.send(Msg::Timers(tx));
            replies.push(rx);
        }
        for rx in replies {
            let _ = rx.recv_timeout(Duration::from_secs(30));
        }
    }

    /// Benchmarks only: runs `requests` (each a stream's open, request headers with end of
    /// stream, close) one after another on the first worker's thread, without the hop from this
    /// thread, and returns the time they took there and each one's status (200 when the filter
    /// let it pass, 0 when it failed). `None` when the worker is gone.
    #[cfg(feature = "testkit")]
    #[doc(hidden)]
    pub fn run_on_worker(
        &self,
        requests: Vec<Vec<(String, String)>>,
        source: Option<SocketAddr>,
    ) -> Option<(Duration, Vec<u16>)> {
        let n = u32::try_from(requests.len()).ok()?;
        let first_context = self.next_context.fetch_add(n, Ordering::Relaxed);
        let (done, rx) = std::sync::mpsc::channel();
        self.workers.first()?.send(Msg::Bench(bench::BenchRun {
            requests,
            source,
            first_context,
            done,
        }));
        rx.recv().ok()
    }

    /// Stops ticks and workers after in-flight streams finish (used on SIGTERM).
    pub async fn shutdown(self) {
        let mut done = Vec::new();
        for w in &self.workers {
            let (tx, rx) = tokio::sync::oneshot::channel();
            w.send(Msg::Drain(tx));
            done.push(rx);
        }
        for rx in done {
            let _ = rx.await;
        }
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
        for w in &self.workers {
            w.send(Msg::Shutdown);
        }
    }
}
