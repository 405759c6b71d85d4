//! JWK sets (RFC 7517): parses a provider's published keys into public verification keys and
//! selects the one key a token names. It never verifies signatures (`verify`), never fetches
//! anything, and never holds private key material.
//!
//! Parsing is forgiving per key and strict per document: real IdPs publish encryption keys,
//! certificates and algorithms we do not support next to their signing keys, so an unusable key
//! is skipped (and reported in [`KeySet::skipped`]); but a document that is not `{"keys": [..]}`,
//! or that leaves no usable key, is an error.

use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::ecdsa_p256::P256PublicKey;
use crate::error::AuthError;
use crate::json::{self, JsonError};
use crate::jws::Alg;
use crate::rsa::{RsaKeyError, RsaPublicKey};

/// Keys considered per document; the rest are ignored. IdPs publish a handful (current, next,
/// previous); the cap bounds the work an oversized or hostile document can cause.
pub const MAX_JWKS_KEYS: usize = 100;

/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3 requires 2048).
pub const MIN_RSA_BITS: usize = 2048;

/// Largest RSA modulus accepted, in bits: bounds the cost of one verification.
pub const MAX_RSA_BITS: usize = 8192;

/// JWK members that carry private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
const PRIVATE_MEMBERS: [&str; 9] = ["d", "p", "q", "dp", "dq", "qi", "oth", "r", "k"];

/// Key members are base64url; padding is tolerated here (unlike in tokens) because the document
/// comes from the configured IdP and a padded modulus means the same number.
const KEY_BASE64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A public key we can verify with.
#[derive(Debug, Clone, PartialEq)]
pub enum PublicKey {
    /// Holds its Montgomery constants, computed once here rather than on every verification.
    Rsa(RsaPublicKey),
    /// Holds its table of multiples for `u2·Q`, computed once here.
    P256(P256PublicKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// Whether `alg` belongs to this key's family: RSA for RS*/PS*, each curve for its own alg.
    pub fn fits(&self, alg: Alg) -> bool {
        use Alg::*;
        match self {
            PublicKey::Rsa(_) => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            PublicKey::P256(_) => alg == ES256,
            PublicKey::P384(_) => alg == ES384,
            PublicKey::Ed25519(_) => alg == EdDSA,
        }
    }

    /// Canonical bytes identifying the key, for fingerprints.
    fn material(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            PublicKey::Rsa(key) => {
                out.push(b'R');
                push_framed(&mut out, &key.n_be());
                push_framed(&mut out, &key.e_be());
            }
            PublicKey::P256(key) => {
                out.push(b'2');
                out.extend_from_slice(&key.to_uncompressed());
            }
            PublicKey::P384(key) => {
                out.push(b'3');
                out.extend_from_slice(key.to_encoded_point(false).as_bytes());
            }
            PublicKey::Ed25519(key) => {
                out.push(b'E');
                out.extend_from_slice(key.as_bytes());
            }
        }
        out
    }
}

/// One usable signing key of a set.
#[derive(Debug, Clone, PartialEq)]
pub struct Jwk {
    pub kid: Option<String>,
    /// The key's own `alg`, when published: the key then verifies that algorithm only.
    pub alg: Option<Alg>,
    pub key: PublicKey,
}

impl Jwk {
    /// Parses one JWK, refusing anything that is not a well-formed public signing key we support.
    pub fn from_value(value: &Value) -> Result<Jwk, KeyRejected> {
        let Value::Object(members) = value else {
            return Err(KeyRejected::NotAnObject);
        };
        // Never hold private material, even if an IdP publishes it by mistake.
        if PRIVATE_MEMBERS.iter().any(|m| members.contains_key(*m)) {
            return Err(KeyRejected::PrivateMaterial);
        }
        check_purpose(members)?;
        let kid = match members.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(KeyRejected::InvalidMember("kid")),
        };
        let alg = match members.get("alg") {
            None => None,
            Some(Value::String(name)) => {
                Some(Alg::from_name(name).ok_or(KeyRejected::UnsupportedAlg)?)
            }
            Some(_) => return Err(KeyRejected::InvalidMember("alg")),
        };
        let key = match string_member(members, "kty")? {
            "RSA" => rsa_key(members)?,
            "EC" => ec_key(members)?,
            "OKP" => okp_key(members)?,
            _ => return Err(KeyRejected::UnsupportedKeyType),
        };
        if alg.is_some_and(|alg| !key.fits(alg)) {
            return Err(KeyRejected::AlgDoesNotFitKey);
        }
        Ok(Jwk { kid, alg, key })
    }

    /// Whether a token signed with `alg` may be checked against this key.
    pub fn accepts(&self, alg: Alg) -> bool {
        self.key.fits(alg) && self.alg.is_none_or(|own| own == alg)
    }
}

