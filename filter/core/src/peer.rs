//! How worker VMs share one key-set fetch through proxy-wasm shared data.
//!
//! Two records per provider namespace `ns`: `ns/keys` holds the last key set fetched by any worker
//! (with when it was fetched and the discovery metadata), `ns/lease` says which worker is fetching
//! and until when, or that its last attempt failed. A worker fetches only if it takes the lease by
//! compare-and-swap; the others wait and adopt the published key set. proxy-wasm has no atomic
//! "create if absent", so two workers starting at the same instant may both fetch: harmless.
//! Every read tolerates garbage and every write tolerates failure (Kong without an `shm_kv` zone):
//! the worst case is that each worker fetches for itself.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::discovery::Metadata;
use crate::shared::SharedStore;

/// A key set as published for the other workers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(with = "millis")]
    pub fetched_at: Duration,
    pub metadata: Option<Metadata>,
    /// The key-set document as fetched.
    pub jwks: String,
}

impl Snapshot {
    pub fn new(fetched_at: Duration, metadata: Option<&Metadata>, jwks: &[u8]) -> Snapshot {
        Snapshot {
            fetched_at,
            metadata: metadata.cloned(),
            jwks: String::from_utf8_lossy(jwks).into_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LeaseRecord {
    owner: u64,
    #[serde(with = "millis")]
    until: Duration,
    #[serde(default, with = "opt_millis")]
    failed_at: Option<Duration>,
}

/// Outcome of trying to take the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// We hold it: fetch.
    Held,
    /// Another worker is fetching (or backing off after a failure): wait.
    Busy,
    /// Shared data does not work here: fetch alone.
    Unshared,
}

/// What a waiting worker sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    Live,
    FailedSince(Duration),
    Free,
}

pub fn keys_key(ns: &str) -> String {
    format!("{ns}/keys")
}

fn lease_key(ns: &str) -> String {
    format!("{ns}/lease")
}

pub fn read(shared: &dyn SharedStore, ns: &str) -> Option<Snapshot> {
    let (bytes, _) = shared.get(&keys_key(ns))?;
    serde_json::from_slice(&bytes).ok()
}

pub fn publish(shared: &mut dyn SharedStore, ns: &str, worker: u64, snapshot: &Snapshot) {
    if let Ok(bytes) = serde_json::to_vec(snapshot) {
        let _ = shared.set(&keys_key(ns), &bytes, 0);
    }
    release(shared, ns, worker);
}

fn read_lease(shared: &dyn SharedStore, ns: &str) -> Option<(LeaseRecord, u32)> {
    let (bytes, cas) = shared.get(&lease_key(ns))?;
    Some((serde_json::from_slice(&bytes).ok()?, cas))
}

fn write_lease(shared: &mut dyn SharedStore, ns: &str, record: &LeaseRecord, cas: u32) -> bool {
    serde_json::to_vec(record).is_ok_and(|bytes| shared.set(&lease_key(ns), &bytes, cas).is_ok())
}

/// Tries to take the fetch lease until `until`.
pub fn acquire(
    shared: &mut dyn SharedStore,
    ns: &str,
    worker: u64,
    now: Duration,
    until: Duration,
) -> Lease {
    let mine = LeaseRecord {
        owner: worker,
        until,
        failed_at: None,
    };
    match shared.get(&lease_key(ns)) {
        None => {
            // No record yet: create it unconditionally, then read it back to see who won.
            if !write_lease(shared, ns, &mine, 0) {
                return Lease::Unshared;
            }
            match read_lease(shared, ns) {
                Some((r, _)) if r.owner == worker => Lease::Held,
                Some(_) => Lease::Busy,
                None => Lease::Unshared,
            }
        }
        Some((bytes, cas)) => {
            let current: Option<LeaseRecord> = serde_json::from_slice(&bytes).ok();
            if current.is_some_and(|r| r.owner != worker && r.until > now) {
                return Lease::Busy;
            }
            if write_lease(shared, ns, &mine, cas) {
                Lease::Held
            } else {
                Lease::Busy
            }
        }
    }
}

/// Gives the lease up after a successful fetch.
fn release(shared: &mut dyn SharedStore, ns: &str, worker: u64) {
    if let Some((r, cas)) = read_lease(shared, ns) {
        if r.owner == worker {
            let free = LeaseRecord {
                owner: worker,
                until: Duration::ZERO,
                failed_at: None,
            };
            write_lease(shared, ns, &free, cas);
        }
    }
}

/// Keeps the lease through the backoff after a failed fetch, marked as failed, so the other
/// workers neither hammer the provider nor keep their requests waiting.
pub fn report_failure(
    shared: &mut dyn SharedStore,
    ns: &str,
    worker: u64,
    now: Duration,
    retry_at: Duration,
) {
    if let Some((r, cas)) = read_lease(shared, ns) {
        if r.owner == worker {
            let failed = LeaseRecord {
                owner: worker,
                until: retry_at,
                failed_at: Some(now),
            };
            write_lease(shared, ns, &failed, cas);
        }
    }
}

pub fn lease_state(shared: &dyn SharedStore, ns: &str, now: Duration) -> LeaseState {
    match read_lease(shared, ns) {
        Some((
            LeaseRecord {
                failed_at: Some(at),
                ..
            },
            _,
        )) => LeaseState::FailedSince(at),
        Some((r, _)) if r.until > now => LeaseState::Live,
        _ => LeaseState::Free,
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

mod opt_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::millis::serialize(d, s),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|o| o.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::{MemoryShared, NoShared};

    const NS: &str = "oidc_filter/idp";
    const S: Duration = Duration::from_secs(1);

    #[test]
    fn only_one_worker_takes_a_live_lease() {
        let mut a = MemoryShared::new();
        let mut b = a.clone();
        assert_eq!(acquire(&mut a, NS, 1, S, 10 * S), Lease::Held);
        assert_eq!(acquire(&mut b, NS, 2, S, 10 * S), Lease::Busy);
        assert_eq!(lease_state(&b, NS, 2 * S), LeaseState::Live);
    }

    #[test]
    fn an_expired_lease_can_be_taken_over() {
        let mut a = MemoryShared::new();
        let mut b = a.clone();
        assert_eq!(acquire(&mut a, NS, 1, S, 2 * S), Lease::Held);
        assert_eq!(acquire(&mut b, NS, 2, 3 * S, 10 * S), Lease::Held);
    }

    #[test]
    fn publishing_releases_the_lease_and_shares_the_keys() {
        let mut a = MemoryShared::new();
        let b = a.clone();
        acquire(&mut a, NS, 1, S, 10 * S);
        publish(
            &mut a,
            NS,
            1,
            &Snapshot::new(2 * S, None, br#"{"keys":[]}"#),
        );
        assert_eq!(lease_state(&b, NS, 3 * S), LeaseState::Free);
        let snap = read(&b, NS).unwrap();
        assert_eq!(snap.fetched_at, 2 * S);
        assert_eq!(snap.jwks, r#"{"keys":[]}"#);
    }

    #[test]
    fn a_failure_is_visible_to_waiting_workers() {
        let mut a = MemoryShared::new();
        acquire(&mut a, NS, 1, S, 10 * S);
        report_failure(&mut a, NS, 1, 2 * S, 3 * S);
        assert_eq!(lease_state(&a, NS, 2 * S), LeaseState::FailedSince(2 * S));
    }

    #[test]
    fn without_shared_data_every_worker_fetches_alone() {
        assert_eq!(acquire(&mut NoShared, NS, 1, S, 10 * S), Lease::Unshared);
    }

    #[test]
    fn garbage_in_shared_data_is_ignored() {
        let mut a = MemoryShared::new();
        a.set(&keys_key(NS), b"not json", 0).unwrap();
        assert!(read(&a, NS).is_none());
    }
}
