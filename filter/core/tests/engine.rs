//! The engine end to end without I/O: key fetching and its failures, rotation, sharing across
//! workers, the verified-token cache, identity headers and policy, with a scripted clock and
//! scripted fetch answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use oidc_filter_core::audit::Metric;
use oidc_filter_core::config::Config;
use oidc_filter_core::engine::{Effect, Engine, Fetch, FetchResult};
use oidc_filter_core::shared::MemoryShared;
use oidc_filter_core::{Decision, Request};
use oidc_testdata::{keys::jwks, TestKey, NOW};
use serde_json::{json, Value};

const ISS: &str = "https://idp.example/realms/demo";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn config(extra: Value) -> Config {
    let mut doc = json!({
        "providers": [{"name": "idp", "issuer": ISS, "audiences": ["orders-api"]}],
        "rules": [
            {"path_prefix": "/admin", "scopes_required": ["admin"]},
            {"path_prefix": "/public", "allow_anonymous": true}
        ],
        "claims_to_headers": {"x-user": "sub", "x-roles": "realm_access.roles"}
    });
    if let (Some(d), Some(e)) = (doc.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            d.insert(k.clone(), v.clone());
        }
    }
    Config::from_json(doc.to_string().as_bytes()).unwrap()
}

fn claims(sub: &str) -> Value {
    json!({"iss": ISS, "sub": sub, "aud": "orders-api", "iat": NOW - 10, "exp": NOW + 3600,
           "scope": "read", "realm_access": {"roles": ["viewer", "editor"]}})
}

fn request(path: &str, token: Option<&str>) -> Request {
    let mut headers = vec![("Host".to_string(), "api.example".to_string())];
    if let Some(t) = token {
        headers.push(("Authorization".to_string(), format!("Bearer {t}")));
    }
    Request {
        method: "GET".into(),
        path: path.into(),
        headers,
        source: Some("127.0.0.1:5000".into()),
    }
}

/// One worker VM with a scripted clock and the identity provider's documents.
struct Worker {
    engine: Engine,
    shared: MemoryShared,
    now: Duration,
    fetches: Vec<Fetch>,
    resolved: Vec<(u32, Decision)>,
    metrics: Vec<Metric>,
    next_id: u32,
}

impl Worker {
    fn new(config: Config, shared: MemoryShared, worker: u64) -> Worker {
        let engine = Engine::new(config, worker).unwrap();
        let mut w = Worker {
            engine,
            shared,
            now: secs(NOW),
            fetches: vec![],
            resolved: vec![],
            metrics: vec![],
            next_id: 1,
        };
        w.drain();
        w
    }

    fn drain(&mut self) {
        while let Some(effect) = self.engine.poll_effect() {
            match effect {
                Effect::Fetch(f) => self.fetches.push(f),
                Effect::Resolve { request, decision } => self.resolved.push((request, decision)),
                Effect::Count(m) => self.metrics.push(m),
                Effect::Log { .. } | Effect::Audit(_) => {}
            }
        }
    }

    fn tick(&mut self) {
        self.engine.on_tick(self.now, &mut self.shared);
        self.drain();
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.tick();
    }

    fn send(&mut self, req: &Request) -> (u32, Decision) {
        let id = self.next_id;
        self.next_id += 1;
        let d = self.engine.on_request(id, req, self.now, &mut self.shared);
        self.drain();
        (id, d)
    }

    /// Answers every outstanding fetch from the IdP's documents (`None`: the IdP is down).
    fn answer(&mut self, keys: Option<&Value>) -> usize {
        let mut answered = 0;
        while let Some(f) = (!self.fetches.is_empty()).then(|| self.fetches.remove(0)) {
            answered += 1;
            let result = match keys {
                None => FetchResult::Failed("connection refused".into()),
                Some(_) if f.path.ends_with("/.well-known/openid-configuration") => {
                    FetchResult::Response {
                        status: 200,
                        body: json!({"issuer": ISS, "jwks_uri": format!("{ISS}/certs")})
                            .to_string()
                            .into_bytes(),
                    }
                }
                Some(keys) => FetchResult::Response {
                    status: 200,
                    body: keys.to_string().into_bytes(),
                },
            };
            self.engine
                .on_fetch_response(f.id, result, self.now, &mut self.shared);
            self.drain();
        }
        answered
    }

