//! proxy-wasm (ABI v0.2.1) adapter: translates hostcalls to and from `oidc_filter_core`. It makes no
//! decisions. The root context parses the configuration, owns the engine, and runs its deadlines
//! from `on_tick`; HTTP contexts turn request headers into a `Request`, ask the engine, and apply
//! the answer. Every hostcall result is handled; nothing here may panic (`panic = "abort"` would
//! take every request on this worker down with it).

#[cfg(any(target_arch = "wasm32", test))]
mod allocator;
mod effects;
mod http;
mod random;
mod shared;

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use oidc_filter_core::audit::Metric;
use oidc_filter_core::config::Config;
use oidc_filter_core::engine::{Engine, FetchId};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel, MetricType};

/// Resolution of deadlines (key refresh, fetch timeouts, paused requests). Set once: Kong traps on
/// a second `set_tick_period`.
const TICK: Duration = Duration::from_millis(100);

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: allocator::Classes = allocator::Classes::new();

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|context_id| -> Box<dyn RootContext> { Box::new(Root::new(context_id)) });
}}

/// What the root and HTTP contexts of one VM share.
pub(crate) struct Vm {
    pub engine: Engine,
    /// Callout token → the engine's fetch id.
    pub callouts: HashMap<u32, FetchId>,
    /// Host metric ids, by `Metric::index` (`None`: the host refused to define it).
    pub metrics: Vec<Option<u32>>,
    /// Response headers (`set-cookie`) to add when a request's response comes, by context id.
    pub response_headers: HashMap<u32, Vec<(String, String)>>,
}

pub(crate) type SharedVm = Rc<RefCell<Vm>>;

struct Root {
    id: u32,
    vm: Option<SharedVm>,
}

impl Root {
    fn new(id: u32) -> Root {
        Root { id, vm: None }
    }
}

/// Wall-clock time from the host (`proxy_get_current_time_nanoseconds`).
pub(crate) fn now() -> Duration {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default()
}

pub(crate) fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

/// Defines every metric once; the host's ids, by `Metric::index`.
fn define_metrics() -> Vec<Option<u32>> {
    Metric::all()
        .iter()
        .map(|metric| {
            let name = metric.name();
            match hostcalls::define_metric(MetricType::Counter, &name) {
                Ok(id) => Some(id),
                Err(status) => {
                    log(
                        LogLevel::Warn,
                        &format!("metric {name} not defined: {status:?}"),
                    );
                    None
                }
            }
        })
        .collect()
}

/// Names this VM in fetch leases; drawn from WASI `random_get` through std's hasher seeds.
fn worker_id(context_id: u32) -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(context_id);
    h.write_u128(now().as_nanos());
    h.finish()
}

impl Context for Root {
    fn on_http_call_response(
        &mut self,
        token: u32,
        _headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        if let Some(vm) = &self.vm {
            effects::fetch_answered(self, self.id, vm, token, body_size);
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        let engine = match Config::from_json(&bytes)
            .and_then(|c| Engine::with_entropy(c, worker_id(self.id), Box::new(random::WasiRandom)))
        {
            Ok(engine) => engine,
            Err(e) => {
                // The field path and reason: what an operator needs to fix the document.
                log(
                    LogLevel::Critical,
                    &format!("oidc filter configuration refused: {e}"),
                );
                return false;
            }
        };
        if let Err(status) = hostcalls::set_tick_period(TICK) {
            log(
                LogLevel::Critical,
                &format!("oidc filter cannot schedule key refreshes: {status:?}"),
            );
            return false;
        }
        let vm = Rc::new(RefCell::new(Vm {
            engine,
            callouts: HashMap::new(),
            metrics: define_metrics(),
            response_headers: HashMap::new(),
        }));
        effects::run(self, self.id, &vm);
        self.vm = Some(vm);
        true
    }

    fn on_tick(&mut self) {
        let Some(vm) = &self.vm else { return };
        let now = now();
        let due = vm.borrow().engine.next_deadline().is_some_and(|d| d <= now);
        if due {
            vm.borrow_mut().engine.on_tick(now, &mut shared::HostShared);
            effects::run(self, self.id, vm);
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        let vm = self.vm.clone()?;
        Some(Box::new(http::Stream::new(context_id, vm)))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
