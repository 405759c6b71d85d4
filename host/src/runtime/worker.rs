//! One worker thread: owns one `Vm` and a single-threaded tokio runtime. The proxy runs the
//! connections it hands to this worker as tasks on that runtime (as an Envoy worker thread owns
//! its connections and its VM), and a stream driven from such a task hands its phases to the
//! worker directly, a plain call on the same thread (`deliver_here`). Everything else reaches the
//! worker through its inbox: streams driven from other threads (the test kit), callout answers,
//! queue notifications, timer pokes. The worker runs the callbacks, applies the actions the
//! hostcalls recorded, and replaces the instance after a trap or a missed deadline, failing the
//! streams it held closed. The messages and replies it deals in are in `messages`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use tokio::sync::{mpsc as channel, oneshot};

use super::engine::{ctx, i, Compiled, Vm};
use super::messages::{Answer, Inbox, Msg, PhaseResult, Reply, Slot, StreamEvent};
use super::{FilterFailure, Hooks, PoolConfig, Shared, StartError};
use crate::abi::{Logger, PluginInfo, ProxyHost, StreamData};

/// The handle the pool keeps for each worker.
pub(crate) struct Handle {
    pub(crate) inbox: Inbox,
    /// The worker thread's runtime, where the proxy runs the connections it gives this worker.
    pub(crate) runtime: tokio::runtime::Handle,
}

impl Handle {
    pub(crate) fn send(&self, m: Msg) {
        let _ = self.inbox.send(m);
    }
}

pub(crate) struct Worker {
    pub(super) index: usize,
    pub(super) cfg: PoolConfig,
    pub(super) plugin: Arc<PluginInfo>,
    pub(super) compiled: Arc<Compiled>,
    pub(super) shared: Arc<Shared>,
    pub(super) hooks: Hooks,
    pub(super) inbox: Inbox,
    pub(super) vm: Option<Vm>,
    pub(super) generation: u64,
    pub(super) slots: HashMap<u32, Slot>,
    pub(super) next_tick: Option<Duration>,
    /// The `next_tick` the loop's timer is armed for.
    pub(super) armed_for: Option<Duration>,
    pub(super) restarts: Vec<Duration>,
    pub(super) drained: Option<oneshot::Sender<()>>,
}

/// Starts a worker thread; the receiver yields the outcome of its first boot.
pub(crate) fn spawn(
    index: usize,
    cfg: &PoolConfig,
    compiled: &Arc<Compiled>,
    shared: Arc<Shared>,
    hooks: Hooks,
) -> Result<(Handle, mpsc::Receiver<Result<(), StartError>>), StartError> {
    let (tx, rx) = channel::unbounded_channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StartError::Thread(e.to_string()))?;
    let runtime_handle = runtime.handle().clone();
    let mut worker = Worker {
        index,
        cfg: cfg.clone(),
        plugin: Arc::new(PluginInfo {
            name: cfg.plugin_name.clone(),
            root_id: cfg.root_id.clone(),
            vm_id: String::new(),
            plugin_config: cfg.plugin_config.clone(),
            vm_config: cfg.vm_config.clone(),
        }),
        compiled: compiled.clone(),
        shared,
        hooks,
        inbox: tx.clone(),
        vm: None,
        generation: 0,
        slots: HashMap::new(),
        next_tick: None,
        armed_for: None,
        restarts: Vec::new(),
        drained: None,
    };
    std::thread::Builder::new()
        .name(format!("wasm-worker-{index}"))
        .spawn(move || {
            let booted = worker.boot();
            let ok = booted.is_ok();
            let _ = ready_tx.send(booted);
            if ok {
                let inbox = worker.inbox.clone();
                let worker = Rc::new(RefCell::new(worker));
                HERE.with(|here| *here.borrow_mut() = Some((inbox, Rc::downgrade(&worker))));
                runtime.block_on(Worker::run(&worker, rx));
                HERE.with(|here| *here.borrow_mut() = None);
                // Connection tasks still on the runtime when the worker stops are dropped with it;
                // their streams' last messages go to an inbox nobody reads any more.
            }
        })
        .map_err(|e| StartError::Thread(e.to_string()))?;
    Ok((
        Handle {
            inbox: tx,
            runtime: runtime_handle,
        },
        ready_rx,
    ))
}