    fn count(&self, metric: &Metric) -> usize {
        self.metrics.iter().filter(|m| *m == metric).count()
    }
}

fn status(d: &Decision) -> u16 {
    match d {
        Decision::Allow(_) => 200,
        Decision::Deny(deny) => deny.status,
        Decision::Pause => 0,
    }
}

fn ready_worker(key: &TestKey) -> Worker {
    let mut w = Worker::new(config(json!({})), MemoryShared::new(), 1);
    w.tick();
    assert_eq!(
        w.answer(Some(&jwks(&[key]))),
        2,
        "discovery, then the key set"
    );
    w
}

#[test]
fn pauses_requests_until_the_first_key_set_arrives_then_allows_them() {
    let key = TestKey::rs256("k1");
    let mut w = Worker::new(config(json!({})), MemoryShared::new(), 1);
    let token = key.mint(&claims("alice"));
    let (id, first) = w.send(&request("/orders", Some(&token)));
    assert_eq!(first, Decision::Pause);
    let (_, second) = w.send(&request("/orders", Some(&token)));
    assert_eq!(second, Decision::Pause);
    assert_eq!(w.fetches.len(), 1, "one discovery fetch for both requests");
    assert!(w.fetches[0]
        .path
        .ends_with("/.well-known/openid-configuration"));
    assert_eq!(w.fetches[0].upstream, "idp.example:443");
    assert_eq!(w.answer(Some(&jwks(&[&key]))), 2);
    assert_eq!(w.resolved.len(), 2);
    assert_eq!(w.resolved[0].0, id);
    assert!(w.resolved.iter().all(|(_, d)| status(d) == 200));
}

#[test]
fn fails_paused_requests_closed_with_503_when_the_first_fetch_fails() {
    let key = TestKey::rs256("k1");
    let mut w = Worker::new(config(json!({})), MemoryShared::new(), 1);
    let (_, d) = w.send(&request("/orders", Some(&key.mint(&claims("alice")))));
    assert_eq!(d, Decision::Pause);
    w.answer(None);
    assert_eq!(w.resolved.len(), 1);
    assert_eq!(status(&w.resolved[0].1), 503);
    // During the backoff no new fetch starts and requests fail at once.
    let (_, d) = w.send(&request("/orders", Some(&key.mint(&claims("bob")))));
    assert_eq!(status(&d), 503);
    assert!(w.fetches.is_empty());
    // After the backoff the filter retries by itself and recovers.
    w.advance(secs(2));
    assert_eq!(w.fetches.len(), 1);
    w.answer(Some(&jwks(&[&key])));
    let (_, d) = w.send(&request("/orders", Some(&key.mint(&claims("bob")))));
    assert_eq!(status(&d), 200);
}

#[test]
fn a_fetch_that_never_answers_times_out_and_fails_the_waiting_request() {
    let key = TestKey::rs256("k1");
    let mut w = Worker::new(config(json!({})), MemoryShared::new(), 1);
    let (_, d) = w.send(&request("/orders", Some(&key.mint(&claims("alice")))));
    assert_eq!(d, Decision::Pause);
    w.fetches.clear(); // lost: the host never answers
    w.advance(secs(6));
    assert_eq!(w.resolved.len(), 1);
    assert_eq!(status(&w.resolved[0].1), 503);
}

#[test]
fn allows_a_valid_token_with_identity_headers_and_removes_forged_ones() {
    let key = TestKey::rs256("k1");
    let mut w = ready_worker(&key);
    let mut req = request("/orders", Some(&key.mint(&claims("alice"))));
    req.headers.push(("X-User".into(), "mallory".into()));
    let (_, d) = w.send(&req);
    let Decision::Allow(allow) = d else {
        panic!("{d:?}")
    };
    assert!(allow.remove_headers.contains(&"x-user".to_string()));
    assert!(allow
        .set_headers
        .contains(&("x-user".into(), "alice".into())));
    assert!(allow
        .set_headers
        .contains(&("x-roles".into(), "viewer,editor".into())));
    assert!(!allow
        .remove_headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("authorization")));
}

