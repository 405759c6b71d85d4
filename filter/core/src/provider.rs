//! One identity provider's key-set state: where its keys come from, when to fetch them again, what
//! to do when fetching fails, and how worker VMs share one fetch. It decides *when* to fetch; the
//! engine turns that into callouts and resumes the requests that waited.
//!
//! Timeline of a key set: fetched at `t`; fresh until `t + ttl`, refreshed ahead at `t + 0.9 ttl`;
//! after `t + ttl` still used while refreshes fail, up to `t + ttl + stale_max`; then gone.

use std::time::Duration;

use crate::discovery::{self, Metadata};
use crate::jwks::KeySet;
use crate::peer::{self, Lease, Snapshot};
use crate::shared::SharedStore;

/// Longest wait between two attempts after repeated failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often a worker looks at shared data while another worker fetches.
pub const PEER_POLL: Duration = Duration::from_millis(100);

/// Everything a provider needs from the configuration, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub name: String,
    /// Discovery document URL, when keys come through discovery.
    pub discovery_url: Option<String>,
    /// Key-set URL given directly.
    pub jwks_uri: Option<String>,
    /// Callout target override (an Envoy cluster name or `host:port`).
    pub cluster: Option<String>,
    pub ttl: Duration,
    pub refetch_interval: Duration,
    pub stale_max: Duration,
    pub fetch_timeout: Duration,
    /// Shared-data namespace for this provider's key set and lease (see `peer`).
    pub shared_ns: String,
}

/// What is being fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchKind {
    Discovery,
    Jwks,
}

/// A fetch the engine should dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPlan {
    pub kind: FetchKind,
    pub url: String,
}

