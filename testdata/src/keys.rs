//! Signing keys for tests and the tokens they mint. RSA keys come from `testdata/keys/*.pem`;
//! EC and Ed25519 keys from fixed seeds, so every run signs with the same keys.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oidc_filter_core::Alg;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Sha256, Sha384, Sha512};

enum Secret {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A private key with its `kid` and the algorithm it signs with.
pub struct TestKey {
    pub kid: String,
    pub alg: Alg,
    secret: Secret,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa_pem(name: &str) -> Box<rsa::RsaPrivateKey> {
    let path = crate::dir().join("keys").join(format!("{name}.pem"));
    let pem = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Box::new(rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap_or_else(|e| panic!("{name}: {e}")))
}

fn seed(tag: u8) -> [u8; 32] {
    let mut s = [0x5a; 32];
    s[0] = tag;
    s
}

impl TestKey {
    /// RSA key `rsa-a` (or `rsa-b` with `second`) signing with an RS*/PS* algorithm.
    pub fn rsa(kid: &str, alg: Alg, second: bool) -> TestKey {
        let secret = Secret::Rsa(rsa_pem(if second { "rsa-b" } else { "rsa-a" }));
        TestKey {
            kid: kid.to_string(),
            alg,
            secret,
        }
    }

    pub fn rs256(kid: &str) -> TestKey {
        TestKey::rsa(kid, Alg::RS256, false)
    }

    pub fn es256(kid: &str) -> TestKey {
        let key = p256::ecdsa::SigningKey::from_slice(&seed(1)).unwrap_or_else(|e| panic!("{e}"));
        TestKey {
            kid: kid.to_string(),
            alg: Alg::ES256,
            secret: Secret::P256(key),
        }
    }

    pub fn es384(kid: &str) -> TestKey {
        let mut s = [0x5a; 48];
        s[0] = 2;
        let key = p384::ecdsa::SigningKey::from_slice(&s).unwrap_or_else(|e| panic!("{e}"));
        TestKey {
            kid: kid.to_string(),
            alg: Alg::ES384,
            secret: Secret::P384(key),
        }
    }

    pub fn ed25519(kid: &str) -> TestKey {
        let key = ed25519_dalek::SigningKey::from_bytes(&seed(3));
        TestKey {
            kid: kid.to_string(),
            alg: Alg::EdDSA,
            secret: Secret::Ed25519(key),
        }
    }

    /// The public JWK, with `kid`, `alg` and `use: sig`.
    pub fn jwk(&self) -> Value {
        let mut jwk = match &self.secret {
            Secret::Rsa(k) => {
                json!({"kty": "RSA", "n": b64(&k.n().to_bytes_be()), "e": b64(&k.e().to_bytes_be())})
            }
            Secret::P256(k) => ec_jwk(
                "P-256",
                k.verifying_key().to_encoded_point(false).as_bytes(),
            ),
            Secret::P384(k) => ec_jwk(
                "P-384",
                k.verifying_key().to_encoded_point(false).as_bytes(),
            ),
            Secret::Ed25519(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.verifying_key().as_bytes())})
            }
        };
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!(self.alg.name());
        jwk["use"] = json!("sig");
        jwk
    }

    /// A token over `claims` with the header `{"alg", "kid", "typ": "JWT"}`.
    pub fn mint(&self, claims: &Value) -> String {
        self.mint_with_header(
            json!({"alg": self.alg.name(), "kid": self.kid, "typ": "JWT"}),
            claims,
        )
    }

    /// A token with an explicit header (signed with this key whatever the header says).
    pub fn mint_with_header(&self, header: Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self.sign(input.as_bytes());
        format!("{input}.{}", b64(&sig))
    }

    /// Signs raw bytes with this key's algorithm (JWS encodings: raw r||s for ECDSA).
    pub fn sign(&self, input: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::Signer;
        match &self.secret {
            Secret::Rsa(k) => rsa_sign(k, self.alg, input),
            Secret::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(input);
                sig.to_bytes().to_vec()
            }
            Secret::P384(k) => {
                let sig: p384::ecdsa::Signature = k.sign(input);
                sig.to_bytes().to_vec()
            }
            Secret::Ed25519(k) => k.sign(input).to_bytes().to_vec(),
        }
    }
}

/// An EC JWK from an uncompressed SEC1 point (0x04 || x || y).
fn ec_jwk(crv: &str, point: &[u8]) -> Value {
    let half = (point.len() - 1) / 2;
    json!({"kty": "EC", "crv": crv, "x": b64(&point[1..=half]), "y": b64(&point[half + 1..])})
}

fn rsa_sign(key: &rsa::RsaPrivateKey, alg: Alg, input: &[u8]) -> Vec<u8> {
    use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
    let mut rng =
        <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(7);
    let key = key.clone();
    match alg {
        Alg::RS256 => rsa::pkcs1v15::SigningKey::<Sha256>::new(key)
            .sign(input)
            .to_vec(),
        Alg::RS384 => rsa::pkcs1v15::SigningKey::<Sha384>::new(key)
            .sign(input)
            .to_vec(),
        Alg::RS512 => rsa::pkcs1v15::SigningKey::<Sha512>::new(key)
            .sign(input)
            .to_vec(),
        Alg::PS256 => rsa::pss::SigningKey::<Sha256>::new(key)
            .sign_with_rng(&mut rng, input)
            .to_vec(),
        Alg::PS384 => rsa::pss::SigningKey::<Sha384>::new(key)
            .sign_with_rng(&mut rng, input)
            .to_vec(),
        Alg::PS512 => rsa::pss::SigningKey::<Sha512>::new(key)
            .sign_with_rng(&mut rng, input)
            .to_vec(),
        other => panic!("{} is not an RSA algorithm", other.name()),
    }
}

/// `{"keys": [...]}` for these keys.
pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() })
}