#[test]
fn strips_the_credential_when_forward_token_is_false() {
    let key = TestKey::rs256("k1");
    let mut w = Worker::new(
        config(json!({"forward_token": false})),
        MemoryShared::new(),
        1,
    );
    w.tick();
    w.answer(Some(&jwks(&[&key])));
    let (_, d) = w.send(&request("/orders", Some(&key.mint(&claims("alice")))));
    let Decision::Allow(allow) = d else {
        panic!("{d:?}")
    };
    assert!(allow
        .remove_headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("authorization")));
}

#[test]
fn refuses_missing_scope_with_403_and_names_it() {
    let key = TestKey::rs256("k1");
    let mut w = ready_worker(&key);
    let (_, d) = w.send(&request("/admin/users", Some(&key.mint(&claims("alice")))));
    let Decision::Deny(deny) = d else {
        panic!("{d:?}")
    };
    assert_eq!(deny.status, 403);
    let challenge = &deny
        .headers
        .iter()
        .find(|(n, _)| n == "www-authenticate")
        .unwrap()
        .1;
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"admin\""), "{challenge}");
}

#[test]
fn anonymous_routes_pass_without_a_token_but_never_with_forged_identity() {
    let key = TestKey::rs256("k1");
    let mut w = ready_worker(&key);
    let mut req = request("/public/info", None);
    req.headers.push(("x-user".into(), "admin".into()));
    let (_, d) = w.send(&req);
    let Decision::Allow(allow) = d else {
        panic!("{d:?}")
    };
    assert!(allow.remove_headers.contains(&"x-user".to_string()));
    assert!(allow.set_headers.is_empty());
    let (_, d) = w.send(&request("/orders", None));
    assert_eq!(status(&d), 401);
}

#[test]
fn a_token_seen_before_is_answered_from_the_cache_and_still_checked_against_the_route() {
    let key = TestKey::rs256("k1");
    let mut w = ready_worker(&key);
    let token = key.mint(&claims("alice"));
    assert_eq!(status(&w.send(&request("/orders", Some(&token))).1), 200);
    assert_eq!(status(&w.send(&request("/orders", Some(&token))).1), 200);
    assert_eq!(w.count(&Metric::CacheHit), 1);
    assert_eq!(status(&w.send(&request("/admin", Some(&token))).1), 403);
    assert_eq!(w.count(&Metric::CacheHit), 2);
}

#[test]
fn a_cached_token_expires_at_exp_plus_skew() {
    let key = TestKey::rs256("k1");
    let mut w = ready_worker(&key);
    let mut c = claims("alice");
    c["exp"] = json!(NOW + 100);
    let token = key.mint(&c);
    assert_eq!(status(&w.send(&request("/orders", Some(&token))).1), 200);
    w.now = secs(NOW + 160);
    assert_eq!(status(&w.send(&request("/orders", Some(&token))).1), 200);
    w.now = secs(NOW + 161);
    assert_eq!(status(&w.send(&request("/orders", Some(&token))).1), 401);
}

#[test]
fn refetches_jwks_once_for_ten_requests_with_a_new_kid() {
    let old = TestKey::rs256("k1");
    let new = TestKey::es256("k2");
    let mut w = ready_worker(&old);
    let token = new.mint(&claims("alice"));
    let decisions: Vec<Decision> = (0..10)
        .map(|_| w.send(&request("/orders", Some(&token))).1)
        .collect();
    assert!(decisions.iter().all(|d| *d == Decision::Pause));
    assert_eq!(w.fetches.len(), 1, "one refetch");
    assert!(
        w.fetches[0].path.ends_with("/certs"),
        "straight to the key set: {}",
        w.fetches[0].path
    );
    w.answer(Some(&jwks(&[&old, &new])));
    assert_eq!(w.resolved.len(), 10);
    assert!(w.resolved.iter().all(|(_, d)| status(d) == 200));
    assert_eq!(w.count(&Metric::KeyRotation), 1);
    // The old key keeps working while it is published.
    assert_eq!(
        status(
            &w.send(&request("/orders", Some(&old.mint(&claims("bob")))))
                .1
        ),
        200
    );
}

