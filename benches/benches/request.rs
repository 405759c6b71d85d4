//! Per-request cost of the filter, the same four cases three ways:
//!
//! - `wasm/…`: the real `oidc_filter.wasm` (the one embedded in `oidc-host`) in the host's runtime,
//!   driven through `oidc_host::runtime::Pool`/`Stream` as the proxy drives it: one worker thread,
//!   `proxy_on_context_create` + `proxy_on_request_headers` + the stream's `proxy_on_done`/`delete`,
//!   including the hop from the calling thread to the worker thread and back. No test-kit
//!   bookkeeping (settling, log capture) is in the timed section.
//! - `wasm_pipelined/…`: the same, with 32 requests in flight (as wrk's 32 connections keep them),
//!   timed per request: the worker runs them back to back, so this is the filter's cost on the
//!   worker without the wake-up latency of one cross-thread round trip per request.
//!   `missing_token` (a 401 the filter decides without looking at any token) is the runtime's own
//!   per-request cost.
//! - `wasm_on_worker/…`: the same requests run on the worker's own thread, one after another
//!   (`Pool::run_on_worker`), so the hop between threads is not in the time: the runtime's and
//!   the filter's cost per request alone.
//! - `core/…`: `Engine::on_request` natively with `MemoryShared`, as the adapter calls it.
//! - `ring/…`: `ring` verifying the same signature natively: the floor.
//!
//! Cases: a token seen before (cached), a first-seen RS256 (RSA-2048) token, a first-seen ES256
//! token, a token with a bad RS256 signature (rejected with 401). First-seen tokens differ in `jti`
//! and are minted outside the timed section (`iter_batched`). Benchmarks measure; nothing asserts
//! on time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

struct Host {
    pool: Pool,
    rt: tokio::runtime::Runtime,
    source: SocketAddr,
}

impl Host {
    fn start(config: &str) -> Host {
        let pool = Pool::start(PoolConfig {
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
        .unwrap();
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

    /// One request through the filter: the status it answers with, or 200 when it lets it pass.
    fn request(&self, headers: Vec<(String, String)>) -> u16 {
        let mut stream: Stream = self.pool.stream(Some(self.source));
        let verdict = self
            .rt
            .block_on(stream.request_headers(headers, true))
            .unwrap();
        match verdict {
            Verdict::Continue(_) => 200,
            Verdict::Respond(r) => r.status,
        }
    }
}

impl Host {
    /// `requests` through the filter with up to `IN_FLIGHT` at a time, returning the time taken:
    /// the worker runs them back to back, so the thread hop's wake-up latency is not paid per request.
    fn pipelined(&self, requests: Vec<Vec<(String, String)>>) -> Duration {
        let start = std::time::Instant::now();
        let mut requests = requests.into_iter().peekable();
        while requests.peek().is_some() {
            let tasks: Vec<_> = requests
                .by_ref()
                .take(IN_FLIGHT)
                .map(|h| {
                    let mut stream = self.pool.stream(Some(self.source));
                    self.rt
                        .spawn(async move { stream.request_headers(h, true).await.is_ok() })
                })
                .collect();
            self.rt.block_on(async {
                for t in tasks {
                    assert!(t.await.unwrap());
                }
            });
        }
        start.elapsed()
    }
}

impl Host {
    /// `requests` run one after another on the worker's own thread (no hop from this thread),
    /// returning the time the worker took; every request must get `status`.
    fn on_worker(&self, requests: Vec<Vec<(String, String)>>, status: u16) -> Duration {
        let (elapsed, statuses) = self
            .pool
            .run_on_worker(requests, Some(self.source))
            .unwrap();
        assert!(statuses.iter().all(|s| *s == status), "{statuses:?}");
        elapsed
    }
}

/// Requests in flight at once in the pipelined runs, as wrk's 32 connections keep them.
const IN_FLIGHT: usize = 32;

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
    // Each iteration signs a fresh token first (untimed); a short measurement keeps the run bounded.
    g.sample_size(20).measurement_time(Duration::from_secs(2));
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
    let mut g = c.benchmark_group("wasm");
    g.bench_function("missing_token", |b| {
        b.iter(|| host.request(no_token.clone()))
    });
    g.bench_function("cached_rs256", |b| b.iter(|| host.request(headers(&seen))));
    g.bench_function("rejected_bad_signature", |b| {
        b.iter(|| host.request(headers(&bad)))
    });
    g.finish();

    let mut g = first_seen_group(c, "wasm");
    g.bench_function("first_seen_rs256", |b| {
        b.iter_batched(
            || headers(&fresh(&keys.rsa)),
            |h| host.request(h),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("first_seen_es256", |b| {
        b.iter_batched(
            || headers(&fresh(&keys.ec)),
            |h| host.request(h),
            BatchSize::SmallInput,
        )
    });
    g.finish();
    assert_eq!(host.request(headers(&fresh(&keys.ec))), 200);

    let mut g = c.benchmark_group("wasm_pipelined");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    g.bench_function("missing_token", |b| {
        b.iter_custom(|n| host.pipelined(vec![no_token.clone(); n as usize]))
    });
    g.bench_function("cached_rs256", |b| {
        b.iter_custom(|n| host.pipelined(vec![headers(&seen); n as usize]))
    });
    g.bench_function("rejected_bad_signature", |b| {
        b.iter_custom(|n| host.pipelined(vec![headers(&bad); n as usize]))
    });
    g.bench_function("first_seen_rs256", |b| {
        b.iter_custom(|n| host.pipelined((0..n).map(|_| headers(&fresh(&keys.rsa))).collect()))
    });
    g.bench_function("first_seen_es256", |b| {
        b.iter_custom(|n| host.pipelined((0..n).map(|_| headers(&fresh(&keys.ec))).collect()))
    });
    g.finish();

    // The same requests without the hop: what the worker spends per request.
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