thread_local! {
    /// On a worker's thread: its inbox (which identifies it) and the worker itself.
    static HERE: RefCell<Option<(Inbox, Weak<RefCell<Worker>>)>> = const { RefCell::new(None) };
}

/// Hands `msg` straight to the worker when called on that worker's own thread while the worker is
/// between messages: a connection task on its runtime. That is a plain call, with no message and
/// no task switch, the way an Envoy worker thread calls into its VM. Otherwise (another thread,
/// or the worker busy) the message comes back, to go through the inbox.
pub(crate) fn deliver_here(inbox: &Inbox, msg: Msg) -> Result<(), Msg> {
    HERE.with(|here| {
        let here = here.borrow();
        let Some((own, worker)) = here.as_ref() else {
            return Err(msg);
        };
        let Some(worker) = worker.upgrade().filter(|_| own.same_channel(inbox)) else {
            return Err(msg);
        };
        let Ok(mut w) = worker.try_borrow_mut() else {
            return Err(msg);
        };
        w.handle(msg);
        if w.next_tick != w.armed_for || (w.drained.is_some() && w.slots.is_empty()) {
            let _ = w.inbox.send(Msg::Wake);
        }
        Ok(())
    })
}

impl Worker {
    /// The worker's own task: handles messages as they come and fires ticks when due, while the
    /// runtime runs the connection tasks between messages. The worker is borrowed only while a
    /// message is handled, so connection tasks can deliver to it directly in between.
    async fn run(cell: &RefCell<Worker>, mut rx: channel::UnboundedReceiver<Msg>) {
        let timer = {
            let mut w = cell.borrow_mut();
            w.armed_for = w.next_tick;
            tokio::time::sleep(w.until_next_tick())
        };
        tokio::pin!(timer);
        loop {
            let mut fired = false;
            tokio::select! {
                biased;
                msg = rx.recv() => match msg {
                    Some(Msg::Shutdown) | None => break,
                    Some(msg) => cell.borrow_mut().handle(msg),
                },
                () = &mut timer => fired = true,
            }
            let mut w = cell.borrow_mut();
            w.fire_due_tick();
            // Re-arm only when the schedule changed: most messages leave it alone.
            if fired || w.next_tick != w.armed_for {
                w.armed_for = w.next_tick;
                timer
                    .as_mut()
                    .reset(tokio::time::Instant::now() + w.until_next_tick());
            }
            if w.drained.is_some() && w.slots.is_empty() {
                if let Some(tx) = w.drained.take() {
                    let _ = tx.send(());
                }
                break;
            }
        }
    }

    fn until_next_tick(&self) -> Duration {
        let idle = Duration::from_millis(500);
        match self.next_tick {
            Some(t) => t
                .saturating_sub(self.cfg.clock.now_monotonic())
                .clamp(Duration::from_millis(1), idle),
            None => idle,
        }
    }