#[test]
fn unknown_kids_refetch_at_most_once_per_interval() {
    let key = TestKey::rs256("k1");
    let mut w = ready_worker(&key);
    let stranger = TestKey::ed25519("attacker-1");
    assert_eq!(
        w.send(&request("/orders", Some(&stranger.mint(&claims("x")))))
            .1,
        Decision::Pause
    );
    w.answer(Some(&jwks(&[&key])));
    assert_eq!(status(&w.resolved[0].1), 401);
    let stranger2 = TestKey::ed25519("attacker-2");
    let (_, d) = w.send(&request("/orders", Some(&stranger2.mint(&claims("x")))));
    assert_eq!(status(&d), 401, "no second refetch within 30 s");
    assert!(w.fetches.is_empty());
    w.now += secs(30);
    assert_eq!(
        w.send(&request("/orders", Some(&stranger2.mint(&claims("y")))))
            .1,
        Decision::Pause
    );
    assert_eq!(w.fetches.len(), 1);
}

#[test]
fn refreshes_keys_ahead_of_their_ttl() {
    let key = TestKey::rs256("k1");
    let mut w = ready_worker(&key);
    w.advance(secs(539));
    assert!(w.fetches.is_empty());
    w.advance(secs(1));
    assert_eq!(w.fetches.len(), 1, "refresh at 90 % of the 600 s TTL");
}

#[test]
fn keeps_the_last_good_keys_while_the_idp_is_down_but_not_forever() {
    let key = TestKey::rs256("k1");
    let mut w = Worker::new(
        config(
            json!({"providers": [{"name": "idp", "issuer": ISS, "audiences": ["orders-api"],
                                     "jwks_cache_ttl_secs": 600, "jwks_stale_max_secs": 3600}]}),
        ),
        MemoryShared::new(),
        1,
    );
    w.tick();
    w.answer(Some(&jwks(&[&key])));
    let mut c = claims("alice");
    c["exp"] = json!(NOW + 100_000);
    // Long past the TTL, every refresh failing: the keys are still used.
    for _ in 0..60 {
        w.advance(secs(60));
        w.answer(None);
    }
    let now = w.now.as_secs();
    c["iat"] = json!(now);
    assert_eq!(
        status(&w.send(&request("/orders", Some(&key.mint(&c)))).1),
        200
    );
    assert!(w.count(&Metric::JwksFetchFailed) + w.count(&Metric::DiscoveryFetchFailed) > 0);
    // Beyond TTL + stale_max the keys are gone: fail closed.
    for _ in 0..11 {
        w.advance(secs(60));
        w.answer(None);
    }
    c["iat"] = json!(w.now.as_secs());
    assert_eq!(
        status(&w.send(&request("/orders", Some(&key.mint(&c)))).1),
        503
    );
}

#[test]
fn two_workers_sharing_data_fetch_the_key_set_once() {
    let key = TestKey::rs256("k1");
    let shared = MemoryShared::new();
    let mut a = Worker::new(config(json!({})), shared.clone(), 1);
    let mut b = Worker::new(config(json!({})), shared, 2);
    let token = key.mint(&claims("alice"));
    assert_eq!(a.send(&request("/orders", Some(&token))).1, Decision::Pause);
    assert_eq!(b.send(&request("/orders", Some(&token))).1, Decision::Pause);
    assert_eq!(a.fetches.len(), 1);
    assert!(b.fetches.is_empty(), "b waits for a's fetch");
    assert_eq!(a.answer(Some(&jwks(&[&key]))), 2);
    b.advance(Duration::from_millis(100));
    assert_eq!(b.resolved.len(), 1);
    assert_eq!(status(&b.resolved[0].1), 200);
    assert!(b.fetches.is_empty());
}

#[test]
fn a_removed_key_stops_verifying_even_cached_tokens() {
    let old = TestKey::rs256("k1");
    let new = TestKey::es256("k2");
    let mut w = ready_worker(&old);
    let token = old.mint(&claims("alice"));
    assert_eq!(status(&w.send(&request("/orders", Some(&token))).1), 200);
    // The IdP drops k1; a token for k2 triggers the refetch that reveals it.
    assert_eq!(
        w.send(&request("/orders", Some(&new.mint(&claims("bob")))))
            .1,
        Decision::Pause
    );
    w.answer(Some(&jwks(&[&new])));
    let (_, d) = w.send(&request("/orders", Some(&token)));
    assert_eq!(status(&d), 401);
}

