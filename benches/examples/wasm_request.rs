//! Where the time of one first-seen RS256 request goes, inside a wasm runtime and natively: the
//! core's `Engine::on_request` as the adapter calls it (with `MemoryShared` standing in for the
//! host's shared data), and each of its steps on its own: token parsing, signature, the
//! verified-token cache (empty and full), the shared table, the audit record. Build it for
//! wasm32-wasip1 and run it in wasmtime, configured as `oidc-host` configures it (the runner
//! `examples/wasmtime_rsa_verify.rs`), or in Node's WASI (V8), or natively.
//!
//! ```sh
//! cargo build --release -p oidc-benches --example wasm_request --target wasm32-wasip1
//! WASM=target/wasm32-wasip1/release/examples/wasm_request.wasm
//! cargo run --release -p oidc-benches --features wasmtime --example wasmtime_rsa_verify -- $WASM
//! node benches/wasm_rsa_verify.mjs $WASM
//! cargo run --release -p oidc-benches --example wasm_request
//! ```
//!
//! Prints medians in microseconds. It measures; it asserts nothing about time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oidc_filter_core::audit::{Audit, Identity};
use oidc_filter_core::cache::{self, TokenCache, Verified};
use oidc_filter_core::config::Config;
use oidc_filter_core::engine::Engine;
use oidc_filter_core::jwks::KeySet;
use oidc_filter_core::shared::MemoryShared;
use oidc_filter_core::verify::verify_signature;
use oidc_filter_core::{jws, Decision, Request};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::{Digest, Sha256};

const RSA_A: &str = include_str!("../../testdata/keys/rsa-a.pem");
const ISSUER: &str = "https://idp.example.com";
/// 2026-01-01T00:00:00Z, as the test data's fixed `now`.
const NOW: u64 = 1_767_225_600;
/// Distinct tokens signed up front (signing is slow in wasm; none of it is timed).
const TOKENS: usize = 41;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

struct Fixture {
    private: RsaPrivateKey,
    jwks: serde_json::Value,
}

impl Fixture {
    fn new() -> Fixture {
        let private = RsaPrivateKey::from_pkcs8_pem(RSA_A).unwrap();
        let public = private.to_public_key();
        let jwks = serde_json::json!({"keys": [{
            "kty": "RSA", "kid": "rsa", "alg": "RS256",
            "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be()),
        }]});
        Fixture { private, jwks }
    }

    /// The per-request benchmark's configuration: one provider, the key inline.
    fn config(&self) -> Config {
        let json = serde_json::json!({"providers": [{
            "name": "bench", "issuer": ISSUER, "audiences": ["api"], "jwks": self.jwks,
        }]});
        Config::from_json(json.to_string().as_bytes()).unwrap()
    }

    /// The per-request benchmark's token; `jti` makes it first seen.
    fn mint(&self, jti: usize) -> String {
        let header = r#"{"alg":"RS256","kid":"rsa","typ":"JWT"}"#;
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": "user-1", "aud": "api", "scope": "read write",
            "iat": NOW, "exp": NOW + 3600, "jti": format!("t-{jti}"),
        });
        let input = format!(
            "{}.{}",
            b64(header.as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let digest = Sha256::digest(input.as_bytes());
        let sig = self
            .private
            .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
            .unwrap();
        format!("{input}.{}", b64(&sig))
    }
}

fn request(token: &str) -> Request {
    Request {
        method: "GET".into(),
        path: "/api/orders".into(),
        headers: vec![
            ("authorization".into(), format!("Bearer {token}")),
            ("user-agent".into(), "bench".into()),
        ],
        source: Some("127.0.0.1:40000".into()),
    }
}

