//! Per-request cost of the filter, the same cases several ways:
//!
//! - `wasm/…`: the real `oidc_filter.wasm` (the one embedded in `oidc-host`) in the host's runtime,
//!   driven through `oidc_host::runtime::Pool`/`Stream` as the proxy drives it: from a task on the
//!   worker thread's own runtime (where the proxy runs the client connections it gives that
//!   worker, and where a stream hands each phase to the worker with a direct call), one request at
//!   a time: `proxy_on_context_create` + `proxy_on_request_headers` + the stream's
//!   `proxy_on_done`/`delete`. `missing_token` (a 401 the filter decides without looking at any
//!   token) is the runtime's own per-request cost. No test-kit bookkeeping (settling, log capture)
//!   is in the timed section.
//! - `wasm_pipelined/…`: the same with 32 requests in flight on the worker's runtime (as wrk's 32
//!   connections keep them), timed per request.
//! - `wasm_on_worker/…`: the same requests run by the worker itself (`Pool::run_on_worker`),
//!   without streams or tasks: the filter's and the callbacks' cost alone.
//! - `wasm_cross_thread/…`: the same one at a time from another thread (as the test kit drives a
//!   stream): each phase is a message that wakes the worker thread, which answers through a
//!   oneshot channel.
//! - `core/…`: `Engine::on_request` natively with `MemoryShared`, as the adapter calls it.
//! - `ring/…`: `ring` verifying the same signature natively: the floor.
//!
//! Cases: a token seen before (cached), a first-seen RS256 (RSA-2048) token, a first-seen ES256
//! token, a token with a bad RS256 signature (rejected with 401). First-seen tokens differ in `jti`
//! and are all minted before their group runs (`FirstSeen`), so the worker runs the timed
//! requests back to back. Benchmarks measure; nothing asserts on time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion};
use oidc_filter_core::config::Config;
use oidc_filter_core::engine::Engine;
use oidc_filter_core::shared::MemoryShared;
use oidc_filter_core::{Decision, Request};
use oidc_host::clock::ManualClock;
use oidc_host::runtime::{
    Callout, CalloutResult, CalloutSender, Pool, PoolConfig, Stream, Verdict,
};
use oidc_testdata::keys::TestKey;
use oidc_testdata::NOW;
use serde_json::json;

const ISSUER: &str = "https://idp.example.com";

struct Keys {
    rsa: TestKey,
    ec: TestKey,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            rsa: TestKey::rs256("rsa"),
            ec: TestKey::es256("ec"),
        }
    }

    /// The filter's configuration: one provider with both keys inline, nothing fetched.
    fn config(&self) -> String {
        json!({"providers": [{
            "name": "bench",
            "issuer": ISSUER,
            "audiences": ["api"],
            "jwks": {"keys": [self.rsa.jwk(), self.ec.jwk()]},
        }]})
        .to_string()
    }
}

/// A typical access token; `jti` makes it distinct (first seen) for the cache.
fn mint(key: &TestKey, jti: u64) -> String {
    key.mint(&json!({
        "iss": ISSUER, "sub": "user-1", "aud": "api", "scope": "read write",
        "iat": NOW, "exp": NOW + 3600, "jti": format!("t-{jti}"),
    }))
}