/// Why one key of a set was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRejected {
    #[error("the key is not a JSON object")]
    NotAnObject,
    #[error("the key carries private key material")]
    PrivateMaterial,
    #[error("the key is not for verifying signatures (use / key_ops)")]
    NotForSignatures,
    #[error("the key's alg is not supported")]
    UnsupportedAlg,
    #[error("the key type or curve is not supported")]
    UnsupportedKeyType,
    #[error("member {0} is missing or invalid")]
    InvalidMember(&'static str),
    #[error("the RSA key is outside {MIN_RSA_BITS}..={MAX_RSA_BITS} bits or its exponent is not odd and at least 3")]
    WeakRsaKey,
    #[error("the key is not a valid point or key")]
    InvalidKey,
    #[error("the key's alg does not fit its key type")]
    AlgDoesNotFitKey,
}

/// A skipped key and where it was in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position in the `keys` array.
    pub index: usize,
    pub kid: Option<String>,
    pub reason: KeyRejected,
}

/// Why a whole key-set document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error(transparent)]
    Json(#[from] JsonError),
    #[error("not a JWK set: expected an object with a \"keys\" array")]
    NotAKeySet,
    #[error("the JWK set holds no usable signing key")]
    NoUsableKeys,
}

/// The usable signing keys of one provider.
#[derive(Debug, Clone, PartialEq)]
pub struct KeySet {
    keys: Vec<Jwk>,
    skipped: Vec<SkippedKey>,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys": [..]}`) with the strict JSON rules of [`json`].
    pub fn parse(json: &[u8]) -> Result<KeySet, JwksError> {
        KeySet::from_value(&json::parse_value(json)?)
    }

    /// Builds a set from an already parsed document, e.g. an inline `jwks` configuration object.
    pub fn from_value(value: &Value) -> Result<KeySet, JwksError> {
        let Some(Value::Array(entries)) = value.get("keys") else {
            return Err(JwksError::NotAKeySet);
        };
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for (index, entry) in entries.iter().take(MAX_JWKS_KEYS).enumerate() {
            match Jwk::from_value(entry) {
                Ok(jwk) => keys.push(jwk),
                Err(reason) => skipped.push(SkippedKey {
                    index,
                    kid: entry.get("kid").and_then(Value::as_str).map(str::to_owned),
                    reason,
                }),
            }
        }
        if keys.is_empty() {
            return Err(JwksError::NoUsableKeys);
        }
        Ok(KeySet { keys, skipped })
    }

    /// The one key a token with this `kid` and `alg` must be verified with.
    ///
    /// Security: exactly one candidate key is ever chosen; we never "try every key", which would
    /// let a token pick whichever key suits it and would multiply the cost of bad tokens.
    /// - With a `kid`, only keys with that exact `kid` are candidates (it is an opaque string,
    ///   never a path or URL). None → `UnknownKid` (the provider may refetch). Some, but none
    ///   whose type and own `alg` fit the token's `alg` → `UnsupportedAlg`: the token tries to
    ///   use a known key with a different algorithm. Several that fit → `UnknownKid`, since the
    ///   name does not identify one key.
    /// - Without a `kid`, a key is chosen only if it is the single one in the set that fits.
    pub fn select(&self, kid: Option<&str>, alg: Alg) -> Result<&Jwk, AuthError> {
        let candidates: Vec<&Jwk> = match kid {
            Some(kid) => {
                let named: Vec<&Jwk> = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .collect();
                if named.is_empty() {
                    return Err(AuthError::UnknownKid);
                }
                let fitting: Vec<&Jwk> = named.into_iter().filter(|k| k.accepts(alg)).collect();
                if fitting.is_empty() {
                    return Err(AuthError::UnsupportedAlg);
                }
                fitting
            }
            None => self.keys.iter().filter(|k| k.accepts(alg)).collect(),
        };
        match candidates.as_slice() {
            [only] => Ok(only),
            _ => Err(AuthError::UnknownKid),
        }
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The `kid`s of the usable keys, in document order (keys without one are left out).
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|k| k.kid.as_deref())
    }

    /// The usable keys, in document order.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// Keys of the document that were not usable, and why, for logging.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// A stable hash of the set of (`kid`, `alg`, key material): equal for the same keys in any
    /// order, different after a rotation. SHA-256 based, so it is the same on every platform
    /// and build, unlike `std`'s hasher.
    pub fn fingerprint(&self) -> u64 {
        let mut entries: Vec<Vec<u8>> = self
            .keys
            .iter()
            .map(|jwk| {
                let mut entry = Vec::new();
                push_framed(
                    &mut entry,
                    jwk.kid.as_deref().unwrap_or("\0none").as_bytes(),
                );
                push_framed(&mut entry, jwk.alg.map_or("", Alg::name).as_bytes());
                push_framed(&mut entry, &jwk.key.material());
                entry
            })
            .collect();
        entries.sort();
        entries.dedup();
        let mut hasher = Sha256::new();
        for entry in &entries {
            hasher.update(entry);
        }
        let digest = hasher.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }
}

