//! Differential test of the filter's ES256 verification (`crate::ecdsa_p256` through
//! `verify_signature`) against the RustCrypto `p256` crate: random keys and messages from a
//! seeded RNG, valid signatures and their mutations — bit flips in r, s or the message, another
//! key, high S, r and s swapped, boundary values of r and s (0, 1, n − 1, n, n + 1, 2^256 − 1),
//! truncations and random bytes — each judged by both; the verdicts must agree, and every
//! genuine signature must verify. Keys reach the filter as JWKs through `KeySet`, as in service.
//!
//! The bounded, deterministic fuzz run CI does: same seed, same cases, a few seconds. To explore
//! further, raise `KEYS` or change `SEED` locally.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oidc_filter_core::jwks::{KeySet, PublicKey};
use oidc_filter_core::verify::verify_signature;
use oidc_filter_core::Alg;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

const SEED: u64 = 0x0e5_256d;

/// Keys drawn; each signs `MESSAGES` messages, and every signature spawns the mutations below.
const KEYS: usize = 12;
const MESSAGES: usize = 4;

/// n, big-endian.
const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

struct Pair {
    ours: PublicKey,
    reference: VerifyingKey,
}

impl Pair {
    fn new(signing: &SigningKey) -> Pair {
        let point = signing.verifying_key().to_encoded_point(false);
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let jwks = json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "k", "alg": "ES256",
            "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()),
        }]});
        let set = KeySet::parse(jwks.to_string().as_bytes()).unwrap();
        Pair {
            ours: set.select(Some("k"), Alg::ES256).unwrap().key.clone(),
            reference: *signing.verifying_key(),
        }
    }

    /// Both verdicts, asserting they agree.
    fn judge(&self, msg: &[u8], sig: &[u8], what: &str) -> bool {
        let ours = verify_signature(Alg::ES256, &self.ours, msg, sig).is_ok();
        let reference = Signature::from_slice(sig)
            .is_ok_and(|parsed| self.reference.verify(msg, &parsed).is_ok());
        assert_eq!(ours, reference, "{what}: filter {ours}, p256 {reference}");
        ours
    }
}

/// `a ± small` on 32 big-endian bytes, wrapping.
fn offset(a: &[u8; 32], delta: i16) -> [u8; 32] {
    let mut out = *a;
    let mut carry = i32::from(delta);
    for byte in out.iter_mut().rev() {
        let v = i32::from(*byte) + carry;
        *byte = v.rem_euclid(256) as u8;
        carry = v.div_euclid(256);
    }
    out
}

/// `n − s`, big-endian, for 0 < s < n.
fn negate(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i32;
    for i in (0..32).rev() {
        let v = i32::from(N[i]) - i32::from(s[i]) - borrow;
        out[i] = v.rem_euclid(256) as u8;
        borrow = i32::from(v < 0);
    }
    out
}

fn with(r: &[u8], s: &[u8]) -> Vec<u8> {
    [r, s].concat()
}

fn boundary_scalars() -> Vec<[u8; 32]> {
    let mut one = [0u8; 32];
    one[31] = 1;
    vec![[0; 32], one, offset(&N, -1), N, offset(&N, 1), [0xff; 32]]
}

fn mutations(pair: &Pair, other: &Pair, msg: &[u8], sig: &[u8], rng: &mut ChaCha8Rng) {
    let (r, s) = sig.split_at(32);
    let label = |what: &str| format!("{what} of {}", hex::encode(sig));
    for _ in 0..4 {
        let mut flipped = sig.to_vec();
        let bit = rng.next_u32() as usize % (8 * flipped.len());
        flipped[bit / 8] ^= 1 << (bit % 8);
        assert!(!pair.judge(msg, &flipped, &label("bit flip")));
    }
    let mut other_msg = msg.to_vec();
    let bit = rng.next_u32() as usize % (8 * other_msg.len());
    other_msg[bit / 8] ^= 1 << (bit % 8);
    assert!(!pair.judge(&other_msg, sig, &label("message bit flip")));
    assert!(!other.judge(msg, sig, &label("another key")));
    assert!(pair.judge(msg, &with(r, &negate(s)), &label("high S")));
    pair.judge(msg, &with(s, r), &label("r and s swapped"));
    for value in boundary_scalars() {
        pair.judge(msg, &with(&value, s), &label("boundary r"));
        pair.judge(msg, &with(r, &value), &label("boundary s"));
    }
    assert!(!pair.judge(msg, &sig[..63], &label("truncated")));
    assert!(!pair.judge(msg, &with(sig, &[0]), &label("extended")));
    assert!(!pair.judge(msg, &[], &label("empty")));
    let mut garbage = [0u8; 64];
    rng.fill_bytes(&mut garbage);
    pair.judge(msg, &garbage, "random r || s");
}

fn random_key(rng: &mut ChaCha8Rng) -> SigningKey {
    loop {
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        if let Ok(key) = SigningKey::from_slice(&secret) {
            return key;
        }
    }
}

#[test]
fn agrees_with_the_p256_crate_on_signatures_and_their_mutations() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut previous = Pair::new(&random_key(&mut rng));
    for _ in 0..KEYS {
        let signing = random_key(&mut rng);
        let pair = Pair::new(&signing);
        for _ in 0..MESSAGES {
            let mut msg = vec![0u8; 1 + rng.next_u32() as usize % 300];
            rng.fill_bytes(&mut msg);
            let sig: Signature = signing.sign(&msg);
            let sig = sig.to_bytes();
            assert!(pair.judge(&msg, &sig, "genuine signature"));
            mutations(&pair, &previous, &msg, &sig, &mut rng);
        }
        previous = pair;
    }
}

#[test]
fn agrees_on_random_signatures_against_a_fixed_key() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ 1);
    let pair = Pair::new(&random_key(&mut rng));
    for _ in 0..200 {
        let mut sig = [0u8; 64];
        rng.fill_bytes(&mut sig);
        // Half of them with a top byte low enough that r and s are both in range.
        if rng.next_u32() & 1 == 0 {
            sig[0] &= 0x7f;
            sig[32] &= 0x7f;
        }
        pair.judge(b"payload", &sig, "random r || s");
    }
}
