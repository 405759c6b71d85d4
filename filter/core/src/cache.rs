//! Verified tokens, so a token seen before skips parsing and signature checks. An entry holds what
//! the policy needs (claims), dies at the token's `exp` (plus skew) and when its key leaves the key
//! set. The route policy still runs on every request: the cache remembers authenticity, not access.
//!
//! Two levels: a per-worker map, and a direct-mapped table in proxy-wasm shared data so a token
//! verified on one worker is not verified again on another. The shared table has a fixed number of
//! slots (a new entry overwrites whatever hashed to its slot) and a cap per entry, so it is bounded
//! in entries and bytes without any eviction bookkeeping across workers.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::rc::Rc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use siphasher::sip128::{Hasher128, SipHasher24};

use crate::audit::Identity;
use crate::jwks::KeySet;
use crate::shared::SharedStore;

/// Slots of the shared table: its entry bound.
pub const SHARED_SLOTS: u64 = 4096;
/// Largest shared entry; bigger claim sets stay per-worker. Bounds the table to 32 MiB.
pub const MAX_SHARED_ENTRY_BYTES: usize = 8 * 1024;

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
    /// The audit record's identity fields, worked out from the claims once.
    pub identity: Rc<Identity>,
    /// `exp + skew`: unusable from then on.
    pub valid_until: Duration,
}

type Digest32 = [u8; 32];

/// Key of a token in the per-worker map: SipHash-2-4 with 128-bit output (the variant its authors
/// specify for 128-bit tags) under a secret key drawn when the cache is made. Only someone who
/// knows the key could make two tokens share an entry, and the key never leaves this instance;
/// SHA-256 (what the shared table needs, since every worker must agree on it) costs several times
/// more in wasm, which has no SHA instructions, and the lookup runs on every request.
type LocalKey = [u64; 2];

struct LocalKeys {
    key: (u64, u64),
}

/// The key stays out of debug output.
impl std::fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalKeys { .. }")
    }
}

impl Default for LocalKeys {
    fn default() -> Self {
        // std's `RandomState` is the portable source of per-instance randomness (the host's
        // `random_get` in wasm); its own key cannot be read, so two outputs under it make ours.
        let random = RandomState::new();
        Self {
            key: (random.hash_one(1u8), random.hash_one(2u8)),
        }
    }
}

impl LocalKeys {
    fn key(&self, token: &str) -> LocalKey {
        let mut h = SipHasher24::new_with_keys(self.key.0, self.key.1);
        h.write(token.as_bytes());
        let tag = h.finish128();
        [tag.h1, tag.h2]
    }
}

#[derive(Debug, Default)]
pub struct TokenCache {
    keys: LocalKeys,
    /// Per token: what it left behind, its cost in bytes, and its insertion number.
    entries: HashMap<LocalKey, (Verified, usize, u64)>,
    /// Insertion order, for eviction of the oldest entry. Removing an entry leaves its place
    /// here behind (searching the queue on every eviction made a full cache's insert O(n)); a
    /// place whose insertion number no longer matches its entry is skipped when it comes up.
    order: VecDeque<(LocalKey, u64)>,
    bytes: usize,
    inserted: u64,
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

    /// A verified token still valid at `now`. Keyed by a keyed hash of the whole token
    /// (`LocalKey`), so a token differing in any byte (signature included) is a different entry.
    pub fn get(&mut self, token: &str, now: Duration) -> Option<Verified> {
        let key = self.keys.key(token);
        let (entry, _, _) = self.entries.get(&key)?;
        if now > entry.valid_until {
            self.remove(&key);
            return None;
        }
        Some(entry.clone())
    }

    pub fn insert(&mut self, token: &str, verified: Verified) {
        let key = self.keys.key(token);
        let cost = token.len();
        if cost > MAX_BYTES {
            return;
        }
        self.remove(&key);
        while self.entries.len() >= MAX_ENTRIES || self.bytes + cost > MAX_BYTES {
            let Some((oldest, number)) = self.order.pop_front() else {
                break;
            };
            if self.entries.get(&oldest).is_some_and(|e| e.2 == number) {
                self.remove(&oldest);
            }
        }
        // Places left behind by removals: dropped once they outnumber the live entries, so the
        // queue stays within twice the entry bound.
        if self.order.len() >= 2 * MAX_ENTRIES {
            let entries = &self.entries;
            self.order
                .retain(|(k, number)| entries.get(k).is_some_and(|e| e.2 == *number));
        }
        self.inserted += 1;
        self.entries.insert(key, (verified, cost, self.inserted));
        self.order.push_back((key, self.inserted));
        self.bytes += cost;
    }

