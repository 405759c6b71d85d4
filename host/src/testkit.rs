//! A deterministic driver for a real filter `.wasm`: a `ManualClock`, scripted callout answers
//! and no sockets. Every step waits until the workers have handled everything it caused, so the
//! same script gives the same outcome every run. Golden cases run through it as
//! `TestKit::new(wasm, config, 1)?.request(&headers)`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::abi::{LogLine, LogSink};
use crate::clock::{Clock, ManualClock};
use crate::limits::Limits;
use crate::runtime::{
    Callout, CalloutResult, CalloutSender, FilterFailure, Hooks, LocalResponse, Pool, PoolConfig,
    StartError, Stream, Verdict,
};

type Responder = Box<dyn FnMut(&Callout) -> Option<CalloutResult> + Send>;
type Done = Box<dyn FnOnce(CalloutResult) + Send>;

struct PendingCall {
    call: Callout,
    deadline: Duration,
    done: Done,
}

#[derive(Default)]
struct Script {
    pending: Vec<PendingCall>,
    made: usize,
    responder: Option<Responder>,
}

/// The test kit's `CalloutSender`: records every call and answers only when told to.
pub struct ScriptedCallouts {
    clock: Arc<ManualClock>,
    script: Mutex<Script>,
}

impl ScriptedCallouts {
    fn lock(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CalloutSender for ScriptedCallouts {
    fn send(&self, call: Callout, done: Box<dyn FnOnce(CalloutResult) + Send>) {
        let deadline = self.clock.now_monotonic() + call.timeout;
        let mut s = self.lock();
        s.made += 1;
        s.pending.push(PendingCall {
            call,
            deadline,
            done,
        });
    }
}

/// How a request (or response) phase ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The status the client gets when the filter answered itself (local response, or 503 when
    /// the filter failed); `None` when the request goes on to the upstream or is still paused.
    pub status: Option<u16>,
    /// The headers the upstream sees, when the filter let the request through.
    pub upstream_headers: Option<Vec<(String, String)>>,
    pub local_response: Option<LocalResponse>,
    pub failure: Option<FilterFailure>,
    /// The filter paused and nothing scripted resumed it.
    pub paused: bool,
}

impl Outcome {
    pub fn allowed(&self) -> bool {
        self.upstream_headers.is_some()
    }
    /// The first value of `name` the upstream sees (case-insensitive).
    pub fn upstream_header(&self, name: &str) -> Option<&str> {
        self.upstream_headers
            .as_ref()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The first value of `name` in the local response (case-insensitive).
    pub fn response_header(&self, name: &str) -> Option<&str> {
        self.local_response
            .as_ref()?
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The outcome of a headers phase that was given `given`.
    fn from_result(r: crate::runtime::HeadersVerdict, given: &[(String, String)]) -> Self {
        let mut o = Outcome {
            status: None,
            upstream_headers: None,
            local_response: None,
            failure: None,
            paused: false,
        };
        match r {
            Ok(Verdict::Continue(h)) => {
                o.upstream_headers = Some(h.unwrap_or_else(|| given.to_vec()));
            }
            Ok(Verdict::Respond(lr)) => {
                o.status = Some(lr.status);
                o.local_response = Some(lr);
            }
            Err(f) => {
                o.status = Some(503);
                o.failure = Some(f);
            }
        }
        o
    }

    fn paused() -> Self {
        Outcome {
            status: None,
            upstream_headers: None,
            local_response: None,
            failure: None,
            paused: true,
        }
    }
}

/// A request whose outcome may still be pending; keeping it keeps the stream open.
pub struct PendingRequest {
    stream: Stream,
    /// The request headers as given, which go upstream when the filter changes nothing.
    given: Vec<(String, String)>,
    answer: crate::runtime::HeadersAnswer,
    outcome: Option<Outcome>,
}

impl PendingRequest {
    /// The stream's proxy-wasm context id.
    pub fn context_id(&self) -> u32 {
        self.stream.context_id()
    }
}

/// Options for a test kit; `TestKit::new` covers the common case.
pub struct TestKitBuilder {
    cfg: PoolConfig,
    clock: Arc<ManualClock>,
}

impl TestKitBuilder {
    pub fn plugin_config(mut self, json: impl Into<Vec<u8>>) -> Self {
        self.cfg.plugin_config = json.into();
        self
    }
    pub fn vm_config(mut self, v: impl Into<Vec<u8>>) -> Self {
        self.cfg.vm_config = v.into();
        self
    }
    pub fn workers(mut self, n: usize) -> Self {
        self.cfg.workers = n;
        self
    }
    pub fn limits(mut self, limits: Limits) -> Self {
        self.cfg.limits = limits;
        self
    }
    pub fn plugin_name(mut self, name: &str) -> Self {
        self.cfg.plugin_name = name.to_string();
        self
    }
    /// Wall-clock start time, in seconds since the Unix epoch.
    pub fn start_at_unix_secs(self, secs: u64) -> Self {
        self.clock
            .set(std::time::UNIX_EPOCH + Duration::from_secs(secs));
        self
    }
    pub fn start(self) -> Result<TestKit, StartError> {
        let callouts = Arc::new(ScriptedCallouts {
            clock: self.clock.clone(),
            script: Mutex::new(Script::default()),
        });
        let logs = Arc::new(LogSink::default());
        let mut cfg = self.cfg;
        cfg.clock = self.clock.clone();
        cfg.callouts = callouts.clone();
        let pool = Pool::start_with(
            cfg,
            Hooks {
                log_sink: Some(logs.clone()),
            },
        )?;
        Ok(TestKit {
            pool,
            clock: self.clock,
            callouts,
            logs,
        })
    }
}

/// Drives a real filter deterministically.
pub struct TestKit {
    pool: Pool,
    clock: Arc<ManualClock>,
    callouts: Arc<ScriptedCallouts>,
    logs: Arc<LogSink>,
}

/// Bound on settle rounds, so a filter that dispatches forever cannot hang a test.
const MAX_SETTLE_ROUNDS: usize = 1000;

impl TestKit {
    /// Starts `workers` instances of `wasm` with `plugin_config`, at a fixed time
    /// (2023-11-14T22:13:20Z, Unix 1_700_000_000).
    pub fn new(wasm: &[u8], plugin_config: &str, workers: usize) -> Result<TestKit, StartError> {
        Self::builder(wasm)
            .plugin_config(plugin_config)
            .workers(workers)
            .start()
    }

    pub fn builder(wasm: &[u8]) -> TestKitBuilder {
        let clock = Arc::new(ManualClock::at_unix_secs(1_700_000_000));
        let callouts = Arc::new(ScriptedCallouts {
            clock: clock.clone(),
            script: Mutex::new(Script::default()),
        });
        TestKitBuilder {
            cfg: PoolConfig {
                wasm: wasm.to_vec(),
                plugin_config: Vec::new(),
                vm_config: Vec::new(),
                plugin_name: "oidc".to_string(),
                root_id: "oidc".to_string(),
                workers: 1,
                limits: Limits::default(),
                clock: clock.clone(),
                callouts,
            },
            clock,
        }
    }

    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Answers every future callout this function returns `Some` for, as soon as it is made.
    pub fn respond_with(&self, f: impl FnMut(&Callout) -> Option<CalloutResult> + Send + 'static) {
        self.callouts.lock().responder = Some(Box::new(f));
        self.settle();
    }

    /// A request with these headers (pseudo-headers included) and no body, run until the filter
    /// decides or pauses with nothing scripted to resume it. The stream then ends.
    pub fn request(&self, headers: &[(&str, &str)]) -> Outcome {
        let mut p = self.start_request(headers);
        self.outcome(&mut p)
    }

    /// Starts a request and leaves the stream open; see `outcome`.
    pub fn start_request(&self, headers: &[(&str, &str)]) -> PendingRequest {
        let source = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);
        let stream = self.pool.stream(Some(source));
        let given: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let answer = stream.submit_request_headers(given.clone(), true);
        PendingRequest {
            stream,
            given,
            answer,
            outcome: None,
        }
    }

    /// Settles and returns the request's outcome (paused if the filter still waits).
    pub fn outcome(&self, p: &mut PendingRequest) -> Outcome {
        if let Some(o) = &p.outcome {
            return o.clone();
        }
        self.settle();
        match p.answer.try_recv() {
            Ok(r) => {
                let o = Outcome::from_result(r, &p.given);
                p.outcome = Some(o.clone());
                o
            }
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => Outcome::paused(),
            Err(tokio::sync::oneshot::error::TryRecvError::Closed) => {
                Outcome::from_result(Err(FilterFailure::WorkerGone), &p.given)
            }
        }
    }

    /// Runs the response-headers phase of an allowed request.
    pub fn response(&self, p: &PendingRequest, headers: &[(&str, &str)]) -> Outcome {
        let given: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut rx = p.stream.submit_response_headers(given.clone(), true);
        self.settle();
        match rx.try_recv() {
            Ok(r) => Outcome::from_result(r, &given),
            Err(_) => Outcome::paused(),
        }
    }

    /// The callouts made and not yet answered, oldest first.
    pub fn pending_callouts(&self) -> Vec<Callout> {
        self.callouts
            .lock()
            .pending
            .iter()
            .map(|p| p.call.clone())
            .collect()
    }

    /// Answers the pending callouts `f` returns `Some` for; returns how many were answered.
    pub fn answer_callouts(&self, mut f: impl FnMut(&Callout) -> Option<CalloutResult>) -> usize {
        let n = self.answer_where(|c| f(c));
        self.settle();
        n
    }

    /// Number of callouts the filter has made so far.
    pub fn callouts_made(&self) -> usize {
        self.callouts.lock().made
    }

    /// Moves the clock forward: callouts past their timeout fail with reason "timeout", due ticks fire.
    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
        let now = self.clock.now_monotonic();
        let expired: Vec<PendingCall> = {
            let mut s = self.callouts.lock();
            let (gone, keep) = std::mem::take(&mut s.pending)
                .into_iter()
                .partition(|p| p.deadline <= now);
            s.pending = keep;
            gone
        };
        for p in expired {
            (p.done)(CalloutResult::Failed {
                reason: "timeout".to_string(),
            });
        }
        self.settle();
    }