#[test]
fn refuses_tokens_of_unknown_issuers_without_fetching() {
    let key = TestKey::rs256("k1");
    let mut w = Worker::new(config(json!({})), MemoryShared::new(), 1);
    let mut c = claims("alice");
    c["iss"] = json!("https://evil.example");
    let (_, d) = w.send(&request("/orders", Some(&key.mint(&c))));
    assert_eq!(status(&d), 401);
    assert!(w.fetches.is_empty());
    assert_eq!(w.count(&Metric::Denied("unknown_issuer")), 1);
}

#[test]
fn a_token_verified_on_one_worker_is_not_verified_again_on_another() {
    let key = TestKey::rs256("k1");
    let shared = MemoryShared::new();
    let mut a = Worker::new(config(json!({})), shared.clone(), 1);
    let mut b = Worker::new(config(json!({})), shared, 2);
    a.tick();
    a.answer(Some(&jwks(&[&key])));
    b.tick(); // adopts a's key set from shared data
    assert!(b.fetches.is_empty());
    let token = key.mint(&claims("alice"));
    assert_eq!(status(&a.send(&request("/orders", Some(&token))).1), 200);
    assert_eq!(status(&b.send(&request("/orders", Some(&token))).1), 200);
    assert_eq!(b.count(&Metric::CacheHit), 1);
    assert_eq!(b.count(&Metric::CacheMiss), 0);
    // The route policy still applies to the shared entry.
    assert_eq!(status(&b.send(&request("/admin", Some(&token))).1), 403);
}

#[test]
fn a_shared_entry_whose_key_left_the_set_is_not_trusted() {
    let old = TestKey::rs256("k1");
    let new = TestKey::es256("k2");
    let shared = MemoryShared::new();
    let mut a = Worker::new(config(json!({})), shared.clone(), 1);
    a.tick();
    a.answer(Some(&jwks(&[&old])));
    let token = old.mint(&claims("alice"));
    assert_eq!(status(&a.send(&request("/orders", Some(&token))).1), 200);
    // The IdP drops k1: a's refetch for k2 publishes a set without it, which b then takes.
    a.now += secs(1);
    assert_eq!(
        a.send(&request("/orders", Some(&new.mint(&claims("bob")))))
            .1,
        Decision::Pause
    );
    a.answer(Some(&jwks(&[&new])));
    let mut b = Worker::new(config(json!({})), shared, 2);
    b.now = a.now;
    b.tick();
    assert!(b.fetches.is_empty(), "b adopts a's set");
    // b finds the verified-token entry for the k1 token, but k1 is gone: the entry is not used.
    let (_, d) = b.send(&request("/orders", Some(&token)));
    assert_ne!(status(&d), 200);
    assert_eq!(b.count(&Metric::CacheHit), 0);
}

#[test]
fn a_request_on_a_second_worker_uses_keys_another_worker_published_without_pausing() {
    let key = TestKey::rs256("k1");
    let shared = MemoryShared::new();
    let mut a = Worker::new(config(json!({})), shared.clone(), 1);
    let mut b = Worker::new(config(json!({})), shared, 2);
    a.tick();
    a.answer(Some(&jwks(&[&key])));
    // b has not ticked since: it finds a's key set while judging, and answers at once.
    let (_, d) = b.send(&request("/orders", Some(&key.mint(&claims("alice")))));
    assert_eq!(status(&d), 200);
    assert!(b.resolved.is_empty(), "never resolved through an effect");
    assert!(b.fetches.is_empty());
}

#[test]
fn a_key_rotation_is_refetched_once_for_all_workers() {
    let old = TestKey::rs256("k1");
    let new = TestKey::es256("k2");
    let shared = MemoryShared::new();
    let mut a = Worker::new(config(json!({})), shared.clone(), 1);
    let mut b = Worker::new(config(json!({})), shared, 2);
    a.tick();
    a.answer(Some(&jwks(&[&old])));
    b.tick();
    assert!(b.fetches.is_empty());
    let token = new.mint(&claims("alice"));
    assert_eq!(a.send(&request("/orders", Some(&token))).1, Decision::Pause);
    assert_eq!(a.answer(Some(&jwks(&[&old, &new]))), 1);
    assert_eq!(status(&a.resolved[0].1), 200);
    // Later, b meets the new kid: a's refetch already holds it, so b takes that set.
    b.now += secs(5);
    let (_, d) = b.send(&request("/orders", Some(&new.mint(&claims("bob")))));
    assert_eq!(status(&d), 200);
    assert!(b.fetches.is_empty(), "no second refetch");
}