    /// After `provider`'s key set changed: forget its tokens whose key is gone.
    pub fn retain_keys(&mut self, provider: usize, keys: &KeySet) {
        let gone: Vec<LocalKey> = self
            .entries
            .iter()
            .filter(|(_, (v, _, _))| {
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

    fn remove(&mut self, key: &LocalKey) {
        if let Some((_, cost, _)) = self.entries.remove(key) {
            self.bytes -= cost;
        }
    }
}

fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}

/// Where a token lives in the shared table: the SHA-256 of the token, which every worker agrees
/// on. Computed once per first-seen token, for the lookup and then the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedKey(Digest32);

impl SharedKey {
    pub fn of(token: &str) -> SharedKey {
        SharedKey(digest(token))
    }
}

/// A verified token as kept in shared data. The provider is named, not indexed: workers agree on
/// names whatever order they hold providers in.
#[derive(Debug, Serialize, Deserialize)]
pub struct SharedEntry {
    /// Hex SHA-256 of the token: the slot may hold another token.
    token: String,
    pub provider: String,
    pub kid: Option<String>,
    pub valid_until_ms: u64,
    pub claims: Map<String, Value>,
}

fn hex(d: &Digest32) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * d.len());
    for b in d {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

fn slot_key(d: &Digest32) -> String {
    let slot = u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]) % SHARED_SLOTS;
    format!("oidc_filter/tokens/{slot}")
}

/// What every entry starts with, up to the token's hex digest: `token` is its first member.
const ENTRY_HEAD: &[u8] = br#"{"token":""#;

/// The shared entry for `token`, if another worker verified it and it is still within its time.
pub fn shared_get(shared: &dyn SharedStore, key: &SharedKey, now: Duration) -> Option<SharedEntry> {
    let d = &key.0;
    let (bytes, _) = shared.get(&slot_key(d))?;
    // Once the table has filled up, a first-seen token's slot mostly holds another token: tell
    // from the leading `token` member before parsing the claims. The full comparison below
    // still decides.
    let token_hex = hex(d);
    let digest_at = ENTRY_HEAD.len()..ENTRY_HEAD.len() + token_hex.len();
    if !bytes.starts_with(ENTRY_HEAD)
        || bytes.get(digest_at) != Some(token_hex.as_bytes())
        || bytes.get(ENTRY_HEAD.len() + token_hex.len()) != Some(&b'"')
    {
        return None;
    }
    let entry: SharedEntry = serde_json::from_slice(&bytes).ok()?;
    let alive = Duration::from_millis(entry.valid_until_ms) >= now;
    (entry.token == token_hex && alive).then_some(entry)
}

