//! The filter's brain for one worker VM: takes requests, fetch answers and the passing of time, and
//! answers with decisions and effects. It owns the providers' key-set state, the verified-token
//! cache and the paused requests. It never performs I/O: fetches, replies to paused requests, log
//! lines and metric increments leave as `Effect`s for the adapter to carry out. Random bytes (for
//! logins and session cookies) come from the adapter's [`Entropy`].

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::audit::Metric;
use crate::cache::TokenCache;
use crate::config::{Config, FetchUrl, KeySource};
use crate::decision::{Decision, Request};
use crate::entropy::{Entropy, NoEntropy};
use crate::introspection::AnswerCache;
use crate::jwks::KeySet;
use crate::policy::Policy;
use crate::provider::{FetchKind, Progress, Provider, Settings};
use crate::response::{self, ReplyStyle};
use crate::shared::SharedStore;
use crate::ConfigError;

mod callout;
mod effect;
mod introspect;
mod judge;
mod login;
mod session;

pub use effect::{Effect, Fetch, FetchResult, Level};

/// The adapter's handle for a request (its proxy-wasm context id).
pub type RequestId = u32;
/// Identifies a fetch between `Effect::Fetch` and `Engine::on_fetch_response`.
pub type FetchId = u64;

/// Largest discovery, key-set, token or introspection document accepted: real ones are a few KiB.
pub const MAX_FETCH_BYTES: usize = 512 * 1024;

#[derive(Debug)]
struct Pending {
    id: RequestId,
    request: Request,
    provider: usize,
    /// Answered with whatever the keys allow (503 without any) at this time.
    deadline: Duration,
}

/// Filter state of one worker VM.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    policy: Policy,
    providers: Vec<Provider>,
    cache: TokenCache,
    pending: Vec<Pending>,
    fetches: HashMap<FetchId, (usize, FetchKind)>,
    /// Callouts to token and introspection endpoints, and the requests parked on them.
    calls: callout::Calls,
    /// Introspection answers (RFC 7662), per worker.
    answers: AnswerCache,
    entropy: EntropyPort,
    next_fetch: FetchId,
    worker: u64,
    effects: VecDeque<Effect>,
}

/// The adapter's random source, shown as a name only.
struct EntropyPort(Box<dyn Entropy>);

impl std::fmt::Debug for EntropyPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Entropy")
    }
}

impl Engine {
    /// Builds the engine for a validated configuration. `worker` identifies this VM among its peers
    /// (a random number drawn by the adapter); it only names the holder of a fetch lease. Without
    /// an entropy source, configurations with login are refused: use [`Engine::with_entropy`].
    pub fn new(config: Config, worker: u64) -> Result<Engine, ConfigError> {
        if config.login.is_some() {
            return Err(ConfigError::new(
                "rules",
                "login needs a random source: build the engine with Engine::with_entropy",
            ));
        }
        Engine::with_entropy(config, worker, Box::new(NoEntropy))
    }

