//! Verify-only ECDSA over P-256 with SHA-256, the JWS algorithm ES256 (RFC 7518 §3.4): a public
//! key checked when it is parsed and given its comb table by its first verification, and the
//! verification of SEC 1 v2 §4.1.4. It never signs or holds private keys, and it does not choose keys (`jwks`)
//! or map JWS names (`verify`).
//!
//! Everything it handles is public — the key comes from a published JWKS, the message and the
//! signature from the token — so the arithmetic is variable-time on purpose, and must never be
//! reused on private values.
//!
//! - `u256`: 256-bit numbers in 32-bit limbs (wasm32 has a 64-bit multiply, no 128-bit one).
//! - `field`: integers mod p with the NIST fast reduction.
//! - `scalar`: integers mod n in Montgomery form, for `r`, `s` and the hash.
//! - `point`: Jacobian point formulas and their exceptional cases.
//! - `mult`: `u1·G + u2·Q` by the comb method, with a table per key.

mod field;
mod mult;
mod point;
mod scalar;
mod u256;

use std::fmt;
use std::sync::OnceLock;

use sha2::{Digest as _, Sha256};

use field::Fe;
use mult::CombTable;
use point::{Affine, Jacobian};
use scalar::Scalar;

/// Why a P-256 public key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum P256KeyError {
    #[error("a coordinate is not below the field prime")]
    CoordinateOutOfRange,
    #[error("the point is not on the curve")]
    NotOnCurve,
}

/// A P-256 public key Q with its comb table, ready to verify many signatures.
///
/// Built from affine coordinates, so it is never the point at infinity (which has none), and it
/// has order n because the curve's cofactor is 1.
#[derive(Clone)]
pub struct P256PublicKey {
    x: [u8; 32],
    y: [u8; 32],
    q: Affine,
    /// The comb table of Q for `u2` (16 KiB), built by the first verification with this key
    /// (~0.7 ms in wasm), so keys of a JWKS that never sign anything cost nothing more.
    table: OnceLock<Option<Box<CombTable>>>,
}

impl P256PublicKey {
    /// The key with these big-endian affine coordinates (SEC 1 v2 §3.2.2.1: each below p, and
    /// the point on the curve).
    pub fn from_coordinates(x: &[u8; 32], y: &[u8; 32]) -> Result<P256PublicKey, P256KeyError> {
        let (Some(fx), Some(fy)) = (Fe::from_be_bytes(x), Fe::from_be_bytes(y)) else {
            return Err(P256KeyError::CoordinateOutOfRange);
        };
        let q = Affine::on_curve(fx, fy).ok_or(P256KeyError::NotOnCurve)?;
        Ok(P256PublicKey {
            x: *x,
            y: *y,
            q,
            table: OnceLock::new(),
        })
    }

    /// The uncompressed SEC 1 encoding `04 || x || y`.
    pub fn to_uncompressed(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[0] = 4;
        out[1..33].copy_from_slice(&self.x);
        out[33..].copy_from_slice(&self.y);
        out
    }

    /// Whether `signature`, raw `r || s` of exactly 64 bytes (RFC 7518 §3.4), is a valid ECDSA
    /// signature over SHA-256(`message`). High-S signatures are valid: ECDSA itself does not
    /// distinguish `s` from `n − s`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(message).into();
        self.verify_digest(&digest, signature)
    }

    /// The comb table of Q, built on first use. A point of prime order n has no multiple
    /// kQ = ∞ for 0 < k < n, so it always exists.
    fn table(&self) -> Option<&CombTable> {
        self.table
            .get_or_init(|| mult::comb_table(self.q))
            .as_deref()
    }

    /// SEC 1 v2 §4.1.4 for a SHA-256 digest: steps 1–6, and step 7 without an inversion.
    fn verify_digest(&self, digest: &[u8; 32], signature: &[u8]) -> bool {
        // Exactly 32 bytes of r, then exactly 32 of s.
        let Some((r_bytes, rest)) = signature.split_first_chunk::<32>() else {
            return false;
        };
        let Ok(s_bytes) = <&[u8; 32]>::try_from(rest) else {
            return false;
        };
        // Step 1: r and s in [1, n − 1].
        let (Some(r), Some(s)) = (
            Scalar::from_be_bytes(r_bytes),
            Scalar::from_be_bytes(s_bytes),
        ) else {
            return false;
        };
        // Steps 2–5: e = H mod n, u1 = e·s⁻¹, u2 = r·s⁻¹, R = u1·G + u2·Q.
        let e = Scalar::reduce_hash(digest);
        let (u1, u2) = Scalar::divide_both(&e, r.limbs(), &s);
        let Some(table) = self.table() else {
            return false;
        };
        let point = mult::mul_add(&u1, &u2, table);
        // Steps 6–7: R ≠ ∞ and x_R mod n = r.
        x_matches(&point, &r)
    }
}

/// Whether the affine x of `point` is congruent to `r` mod n, compared in Jacobian form: x_R is
/// below p < 2n, so x_R mod n = r exactly when x_R is r or r + n (the latter only if below p),
/// and x_R = c exactly when X = c·Z².
fn x_matches(point: &Jacobian, r: &Scalar) -> bool {
    if point.is_infinity() {
        return false;
    }
    let z2 = point.z.square();
    let candidates = [
        Some(*r.limbs()),
        match u256::add(r.limbs(), &scalar::N) {
            (sum, false) => Some(sum),
            (_, true) => None,
        },
    ];
    candidates
        .into_iter()
        .flatten()
        .filter_map(Fe::from_limbs)
        .any(|c| c.mul(z2) == point.x)
}

impl PartialEq for P256PublicKey {
    /// Keys are equal when their points are; the table follows from the point.
    fn eq(&self, other: &Self) -> bool {
        self.x == other.x && self.y == other.y
    }
}

impl fmt::Debug for P256PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        f.debug_struct("P256PublicKey")
            .field("x", &hex(&self.x))
            .field("y", &hex(&self.y))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
