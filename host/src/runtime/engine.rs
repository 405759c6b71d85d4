//! Compiling the filter once, instantiating it per worker, and calling its callbacks under the
//! epoch deadline. A `Vm` is one instance with its `Store`; `boot` runs the start lifecycle.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::{
    Config, Engine, Instance, InstancePre, Linker, Module, Store, Trap, TypedFunc, WasmParams,
    WasmResults,
};

use super::{FilterFailure, PoolConfig, StartError};
use crate::abi::{self, HostState, ProcExit, ProxyHost};

const ABI_EXPORT: &str = "proxy_abi_version_0_2_1";

/// The module compiled once for every worker.
pub(crate) struct Compiled {
    pub(crate) engine: Engine,
    pub(crate) pre: InstancePre<HostState>,
}

impl Compiled {
    pub(crate) fn new(cfg: &PoolConfig) -> Result<Self, StartError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // Profiling aid for the benchmarks and the test kit only: name the JIT code of the guest
        // in /tmp/perf-<pid>.map so `perf report` can attribute it. Never on in production builds.
        #[cfg(feature = "testkit")]
        if std::env::var_os("OIDC_HOST_PERF_MAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| StartError::Compile(format!("{e:#}")))?;
        let module =
            Module::new(&engine, &cfg.wasm).map_err(|e| StartError::Compile(format!("{e:#}")))?;
        if !module.exports().any(|e| e.name() == ABI_EXPORT) {
            let found: Vec<String> = module
                .exports()
                .filter(|e| e.name().starts_with("proxy_abi_version_"))
                .map(|e| e.name().to_string())
                .collect();
            let found = if found.is_empty() {
                "no proxy_abi_version_* export".to_string()
            } else {
                found.join(", ")
            };
            return Err(StartError::AbiVersion { found });
        }
        let mut linker = Linker::new(&engine);
        abi::register(&mut linker).map_err(|e| StartError::Instantiate(format!("{e:#}")))?;
        abi::stub_missing_wasi(&mut linker, &module)
            .map_err(|e| StartError::Instantiate(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| StartError::Instantiate(format!("{e:#}")))?;
        Ok(Self { engine, pre })
    }
}

/// Advances the engine's epoch every `tick` until `stop`; callbacks get a deadline in epochs.
pub(crate) fn spawn_epoch_ticker(
    engine: Engine,
    tick: Duration,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                engine.increment_epoch();
            }
        })
        .map(|_| ())
}

type F<P, R> = Option<TypedFunc<P, R>>;

/// Picks one callback out of `Exports`. Callbacks are called through a pick rather than a clone:
/// a `TypedFunc` carries its registered function type, and cloning and dropping that on every
/// callback showed up in the per-request profile.
pub(crate) type Pick<P, R> = fn(&Exports) -> Option<&TypedFunc<P, R>>;

/// The callbacks the module exports (all optional, per the spec).
pub(crate) struct Exports {
    pub(crate) initialize: F<(), ()>,
    pub(crate) start: F<(), ()>,
    pub(crate) on_context_create: F<(i32, i32), ()>,
    pub(crate) on_vm_start: F<(i32, i32), i32>,
    pub(crate) on_configure: F<(i32, i32), i32>,
    pub(crate) on_tick: F<i32, ()>,
    pub(crate) on_done: F<i32, i32>,
    pub(crate) on_log: F<i32, ()>,
    pub(crate) on_delete: F<i32, ()>,
    pub(crate) on_request_headers: F<(i32, i32, i32), i32>,
    pub(crate) on_request_body: F<(i32, i32, i32), i32>,
    pub(crate) on_request_trailers: F<(i32, i32), i32>,
    pub(crate) on_response_headers: F<(i32, i32, i32), i32>,
    pub(crate) on_response_body: F<(i32, i32, i32), i32>,
    pub(crate) on_response_trailers: F<(i32, i32), i32>,
    pub(crate) on_http_call_response: F<(i32, i32, i32, i32, i32), ()>,
    pub(crate) on_queue_ready: F<(i32, i32), ()>,
}

fn get<P: WasmParams, R: WasmResults>(
    i: &Instance,
    s: &mut Store<HostState>,
    name: &str,
) -> Result<F<P, R>, String> {
    if i.get_export(&mut *s, name).is_none() {
        return Ok(None);
    }
    i.get_typed_func::<P, R>(&mut *s, name)
        .map(Some)
        .map_err(|e| format!("export {name} has the wrong signature: {e:#}"))
}

