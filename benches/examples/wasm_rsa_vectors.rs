//! Runs every Wycheproof RSA PKCS#1 v1.5 and PSS vector through the filter's verifier inside a wasm
//! runtime, so the arithmetic the module really runs there (the SIMD column sums of
//! `filter/core/src/rsa/dot.rs` when built with `simd128`, as `.cargo/config.toml` builds wasm32)
//! is checked against the same vectors as `filter/core/tests/wycheproof.rs` checks natively.
//! The vector files are compiled in, so the program needs no file system. Exits non-zero (a
//! panic) on the first case whose outcome is wrong.
//!
//! ```sh
//! cargo build --release -p oidc-benches --example wasm_rsa_vectors --target wasm32-wasip1
//! WASM=target/wasm32-wasip1/release/examples/wasm_rsa_vectors.wasm
//! cargo run -p oidc-benches --features wasmtime --example wasmtime_rsa_verify -- $WASM
//! node benches/wasm_rsa_verify.mjs $WASM
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oidc_filter_core::jwks::KeySet;
use oidc_filter_core::verify::verify_signature;
use oidc_filter_core::{Alg, AuthError};
use serde_json::{json, Value};

macro_rules! vectors {
    ($($file:literal => $alg:expr),* $(,)?) => {
        [$(($file, $alg, include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/vectors/wycheproof/",
            $file
        )))),*]
    };
}

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// Hex integer → minimal big-endian bytes (Wycheproof adds a sign byte to some).
fn unsigned(text: &str) -> Vec<u8> {
    let bytes = hex(text);
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[first..].to_vec()
}

fn key_set(group: &Value, alg: Alg) -> KeySet {
    let pk = &group["publicKey"];
    let b64 = |name: &str| URL_SAFE_NO_PAD.encode(unsigned(pk[name].as_str().unwrap()));
    let jwks = json!({ "keys": [{
        "kty": "RSA", "kid": "wycheproof", "alg": alg.name(), "use": "sig",
        "n": b64("modulus"), "e": b64("publicExponent"),
    }]});
    KeySet::parse(jwks.to_string().as_bytes()).unwrap()
}

fn main() {
    let runtime = if cfg!(target_arch = "wasm32") {
        "wasm32"
    } else {
        "native"
    };
    let files = vectors![
        "rsa_signature_2048_sha256_test.json" => Alg::RS256,
        "rsa_signature_2048_sha384_test.json" => Alg::RS384,
        "rsa_signature_2048_sha512_test.json" => Alg::RS512,
        "rsa_signature_3072_sha256_test.json" => Alg::RS256,
        "rsa_signature_3072_sha384_test.json" => Alg::RS384,
        "rsa_signature_3072_sha512_test.json" => Alg::RS512,
        "rsa_signature_4096_sha256_test.json" => Alg::RS256,
        "rsa_signature_4096_sha384_test.json" => Alg::RS384,
        "rsa_signature_4096_sha512_test.json" => Alg::RS512,
        "rsa_pss_2048_sha256_mgf1_32_test.json" => Alg::PS256,
        "rsa_pss_2048_sha384_mgf1_48_test.json" => Alg::PS384,
        "rsa_pss_4096_sha512_mgf1_64_test.json" => Alg::PS512,
    ];
    let (mut accepted, mut refused) = (0usize, 0usize);
    for (file, alg, text) in files {
        let doc: Value = serde_json::from_str(text).unwrap();
        for group in doc["testGroups"].as_array().unwrap() {
            let set = key_set(group, alg);
            let jwk = set.select(Some("wycheproof"), alg).unwrap();
            for case in group["tests"].as_array().unwrap() {
                let msg = hex(case["msg"].as_str().unwrap());
                let sig = hex(case["sig"].as_str().unwrap());
                let outcome = verify_signature(alg, &jwk.key, &msg, &sig);
                let id = &case["tcId"];
                // "acceptable" cases (only MissingNull) are refused on purpose: see the native test.
                let want_ok = match case["result"].as_str().unwrap() {
                    "valid" => true,
                    "invalid" | "acceptable" => false,
                    other => panic!("{file} tcId {id}: unknown result {other}"),
                };
                match outcome {
                    Ok(()) if want_ok => accepted += 1,
                    Err(AuthError::BadSignature) if !want_ok => refused += 1,
                    other => panic!("{file} tcId {id}: {other:?}, want ok = {want_ok}"),
                }
            }
        }
    }
    assert!(accepted > 0 && refused > 0);
    println!(
        "{runtime} Wycheproof RSA: {accepted} valid accepted, {refused} invalid/acceptable refused"
    );
}