/// The same token with one signature byte changed.
fn corrupt(token: &str) -> String {
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
    bytes[10] ^= 1;
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// `testdata/keys/rsa-a.pem`, the key behind `TestKey::rs256`.
const RSA_A: &str = include_str!("../../testdata/keys/rsa-a.pem");

/// `count` distinct RS256 tokens (`jti` 0, 1, …), as `mint` makes them with `keys.rsa`, but
/// signed by `ring` on both cores: about six times faster than the test keys' signer, which
/// matters for the tens of thousands of tokens a first-seen group uses.
fn mint_rs256_many(keys: &Keys, count: usize) -> Vec<String> {
    use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
    let der: String = RSA_A.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(der)
        .unwrap();
    let pair = RsaKeyPair::from_pkcs8(&der).unwrap();
    let rng = ring::rand::SystemRandom::new();
    let header = json!({"alg": "RS256", "kid": keys.rsa.jwk()["kid"], "typ": "JWT"}).to_string();
    let header = URL_SAFE_NO_PAD.encode(header);
    let sign = |jti: usize| {
        let claims = json!({
            "iss": ISSUER, "sub": "user-1", "aud": "api", "scope": "read write",
            "iat": NOW, "exp": NOW + 3600, "jti": format!("t-{jti}"),
        });
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut sig = vec![0; pair.public().modulus_len()];
        pair.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    };
    let half = count / 2;
    std::thread::scope(|s| {
        let second = s.spawn(|| (half..count).map(sign).collect::<Vec<_>>());
        let mut tokens: Vec<String> = (0..half).map(sign).collect();
        tokens.extend(second.join().unwrap());
        tokens
    })
}

fn headers(token: &str) -> Vec<(String, String)> {
    vec![
        (":method".into(), "GET".into()),
        (":path".into(), "/api/orders".into()),
        (":authority".into(), "api.example".into()),
        (":scheme".into(), "https".into()),
        ("authorization".into(), format!("Bearer {token}")),
    ]
}

/// Keys are inline, so the filter never calls out; any call fails.
struct NoCallouts;

impl CalloutSender for NoCallouts {
    fn send(&self, _call: Callout, done: Box<dyn FnOnce(CalloutResult) + Send>) {
        done(CalloutResult::Failed {
            reason: "no callouts in benchmarks".into(),
        });
    }
}

type Headers = Vec<(String, String)>;

struct Host {
    pool: Arc<Pool>,
    rt: tokio::runtime::Runtime,
    source: SocketAddr,
}

impl Host {
    fn start(config: &str) -> Host {
        let pool = Arc::new(
            Pool::start(PoolConfig {
                wasm: oidc_host::embedded::FILTER_WASM.to_vec(),
                plugin_config: config.as_bytes().to_vec(),
                vm_config: Vec::new(),
                plugin_name: "oidc".into(),
                root_id: String::new(),
                workers: 1,
                limits: Default::default(),
                clock: Arc::new(ManualClock::at_unix_secs(NOW)),
                callouts: Arc::new(NoCallouts),
            })
            .unwrap(),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Host {
            pool,
            rt,
            source: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40000),
        }
    }

    /// One request through the filter from this thread (a hop to the worker thread and back):
    /// the status it answers with, or 200 when it lets it pass.
    fn request(&self, headers: Headers) -> u16 {
        let mut stream: Stream = self.pool.stream(Some(self.source));
        status(self.rt.block_on(stream.request_headers(headers, true)))
    }
}

/// What the filter answered: 200 when it lets the request pass.
fn status(verdict: oidc_host::runtime::HeadersVerdict) -> u16 {
    match verdict {
        Ok(Verdict::Continue(_)) => 200,
        Ok(Verdict::Respond(r)) => r.status,
        Err(_) => 0,
    }
}

impl Host {
    /// `requests` through `Pool`/`Stream` from tasks on the worker's own runtime, as the proxy
    /// runs a connection's requests, `in_flight` at a time, returning the time they took there;
    /// every request must get `expect`.
    fn on_worker_runtime(&self, requests: Vec<Headers>, in_flight: usize, expect: u16) -> Duration {
        let pool = self.pool.clone();
        let source = self.source;
        let lanes = in_flight.max(1);
        let task = self.pool.runtime(0).unwrap().spawn(async move {
            let mut chunks: Vec<Vec<Headers>> = (0..lanes).map(|_| Vec::new()).collect();
            for (i, h) in requests.into_iter().enumerate() {
                chunks[i % lanes].push(h);
            }
            let start = Instant::now();
            let lanes: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    let pool = pool.clone();
                    tokio::spawn(async move {
                        let mut statuses = Vec::with_capacity(chunk.len());
                        for h in chunk {
                            let mut stream = pool.stream_on(0, Some(source));
                            statuses.push(status(stream.request_headers(h, true).await));
                        }
                        statuses
                    })
                })
                .collect();
            let mut statuses = Vec::new();
            for lane in lanes {
                statuses.extend(lane.await.unwrap());
            }
            (start.elapsed(), statuses)
        });
        let (elapsed, statuses) = self.rt.block_on(task).unwrap();
        assert!(statuses.iter().all(|s| *s == expect), "{statuses:?}");
        elapsed
    }
}

impl Host {
    /// `requests` run one after another on the worker's own thread (no hop from this thread),
    /// returning the time the worker took; every request must get `expect`.
    fn on_worker(&self, requests: Vec<Headers>, expect: u16) -> Duration {
        let (elapsed, statuses) = self
            .pool
            .run_on_worker(requests, Some(self.source))
            .unwrap();
        assert!(statuses.iter().all(|s| *s == expect), "{statuses:?}");
        elapsed
    }
}

/// Requests in flight at once in the pipelined runs, as wrk's 32 connections keep them.
const IN_FLIGHT: usize = 32;

/// Tokens per first-seen supply: more than the per-worker cache holds, and what a few seconds of
/// first-seen requests use.
const FIRST_SEEN_TOKENS: usize = 16_384;

/// Distinct tokens minted before a first-seen group runs, and a host that has seen none of them,
/// so that the timed requests run back to back on the worker as they do under load. (Minted
/// between batches, the worker sat idle while they were signed, and the requests after each pause
/// ran up to ~1.5x slower on this machine.) When the tokens run out, a fresh host, with empty
/// caches, takes them again from the first.
struct FirstSeen {
    config: String,
    tokens: Vec<String>,
    next: usize,
    host: Host,
}

