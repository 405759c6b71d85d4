//! Runs every Wycheproof vector file for the algorithms the filter verifies.
//!
//! Each group's public key is turned into a JWK and parsed by `KeySet` (the path real keys take),
//! selected by `kid` and `alg`, and every case goes through `verify_signature`. Every `valid` case
//! must verify and every `invalid` one must fail. The only `acceptable` cases in these files are
//! RSA PKCS#1 v1.5 signatures whose DigestInfo omits the NULL parameters ("MissingNull"): we
//! reject them deliberately, because RFC 8017 §9.2 defines a single encoding and comparing
//! against it is what keeps the verifier free of parser ambiguities.
//!
//! Out of scope: ES512 / P-521 (`ecdsa_secp521r1_sha512_p1363_test.json`) and PSS with salt
//! lengths other than the hash length, since JWS (RFC 7518 §3.5) allows neither.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oidc_filter_core::jwks::{JwksError, KeySet};
use oidc_filter_core::verify::verify_signature;
use oidc_filter_core::{Alg, AuthError};
use serde_json::{json, Value};

const KID: &str = "wycheproof";

#[derive(Clone, Copy)]
enum Key {
    Rsa,
    Ec { crv: &'static str, size: usize },
    Ed25519,
}

struct Suite {
    file: &'static str,
    alg: Alg,
    key: Key,
    /// Groups whose key our JWK parser refuses (their cases then cannot verify at all).
    refused_groups: usize,
}

const P256: Key = Key::Ec {
    crv: "P-256",
    size: 32,
};
const P384: Key = Key::Ec {
    crv: "P-384",
    size: 48,
};

const SUITES: &[Suite] = &[
    suite("rsa_signature_2048_sha256_test.json", Alg::RS256, Key::Rsa),
    suite("rsa_signature_2048_sha384_test.json", Alg::RS384, Key::Rsa),
    suite("rsa_signature_2048_sha512_test.json", Alg::RS512, Key::Rsa),
    suite("rsa_signature_3072_sha256_test.json", Alg::RS256, Key::Rsa),
    suite("rsa_signature_3072_sha384_test.json", Alg::RS384, Key::Rsa),
    suite("rsa_signature_3072_sha512_test.json", Alg::RS512, Key::Rsa),
    suite("rsa_signature_4096_sha256_test.json", Alg::RS256, Key::Rsa),
    suite("rsa_signature_4096_sha384_test.json", Alg::RS384, Key::Rsa),
    suite("rsa_signature_4096_sha512_test.json", Alg::RS512, Key::Rsa),
    suite(
        "rsa_pss_2048_sha256_mgf1_32_test.json",
        Alg::PS256,
        Key::Rsa,
    ),
    // SHA-384 with a 48-byte salt is exactly PS384.
    suite(
        "rsa_pss_2048_sha384_mgf1_48_test.json",
        Alg::PS384,
        Key::Rsa,
    ),
    suite(
        "rsa_pss_4096_sha512_mgf1_64_test.json",
        Alg::PS512,
        Key::Rsa,
    ),
    suite("ecdsa_secp256r1_sha256_p1363_test.json", Alg::ES256, P256),
    suite("ecdsa_secp384r1_sha384_p1363_test.json", Alg::ES384, P384),
    suite("ed25519_test.json", Alg::EdDSA, Key::Ed25519),
];

const OUT_OF_SCOPE: &[&str] = &["ecdsa_secp521r1_sha512_p1363_test.json"];

const fn suite(file: &'static str, alg: Alg, key: Key) -> Suite {
    Suite {
        file,
        alg,
        key,
        refused_groups: 0,
    }
}

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/wycheproof")
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Hex integer → minimal big-endian bytes (Wycheproof adds a sign byte to some).
fn unsigned(hex_str: &str) -> Vec<u8> {
    let bytes = hex::decode(hex_str).unwrap();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[first..].to_vec()
}

fn left_pad(bytes: Vec<u8>, size: usize) -> Vec<u8> {
    assert!(bytes.len() <= size, "coordinate longer than the field");
    let mut out = vec![0; size - bytes.len()];
    out.extend(bytes);
    out
}

fn group_jwk(group: &Value, suite: &Suite) -> Value {
    let pk = &group["publicKey"];
    let text = |name: &str| pk[name].as_str().unwrap();
    let mut jwk = match suite.key {
        Key::Rsa => json!({
            "kty": "RSA",
            "n": b64(&unsigned(text("modulus"))),
            "e": b64(&unsigned(text("publicExponent"))),
        }),
        Key::Ec { crv, size } => json!({
            "kty": "EC",
            "crv": crv,
            "x": b64(&left_pad(unsigned(text("wx")), size)),
            "y": b64(&left_pad(unsigned(text("wy")), size)),
        }),
        Key::Ed25519 => json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64(&hex::decode(text("pk")).unwrap()),
        }),
    };
    jwk["kid"] = json!(KID);
    jwk["alg"] = json!(suite.alg.name());
    jwk["use"] = json!("sig");
    json!({ "keys": [jwk] })
}