    /// Creates a fresh instance and runs the start lifecycle on it.
    pub(crate) fn boot(&mut self) -> Result<(), StartError> {
        self.vm = None;
        self.slots.clear();
        self.next_tick = None;
        self.generation += 1;
        let mut log = Logger::new(
            self.cfg.plugin_name.clone(),
            self.index,
            self.hooks.log_sink.clone(),
        );
        log.capture = Some(Vec::new());
        let host = ProxyHost::new(
            self.plugin.clone(),
            self.generation,
            self.cfg.clock.clone(),
            self.shared.clone(),
            self.cfg.limits.clone(),
            self.cfg.callouts.clone(),
            self.inbox.clone(),
            log,
        );
        let limits = &self.cfg.limits;
        let mut vm = Vm::instantiate(
            &self.compiled,
            host,
            limits.max_instance_memory_bytes,
            limits.callback_deadline,
            limits.epoch_tick,
        )?;
        let result = lifecycle(&mut vm, &self.plugin);
        vm.host().log.capture = None;
        result?;
        self.vm = Some(vm);
        self.after_callback();
        Ok(())
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Open { context, source } => self.open(context, source),
            Msg::Event {
                context,
                open,
                event,
                reply,
            } => {
                if let Some(o) = open {
                    self.open(context, o.source);
                    for (path, value) in o.properties {
                        self.set_property(context, path, value);
                    }
                }
                self.event(context, event, reply)
            }
            Msg::SetProperty {
                context,
                path,
                value,
            } => self.set_property(context, path, value),
            Msg::Close { context } => self.close(context),
            Msg::CalloutDone {
                generation,
                call_id,
                result,
            } => {
                if generation == self.generation {
                    self.callout_done(call_id, result);
                }
            }
            Msg::QueueReady {
                generation,
                context,
                queue_id,
            } => {
                if generation == self.generation {
                    self.queue_ready(context, queue_id);
                }
            }
            Msg::Timers(done) => {
                self.fire_due_tick();
                let _ = done.send(());
            }
            Msg::Drain(done) => self.drained = Some(done),
            Msg::Wake => {}
            #[cfg(feature = "testkit")]
            Msg::Bench(run) => self.bench(run),
            Msg::Shutdown => {}
        }
    }

    fn ensure_vm(&mut self) -> bool {
        if self.vm.is_some() {
            return true;
        }
        self.restart()
    }

    /// Boots a fresh instance unless the worker is crash-looping.
    fn restart(&mut self) -> bool {
        let now = self.cfg.clock.now_monotonic();
        self.restarts
            .retain(|t| now.saturating_sub(*t) < Duration::from_secs(60));
        if self.restarts.len()
            >= usize::try_from(self.cfg.limits.max_restarts_per_minute).unwrap_or(usize::MAX)
        {
            tracing::error!(plugin = %self.cfg.plugin_name, worker = self.index, "filter instance keeps failing; not restarting it for now");
            return false;
        }
        self.restarts.push(now);
        self.shared
            .bump_host_counter("oidc_host_instance_restarts_total", 1);
        match self.boot() {
            Ok(()) => {
                tracing::warn!(plugin = %self.cfg.plugin_name, worker = self.index, "replaced the filter instance");
                true
            }
            Err(e) => {
                tracing::error!(plugin = %self.cfg.plugin_name, worker = self.index, error = %e, "cannot restart the filter instance");
                false
            }
        }
    }

    /// Fails every stream the instance held, drops the instance and boots a fresh one.
    pub(super) fn fail(&mut self, failure: FilterFailure, current: Option<Reply>) {
        tracing::error!(plugin = %self.cfg.plugin_name, worker = self.index, error = %failure, "filter instance failed; failing its streams closed");
        self.shared
            .bump_host_counter("oidc_host_filter_failures_total", 1);
        if let Some(r) = current {
            r.send(Err(failure.clone()));
        }
        for (_, slot) in self.slots.drain() {
            if let Some((_, r)) = slot.pending {
                r.send(Err(failure.clone()));
            }
        }
        self.vm = None;
        self.restart();
    }

    fn set_property(&mut self, context: u32, path: String, value: Vec<u8>) {
        if let Some(d) = self
            .vm
            .as_mut()
            .and_then(|vm| vm.host().streams.get_mut(&context))
        {
            d.properties.insert(path, value);
        }
    }

    pub(super) fn open(&mut self, context: u32, source: Option<SocketAddr>) {
        if !self.ensure_vm() {
            return;
        }
        let Some(vm) = self.vm.as_mut() else { return };
        let root = vm.host().root_context;
        vm.host().streams.insert(context, StreamData::new(source));
        self.slots.insert(context, Slot::default());
        let created = vm.call(
            |x| x.on_context_create.as_ref(),
            root,
            (ctx(context), ctx(root)),
        );
        if let Some(Err(e)) = created {
            return self.fail(e, None);
        }
        self.after_callback();
    }

    pub(super) fn event(&mut self, context: u32, event: StreamEvent, reply: Reply) {
        if self.vm.is_none() && !self.ensure_vm() {
            return reply.send(Err(FilterFailure::WorkerGone));
        }
        if !self.slots.contains_key(&context) {
            // The instance that held this stream failed and was replaced.
            return reply.send(Err(FilterFailure::Trapped(
                "the filter instance holding this stream was replaced".into(),
            )));
        }
        match self.run_phase(context, event) {
            Err(f) => self.fail(f, Some(reply)),
            Ok(None) => {
                if let Some(slot) = self.slots.get_mut(&context) {
                    if let Some(lr) = slot.local.take() {
                        return reply.send(Ok(Answer::Respond(lr)));
                    }
                }
                reply.send(Err(FilterFailure::Trapped("stream state lost".into())));
            }
            Ok(Some(PhaseResult::Answer(a))) => {
                let local = self.slots.get_mut(&context).and_then(|s| s.local.take());
                reply.send(Ok(local.map(Answer::Respond).unwrap_or(a)));
            }
            Ok(Some(PhaseResult::Paused(phase))) => {
                let local = self.slots.get_mut(&context).and_then(|s| s.local.take());
                match (local, self.slots.get_mut(&context)) {
                    (Some(lr), _) => reply.send(Ok(Answer::Respond(lr))),
                    (None, Some(slot)) => slot.pending = Some((phase, reply)),
                    (None, None) => {
                        reply.send(Err(FilterFailure::Trapped("stream state lost".into())))
                    }
                }
            }
        }
    }
}

