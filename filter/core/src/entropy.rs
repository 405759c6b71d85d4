//! The port through which the core gets random bytes: PKCE verifiers, `state`, `nonce` and
//! AES-GCM nonces. The core never draws randomness itself (it would not be sans-IO, and wasm has
//! no ambient source): the adapter implements [`Entropy`] with WASI `random_get`; tests script it.

/// The source could not give random bytes; whatever needed them fails closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no random bytes available")]
pub struct EntropyError;

/// A cryptographically secure source of random bytes.
pub trait Entropy {
    /// Fills `buf` entirely, or fails.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError>;
}

/// A source that never gives anything: engines built without one refuse to start a login.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEntropy;

impl Entropy for NoEntropy {
    fn fill(&mut self, _buf: &mut [u8]) -> Result<(), EntropyError> {
        Err(EntropyError)
    }
}

/// `N` random bytes.
pub fn draw<const N: usize>(entropy: &mut dyn Entropy) -> Result<[u8; N], EntropyError> {
    let mut out = [0u8; N];
    entropy.fill(&mut out)?;
    Ok(out)
}