/// Publishes a verified token for the other workers (best effort: failures are ignored).
/// `claims_json` is the JSON object `verified.claims` was parsed from (a JWS payload as
/// received): it is stored as it is, so the claims are not serialised again. The entry is the
/// JSON document [`SharedEntry`] reads, `token` first.
pub fn shared_put(
    shared: &mut dyn SharedStore,
    key: &SharedKey,
    provider: &str,
    verified: &Verified,
    claims_json: &[u8],
) {
    /// The entry's bytes besides the provider, the kid and the claims.
    const FRAME_BYTES: usize = 128;
    if claims_json.len() > MAX_SHARED_ENTRY_BYTES {
        return;
    }
    let d = &key.0;
    let valid_until_ms = u64::try_from(verified.valid_until.as_millis()).unwrap_or(u64::MAX);
    let kid_len = verified.kid.as_ref().map_or(0, String::len);
    let mut bytes = Vec::with_capacity(FRAME_BYTES + provider.len() + kid_len + claims_json.len());
    bytes.extend_from_slice(ENTRY_HEAD);
    bytes.extend_from_slice(hex(d).as_bytes());
    bytes.extend_from_slice(br#"","provider":"#);
    let strings = serde_json::to_writer(&mut bytes, provider)
        .and_then(|()| {
            bytes.extend_from_slice(br#","kid":"#);
            serde_json::to_writer(&mut bytes, &verified.kid)
        })
        .is_ok();
    if !strings {
        return;
    }
    bytes.extend_from_slice(br#","valid_until_ms":"#);
    bytes.extend_from_slice(valid_until_ms.to_string().as_bytes());
    bytes.extend_from_slice(br#","claims":"#);
    bytes.extend_from_slice(claims_json);
    bytes.push(b'}');
    if bytes.len() <= MAX_SHARED_ENTRY_BYTES {
        let _ = shared.set(&slot_key(d), &bytes, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::MemoryShared;

    #[test]
    fn a_shared_entry_is_found_by_its_token_only() {
        let mut shared = MemoryShared::new();
        put(&mut shared, "a.b.c", "idp", &verified("k1", 100));
        let e = shared_get(&shared, &SharedKey::of("a.b.c"), Duration::from_secs(100)).unwrap();
        assert_eq!((e.provider.as_str(), e.kid.as_deref()), ("idp", Some("k1")));
        assert!(shared_get(&shared, &SharedKey::of("a.b.d"), Duration::ZERO).is_none());
        assert!(shared_get(&shared, &SharedKey::of("a.b.c"), Duration::from_secs(101)).is_none());
    }

    #[test]
    fn a_slot_holding_another_token_is_a_miss() {
        let mut shared = MemoryShared::new();
        put(&mut shared, "a.b.c", "idp", &verified("k1", 100));
        let (bytes, _) = shared.get(&slot_key(&digest("a.b.c"))).unwrap();
        assert!(bytes.starts_with(format!(r#"{{"token":"{}""#, hex(&digest("a.b.c"))).as_bytes()));
        // Another token's entry written into this token's slot.
        shared.set(&slot_key(&digest("x.y.z")), &bytes, 0).unwrap();
        assert!(shared_get(&shared, &SharedKey::of("x.y.z"), Duration::ZERO).is_none());
        assert!(shared_get(&shared, &SharedKey::of("a.b.c"), Duration::ZERO).is_some());
    }

    #[test]
    fn oversized_claims_stay_out_of_shared_data() {
        let mut shared = MemoryShared::new();
        let mut v = verified("k1", 100);
        let mut claims = Map::new();
        claims.insert(
            "big".into(),
            Value::String("x".repeat(MAX_SHARED_ENTRY_BYTES)),
        );
        v.claims = Rc::new(claims);
        put(&mut shared, "t", "idp", &v);
        assert!(shared_get(&shared, &SharedKey::of("t"), Duration::ZERO).is_none());
    }

    /// Publishes `v` with its claims as compact JSON, as a token's payload usually is.
    fn put(shared: &mut MemoryShared, token: &str, provider: &str, v: &Verified) {
        let payload = serde_json::to_vec(&*v.claims).unwrap();
        shared_put(shared, &SharedKey::of(token), provider, v, &payload);
    }

    fn with_claims(mut v: Verified, claims: Value) -> Verified {
        let Value::Object(map) = claims else {
            panic!("not an object")
        };
        v.claims = Rc::new(map);
        v
    }

    #[test]
    fn an_entry_is_the_document_a_serialised_shared_entry_is() {
        let mut shared = MemoryShared::new();
        let claims =
            serde_json::json!({"sub": "a\"b", "aud": ["x", "y"], "n": 1.5, "o": {"k": null}});
        for (provider, kid) in [("idp", Some("k\\1")), ("other \"idp\"", None)] {
            let mut v = with_claims(verified("k1", 100), claims.clone());
            v.kid = kid.map(str::to_string);
            put(&mut shared, "a.b.c", provider, &v);
            let (bytes, _) = shared.get(&slot_key(&digest("a.b.c"))).unwrap();
            let expected = SharedEntry {
                token: hex(&digest("a.b.c")),
                provider: provider.to_string(),
                kid: v.kid.clone(),
                valid_until_ms: 100_000,
                claims: (*v.claims).clone(),
            };
            assert_eq!(bytes, serde_json::to_vec(&expected).unwrap());
        }
    }

    #[test]
    fn the_claims_are_stored_as_the_payload_was_received() {
        let mut shared = MemoryShared::new();
        let payload = br#"{ "sub" : "alice",
            "scope": "read write", "exp": 100 }"#;
        let v = verified("k1", 100);
        shared_put(&mut shared, &SharedKey::of("a.b.c"), "idp", &v, payload);
        let (bytes, _) = shared.get(&slot_key(&digest("a.b.c"))).unwrap();
        assert!(bytes.ends_with(&[br#","claims":"#.as_slice(), payload, b"}"].concat()));
        let e = shared_get(&shared, &SharedKey::of("a.b.c"), Duration::from_secs(100)).unwrap();
        assert_eq!(e.claims, crate::json::parse_object(payload).unwrap());
        assert_eq!(e.valid_until_ms, 100_000);
    }

    #[test]
    fn an_entry_serialised_by_serde_json_is_read() {
        let mut shared = MemoryShared::new();
        let claims = serde_json::json!({"sub": "alice"});
        let entry = SharedEntry {
            token: hex(&digest("a.b.c")),
            provider: "idp".into(),
            kid: Some("k1".into()),
            valid_until_ms: 100_000,
            claims: claims.as_object().unwrap().clone(),
        };
        let bytes = serde_json::to_vec(&entry).unwrap();
        shared.set(&slot_key(&digest("a.b.c")), &bytes, 0).unwrap();
        let e = shared_get(&shared, &SharedKey::of("a.b.c"), Duration::from_secs(100)).unwrap();
        assert_eq!(
            (e.kid.as_deref(), e.claims.get("sub")),
            (Some("k1"), Some(&claims["sub"]))
        );
    }

    #[test]
    fn hex_is_lower_case_and_two_digits_a_byte() {
        let mut d = [0u8; 32];
        d[0] = 0x0f;
        d[31] = 0xa0;
        let h = hex(&d);
        assert_eq!(h.len(), 64);
        assert!(h.starts_with("0f00") && h.ends_with("00a0"), "{h}");
    }

    fn verified(kid: &str, until: u64) -> Verified {
        Verified {
            provider: 0,
            kid: Some(kid.to_string()),
            claims: Rc::new(Map::new()),
            identity: Rc::default(),
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
    fn each_cache_keys_tokens_under_its_own_secret() {
        let (a, b) = (LocalKeys::default(), LocalKeys::default());
        assert_ne!(a.key, b.key);
        assert_ne!(a.key("a.b.c"), b.key("a.b.c"));
        assert_eq!(a.key("a.b.c"), a.key("a.b.c"));
        let c = TokenCache::new();
        let shown = format!("{c:?}");
        assert!(shown.contains("LocalKeys { .. }"));
        assert!(!shown.contains(&c.keys.key.0.to_string()));
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
    fn a_token_inserted_again_is_evicted_as_the_newest() {
        let mut c = TokenCache::new();
        c.insert("a", verified("k1", 100));
        c.insert("b", verified("k1", 100));
        c.insert("a", verified("k1", 100));
        for i in 0..MAX_ENTRIES - 2 {
            c.insert(&format!("token-{i}"), verified("k1", 100));
        }
        assert_eq!(c.len(), MAX_ENTRIES);
        c.insert("one more", verified("k1", 100));
        assert!(c.get("b", Duration::ZERO).is_none());
        assert!(c.get("a", Duration::ZERO).is_some());
        assert!(c.get("token-0", Duration::ZERO).is_some());
    }

    #[test]
    fn removed_entries_do_not_grow_the_eviction_queue_without_bound() {
        let mut c = TokenCache::new();
        for i in 0..5 * MAX_ENTRIES {
            let token = format!("token-{i}");
            c.insert(&token, verified("k1", 100));
            // Expired at once: removed from the map, its place left in the queue.
            assert!(c.get(&token, Duration::from_secs(101)).is_none());
        }
        assert!(c.is_empty());
        assert!(c.order.len() <= 2 * MAX_ENTRIES);
        c.insert("last", verified("k1", 100));
        assert_eq!(c.len(), 1);
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
