//! Differential test of the filter's RSA verification (`crate::rsa` through `verify_signature`)
//! against `ring`: thousands of signatures from seeded RNGs — valid ones, bit flips, other
//! messages and hashes, truncations, boundary values (0, 1, n − 1, n, n + 1), near-miss encodings
//! signed raw with the private key, and keys with mutated moduli — each judged by both; the
//! verdicts must agree. The raw public operation is also compared with num-bigint's `modpow` on
//! random odd moduli and exponents.
//!
//! This is the bounded, deterministic fuzz run CI does: same seeds, same cases, a few seconds.
//! To explore further, raise `ROUNDS` or change `SEED` locally.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use oidc_filter_core::jwks::PublicKey;
use oidc_filter_core::rsa::{Hash, RsaPublicKey};
use oidc_filter_core::verify::verify_signature;
use oidc_filter_core::Alg;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ring::signature::{self as ring_sig, RsaParameters, RsaPublicKeyComponents};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, Pss, RsaPrivateKey};
use sha2::{Digest, Sha256, Sha384, Sha512};

const SEED: u64 = 0x05ee_d45a;

/// Valid signatures per key and scheme; each one spawns the mutations of `mutate`.
const ROUNDS: usize = 5;

#[derive(Clone, Copy)]
struct Scheme {
    alg: Alg,
    hash: Hash,
    pss: bool,
    ring: &'static RsaParameters,
}

const SCHEMES: [Scheme; 6] = [
    scheme(
        Alg::RS256,
        Hash::Sha256,
        false,
        &ring_sig::RSA_PKCS1_2048_8192_SHA256,
    ),
    scheme(
        Alg::RS384,
        Hash::Sha384,
        false,
        &ring_sig::RSA_PKCS1_2048_8192_SHA384,
    ),
    scheme(
        Alg::RS512,
        Hash::Sha512,
        false,
        &ring_sig::RSA_PKCS1_2048_8192_SHA512,
    ),
    scheme(
        Alg::PS256,
        Hash::Sha256,
        true,
        &ring_sig::RSA_PSS_2048_8192_SHA256,
    ),
    scheme(
        Alg::PS384,
        Hash::Sha384,
        true,
        &ring_sig::RSA_PSS_2048_8192_SHA384,
    ),
    scheme(
        Alg::PS512,
        Hash::Sha512,
        true,
        &ring_sig::RSA_PSS_2048_8192_SHA512,
    ),
];

const fn scheme(alg: Alg, hash: Hash, pss: bool, ring: &'static RsaParameters) -> Scheme {
    Scheme {
        alg,
        hash,
        pss,
        ring,
    }
}

/// A public key as both verifiers hold it, and the tally of verdicts.
struct Judge {
    ours: PublicKey,
    n: Vec<u8>,
    e: Vec<u8>,
    cases: usize,
    accepted: usize,
}

impl Judge {
    fn new(n: &[u8], e: &[u8]) -> Judge {
        Judge {
            ours: PublicKey::Rsa(RsaPublicKey::from_be_bytes(n, e).unwrap()),
            n: n.to_vec(),
            e: e.to_vec(),
            cases: 0,
            accepted: 0,
        }
    }

    /// Both verdicts on one case; they must agree. Returns the verdict.
    fn judge(&mut self, scheme: Scheme, msg: &[u8], sig: &[u8], what: &str) -> bool {
        let ours = verify_signature(scheme.alg, &self.ours, msg, sig).is_ok();
        let components = RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        };
        let theirs = components.verify(scheme.ring, msg, sig).is_ok();
        assert_eq!(
            ours,
            theirs,
            "{} {what}: ours {ours}, ring {theirs}\nn = {}\nmsg = {}\nsig = {}",
            scheme.alg.name(),
            hex::encode(&self.n),
            hex::encode(msg),
            hex::encode(sig)
        );
        self.cases += 1;
        self.accepted += usize::from(ours);
        ours
    }
}

fn digest(hash: Hash, msg: &[u8]) -> Vec<u8> {
    match hash {
        Hash::Sha256 => Sha256::digest(msg).to_vec(),
        Hash::Sha384 => Sha384::digest(msg).to_vec(),
        Hash::Sha512 => Sha512::digest(msg).to_vec(),
    }
}