/// `use` must be `sig` and `key_ops`, when present, must include `verify` (RFC 7517 §4.2, §4.3).
fn check_purpose(members: &Map<String, Value>) -> Result<(), KeyRejected> {
    match members.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(_) => return Err(KeyRejected::NotForSignatures),
    }
    match members.get("key_ops") {
        None => Ok(()),
        Some(Value::Array(ops)) if ops.iter().any(|op| op == "verify") => Ok(()),
        Some(_) => Err(KeyRejected::NotForSignatures),
    }
}

fn string_member<'m>(
    members: &'m Map<String, Value>,
    name: &'static str,
) -> Result<&'m str, KeyRejected> {
    members
        .get(name)
        .and_then(Value::as_str)
        .ok_or(KeyRejected::InvalidMember(name))
}

fn bytes_member(members: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, KeyRejected> {
    KEY_BASE64
        .decode(string_member(members, name)?)
        .map_err(|_| KeyRejected::InvalidMember(name))
}

/// A decoded member of exactly `N` bytes.
fn fixed_member<const N: usize>(
    members: &Map<String, Value>,
    name: &'static str,
) -> Result<[u8; N], KeyRejected> {
    bytes_member(members, name)?
        .try_into()
        .map_err(|_| KeyRejected::InvalidMember(name))
}

fn rsa_key(members: &Map<String, Value>) -> Result<PublicKey, KeyRejected> {
    let key =
        RsaPublicKey::from_be_bytes(&bytes_member(members, "n")?, &bytes_member(members, "e")?)
            .map_err(|err| match err {
                RsaKeyError::ModulusSize | RsaKeyError::WeakExponent => KeyRejected::WeakRsaKey,
                RsaKeyError::EvenModulus | RsaKeyError::ExponentTooLarge => KeyRejected::InvalidKey,
            })?;
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&key.bits()) {
        return Err(KeyRejected::WeakRsaKey);
    }
    Ok(PublicKey::Rsa(key))
}

fn ec_key(members: &Map<String, Value>) -> Result<PublicKey, KeyRejected> {
    match string_member(members, "crv")? {
        "P-256" => {
            // Refuses coordinates not below p and points off the curve; affine coordinates
            // cannot name the identity.
            P256PublicKey::from_coordinates(
                &fixed_member::<32>(members, "x")?,
                &fixed_member::<32>(members, "y")?,
            )
            .map(PublicKey::P256)
            .map_err(|_| KeyRejected::InvalidKey)
        }
        "P-384" => {
            let point = sec1_point(
                &fixed_member::<48>(members, "x")?,
                &fixed_member::<48>(members, "y")?,
            );
            p384::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                .map(PublicKey::P384)
                .map_err(|_| KeyRejected::InvalidKey)
        }
        _ => Err(KeyRejected::UnsupportedKeyType),
    }
}

fn okp_key(members: &Map<String, Value>) -> Result<PublicKey, KeyRejected> {
    if string_member(members, "crv")? != "Ed25519" {
        return Err(KeyRejected::UnsupportedKeyType);
    }
    let key = ed25519_dalek::VerifyingKey::from_bytes(&fixed_member::<32>(members, "x")?)
        .map_err(|_| KeyRejected::InvalidKey)?;
    // A small-order key admits signatures that verify for many messages.
    if key.is_weak() {
        return Err(KeyRejected::InvalidKey);
    }
    Ok(PublicKey::Ed25519(key))
}

/// Uncompressed SEC1 encoding `04 || x || y`.
fn sec1_point(x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut point = Vec::with_capacity(1 + x.len() + y.len());
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    point
}

/// Appends `bytes` with a length prefix, so concatenated fields cannot be confused.
fn push_framed(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}