    /// Value of a metric by name (counters summed across workers).
    pub fn metric(&self, name: &str) -> Option<u64> {
        self.pool
            .metrics()
            .into_iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }

    /// Everything the guests logged so far.
    pub fn logs(&self) -> Vec<LogLine> {
        self.logs.lines()
    }

    fn answer_where(&self, mut f: impl FnMut(&Callout) -> Option<CalloutResult>) -> usize {
        let answered: Vec<(Done, CalloutResult)> = {
            let mut s = self.callouts.lock();
            let mut keep = Vec::new();
            let mut out = Vec::new();
            for p in std::mem::take(&mut s.pending) {
                match f(&p.call) {
                    Some(r) => out.push((p.done, r)),
                    None => keep.push(p),
                }
            }
            s.pending = keep;
            out
        };
        let n = answered.len();
        for (done, r) in answered {
            done(r);
        }
        n
    }

    /// Lets every worker handle what is queued (ticks due included), answering callouts with
    /// the responder, until nothing more happens.
    pub fn settle(&self) {
        for _ in 0..MAX_SETTLE_ROUNDS {
            self.pool.run_due_timers();
            self.pool.run_due_timers();
            let mut responder = self.callouts.lock().responder.take();
            let n = match responder.as_mut() {
                Some(r) => self.answer_where(|c| r(c)),
                None => 0,
            };
            if let Some(r) = responder {
                self.callouts.lock().responder = Some(r);
            }
            if n == 0 {
                return;
            }
        }
    }
}