/// A signature made by the `rsa` crate's own encoders.
fn sign(key: &RsaPrivateKey, scheme: Scheme, msg: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let d = digest(scheme.hash, msg);
    match (scheme.pss, scheme.hash) {
        (false, Hash::Sha256) => key.sign(Pkcs1v15Sign::new::<Sha256>(), &d),
        (false, Hash::Sha384) => key.sign(Pkcs1v15Sign::new::<Sha384>(), &d),
        (false, Hash::Sha512) => key.sign(Pkcs1v15Sign::new::<Sha512>(), &d),
        (true, Hash::Sha256) => key.sign_with_rng(rng, Pss::new::<Sha256>(), &d),
        (true, Hash::Sha384) => key.sign_with_rng(rng, Pss::new::<Sha384>(), &d),
        (true, Hash::Sha512) => key.sign_with_rng(rng, Pss::new::<Sha512>(), &d),
    }
    .unwrap()
}

fn left_pad(bytes: Vec<u8>, len: usize) -> Vec<u8> {
    let mut out = vec![0; len - bytes.len()];
    out.extend(bytes);
    out
}

/// `m^d mod n` for an arbitrary encoded message `m < n`: a signature whose public operation
/// yields exactly `em`, however malformed.
fn raw_sign(key: &RsaPrivateKey, em: &[u8]) -> Option<Vec<u8>> {
    let m = BigUint::from_bytes_be(em);
    if &m >= key.n() {
        return None;
    }
    let s = rsa::hazmat::rsa_decrypt(None::<&mut ChaCha8Rng>, key, &m).unwrap();
    Some(left_pad(s.to_bytes_be(), key.size()))
}

/// `s^e mod n`, as `size` bytes, computed by num-bigint.
fn public_op(key: &rsa::RsaPublicKey, sig: &[u8]) -> Vec<u8> {
    let m = BigUint::from_bytes_be(sig).modpow(key.e(), key.n());
    left_pad(m.to_bytes_be(), key.size())
}

/// MGF1 and EMSA-PSS-ENCODE (RFC 8017 §9.1.1, §B.2.1) with any salt, to craft near misses.
fn pss_encode(hash: Hash, m_hash: &[u8], salt: &[u8], em_bits: usize) -> Vec<u8> {
    let em_len = em_bits.div_ceil(8);
    let h = hash.digest(&[&[0u8; 8], m_hash, salt]);
    let mut db = vec![0u8; em_len - salt.len() - h.len() - 2];
    db.push(0x01);
    db.extend_from_slice(salt);
    let mut mask = Vec::new();
    for counter in 0u32.. {
        if mask.len() >= db.len() {
            break;
        }
        mask.extend(hash.digest(&[&h, &counter.to_be_bytes()]));
    }
    for (d, m) in db.iter_mut().zip(mask) {
        *d ^= m;
    }
    db[0] &= 0xff >> (8 * em_len - em_bits);
    db.extend_from_slice(&h);
    db.push(0xbc);
    db
}

/// DigestInfo of `digest` without the NULL parameters (RFC 8017 §9.2 Notes 1 names both forms;
/// only the one with NULL is the encoding).
fn digest_info_without_null(hash: Hash, digest: &[u8]) -> Vec<u8> {
    let oid_last = match hash {
        Hash::Sha256 => 1,
        Hash::Sha384 => 2,
        Hash::Sha512 => 3,
    };
    let len = u8::try_from(digest.len()).unwrap();
    let mut out = vec![0x30, 15 + len, 0x30, 0x0b, 0x06, 0x09];
    out.extend([
        0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, oid_last, 0x04, len,
    ]);
    out.extend_from_slice(digest);
    out
}

/// `00 01 FF.. 00 || t` of `k` bytes, optionally with fewer padding bytes and trailing garbage.
fn pkcs1_block(t: &[u8], k: usize, garbage: usize) -> Vec<u8> {
    let mut em = vec![0x00, 0x01];
    em.resize(k - t.len() - 1 - garbage, 0xff);
    em.push(0x00);
    em.extend_from_slice(t);
    em.resize(k, 0x5a);
    em
}

