//! Authenticated encryption of cookie values with AES-256-GCM (NIST SP 800-38D). Owns the wire
//! format `base64url(version || nonce || ciphertext || tag)` and key rotation: the first key
//! seals, every key may open. The nonce is 96 bits supplied by the caller from its entropy source
//! (random nonces: keep far below 2^32 seals per key, SP 800-38D section 8.3). The associated
//! data binds the cookie's name, so one cookie's value is refused under another's name.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::config::SessionKey;

/// Format version, the first byte of every sealed value.
const VERSION: u8 = 1;
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;

fn associated_data(name: &str) -> Vec<u8> {
    format!("oidc-filter/cookie/v1/{name}").into_bytes()
}

/// Seals `plaintext` for the cookie `name` with `key` and the fresh `nonce`.
pub fn seal(
    key: &SessionKey,
    name: &str,
    plaintext: &[u8],
    nonce: [u8; NONCE_BYTES],
) -> Option<String> {
    let cipher = Aes256Gcm::new_from_slice(&key.0).ok()?;
    let aad = associated_data(name);
    let sealed = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .ok()?;
    let mut out = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Some(URL_SAFE_NO_PAD.encode(out))
}

/// Opens a value sealed for the cookie `name` under any of `keys`. `None` for anything tampered
/// with, truncated, sealed for another cookie, or under a key no longer configured.
pub fn open(keys: &[SessionKey], name: &str, text: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(text.as_bytes()).ok()?;
    if bytes.len() < 1 + NONCE_BYTES + TAG_BYTES || bytes[0] != VERSION {
        return None;
    }
    let (nonce, sealed) = bytes[1..].split_at(NONCE_BYTES);
    let nonce = Nonce::from(<[u8; NONCE_BYTES]>::try_from(nonce).ok()?);
    let aad = associated_data(name);
    keys.iter().find_map(|key| {
        let cipher = Aes256Gcm::new_from_slice(&key.0).ok()?;
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .ok()
    })
}
