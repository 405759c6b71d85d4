//! Times RSA-2048 and ES256 verification inside a wasm runtime. Build it for wasm32-wasip1 and run it in
//! a WASI runtime (benches/wasm_rsa_verify.mjs runs it in Node's V8, the engine Envoy embeds);
//! it also runs natively. For each verifier it prints the median time per verification over
//! `SAMPLES` batches of `BATCH` verifications, after a warm-up. It measures; it asserts nothing
//! about time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Instant;

use oidc_benches::{es256, rsa_2048, Es256Fixture, Fixture};
use oidc_filter_core::Alg;

const SAMPLES: usize = 21;
const BATCH: usize = 10;

/// Median microseconds per call of `verify`.
fn median_micros<F>(fixture: &F, verify: fn(&F) -> bool, batch: usize) -> f64 {
    for _ in 0..batch {
        assert!(verify(black_box(fixture)));
    }
    let mut samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                black_box(verify(black_box(fixture)));
            }
            start.elapsed().as_secs_f64() * 1e6 / batch as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[SAMPLES / 2]
}

fn main() {
    let runtime = if cfg!(target_arch = "wasm32") {
        "wasm32"
    } else {
        "native"
    };
    for alg in [Alg::RS256, Alg::PS256] {
        let fixture = rsa_2048(alg);
        let ours = median_micros(&fixture, Fixture::verify_filter, BATCH);
        // The previous verifier is slow in wasm: fewer calls per sample.
        let previous = median_micros(&fixture, Fixture::verify_rustcrypto, BATCH / 5);
        println!(
            "{runtime} {}-2048 verify median: filter {ours:.1} us, rustcrypto rsa 0.9 {previous:.1} us, ratio {:.1}x",
            alg.name(),
            previous / ours
        );
    }
    let fixture = es256();
    let ours = median_micros(&fixture, Es256Fixture::verify_filter, BATCH);
    let previous = median_micros(&fixture, Es256Fixture::verify_rustcrypto, BATCH / 5);
    println!(
        "{runtime} ES256 verify median: filter {ours:.1} us, rustcrypto p256 0.13 {previous:.1} us, ratio {:.1}x",
        previous / ours
    );
    let parse = median_micros(&fixture, Es256Fixture::parse_key, BATCH);
    println!("{runtime} ES256 JWKS parse (one key) median: {parse:.1} us");
    let first = median_micros(&fixture, Es256Fixture::parse_and_verify_first, BATCH / 5);
    println!(
        "{runtime} ES256 JWKS parse and first verification (builds the key's table) median: {first:.1} us"
    );
}