impl FirstSeen {
    fn new(config: &str, tokens: Vec<String>) -> FirstSeen {
        FirstSeen {
            config: config.to_string(),
            tokens,
            next: 0,
            host: Host::start(config),
        }
    }

    /// `n` requests, each with a token its host has not seen.
    fn batch(&mut self, n: u64) -> (&Host, Vec<Headers>) {
        let n = usize::try_from(n).unwrap();
        assert!(
            n <= self.tokens.len(),
            "a batch of {n} needs more first-seen tokens"
        );
        if self.next + n > self.tokens.len() {
            self.host = Host::start(&self.config);
            self.next = 0;
        }
        let batch = self.tokens[self.next..self.next + n]
            .iter()
            .map(|t| headers(t))
            .collect();
        self.next += n;
        (&self.host, batch)
    }
}

struct Core {
    engine: Engine,
    shared: MemoryShared,
    next_id: u32,
}

impl Core {
    fn start(config: &str) -> Core {
        let config = Config::from_json(config.as_bytes()).unwrap();
        let mut engine = Engine::new(config, 1).unwrap();
        let mut shared = MemoryShared::new();
        engine.on_tick(Duration::from_secs(NOW), &mut shared);
        Core {
            engine,
            shared,
            next_id: 0,
        }
    }

    fn request(&mut self, request: &Request) -> u16 {
        self.next_id = self.next_id.wrapping_add(1);
        let decision = self.engine.on_request(
            self.next_id,
            request,
            Duration::from_secs(NOW),
            &mut self.shared,
        );
        while self.engine.poll_effect().is_some() {}
        match decision {
            Decision::Allow(_) => 200,
            Decision::Deny(d) => d.status,
            other => panic!("unexpected decision {other:?}"),
        }
    }
}

fn request(token: &str) -> Request {
    let mut h = headers(token);
    h.retain(|(n, _)| !n.starts_with(':'));
    Request {
        method: "GET".into(),
        path: "/api/orders".into(),
        headers: h,
        source: Some("127.0.0.1:40000".into()),
    }
}

fn first_seen_group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    // Short warm-up and measurement: every request uses up a token minted beforehand.
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    g
}