/// Encodings one step away from valid, each signed raw: both verifiers must refuse them all.
fn near_misses(key: &RsaPrivateKey, scheme: Scheme, msg: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let k = key.size();
    let d = digest(scheme.hash, msg);
    let mut ems: Vec<(&'static str, Vec<u8>)> = Vec::new();
    if scheme.pss {
        let em_bits = key.n().bits() - 1;
        let pad = |em: Vec<u8>| left_pad(em, k);
        let hlen = scheme.hash.output_len();
        ems.push(("empty salt", pad(pss_encode(scheme.hash, &d, &[], em_bits))));
        ems.push((
            "short salt",
            pad(pss_encode(scheme.hash, &d, &vec![3; hlen - 1], em_bits)),
        ));
        ems.push((
            "long salt",
            pad(pss_encode(scheme.hash, &d, &vec![3; hlen + 1], em_bits)),
        ));
        let good = pss_encode(scheme.hash, &d, &vec![9; hlen], em_bits);
        let mut trailer = good.clone();
        *trailer.last_mut().unwrap() = 0xbd;
        ems.push(("trailer", pad(trailer)));
        let mut top = good.clone();
        top[0] |= 0x80;
        ems.push(("leftmost bit", pad(top)));
        ems.push(("valid, salt of nines", pad(good)));
    } else {
        let without_null = digest_info_without_null(scheme.hash, &d);
        ems.push(("missing NULL", pkcs1_block(&without_null, k, 0)));
        let mut t = match scheme.hash {
            Hash::Sha256 => hex::decode("3031300d060960864801650304020105000420").unwrap(),
            Hash::Sha384 => hex::decode("3041300d060960864801650304020205000430").unwrap(),
            Hash::Sha512 => hex::decode("3051300d060960864801650304020305000440").unwrap(),
        };
        t.extend_from_slice(&d);
        ems.push(("trailing garbage", pkcs1_block(&t, k, 8)));
        let mut block_two = pkcs1_block(&t, k, 0);
        block_two[1] = 0x02;
        ems.push(("block type 2", block_two));
        let mut ps_hole = pkcs1_block(&t, k, 0);
        ps_hole[10] = 0xfe;
        ems.push(("padding byte", ps_hole));
        ems.push(("valid, built here", pkcs1_block(&t, k, 0)));
    }
    ems
}

/// One valid signature and its mutations, each judged by both verifiers.
fn mutate(judge: &mut Judge, key: &RsaPrivateKey, scheme: Scheme, rng: &mut ChaCha8Rng) {
    let mut msg = vec![0u8; (rng.next_u32() % 200) as usize];
    rng.fill_bytes(&mut msg);
    let sig = sign(key, scheme, &msg, rng);
    assert!(judge.judge(scheme, &msg, &sig, "valid signature"));

    let bit = rng.next_u32() as usize % (8 * sig.len());
    let mut flipped = sig.clone();
    flipped[bit / 8] ^= 1 << (bit % 8);
    judge.judge(scheme, &msg, &flipped, "bit flip");

    let mut other_msg = msg.clone();
    other_msg.push(rng.next_u32() as u8);
    judge.judge(scheme, &other_msg, &sig, "other message");

    let other = SCHEMES[rng.next_u32() as usize % SCHEMES.len()];
    judge.judge(other, &msg, &sig, "other scheme");

    judge.judge(scheme, &msg, &sig[1..], "truncated");
    judge.judge(scheme, &msg, &[&[0], &sig[..]].concat(), "zero-extended");

    // Change one byte of the recovered encoding and sign the result raw.
    let mut em = public_op(&key.to_public_key(), &sig);
    let at = rng.next_u32() as usize % em.len();
    em[at] ^= (rng.next_u32() as u8).max(1);
    if let Some(forged) = raw_sign(key, &em) {
        judge.judge(scheme, &msg, &forged, "encoding byte changed");
    }
}

/// Signatures at and around the ends of the range, for every scheme.
fn boundaries(judge: &mut Judge, key: &RsaPrivateKey) {
    let n = key.n();
    let k = key.size();
    let as_sig = |x: &BigUint| left_pad(x.to_bytes_be(), k);
    let one = BigUint::from(1u8);
    let mut values = vec![vec![0u8; k], as_sig(&one), as_sig(&(n - &one)), as_sig(n)];
    if (n + &one).bits() <= 8 * k {
        values.push(as_sig(&(n + &one)));
    }
    values.push(vec![0xff; k]);
    for scheme in SCHEMES {
        for sig in &values {
            judge.judge(scheme, b"boundary", sig, "boundary value");
        }
    }
}

/// The test keys of `testdata/keys`: 2048 bits (two), 2049 (a PSS encoded message one byte
/// shorter than the signature), 2052 (five unused leading bits), 3072, and 2048 with e = 3 (a
/// multiplication before the last squaring).
fn keys_under_test() -> Vec<(&'static str, RsaPrivateKey)> {
    [
        "rsa-a", "rsa-b", "rsa-2049", "rsa-2052", "rsa-3072", "rsa-e3",
    ]
    .into_iter()
    .map(|name| (name, pem(name)))
    .collect()
}

fn pem(name: &str) -> RsaPrivateKey {
    let path = oidc_testdata::dir()
        .join("keys")
        .join(format!("{name}.pem"));
    RsaPrivateKey::from_pkcs8_pem(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn our_rsa_verdicts_agree_with_ring_on_valid_mutated_and_crafted_signatures() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let (mut cases, mut accepted) = (0, 0);
    for (name, key) in keys_under_test() {
        let public = key.to_public_key();
        let mut judge = Judge::new(&public.n().to_bytes_be(), &public.e().to_bytes_be());
        for scheme in SCHEMES {
            for _ in 0..ROUNDS {
                mutate(&mut judge, &key, scheme, &mut rng);
            }
            for (what, em) in near_misses(&key, scheme, b"near miss") {
                // An encoding not below n has no signature (a set leftmost bit, on some keys).
                let Some(sig) = raw_sign(&key, &em) else {
                    continue;
                };
                let verdict = judge.judge(scheme, b"near miss", &sig, what);
                assert_eq!(verdict, what.starts_with("valid"), "{name} {what}");
            }
        }
        boundaries(&mut judge, &key);
        println!("{name}: {} cases, {} accepted", judge.cases, judge.accepted);
        assert!(judge.accepted >= SCHEMES.len() * (ROUNDS + 1), "{name}");
        cases += judge.cases;
        accepted += judge.accepted;
    }
    println!("all keys: {cases} cases, {accepted} accepted by both");
}

#[test]
fn keys_with_a_mutated_modulus_refuse_in_both_verifiers() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED + 1);
    let key = pem("rsa-a");
    let n = key.n().to_bytes_be();
    let e = key.e().to_bytes_be();
    for round in 0..60 {
        let scheme = SCHEMES[round % SCHEMES.len()];
        let sig = sign(&key, scheme, b"mutated modulus", &mut rng);
        let mut bad_n = n.clone();
        // Any bit but the top one (length) and the lowest (oddness).
        let bit = 1 + rng.next_u32() as usize % (8 * n.len() - 2);
        bad_n[n.len() - 1 - bit / 8] ^= 1 << (bit % 8);
        let mut judge = Judge::new(&bad_n, &e);
        assert!(!judge.judge(scheme, b"mutated modulus", &sig, "mutated modulus"));
        assert!(Judge::new(&n, &e).judge(scheme, b"mutated modulus", &sig, "original"));
    }
}