impl Exports {
    fn new(i: &Instance, s: &mut Store<HostState>) -> Result<Self, String> {
        Ok(Self {
            initialize: get(i, s, "_initialize")?,
            start: get(i, s, "_start")?,
            on_context_create: get(i, s, "proxy_on_context_create")?,
            on_vm_start: get(i, s, "proxy_on_vm_start")?,
            on_configure: get(i, s, "proxy_on_configure")?,
            on_tick: get(i, s, "proxy_on_tick")?,
            on_done: get(i, s, "proxy_on_done")?,
            on_log: get(i, s, "proxy_on_log")?,
            on_delete: get(i, s, "proxy_on_delete")?,
            on_request_headers: get(i, s, "proxy_on_request_headers")?,
            on_request_body: get(i, s, "proxy_on_request_body")?,
            on_request_trailers: get(i, s, "proxy_on_request_trailers")?,
            on_response_headers: get(i, s, "proxy_on_response_headers")?,
            on_response_body: get(i, s, "proxy_on_response_body")?,
            on_response_trailers: get(i, s, "proxy_on_response_trailers")?,
            on_http_call_response: get(i, s, "proxy_on_http_call_response")?,
            on_queue_ready: get(i, s, "proxy_on_queue_ready")?,
        })
    }
}

/// One instance of the filter and its store.
pub(crate) struct Vm {
    pub(crate) store: Store<HostState>,
    pub(crate) ex: Exports,
    deadline_ticks: u64,
}

/// Turns a callback error into the failure the proxy sees.
pub(crate) fn classify(e: &wasmtime::Error) -> FilterFailure {
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return FilterFailure::DeadlineExceeded;
    }
    if let Some(exit) = e.downcast_ref::<ProcExit>() {
        return FilterFailure::Trapped(exit.to_string());
    }
    FilterFailure::Trapped(format!("{e:#}"))
}

impl Vm {
    /// Instantiates the module; the caller runs the lifecycle callbacks.
    pub(crate) fn instantiate(
        compiled: &Compiled,
        host: ProxyHost,
        max_memory: usize,
        deadline: Duration,
        epoch_tick: Duration,
    ) -> Result<Self, StartError> {
        let mut store = Store::new(&compiled.engine, HostState::new(host, max_memory));
        store.limiter(|s| &mut s.limiter);
        let tick_ms = epoch_tick.as_millis().max(1);
        let deadline_ticks = u64::try_from(deadline.as_millis().div_ceil(tick_ms))
            .unwrap_or(u64::MAX)
            .max(1)
            + 1;
        store.set_epoch_deadline(deadline_ticks);
        let instance = compiled
            .pre
            .instantiate(&mut store)
            .map_err(|e| StartError::Instantiate(format!("{e:#}")))?;
        let memory = instance.get_memory(&mut store, "memory");
        let alloc =
            match instance.get_typed_func::<i32, i32>(&mut store, "proxy_on_memory_allocate") {
                Ok(f) => Some(f),
                Err(_) => instance
                    .get_typed_func::<i32, i32>(&mut store, "malloc")
                    .ok(),
            };
        let ex = Exports::new(&instance, &mut store).map_err(StartError::Instantiate)?;
        let data = store.data_mut();
        data.memory = memory;
        data.alloc = alloc.map(Arc::new);
        Ok(Self {
            store,
            ex,
            deadline_ticks,
        })
    }

    /// Calls the callback `pick` chooses for `context` (the effective context while it runs)
    /// under the callback deadline; `None` when the module does not export it.
    pub(crate) fn call<P: WasmParams, R: WasmResults>(
        &mut self,
        pick: Pick<P, R>,
        context: u32,
        args: P,
    ) -> Option<Result<R, FilterFailure>> {
        let f = pick(&self.ex)?;
        self.store.set_epoch_deadline(self.deadline_ticks);
        self.store.data_mut().host.effective = context;
        let r = f.call(&mut self.store, args);
        let host = &mut self.store.data_mut().host;
        host.effective = host.root_context;
        Some(r.map_err(|e| classify(&e)))
    }

    pub(crate) fn host(&mut self) -> &mut ProxyHost {
        &mut self.store.data_mut().host
    }
}

/// `i32` form of a size or id for a callback argument (sizes are capped far below 2 GiB).
pub(crate) fn i(v: usize) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// `i32` form of a context id.
pub(crate) fn ctx(v: u32) -> i32 {
    v as i32
}