/// What changed after `poll` or `on_fetched`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Nothing,
    Dispatch(FetchPlan),
    /// New keys are in place; `rotated` when they differ from the previous set.
    KeysChanged {
        rotated: bool,
    },
    /// An attempt failed (ours or the peer's we waited for).
    Failed {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Fetch {
    Idle,
    InFlight {
        kind: FetchKind,
        deadline: Duration,
    },
    /// Another worker holds the lease; look at shared data at `poll_at`.
    Peer {
        since: Duration,
        poll_at: Duration,
    },
}

#[derive(Debug)]
struct Keys {
    set: KeySet,
    fetched_at: Duration,
    fingerprint: u64,
}

/// Key-set state of one provider.
#[derive(Debug)]
pub struct Provider {
    settings: Settings,
    keys: Option<Keys>,
    /// Inline keys never expire and are never fetched.
    inline: bool,
    metadata: Option<Metadata>,
    fetch: Fetch,
    /// When the next fetch is due, if one is.
    due: Option<Duration>,
    failures: u32,
    last_forced: Option<Duration>,
    /// The unknown `kid` behind the last forced refetch.
    wanted_kid: Option<String>,
}

impl Provider {
    /// A provider that fetches its keys; the first fetch is due at once.
    pub fn fetching(settings: Settings) -> Provider {
        Provider {
            settings,
            keys: None,
            inline: false,
            metadata: None,
            fetch: Fetch::Idle,
            due: Some(Duration::ZERO),
            failures: 0,
            last_forced: None,
            wanted_kid: None,
        }
    }

    /// A provider with a configured key set: no fetching at all.
    pub fn inline(settings: Settings, set: KeySet) -> Provider {
        let fingerprint = set.fingerprint();
        Provider {
            keys: Some(Keys {
                set,
                fetched_at: Duration::ZERO,
                fingerprint,
            }),
            inline: true,
            due: None,
            ..Provider::fetching(settings)
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn metadata(&self) -> Option<&Metadata> {
        self.metadata.as_ref()
    }

    /// Keys that may be used at `now`: fresh, or stale within the configured bound.
    pub fn usable_keys(&self, now: Duration) -> Option<&KeySet> {
        let keys = self.keys.as_ref()?;
        let limit = keys.fetched_at + self.settings.ttl + self.settings.stale_max;
        (self.inline || now < limit).then_some(&keys.set)
    }

    /// Whether a fetch is under way (ours or a peer's) or about to start, so waiting makes sense.
    pub fn fetch_pending(&self, now: Duration) -> bool {
        !matches!(self.fetch, Fetch::Idle) || self.due.is_some_and(|d| d <= now)
    }

    /// Unknown `kid`: ask for a refetch, at most once per `refetch_interval` (RFC 7517 keys rotate;
    /// an attacker's random kids must not turn into a fetch per request). True when one is coming.
    /// `kid` is the one that was not found: a key set another worker fetched a little earlier
    /// satisfies the refetch if it holds that key.
    pub fn request_refetch(&mut self, now: Duration, kid: Option<&str>) -> bool {
        if self.inline {
            return false;
        }
        self.wanted_kid = kid.map(str::to_string);
        if self.fetch_pending(now) {
            return true;
        }
        let allowed = self
            .last_forced
            .is_none_or(|t| now >= t + self.settings.refetch_interval);
        if allowed {
            self.last_forced = Some(now);
            self.due = Some(now);
        }
        allowed
    }

    /// The next moment `poll` has work to do.
    pub fn next_deadline(&self) -> Option<Duration> {
        match self.fetch {
            Fetch::InFlight { deadline, .. } => Some(deadline),
            Fetch::Peer { poll_at, .. } => Some(poll_at),
            Fetch::Idle => self.due,
        }
    }

    /// Advances timers: starts a due fetch (or adopts a peer's result), times out a lost one.
    pub fn poll(&mut self, now: Duration, shared: &mut dyn SharedStore, worker: u64) -> Progress {
        match self.fetch.clone() {
            Fetch::InFlight { deadline, .. } if now >= deadline => {
                self.fail(now, shared, worker, "fetch timed out".to_string())
            }
            Fetch::InFlight { .. } => Progress::Nothing,
            Fetch::Peer { since, poll_at } if now >= poll_at => {
                self.check_peer(since, now, shared, worker)
            }
            Fetch::Peer { .. } => Progress::Nothing,
            Fetch::Idle if self.due.is_some_and(|d| d <= now) => self.start(now, shared, worker),
            Fetch::Idle => Progress::Nothing,
        }
    }

    fn start(&mut self, now: Duration, shared: &mut dyn SharedStore, worker: u64) -> Progress {
        if let Some(progress) = self.adopt_newer(shared, now) {
            return progress;
        }
        let lease_until = now + self.settings.fetch_timeout * 2;
        match peer::acquire(shared, &self.settings.shared_ns, worker, now, lease_until) {
            Lease::Held | Lease::Unshared => self.dispatch_first(now),
            Lease::Busy => {
                self.fetch = Fetch::Peer {
                    since: now,
                    poll_at: now + PEER_POLL,
                };
                Progress::Nothing
            }
        }
    }

    fn dispatch_first(&mut self, now: Duration) -> Progress {
        // Keys rotate often, key-set URLs rarely: go straight to the known jwks_uri, and look at
        // discovery again only after a failure.
        let known = self.metadata.as_ref().map(|m| m.jwks_uri.clone());
        let plan = match (&self.settings.jwks_uri, known, &self.settings.discovery_url) {
            (Some(uri), _, _) => FetchPlan {
                kind: FetchKind::Jwks,
                url: uri.clone(),
            },
            (None, Some(uri), _) if self.failures == 0 => FetchPlan {
                kind: FetchKind::Jwks,
                url: uri,
            },
            (None, _, Some(d)) => FetchPlan {
                kind: FetchKind::Discovery,
                url: d.clone(),
            },
            (None, Some(uri), None) => FetchPlan {
                kind: FetchKind::Jwks,
                url: uri,
            },
            (None, None, None) => return Progress::Nothing,
        };
        self.dispatch(plan, now)
    }

    fn dispatch(&mut self, plan: FetchPlan, now: Duration) -> Progress {
        self.due = None;
        self.fetch = Fetch::InFlight {
            kind: plan.kind,
            deadline: now + self.settings.fetch_timeout,
        };
        Progress::Dispatch(plan)
    }

    /// The answer to a fetch this provider planned. `Ok` carries a 2xx body.
    pub fn on_fetched(
        &mut self,
        kind: FetchKind,
        result: Result<&[u8], String>,
        issuer_ok: &dyn Fn(&str) -> bool,
        now: Duration,
        shared: &mut dyn SharedStore,
        worker: u64,
    ) -> Progress {
        if !matches!(self.fetch, Fetch::InFlight { kind: k, .. } if k == kind) {
            return Progress::Nothing; // a late answer to a fetch we already gave up on
        }
        let body = match result {
            Ok(body) => body,
            Err(reason) => return self.fail(now, shared, worker, reason),
        };
        match kind {
            FetchKind::Discovery => match discovery::parse(body, issuer_ok) {
                Ok(m) => {
                    let plan = FetchPlan {
                        kind: FetchKind::Jwks,
                        url: m.jwks_uri.clone(),
                    };
                    self.metadata = Some(m);
                    self.dispatch(plan, now)
                }
                Err(e) => self.fail(now, shared, worker, e.to_string()),
            },
            FetchKind::Jwks => match KeySet::parse(body) {
                Ok(set) => {
                    let snapshot = Snapshot::new(now, self.metadata.as_ref(), body);
                    peer::publish(shared, &self.settings.shared_ns, worker, &snapshot);
                    self.install(set, now)
                }
                Err(e) => self.fail(now, shared, worker, format!("key set refused: {e}")),
            },
        }
    }

    fn install(&mut self, set: KeySet, now: Duration) -> Progress {
        let fingerprint = set.fingerprint();
        let rotated = self
            .keys
            .as_ref()
            .is_some_and(|k| k.fingerprint != fingerprint);
        self.keys = Some(Keys {
            set,
            fetched_at: now,
            fingerprint,
        });
        self.fetch = Fetch::Idle;
        self.failures = 0;
        self.due = Some(now + self.settings.ttl.mul_f64(0.9));
        Progress::KeysChanged { rotated }
    }

    fn fail(
        &mut self,
        now: Duration,
        shared: &mut dyn SharedStore,
        worker: u64,
        reason: String,
    ) -> Progress {
        self.failures = self.failures.saturating_add(1);
        let backoff = backoff(self.failures);
        self.fetch = Fetch::Idle;
        self.due = Some(now + backoff);
        peer::report_failure(shared, &self.settings.shared_ns, worker, now, now + backoff);
        Progress::Failed { reason }
    }

    fn check_peer(
        &mut self,
        since: Duration,
        now: Duration,
        shared: &mut dyn SharedStore,
        worker: u64,
    ) -> Progress {
        if let Some(progress) = self.adopt_newer(shared, now) {
            return progress;
        }
        match peer::lease_state(shared, &self.settings.shared_ns, now) {
            peer::LeaseState::FailedSince(at) if at >= since => {
                self.failures = self.failures.saturating_add(1);
                self.fetch = Fetch::Idle;
                self.due = Some(now + backoff(self.failures));
                Progress::Failed {
                    reason: "another worker's fetch failed".to_string(),
                }
            }
            peer::LeaseState::Live => {
                self.fetch = Fetch::Peer {
                    since,
                    poll_at: now + PEER_POLL,
                };
                Progress::Nothing
            }
            _ => {
                self.fetch = Fetch::Idle;
                self.start(now, shared, worker)
            }
        }
    }

    /// Takes a key set another worker published if it is newer than ours, or if it holds the
    /// unknown `kid` a forced refetch is looking for.
    fn adopt_newer(&mut self, shared: &mut dyn SharedStore, now: Duration) -> Option<Progress> {
        let ours = self.keys.as_ref().map(|k| k.fetched_at);
        let snapshot = peer::read(shared, &self.settings.shared_ns)?;
        let newer = ours.is_none_or(|t| snapshot.fetched_at > t);
        let looking = self.wanted_kid.is_some() && self.due.is_some();
        if snapshot.fetched_at > now || !(newer || looking) {
            return None;
        }
        let set = KeySet::parse(snapshot.jwks.as_bytes()).ok()?;
        // A forced refetch needs keys fetched after the unknown kid showed up, or a set that
        // already holds it (another worker refetched for the same kid a moment earlier).
        let has_wanted = looking
            && self
                .wanted_kid
                .as_deref()
                .is_some_and(|k| set.kids().any(|have| have == k));
        let forced =
            self.last_forced.is_some_and(|t| snapshot.fetched_at < t) && self.due.is_some();
        if !has_wanted && (!newer || forced) {
            return None;
        }
        if snapshot.metadata.is_some() {
            self.metadata = snapshot.metadata;
        }
        self.wanted_kid = None;
        let progress = self.install(set, snapshot.fetched_at);
        self.due = Some((snapshot.fetched_at + self.settings.ttl.mul_f64(0.9)).max(now));
        Some(progress)
    }
}

/// 1 s, 2 s, 4 s, ... up to `MAX_BACKOFF`.
fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    Duration::from_secs(1u64 << exp).min(MAX_BACKOFF)
}