    /// Builds the engine with the random source logins and session cookies draw from (the
    /// adapter's WASI `random_get`, or a scripted source in tests).
    pub fn with_entropy(
        config: Config,
        worker: u64,
        entropy: Box<dyn Entropy>,
    ) -> Result<Engine, ConfigError> {
        let mut providers = Vec::with_capacity(config.providers.len());
        let mut effects = VecDeque::new();
        for (i, p) in config.providers.iter().enumerate() {
            let settings = Settings {
                name: p.name.clone(),
                discovery_url: p.discovery_url.clone().filter(|_| p.discovery),
                jwks_uri: p.jwks_uri.clone(),
                cluster: p.cluster.clone(),
                ttl: Duration::from_secs(p.jwks_cache_ttl_secs),
                refetch_interval: Duration::from_secs(p.jwks_refetch_interval_secs),
                stale_max: Duration::from_secs(p.jwks_stale_max_secs),
                fetch_timeout: Duration::from_millis(p.fetch_timeout_ms),
                shared_ns: shared_namespace(
                    &p.name,
                    p.discovery_url.as_deref(),
                    p.jwks_uri.as_deref(),
                ),
            };
            let provider = match p.key_source() {
                Some(KeySource::Inline(jwks)) => {
                    let set = KeySet::from_value(jwks).map_err(|e| {
                        ConfigError::new(format!("providers[{i}].jwks"), e.to_string())
                    })?;
                    Provider::inline(settings, set)
                }
                _ => Provider::fetching(settings),
            };
            if !p.checks_audience() {
                effects.push_back(Effect::Log {
                    level: Level::Warn,
                    message: format!(
                        "providers[{i}] ({}): no audiences configured; tokens for any application of this issuer are accepted",
                        p.name
                    ),
                });
            }
            providers.push(provider);
        }
        Ok(Engine {
            policy: Policy::new(&config),
            config,
            providers,
            cache: TokenCache::new(),
            pending: Vec::new(),
            fetches: HashMap::new(),
            calls: callout::Calls::default(),
            answers: AnswerCache::default(),
            entropy: EntropyPort(entropy),
            next_fetch: 1,
            worker,
            effects,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The next effect to carry out, in order. Drain after every call into the engine.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// The earliest time `on_tick` has work to do.
    pub fn next_deadline(&self) -> Option<Duration> {
        let providers = self.providers.iter().filter_map(Provider::next_deadline);
        let pending = self.pending.iter().map(|p| p.deadline);
        providers
            .chain(pending)
            .chain(self.calls.next_deadline())
            .min()
    }

    /// Starts due fetches, times out lost ones, answers requests that waited too long.
    pub fn on_tick(&mut self, now: Duration, shared: &mut dyn SharedStore) {
        for index in 0..self.providers.len() {
            let progress = self.providers[index].poll(now, shared, self.worker);
            self.apply(index, progress, now, shared);
        }
        let (due, waiting): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| now >= p.deadline);
        self.pending = waiting;
        for p in due {
            let decision = self.decide_final(p.id, &p.request, now, shared);
            if decision != Decision::Pause {
                self.effects.push_back(Effect::Resolve {
                    request: p.id,
                    decision,
                });
            }
        }
        self.expire_calls(now);
    }

    /// A request is gone (client left): forget it if it was waiting.
    pub fn cancel(&mut self, id: RequestId) {
        self.pending.retain(|p| p.id != id);
        self.calls.cancel(id);
    }

    /// The answer to `Effect::Fetch { id, .. }`.
    pub fn on_fetch_response(
        &mut self,
        id: FetchId,
        result: FetchResult,
        now: Duration,
        shared: &mut dyn SharedStore,
    ) {
        let Some((index, kind)) = self.fetches.remove(&id) else {
            self.call_answered(id, result, now, shared);
            return;
        };
        let body = match result {
            FetchResult::Response {
                status: 200..=299,
                body,
            } if body.len() <= MAX_FETCH_BYTES => Ok(body),
            FetchResult::Response {
                status: 200..=299, ..
            } => Err("response too large".to_string()),
            FetchResult::Response { status, .. } => Err(format!("HTTP status {status}")),
            FetchResult::Failed(reason) => Err(reason),
        };
        let ok = body.is_ok();
        self.count(match (kind, ok) {
            (FetchKind::Discovery, true) => Metric::DiscoveryFetchOk,
            (FetchKind::Discovery, false) => Metric::DiscoveryFetchFailed,
            (FetchKind::Jwks, true) => Metric::JwksFetchOk,
            (FetchKind::Jwks, false) => Metric::JwksFetchFailed,
        });
        let cfg = &self.config.providers[index];
        let issuer_ok = |iss: &str| {
            cfg.matches_issuer(iss) || cfg.issuers_allowed.iter().any(|p| p.text == iss)
        };
        let progress = self.providers[index].on_fetched(
            kind,
            body.as_deref().map_err(String::clone),
            &issuer_ok,
            now,
            shared,
            self.worker,
        );
        self.apply(index, progress, now, shared);
    }

    fn apply(
        &mut self,
        index: usize,
        progress: Progress,
        now: Duration,
        shared: &mut dyn SharedStore,
    ) {
        let name = self.providers[index].settings().name.clone();
        match progress {
            Progress::Nothing => {}
            Progress::Dispatch(plan) => self.dispatch(index, plan.kind, &plan.url),
            Progress::KeysChanged { rotated } => {
                if rotated {
                    self.count(Metric::KeyRotation);
                    self.log(
                        Level::Info,
                        format!("provider {name}: signing keys rotated"),
                    );
                }
                if let Some(keys) = self.providers[index].usable_keys(now) {
                    self.cache.retain_keys(index, keys);
                }
                self.resume(index, now, shared);
            }
            Progress::Failed { reason } => {
                self.log(
                    Level::Warn,
                    format!("provider {name}: key fetch failed: {reason}"),
                );
                self.resume(index, now, shared);
            }
        }
    }

    fn dispatch(&mut self, index: usize, kind: FetchKind, url: &str) {
        let cfg = &self.config.providers[index];
        let Ok(parsed) = FetchUrl::parse(url) else {
            let message = format!("provider {}: refusing to fetch an invalid URL", cfg.name);
            self.log(Level::Error, message);
            return;
        };
        let id = self.next_fetch;
        self.next_fetch += 1;
        self.fetches.insert(id, (index, kind));
        let fetch = Fetch {
            id,
            upstream: cfg.callout_target(&parsed),
            scheme: parsed.scheme(),
            authority: parsed.authority(),
            path: parsed.path_and_query.clone(),
            timeout: self.providers[index].settings().fetch_timeout,
            method: "GET",
            headers: Vec::new(),
            body: Vec::new(),
        };
        self.effects.push_back(Effect::Fetch(fetch));
    }

    /// Re-judges the requests that waited for `index`'s keys.
    fn resume(&mut self, index: usize, now: Duration, shared: &mut dyn SharedStore) {
        let (ready, rest): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.provider == index);
        self.pending = rest;
        for p in ready {
            let decision = match self.judge(&p.request, now, shared, false) {
                judge::Verdict::Decided(d) => d,
                judge::Verdict::Wait(_) => self.decide_final(p.id, &p.request, now, shared),
                judge::Verdict::Call(call) => self.park(p.id, &p.request, call, now),
            };
            if decision != Decision::Pause {
                self.effects.push_back(Effect::Resolve {
                    request: p.id,
                    decision,
                });
            }
        }
    }

    /// Judges a new request. `Decision::Pause` means its answer comes later as `Effect::Resolve`.
    pub fn on_request(
        &mut self,
        id: RequestId,
        request: &Request,
        now: Duration,
        shared: &mut dyn SharedStore,
    ) -> Decision {
        match self.judge(request, now, shared, true) {
            judge::Verdict::Decided(decision) => decision,
            judge::Verdict::Call(call) => self.park(id, request, call, now),
            judge::Verdict::Wait(provider) => {
                let progress = self.providers[provider].poll(now, shared, self.worker);
                // Keys another worker already published, or a fetch that failed at once: decide
                // now. A request is never resolved through `Effect::Resolve` before `on_request`
                // has returned `Pause` for it.
                let settled = matches!(
                    progress,
                    Progress::KeysChanged { .. } | Progress::Failed { .. }
                );
                self.apply(provider, progress, now, shared);
                if settled {
                    return self.decide_final(id, request, now, shared);
                }
                let timeout = self.providers[provider].settings().fetch_timeout;
                // Waits for the fetch under way (two attempts at most, discovery then keys).
                let deadline = now + timeout * 2 + Duration::from_secs(1);
                self.pending.push(Pending {
                    id,
                    request: request.clone(),
                    provider,
                    deadline,
                });
                Decision::Pause
            }
        }
    }

    /// Judges without waiting for keys any more: missing keys are a 503, unknown kids a 401.
    fn decide_final(
        &mut self,
        id: RequestId,
        request: &Request,
        now: Duration,
        shared: &mut dyn SharedStore,
    ) -> Decision {
        match self.judge(request, now, shared, false) {
            judge::Verdict::Decided(d) => d,
            judge::Verdict::Call(call) => self.park(id, request, call, now),
            judge::Verdict::Wait(_) => Decision::Deny(response::deny(
                &crate::AuthError::KeysUnavailable,
                self.reply_style(),
            )),
        }
    }

    fn reply_style(&self) -> ReplyStyle<'_> {
        ReplyStyle {
            realm: &self.config.realm,
            display_errors: self.config.display_errors,
        }
    }

    fn log(&mut self, level: Level, message: String) {
        self.effects.push_back(Effect::Log { level, message });
    }

    fn count(&mut self, metric: Metric) {
        self.effects.push_back(Effect::Count(metric));
    }
}

/// Shared-data namespace of a provider: its name plus a hash of where its keys come from, so two
/// filter configurations on one host never mix up key sets of different providers.
fn shared_namespace(name: &str, discovery: Option<&str>, jwks_uri: Option<&str>) -> String {
    let source = jwks_uri.or(discovery).unwrap_or("");
    // FNV-1a, 64 bit: stable across builds and platforms.
    let hash = source.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("oidc_filter/{name}.{hash:016x}")
}
