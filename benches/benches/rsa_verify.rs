//! RSA-2048 verification natively: the filter's own verifier (`oidc_filter_core::rsa`, through
//! `verify::verify_signature`), the RustCrypto `rsa` crate it replaced, and `ring` as the floor.
//! Also the one-time cost of parsing a key (Montgomery constants). Run with
//! `cargo bench -p oidc-benches --bench rsa_verify`; see benches/README.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use oidc_benches::{rsa_2048, Fixture};
use oidc_filter_core::rsa::RsaPublicKey;
use oidc_filter_core::Alg;
use ring::signature::{RsaParameters, RsaPublicKeyComponents};

fn ring_verify(fixture: &Fixture, params: &'static RsaParameters) -> bool {
    let key = RsaPublicKeyComponents {
        n: &fixture.n,
        e: &fixture.e,
    };
    key.verify(params, &fixture.signing_input, &fixture.signature)
        .is_ok()
}

fn verify(c: &mut Criterion) {
    for (alg, params) in [
        (Alg::RS256, &ring::signature::RSA_PKCS1_2048_8192_SHA256),
        (Alg::PS256, &ring::signature::RSA_PSS_2048_8192_SHA256),
    ] {
        let fixture = rsa_2048(alg);
        assert!(fixture.verify_filter() && fixture.verify_rustcrypto());
        assert!(ring_verify(&fixture, params));
        let mut group = c.benchmark_group(format!("{}-2048 verify", alg.name()));
        group.bench_function("filter (oidc_filter_core::rsa)", |b| {
            b.iter(|| black_box(&fixture).verify_filter())
        });
        group.bench_function("ring", |b| {
            b.iter(|| ring_verify(black_box(&fixture), params))
        });
        group.bench_function("rustcrypto rsa 0.9 (previous)", |b| {
            b.iter(|| black_box(&fixture).verify_rustcrypto())
        });
        group.finish();
    }
    let fixture = rsa_2048(Alg::RS256);
    c.bench_function("RSA-2048 key parse (Montgomery constants)", |b| {
        b.iter(|| RsaPublicKey::from_be_bytes(black_box(&fixture.n), &fixture.e).unwrap())
    });
}

criterion_group!(benches, verify);
criterion_main!(benches);
