//! PKCE (RFC 7636) with the S256 method only: the verifier the filter keeps in its login cookie
//! and the challenge it sends in the authorization request. `plain` is never used (section 4.2:
//! S256 is mandatory to implement and removes the reason for `plain`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// `code_verifier` (section 4.1): 32 random bytes as base64url, 43 characters of the unreserved set.
pub fn verifier(random: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// `code_challenge` for S256 (section 4.2): BASE64URL(SHA256(ASCII(code_verifier))).
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_example_of_rfc_7636_appendix_b() {
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            super::challenge(v),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
