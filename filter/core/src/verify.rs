//! Signature verification: checks a JWS signature over its signing input with one public key.
//! It does not choose the key (`jwks`) nor parse the token (`jws`); it never tries other keys.
//!
//! Encodings follow RFC 7518: RS* are RSASSA-PKCS1-v1_5 (§3.3); PS* are RSASSA-PSS with MGF1
//! over the same hash and a salt as long as the hash (§3.5), nothing else; ES256/ES384 carry raw
//! `r || s` of exactly 64/96 bytes (§3.4), and high-S values are accepted because the RFC and
//! Wycheproof both treat them as valid (JWS signatures are not used as unique identifiers here);
//! EdDSA is Ed25519 (RFC 8037) checked with the strict rules (canonical S, no small-order keys
//! or R).

use p384::ecdsa::signature::Verifier as _;

use crate::error::AuthError;
use crate::jwks::PublicKey;
use crate::jws::Alg;
use crate::rsa::Hash;

/// Checks `signature` over `signing_input`. `UnsupportedAlg` if `alg` does not belong to the
/// key's family, `BadSignature` for every other failure (wrong length, bad encoding, mismatch).
pub fn verify_signature(
    alg: Alg,
    key: &PublicKey,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), AuthError> {
    let verified = match (alg, key) {
        // `crate::rsa` refuses signatures not exactly as long as the modulus or not below it.
        (Alg::RS256, PublicKey::Rsa(k)) => {
            k.verify_pkcs1v15(Hash::Sha256, signing_input, signature)
        }
        (Alg::RS384, PublicKey::Rsa(k)) => {
            k.verify_pkcs1v15(Hash::Sha384, signing_input, signature)
        }
        (Alg::RS512, PublicKey::Rsa(k)) => {
            k.verify_pkcs1v15(Hash::Sha512, signing_input, signature)
        }
        (Alg::PS256, PublicKey::Rsa(k)) => k.verify_pss(Hash::Sha256, signing_input, signature),
        (Alg::PS384, PublicKey::Rsa(k)) => k.verify_pss(Hash::Sha384, signing_input, signature),
        (Alg::PS512, PublicKey::Rsa(k)) => k.verify_pss(Hash::Sha512, signing_input, signature),
        // `crate::ecdsa_p256` refuses anything but 64 bytes with r and s in [1, n − 1].
        (Alg::ES256, PublicKey::P256(k)) => k.verify(signing_input, signature),
        (Alg::ES384, PublicKey::P384(k)) => p384::ecdsa::Signature::from_slice(signature)
            .is_ok_and(|sig| k.verify(signing_input, &sig).is_ok()),
        (Alg::EdDSA, PublicKey::Ed25519(k)) => <[u8; 64]>::try_from(signature).is_ok_and(|raw| {
            let sig = ed25519_dalek::Signature::from_bytes(&raw);
            k.verify_strict(signing_input, &sig).is_ok()
        }),
        _ => return Err(AuthError::UnsupportedAlg),
    };
    if verified {
        Ok(())
    } else {
        Err(AuthError::BadSignature)
    }
}