fn wasm(c: &mut Criterion) {
    let keys = Keys::new();
    let host = Host::start(&keys.config());
    let jti = AtomicU64::new(0);
    let fresh = |key: &TestKey| mint(key, jti.fetch_add(1, Ordering::Relaxed));

    let seen = mint(&keys.rsa, u64::MAX);
    assert_eq!(host.request(headers(&seen)), 200);
    let bad = corrupt(&mint(&keys.rsa, u64::MAX - 1));
    assert_eq!(host.request(headers(&bad)), 401);
    let no_token: Vec<_> = headers("")
        .into_iter()
        .filter(|(n, _)| n != "authorization")
        .collect();
    assert_eq!(host.request(no_token.clone()), 401);
    // One at a time from a task on the worker's runtime, as the proxy drives a connection.
    let mut g = c.benchmark_group("wasm");
    g.bench_function("missing_token", |b| {
        b.iter_custom(|n| host.on_worker_runtime(vec![no_token.clone(); n as usize], 1, 401))
    });
    g.bench_function("cached_rs256", |b| {
        b.iter_custom(|n| host.on_worker_runtime(vec![headers(&seen); n as usize], 1, 200))
    });
    g.bench_function("rejected_bad_signature", |b| {
        b.iter_custom(|n| host.on_worker_runtime(vec![headers(&bad); n as usize], 1, 401))
    });
    g.finish();
    let mut rs256 = FirstSeen::new(&keys.config(), mint_rs256_many(&keys, FIRST_SEEN_TOKENS));
    let mut es256 = FirstSeen::new(
        &keys.config(),
        (0..FIRST_SEEN_TOKENS).map(|_| fresh(&keys.ec)).collect(),
    );
    let mut g = first_seen_group(c, "wasm");
    g.bench_function("first_seen_rs256", |b| {
        b.iter_custom(|n| {
            let (host, batch) = rs256.batch(n);
            host.on_worker_runtime(batch, 1, 200)
        })
    });
    g.bench_function("first_seen_es256", |b| {
        b.iter_custom(|n| {
            let (host, batch) = es256.batch(n);
            host.on_worker_runtime(batch, 1, 200)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("wasm_pipelined");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    g.bench_function("missing_token", |b| {
        b.iter_custom(|n| {
            host.on_worker_runtime(vec![no_token.clone(); n as usize], IN_FLIGHT, 401)
        })
    });
    g.bench_function("cached_rs256", |b| {
        b.iter_custom(|n| host.on_worker_runtime(vec![headers(&seen); n as usize], IN_FLIGHT, 200))
    });
    g.bench_function("rejected_bad_signature", |b| {
        b.iter_custom(|n| host.on_worker_runtime(vec![headers(&bad); n as usize], IN_FLIGHT, 401))
    });
    g.finish();
    let mut g = first_seen_group(c, "wasm_pipelined");
    g.bench_function("first_seen_rs256", |b| {
        b.iter_custom(|n| {
            let (host, batch) = rs256.batch(n);
            host.on_worker_runtime(batch, IN_FLIGHT, 200)
        })
    });
    g.bench_function("first_seen_es256", |b| {
        b.iter_custom(|n| {
            let (host, batch) = es256.batch(n);
            host.on_worker_runtime(batch, IN_FLIGHT, 200)
        })
    });
    g.finish();

    // From another thread: each phase wakes the worker thread and waits for it.
    let mut g = c.benchmark_group("wasm_cross_thread");
    g.bench_function("missing_token", |b| {
        b.iter(|| host.request(no_token.clone()))
    });
    g.bench_function("cached_rs256", |b| b.iter(|| host.request(headers(&seen))));
    g.finish();
    assert_eq!(host.request(headers(&fresh(&keys.ec))), 200);

    // The same requests run by the worker itself, without streams or tasks: what it spends.
    let mut g = c.benchmark_group("wasm_on_worker");
    g.bench_function("missing_token", |b| {
        b.iter_custom(|n| host.on_worker(vec![no_token.clone(); n as usize], 401))
    });
    g.bench_function("cached_rs256", |b| {
        b.iter_custom(|n| host.on_worker(vec![headers(&seen); n as usize], 200))
    });
    g.bench_function("rejected_bad_signature", |b| {
        b.iter_custom(|n| host.on_worker(vec![headers(&bad); n as usize], 401))
    });
    g.finish();
}

fn core(c: &mut Criterion) {
    let keys = Keys::new();
    let mut core = Core::start(&keys.config());
    let jti = AtomicU64::new(0);
    let fresh = |key: &TestKey| request(&mint(key, jti.fetch_add(1, Ordering::Relaxed)));

    let seen = request(&mint(&keys.rsa, u64::MAX));
    assert_eq!(core.request(&seen), 200);
    let bad = request(&corrupt(&mint(&keys.rsa, u64::MAX - 1)));
    assert_eq!(core.request(&bad), 401);
    let mut g = c.benchmark_group("core");
    g.bench_function("cached_rs256", |b| b.iter(|| core.request(&seen)));
    g.bench_function("rejected_bad_signature", |b| b.iter(|| core.request(&bad)));
    g.finish();

    let mut g = first_seen_group(c, "core");
    g.bench_function("first_seen_rs256", |b| {
        b.iter_batched(
            || fresh(&keys.rsa),
            |r| core.request(&r),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("first_seen_es256", |b| {
        b.iter_batched(
            || fresh(&keys.ec),
            |r| core.request(&r),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// `ring` verifying a JWS signature (hash of the signing input included) with a key parsed once.
fn ring_floor(c: &mut Criterion) {
    use ring::signature::{self, UnparsedPublicKey};
    let keys = Keys::new();
    let split = |token: &str| {
        let (input, sig) = token.rsplit_once('.').unwrap();
        (input.to_string(), URL_SAFE_NO_PAD.decode(sig).unwrap())
    };
    let b64d = |v: &serde_json::Value| URL_SAFE_NO_PAD.decode(v.as_str().unwrap()).unwrap();

    let jwk = keys.rsa.jwk();
    let rsa_key = signature::RsaPublicKeyComponents {
        n: b64d(&jwk["n"]),
        e: b64d(&jwk["e"]),
    };
    let (rsa_input, rsa_sig) = split(&mint(&keys.rsa, 1));
    let jwk = keys.ec.jwk();
    let mut point = vec![4u8];
    point.extend(b64d(&jwk["x"]));
    point.extend(b64d(&jwk["y"]));
    let ec_key = UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point);
    let (ec_input, ec_sig) = split(&mint(&keys.ec, 1));

    let mut g = c.benchmark_group("ring");
    g.bench_function("verify_rs256", |b| {
        b.iter(|| {
            rsa_key
                .verify(
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                    rsa_input.as_bytes(),
                    &rsa_sig,
                )
                .is_ok()
        })
    });
    g.bench_function("verify_es256", |b| {
        b.iter(|| ec_key.verify(ec_input.as_bytes(), &ec_sig).is_ok())
    });
    g.finish();
}

criterion_group!(benches, wasm, core, ring_floor);
criterion_main!(benches);