/// Random bytes as an odd number of exactly `bits` bits.
fn random_odd(rng: &mut ChaCha8Rng, bits: usize) -> BigUint {
    let mut bytes = vec![0u8; bits.div_ceil(8)];
    rng.fill_bytes(&mut bytes);
    let x = BigUint::from_bytes_be(&bytes) >> (8 * bytes.len() - bits);
    x | (BigUint::from(1u8) << (bits - 1)) | BigUint::from(1u8)
}

#[test]
fn public_operation_matches_modpow_on_random_odd_moduli_and_exponents() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED + 2);
    for round in 0..300 {
        let bits = 512 + rng.next_u32() as usize % 3585;
        let n = match round % 4 {
            // All ones, and a single high bit with a low one: the carry-heavy extremes.
            0 => (BigUint::from(1u8) << bits) - BigUint::from(1u8),
            1 => (BigUint::from(1u8) << (bits - 1)) | BigUint::from(1u8),
            _ => random_odd(&mut rng, bits),
        };
        let e = match round % 3 {
            0 => 65537,
            _ => (u64::from(rng.next_u32()) << 1 | 1).max(3),
        };
        let key = RsaPublicKey::from_be_bytes(&n.to_bytes_be(), &e.to_be_bytes()).unwrap();
        let k = key.size();
        let candidates = [
            BigUint::from(0u8),
            BigUint::from(2u8),
            &n - BigUint::from(1u8),
            random_odd(&mut rng, bits) % &n,
        ];
        for s in candidates {
            let sig = left_pad(s.to_bytes_be(), k);
            let want = left_pad(s.modpow(&BigUint::from(e), &n).to_bytes_be(), k);
            assert_eq!(
                key.rsavp1(&sig),
                Some(want),
                "{bits} bits, e = {e}, round {round}"
            );
        }
        assert_eq!(key.rsavp1(&left_pad(n.to_bytes_be(), k)), None);
    }
}
