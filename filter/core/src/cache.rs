//! Verified tokens, so a token seen before skips parsing and signature checks. An entry holds what
//! the policy needs (claims), dies at the token's `exp` (plus skew) and when its key leaves the key
//! set. The route policy still runs on every request: the cache remembers authenticity, not access.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::jwks::KeySet;

/// Entries kept at most: bounds memory per worker VM whatever the traffic.
pub const MAX_ENTRIES: usize = 4096;
/// Token bytes kept at most (claims are never larger than their token): ~4 MiB per worker VM.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// What a verified token left behind.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// Index of the provider that issued it.
    pub provider: usize,
    /// The `kid` of the key that verified it.
    pub kid: Option<String>,
    pub claims: Rc<Map<String, Value>>,
    /// `exp + skew`: unusable from then on.
    pub valid_until: Duration,
}

type Digest32 = [u8; 32];

#[derive(Debug, Default)]
pub struct TokenCache {
    entries: HashMap<Digest32, (Verified, usize)>,
    /// Insertion order, for eviction of the oldest entry.
    order: VecDeque<Digest32>,
    bytes: usize,
}

impl TokenCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A verified token still valid at `now`. Keyed by SHA-256 of the whole token, so a token
    /// differing in any byte (signature included) is a different entry.
    pub fn get(&mut self, token: &str, now: Duration) -> Option<Verified> {
        let key = digest(token);
        let (entry, _) = self.entries.get(&key)?;
        if now > entry.valid_until {
            self.remove(&key);
            return None;
        }
        Some(entry.clone())
    }

    pub fn insert(&mut self, token: &str, verified: Verified) {
        let key = digest(token);
        let cost = token.len();
        if cost > MAX_BYTES {
            return;
        }
        self.remove(&key);
        while self.entries.len() >= MAX_ENTRIES || self.bytes + cost > MAX_BYTES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.remove(&oldest);
        }
        self.entries.insert(key, (verified, cost));
        self.order.push_back(key);
        self.bytes += cost;
    }

    /// After `provider`'s key set changed: forget its tokens whose key is gone.
    pub fn retain_keys(&mut self, provider: usize, keys: &KeySet) {
        let gone: Vec<Digest32> = self
            .entries
            .iter()
            .filter(|(_, (v, _))| {
                v.provider == provider
                    && !v
                        .kid
                        .as_deref()
                        .is_some_and(|k| keys.kids().any(|have| have == k))
            })
            .map(|(k, _)| *k)
            .collect();
        for key in gone {
            self.remove(&key);
        }
    }

    fn remove(&mut self, key: &Digest32) {
        if let Some((_, cost)) = self.entries.remove(key) {
            self.bytes -= cost;
            self.order.retain(|k| k != key);
        }
    }
}

fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(kid: &str, until: u64) -> Verified {
        Verified {
            provider: 0,
            kid: Some(kid.to_string()),
            claims: Rc::new(Map::new()),
            valid_until: Duration::from_secs(until),
        }
    }

    #[test]
    fn an_entry_dies_at_its_expiry() {
        let mut c = TokenCache::new();
        c.insert("t", verified("k1", 100));
        assert!(c.get("t", Duration::from_secs(100)).is_some());
        assert!(c.get("t", Duration::from_secs(101)).is_none());
        assert!(c.is_empty());
    }

    #[test]
    fn a_token_differing_in_one_byte_is_a_miss() {
        let mut c = TokenCache::new();
        c.insert("a.b.sig1", verified("k1", 100));
        assert!(c.get("a.b.sig2", Duration::ZERO).is_none());
    }

    #[test]
    fn the_oldest_entry_makes_room() {
        let mut c = TokenCache::new();
        for i in 0..=MAX_ENTRIES {
            c.insert(&format!("token-{i}"), verified("k1", 100));
        }
        assert_eq!(c.len(), MAX_ENTRIES);
        assert!(c.get("token-0", Duration::ZERO).is_none());
        assert!(c
            .get(&format!("token-{MAX_ENTRIES}"), Duration::ZERO)
            .is_some());
    }

    #[test]
    fn tokens_of_a_removed_key_are_forgotten() {
        let mut c = TokenCache::new();
        c.insert("old", verified("k1", 100));
        c.insert("new", verified("k2", 100));
        let keys = KeySet::parse(
            br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k2","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#,
        )
        .unwrap();
        c.retain_keys(0, &keys);
        assert!(c.get("old", Duration::ZERO).is_none());
        assert!(c.get("new", Duration::ZERO).is_some());
    }
}