/// Median of `f` over each input, in microseconds per call.
fn median<T>(inputs: &[T], mut f: impl FnMut(&T)) -> f64 {
    let mut samples: Vec<f64> = inputs
        .iter()
        .map(|input| {
            let start = Instant::now();
            f(input);
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn verified(claims: &serde_json::Map<String, serde_json::Value>) -> Verified {
    Verified {
        provider: 0,
        kid: Some("rsa".into()),
        claims: Rc::new(claims.clone()),
        identity: Rc::new(Identity::of(claims)),
        valid_until: Duration::from_secs(NOW + 3600),
    }
}

fn main() {
    let runtime = if cfg!(target_arch = "wasm32") {
        "wasm32"
    } else {
        "native"
    };
    let fixture = Fixture::new();
    let tokens: Vec<String> = (0..TOKENS).map(|i| fixture.mint(i)).collect();
    let bad: Vec<String> = tokens
        .iter()
        .map(|t| {
            let (input, sig) = t.rsplit_once('.').unwrap();
            let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
            sig[10] ^= 1;
            format!("{input}.{}", b64(&sig))
        })
        .collect();
    let now = Duration::from_secs(NOW);
    let report = |what: &str, micros: f64| println!("{runtime} {what}: {micros:.1} us");

    // The whole request, as the adapter runs it: decision plus draining the effects.
    let mut engine = Engine::new(fixture.config(), 1).unwrap();
    let mut shared = MemoryShared::new();
    engine.on_tick(now, &mut shared);
    let mut id = 0;
    let mut run = |engine: &mut Engine, shared: &mut MemoryShared, token: &String| {
        id += 1;
        let decision = engine.on_request(id, &request(token), now, shared);
        while let Some(effect) = engine.poll_effect() {
            black_box(effect);
        }
        decision
    };
    report(
        "on_request first-seen RS256",
        median(&tokens, |t| {
            assert!(matches!(
                run(&mut engine, &mut shared, t),
                Decision::Allow(_)
            ));
        }),
    );
    report(
        "on_request seen before",
        median(&tokens, |t| {
            black_box(run(&mut engine, &mut shared, t));
        }),
    );
    report(
        "on_request bad signature",
        median(&bad, |t| {
            assert!(matches!(
                run(&mut engine, &mut shared, t),
                Decision::Deny(_)
            ));
        }),
    );

    // Its steps.
    report(
        "  jws::parse",
        median(&tokens, |t| {
            black_box(jws::parse(t).unwrap());
        }),
    );
    let keys = KeySet::from_value(&fixture.jwks).unwrap();
    let key = &keys.keys()[0].key;
    let parsed: Vec<_> = tokens.iter().map(|t| jws::parse(t).unwrap()).collect();
    report(
        "  verify_signature",
        median(&parsed, |j| {
            assert!(verify_signature(j.header.alg, key, j.signing_input, &j.signature).is_ok());
        }),
    );
    report(
        "  KeySet parse (one RSA-2048 key)",
        median(&tokens[..5], |_| {
            black_box(KeySet::from_value(&fixture.jwks).unwrap());
        }),
    );
    let mut empty = TokenCache::new();
    report(
        "  TokenCache insert (not full)",
        median(&parsed, |j| {
            empty.insert(
                std::str::from_utf8(j.signing_input).unwrap(),
                verified(&j.claims),
            );
        }),
    );
    let mut full = TokenCache::new();
    for i in 0..cache::MAX_ENTRIES {
        full.insert(&format!("filler-{i}"), verified(&parsed[0].claims));
    }
    report(
        "  TokenCache insert (full: evicts)",
        median(&parsed, |j| {
            full.insert(
                std::str::from_utf8(j.signing_input).unwrap(),
                verified(&j.claims),
            );
        }),
    );
    report(
        "  TokenCache get (miss)",
        median(&bad, |t| {
            black_box(full.get(t, now));
        }),
    );
    let mut table = MemoryShared::new();
    report(
        "  shared_get (empty slot)",
        median(&tokens, |t| {
            black_box(cache::shared_get(&table, &cache::SharedKey::of(t), now));
        }),
    );
    report(
        "  shared_put",
        median(&tokens, |t| {
            let j = &parsed[0];
            let key = cache::SharedKey::of(t);
            cache::shared_put(&mut table, &key, "bench", &verified(&j.claims), &j.payload);
        }),
    );
    // A filled slot is parsed before its token is compared, so this is also the cost of a
    // first-seen token meeting another token's entry once the table has filled up.
    report(
        "  shared_get (filled slot)",
        median(&tokens, |t| {
            black_box(cache::shared_get(&table, &cache::SharedKey::of(t), now));
        }),
    );
    report(
        "  audit to_json",
        median(&parsed, |j| {
            let mut audit = Audit {
                method: "GET".into(),
                path: "/api/orders".into(),
                source: Some("127.0.0.1:40000".into()),
                ..Audit::default()
            };
            audit.set_identity(&j.claims);
            black_box(audit.to_json());
        }),
    );
}
