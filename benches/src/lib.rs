//! Shared fixtures for the benchmarks: an RS256/PS256 token signed with the test key `rsa-a`,
//! the key as the filter holds it, and the same key for the previous verifier (the RustCrypto
//! `rsa` crate); and an ES256 token with its key as the filter holds it and as the previous
//! verifier (the RustCrypto `p256` crate) held it. Benchmarks measure; nothing here asserts on
//! time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oidc_filter_core::jwks::{KeySet, PublicKey};
use oidc_filter_core::verify::verify_signature;
use oidc_filter_core::Alg;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, Pss, RsaPrivateKey};
use sha2::{Digest, Sha256};

/// `testdata/keys/rsa-a.pem`, embedded so the wasm timing program needs no file access.
const RSA_A: &str = include_str!("../../testdata/keys/rsa-a.pem");

/// A signed JWS with everything each verifier needs.
pub struct Fixture {
    pub alg: Alg,
    pub signing_input: Vec<u8>,
    pub signature: Vec<u8>,
    /// The key as the filter parses it from a JWKS.
    pub key: PublicKey,
    /// The key for the RustCrypto `rsa` crate, which verified RSA before `crate::rsa`.
    pub rustcrypto: rsa::RsaPublicKey,
    /// Minimal big-endian modulus and exponent, for `ring`.
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

/// An RS256 or PS256 token over a typical claim set, signed with `rsa-a` (RSA-2048).
pub fn rsa_2048(alg: Alg) -> Fixture {
    let private = RsaPrivateKey::from_pkcs8_pem(RSA_A).unwrap();
    let public = private.to_public_key();
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let header = format!(r#"{{"alg":"{}","kid":"a","typ":"JWT"}}"#, alg.name());
    let claims = r#"{"iss":"https://idp.example.com","sub":"user-1","aud":"api","exp":1767229200,"iat":1767225600,"scope":"read write"}"#;
    let signing_input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let digest = Sha256::digest(signing_input.as_bytes());
    let signature = match alg {
        Alg::RS256 => private.sign(Pkcs1v15Sign::new::<Sha256>(), &digest),
        Alg::PS256 => {
            let mut rng = ChaCha20Rng::seed_from_u64(1);
            private.sign_with_rng(&mut rng, Pss::new::<Sha256>(), &digest)
        }
        other => panic!("no fixture for {}", other.name()),
    }
    .unwrap();
    let n = public.n().to_bytes_be();
    let e = public.e().to_bytes_be();
    let jwks = serde_json::json!({"keys": [{
        "kty": "RSA", "kid": "a", "alg": alg.name(), "n": b64(&n), "e": b64(&e),
    }]});
    let set = KeySet::parse(jwks.to_string().as_bytes()).unwrap();
    let key = set.select(Some("a"), alg).unwrap().key.clone();
    Fixture {
        alg,
        signing_input: signing_input.into_bytes(),
        signature,
        key,
        rustcrypto: public,
        n,
        e,
    }
}

impl Fixture {
    /// The filter's path: `verify::verify_signature` with the key parsed from the JWKS.
    pub fn verify_filter(&self) -> bool {
        verify_signature(self.alg, &self.key, &self.signing_input, &self.signature).is_ok()
    }

    /// The previous path: the RustCrypto `rsa` crate, hashing the signing input first.
    pub fn verify_rustcrypto(&self) -> bool {
        let digest = Sha256::digest(&self.signing_input);
        let scheme = match self.alg {
            Alg::PS256 => {
                return self
                    .rustcrypto
                    .verify(Pss::new::<Sha256>(), &digest, &self.signature)
                    .is_ok()
            }
            _ => Pkcs1v15Sign::new::<Sha256>(),
        };
        self.rustcrypto
            .verify(scheme, &digest, &self.signature)
            .is_ok()
    }
}

/// A signed ES256 JWS with the key as each verifier holds it.
pub struct Es256Fixture {
    pub signing_input: Vec<u8>,
    pub signature: Vec<u8>,
    /// The key as the filter parses it from a JWKS (`crate::ecdsa_p256`).
    pub key: PublicKey,
    /// The key for the RustCrypto `p256` crate, which verified ES256 before `crate::ecdsa_p256`.
    pub rustcrypto: p256::ecdsa::VerifyingKey,
    /// The one-key JWKS the key came from, to time a new key: parsing it, and its first
    /// verification, which builds the key's comb table.
    pub jwks: String,
}

/// An ES256 token over the same claim set as `rsa_2048`, signed with a fixed P-256 key.
pub fn es256() -> Es256Fixture {
    let private = p256::ecdsa::SigningKey::from_slice(&[0x5e; 32]).unwrap();
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let header = r#"{"alg":"ES256","kid":"ec","typ":"JWT"}"#;
    let claims = r#"{"iss":"https://idp.example.com","sub":"user-1","aud":"api","exp":1767229200,"iat":1767225600,"scope":"read write"}"#;
    let signing_input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let signature: p256::ecdsa::Signature = private.sign(signing_input.as_bytes());
    let point = private.verifying_key().to_encoded_point(false);
    let jwks = serde_json::json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "ec", "alg": "ES256",
        "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()),
    }]});
    let set = KeySet::parse(jwks.to_string().as_bytes()).unwrap();
    Es256Fixture {
        signing_input: signing_input.into_bytes(),
        signature: signature.to_bytes().to_vec(),
        key: set.select(Some("ec"), Alg::ES256).unwrap().key.clone(),
        rustcrypto: *private.verifying_key(),
        jwks: jwks.to_string(),
    }
}

impl Es256Fixture {
    /// The filter's path: `verify::verify_signature` with the key parsed from the JWKS.
    pub fn verify_filter(&self) -> bool {
        verify_signature(Alg::ES256, &self.key, &self.signing_input, &self.signature).is_ok()
    }

    /// Parses the JWKS, as the filter does once per fetched key set.
    pub fn parse_key(&self) -> bool {
        KeySet::parse(self.jwks.as_bytes()).is_ok_and(|set| set.len() == 1)
    }

    /// Parses the JWKS and verifies with the new key: what a key's first token costs.
    pub fn parse_and_verify_first(&self) -> bool {
        KeySet::parse(self.jwks.as_bytes()).is_ok_and(|set| {
            set.select(Some("ec"), Alg::ES256).is_ok_and(|jwk| {
                verify_signature(Alg::ES256, &jwk.key, &self.signing_input, &self.signature).is_ok()
            })
        })
    }

    /// The previous path: the `p256` crate, as `verify_signature` called it before.
    pub fn verify_rustcrypto(&self) -> bool {
        p256::ecdsa::Signature::from_slice(&self.signature)
            .is_ok_and(|sig| self.rustcrypto.verify(&self.signing_input, &sig).is_ok())
    }
}