#[derive(Default, Debug)]
struct Tally {
    valid: [usize; 2],
    invalid: [usize; 2],
    acceptable: [usize; 2],
    refused_groups: usize,
    cases_with_refused_key: usize,
}

impl Tally {
    fn total(&self) -> usize {
        self.valid
            .iter()
            .chain(&self.invalid)
            .chain(&self.acceptable)
            .sum()
    }
}

fn run_suite(suite: &Suite) -> Tally {
    let text = std::fs::read(vectors_dir().join(suite.file)).unwrap();
    let doc: Value = serde_json::from_slice(&text).unwrap();
    let mut tally = Tally::default();
    for group in doc["testGroups"].as_array().unwrap() {
        let tests = group["tests"].as_array().unwrap();
        let set = match KeySet::parse(group_jwk(group, suite).to_string().as_bytes()) {
            Ok(set) => set,
            Err(JwksError::NoUsableKeys) => {
                tally.refused_groups += 1;
                tally.cases_with_refused_key += tests.len();
                continue;
            }
            Err(other) => panic!("{}: unexpected key-set error {other}", suite.file),
        };
        let jwk = set.select(Some(KID), suite.alg).unwrap();
        for case in tests {
            let msg = hex::decode(case["msg"].as_str().unwrap()).unwrap();
            let sig = hex::decode(case["sig"].as_str().unwrap()).unwrap();
            let outcome = verify_signature(suite.alg, &jwk.key, &msg, &sig);
            assert!(
                matches!(outcome, Ok(()) | Err(AuthError::BadSignature)),
                "{} tcId {}: {outcome:?}",
                suite.file,
                case["tcId"]
            );
            let accepted = usize::from(outcome.is_ok());
            let id = &case["tcId"];
            match case["result"].as_str().unwrap() {
                "valid" => {
                    assert!(
                        outcome.is_ok(),
                        "{} tcId {id}: valid case refused",
                        suite.file
                    );
                    tally.valid[accepted] += 1;
                }
                "invalid" => {
                    assert!(
                        outcome.is_err(),
                        "{} tcId {id}: invalid case accepted",
                        suite.file
                    );
                    tally.invalid[accepted] += 1;
                }
                "acceptable" => {
                    // Deliberate: only "MissingNull" cases exist, and we refuse them (module doc).
                    assert_eq!(
                        case["flags"],
                        json!(["MissingNull"]),
                        "{} tcId {id}",
                        suite.file
                    );
                    assert!(
                        outcome.is_err(),
                        "{} tcId {id}: acceptable case accepted",
                        suite.file
                    );
                    tally.acceptable[accepted] += 1;
                }
                other => panic!("{} tcId {id}: unknown result {other}", suite.file),
            }
        }
    }
    tally
}

#[test]
fn every_supported_vector_file_verifies_valid_and_refuses_invalid_cases() {
    for suite in SUITES {
        let tally = run_suite(suite);
        println!(
            "{}: valid accepted {} / rejected {}; invalid accepted {} / rejected {}; \
             acceptable accepted {} / rejected {}; groups with refused keys {} ({} cases)",
            suite.file,
            tally.valid[1],
            tally.valid[0],
            tally.invalid[1],
            tally.invalid[0],
            tally.acceptable[1],
            tally.acceptable[0],
            tally.refused_groups,
            tally.cases_with_refused_key,
        );
        assert!(tally.total() > 0, "{}: no case ran", suite.file);
        assert!(tally.valid[1] > 0, "{}: no valid case ran", suite.file);
        assert!(tally.invalid[0] > 0, "{}: no invalid case ran", suite.file);
        assert_eq!(tally.refused_groups, suite.refused_groups, "{}", suite.file);
    }
}

#[test]
fn every_vector_file_is_either_run_or_declared_out_of_scope() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with("_test.json"))
        .collect();
    let known: BTreeSet<String> = SUITES
        .iter()
        .map(|s| s.file)
        .chain(OUT_OF_SCOPE.iter().copied())
        .map(str::to_owned)
        .collect();
    assert_eq!(on_disk, known);
}
