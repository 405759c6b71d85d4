//! Unit tests of the whole module: key parsing rules, the final x comparison, and the scalar
//! multiplication checked point by point against the RustCrypto `p256` crate (a dev-dependency).

use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::elliptic_curve::PrimeField as _;

use super::point::{batch_to_affine, G};
use super::*;

fn hex32(text: &str) -> [u8; 32] {
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

/// 32 pseudo-random bytes from a xorshift state.
fn random_bytes(state: &mut u64) -> [u8; 32] {
    core::array::from_fn(|_| {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        (*state >> 24) as u8
    })
}

fn g_key() -> P256PublicKey {
    P256PublicKey::from_coordinates(&G.x.to_be_bytes(), &G.y.to_be_bytes()).unwrap()
}

/// Our `u1·G + u2·Q` as uncompressed bytes, or `None` for infinity.
fn ours(u1: &u256::U256, u2: &u256::U256, key: &P256PublicKey) -> Option<Vec<u8>> {
    let point = mult::mul_add(u1, u2, key.table().unwrap());
    let affine = batch_to_affine(&[point])?;
    let mut out = vec![4];
    out.extend(affine[0].x.to_be_bytes());
    out.extend(affine[0].y.to_be_bytes());
    Some(out)
}

/// The `p256` crate's `u1·G + u2·Q`.
fn reference(u1: &[u8; 32], u2: &[u8; 32], q: &p256::AffinePoint) -> Option<Vec<u8>> {
    let scalar = |bytes: &[u8; 32]| p256::Scalar::from_repr((*bytes).into()).unwrap();
    let sum = p256::ProjectivePoint::GENERATOR * scalar(u1)
        + p256::ProjectivePoint::from(*q) * scalar(u2);
    let encoded = sum.to_affine().to_encoded_point(false);
    (!encoded.is_identity()).then(|| encoded.as_bytes().to_vec())
}

#[test]
fn parses_the_generator_and_encodes_it_back() {
    let key = g_key();
    let encoded = key.to_uncompressed();
    let expected = p256::AffinePoint::GENERATOR.to_encoded_point(false);
    assert_eq!(&encoded[..], expected.as_bytes());
}

#[test]
fn refuses_coordinates_at_or_above_p_and_points_off_the_curve() {
    let p = hex32("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
    let gy = G.y.to_be_bytes();
    assert_eq!(
        P256PublicKey::from_coordinates(&p, &gy).unwrap_err(),
        P256KeyError::CoordinateOutOfRange
    );
    assert_eq!(
        P256PublicKey::from_coordinates(&G.x.to_be_bytes(), &[0xff; 32]).unwrap_err(),
        P256KeyError::CoordinateOutOfRange
    );
    let mut off = gy;
    off[31] ^= 1;
    assert_eq!(
        P256PublicKey::from_coordinates(&G.x.to_be_bytes(), &off).unwrap_err(),
        P256KeyError::NotOnCurve
    );
    // (0, 0) is how some encodings write infinity; it is not on the curve.
    assert_eq!(
        P256PublicKey::from_coordinates(&[0; 32], &[0; 32]).unwrap_err(),
        P256KeyError::NotOnCurve
    );
}

#[test]
fn keys_compare_by_point() {
    assert_eq!(g_key(), g_key());
    let minus_g = P256PublicKey::from_coordinates(&G.x.to_be_bytes(), &G.y.neg().to_be_bytes());
    assert_ne!(minus_g.unwrap(), g_key());
}

#[test]
fn double_scalar_multiplication_matches_the_p256_crate() {
    let mut state = 0x0123_4567_89ab_cdefu64;
    let n_minus_one = u256::sub(&scalar::N, &[1, 0, 0, 0, 0, 0, 0, 0]).0;
    let edge = [
        u256::ZERO,
        [1, 0, 0, 0, 0, 0, 0, 0],
        [2, 0, 0, 0, 0, 0, 0, 0],
        n_minus_one,
    ];
    for round in 0..40 {
        let secret = p256::SecretKey::from_bytes(&random_bytes(&mut state).into()).unwrap();
        let q = *secret.public_key().as_affine();
        let encoded = q.to_encoded_point(false);
        let key = P256PublicKey::from_coordinates(
            encoded.x().unwrap().as_ref(),
            encoded.y().unwrap().as_ref(),
        )
        .unwrap();
        let mut scalars: Vec<u256::U256> = edge.to_vec();
        scalars.push(Scalar::reduce_hash(&random_bytes(&mut state)));
        scalars.push(Scalar::reduce_hash(&random_bytes(&mut state)));
        for u1 in &scalars {
            for u2 in &scalars {
                let (b1, b2) = (u256::to_be_bytes(u1), u256::to_be_bytes(u2));
                assert_eq!(
                    ours(u1, u2, &key),
                    reference(&b1, &b2, &q),
                    "round {round}: u1 = {u1:x?}, u2 = {u2:x?}"
                );
            }
        }
    }
}

#[test]
fn q_equal_to_plus_or_minus_g_reaches_the_exceptional_additions() {
    let g = g_key();
    let minus_g =
        P256PublicKey::from_coordinates(&G.x.to_be_bytes(), &G.y.neg().to_be_bytes()).unwrap();
    let mut state = 7u64;
    for _ in 0..8 {
        let u = Scalar::reduce_hash(&random_bytes(&mut state));
        // u·G + u·(−G) = ∞ and u·G + u·G = 2u·G: both combs pick the same column on every step.
        assert_eq!(ours(&u, &u, &minus_g), None);
        let b = u256::to_be_bytes(&u);
        assert_eq!(
            ours(&u, &u, &g),
            reference(&b, &b, &p256::AffinePoint::GENERATOR)
        );
    }
}

#[test]
fn x_comparison_accepts_r_plus_n_below_p() {
    // Any x with n ≤ x < p stands for r = x − n; the comparison must not need the point on the
    // curve, so a Jacobian point with Z = 2 and X = x·4 is enough.
    let x = u256::add(&scalar::N, &[5, 0, 0, 0, 0, 0, 0, 0]).0;
    let fx = Fe::from_limbs(x).unwrap();
    let two = Fe::ONE.double();
    let point = Jacobian {
        x: fx.mul(two.square()),
        y: Fe::ONE,
        z: two,
    };
    let r = |k: u32| Scalar::from_be_bytes(&u256::to_be_bytes(&[k, 0, 0, 0, 0, 0, 0, 0])).unwrap();
    assert!(x_matches(&point, &r(5)));
    assert!(!x_matches(&point, &r(4)));
    assert!(!x_matches(&Jacobian::INFINITY, &r(5)));
}

#[test]
fn verifies_a_p256_crate_signature_and_refuses_changes() {
    use p256::ecdsa::signature::Signer as _;
    let signing = p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap();
    let point = signing.verifying_key().to_encoded_point(false);
    let key =
        P256PublicKey::from_coordinates(point.x().unwrap().as_ref(), point.y().unwrap().as_ref())
            .unwrap();
    let signature: p256::ecdsa::Signature = signing.sign(b"payload");
    let raw = signature.to_bytes();
    assert!(key.verify(b"payload", &raw));
    assert!(!key.verify(b"payloae", &raw));
    assert!(!key.verify(b"payload", &raw[..63]));
    let mut longer = raw.to_vec();
    longer.push(0);
    assert!(!key.verify(b"payload", &longer));
    // High S: (r, n − s) is just as valid.
    let s = Scalar::from_be_bytes(raw[32..].try_into().unwrap()).unwrap();
    let mut high = raw.to_vec();
    high[32..].copy_from_slice(&u256::to_be_bytes(&u256::sub(&scalar::N, s.limbs()).0));
    assert!(key.verify(b"payload", &high));
    // r = 0 and s = n are out of range.
    let mut zero_r = raw.to_vec();
    zero_r[..32].fill(0);
    assert!(!key.verify(b"payload", &zero_r));
    let mut n_s = raw.to_vec();
    n_s[32..].copy_from_slice(&u256::to_be_bytes(&scalar::N));
    assert!(!key.verify(b"payload", &n_s));
}
