//! Verify-only RSA (RFC 8017) for the JWS algorithms RS256/384/512 and PS256/384/512: a public
//! key with its Montgomery constants computed once, when the key is parsed, and the two signature
//! checks, RSASSA-PKCS1-v1_5 (§8.2.2) and RSASSA-PSS (§8.1.2). It never signs, decrypts or holds
//! private key material, and it does not choose keys (`jwks`) or map JWS names (`verify`).
//!
//! Everything it handles is public — the key comes from a published JWKS, the message and the
//! signature from the token — so there is no secret to leak through timing: the arithmetic is
//! variable-time on purpose, and must never be reused on private values.
//!
//! - `bignum`: 32-bit limbs (wasm32 multiplies 64-bit natively but has no 128-bit product).
//! - `montgomery`: the modulus, its constants, and `s^e mod n` on 32-bit limbs.
//! - `lazy`: `s^e mod n` on 28-bit limbs with deferred carries, for moduli up to 3358 bits.
//! - `pkcs1`: the one valid PKCS#1 v1.5 encoding, built and compared whole, never parsed.
//! - `pss`: EMSA-PSS-VERIFY with MGF1 and a salt as long as the hash.

mod bignum;
mod dot;
mod lazy;
mod montgomery;
mod pkcs1;
mod pss;

use sha2::{Sha256, Sha384, Sha512};

use bignum::{bit_length, from_be_bytes, less_than, strip_leading_zeros, to_be_bytes};
use montgomery::Modulus;

/// Smallest modulus this module works with, in bits. Which sizes a deployment trusts is policy
/// and belongs to `jwks` (2048..=8192); this bound only keeps the encodings well defined.
pub const MIN_MODULUS_BITS: usize = 512;

/// Largest modulus this module works with, in bits: bounds the work of parsing and verifying.
pub const MAX_MODULUS_BITS: usize = 16384;

/// Largest public exponent accepted, 2^33 − 1: the bound `ring` and the RustCrypto `rsa` crate
/// also use. Real keys use 65537; the bound keeps the exponentiation to at most 33 squarings.
pub const MAX_PUBLIC_EXPONENT: u64 = (1 << 33) - 1;

/// The hash of a signature scheme: SHA-256, SHA-384 or SHA-512.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }

    /// The digest of the concatenation of `parts`.
    pub fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: sha2::Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut hasher = D::new();
            for part in parts {
                hasher.update(part);
            }
            hasher.finalize().to_vec()
        }
        match self {
            Hash::Sha256 => run::<Sha256>(parts),
            Hash::Sha384 => run::<Sha384>(parts),
            Hash::Sha512 => run::<Sha512>(parts),
        }
    }
}

/// Why an RSA public key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RsaKeyError {
    #[error("the modulus is outside {MIN_MODULUS_BITS}..={MAX_MODULUS_BITS} bits")]
    ModulusSize,
    #[error("the modulus is even")]
    EvenModulus,
    #[error("the public exponent is even or below 3")]
    WeakExponent,
    #[error("the public exponent is above 2^33 - 1")]
    ExponentTooLarge,
}

/// An RSA public key ready to verify: the modulus in Montgomery form and the exponent.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    modulus: Modulus,
    e: u64,
    /// Modulus length in bits.
    bits: usize,
}

impl RsaPublicKey {
    /// A key from its big-endian modulus and exponent (leading zero bytes are ignored).
    pub fn from_be_bytes(n: &[u8], e: &[u8]) -> Result<RsaPublicKey, RsaKeyError> {
        let n = strip_leading_zeros(n);
        if n.len() > MAX_MODULUS_BITS / 8 {
            return Err(RsaKeyError::ModulusSize);
        }
        let limbs = from_be_bytes(n, n.len().div_ceil(4)).ok_or(RsaKeyError::ModulusSize)?;
        let bits = bit_length(&limbs);
        if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits) {
            return Err(RsaKeyError::ModulusSize);
        }
        let e = public_exponent(e)?;
        let modulus = Modulus::new(limbs).ok_or(RsaKeyError::EvenModulus)?;
        Ok(RsaPublicKey { modulus, e, bits })
    }

    /// Modulus length in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Modulus length in bytes, which is also the length of every signature.
    pub fn size(&self) -> usize {
        self.bits.div_ceil(8)
    }

    /// The modulus, big-endian, without leading zeros.
    pub fn n_be(&self) -> Vec<u8> {
        to_be_bytes(self.modulus.limbs(), self.size()).0
    }

    /// The public exponent.
    pub fn e(&self) -> u64 {
        self.e
    }

    /// The public exponent, big-endian, without leading zeros.
    pub fn e_be(&self) -> Vec<u8> {
        strip_leading_zeros(&self.e.to_be_bytes()).to_vec()
    }

    /// RSAVP1 (RFC 8017 §5.2.2): `s^e mod n` as `size()` big-endian bytes. `None` when the
    /// signature is not exactly `size()` bytes long or, read as a number, not below `n`.
    pub fn rsavp1(&self, signature: &[u8]) -> Option<Vec<u8>> {
        if signature.len() != self.size() {
            return None;
        }
        let n = self.modulus.limbs();
        let s = from_be_bytes(signature, n.len())?;
        if !less_than(&s, n) {
            return None;
        }
        Some(to_be_bytes(&self.modulus.pow(&s, self.e), self.size()).0)
    }

    /// RSASSA-PKCS1-v1_5-VERIFY (RFC 8017 §8.2.2) of `message` hashed with `hash`. The recovered
    /// encoding must equal, byte for byte, the single valid encoding built from the message
    /// hash: nothing of the recovered bytes is parsed.
    pub fn verify_pkcs1v15(&self, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
        let Some(em) = self.rsavp1(signature) else {
            return false;
        };
        pkcs1::encode(hash, &hash.digest(&[message]), self.size()).is_some_and(|want| em == want)
    }

    /// RSASSA-PSS-VERIFY (RFC 8017 §8.1.2) of `message` with `hash`, MGF1 over `hash` and a salt
    /// as long as the hash (RFC 7518 §3.5).
    pub fn verify_pss(&self, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
        let Some(m) = self.rsavp1(signature) else {
            return false;
        };
        // EM has emLen = ceil((modBits − 1) / 8) bytes: one fewer than the signature when
        // modBits ≡ 1 (mod 8), and then the leading byte of m must be zero (§8.1.2 step 2c).
        let em_bits = self.bits - 1;
        let skip = self.size() - em_bits.div_ceil(8);
        if m[..skip].iter().any(|b| *b != 0) {
            return false;
        }
        pss::verify(hash, &hash.digest(&[message]), &m[skip..], em_bits)
    }
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("bits", &self.bits)
            .field("e", &self.e)
            .finish()
    }
}

/// An odd exponent in `3..=MAX_PUBLIC_EXPONENT` from big-endian bytes.
fn public_exponent(e: &[u8]) -> Result<u64, RsaKeyError> {
    let e = strip_leading_zeros(e);
    let odd = e.last().is_some_and(|low| low & 1 == 1);
    if !odd || e == [1] {
        return Err(RsaKeyError::WeakExponent);
    }
    if e.len() > 8 {
        return Err(RsaKeyError::ExponentTooLarge);
    }
    let value = e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    if value > MAX_PUBLIC_EXPONENT {
        return Err(RsaKeyError::ExponentTooLarge);
    }
    Ok(value)
}