/// `_initialize`/`_start`, root context, `proxy_on_vm_start`, `proxy_on_configure`.
fn lifecycle(vm: &mut Vm, plugin: &PluginInfo) -> Result<(), StartError> {
    let root = vm.host().root_context;
    let fail = |vm: &mut Vm, phase: &str, f: FilterFailure| StartError::Failed {
        phase: phase.to_string(),
        reason: f.to_string(),
        logs: captured(vm),
    };
    if let Some(r) = vm.call(|x| x.initialize.as_ref(), root, ()) {
        r.map_err(|e| fail(vm, "_initialize", e))?;
    } else if let Some(r) = vm.call(|x| x.start.as_ref(), root, ()) {
        match r {
            Ok(()) => {}
            // A command module's `_start` ends with proc_exit(0).
            Err(FilterFailure::Trapped(m)) if m == crate::abi::ProcExit(0).to_string() => {}
            Err(e) => return Err(fail(vm, "_start", e)),
        }
    }
    if let Some(r) = vm.call(|x| x.on_context_create.as_ref(), root, (ctx(root), 0)) {
        r.map_err(|e| fail(vm, "proxy_on_context_create", e))?;
    }
    let args = (ctx(root), i(plugin.vm_config.len()));
    if let Some(r) = vm.call(|x| x.on_vm_start.as_ref(), root, args) {
        if r.map_err(|e| fail(vm, "proxy_on_vm_start", e))? == 0 {
            return Err(StartError::VmStartRejected { logs: captured(vm) });
        }
    }
    let args = (ctx(root), i(plugin.plugin_config.len()));
    if let Some(r) = vm.call(|x| x.on_configure.as_ref(), root, args) {
        if r.map_err(|e| fail(vm, "proxy_on_configure", e))? == 0 {
            return Err(StartError::ConfigureRejected { logs: captured(vm) });
        }
    }
    Ok(())
}

/// The last lines the filter logged while starting, for a start error.
fn captured(vm: &mut Vm) -> String {
    let lines = vm.host().log.capture.clone().unwrap_or_default();
    let tail = lines.len().saturating_sub(20);
    let s = lines.get(tail..).unwrap_or_default().join("; ");
    if s.is_empty() {
        "(the filter logged nothing)".to_string()
    } else {
        s
    }
}
