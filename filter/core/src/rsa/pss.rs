//! EMSA-PSS verification (RFC 8017 §9.1.2) with MGF1 over the message hash and a salt as long
//! as the hash, the only parameters JWS allows (RFC 7518 §3.5). It does not compute `s^e`; it
//! checks a recovered encoded message `EM` against a message hash.

use super::Hash;

/// Whether `em` (`em_len = ceil(em_bits / 8)` bytes) is a valid PSS encoding of `m_hash`, checking
/// every step of RFC 8017 §9.1.2: length, the 0xbc trailer, the leftmost bits that must be zero,
/// the zero padding and 0x01 separator of DB, and the hash of M'.
pub(super) fn verify(hash: Hash, m_hash: &[u8], em: &[u8], em_bits: usize) -> bool {
    let h_len = hash.output_len();
    let s_len = h_len;
    let em_len = em.len();
    // Step 3.
    if m_hash.len() != h_len || em_len != em_bits.div_ceil(8) || em_len < h_len + s_len + 2 {
        return false;
    }
    // Step 4.
    if em[em_len - 1] != 0xbc {
        return false;
    }
    // Step 5.
    let (masked_db, rest) = em.split_at(em_len - h_len - 1);
    let h = &rest[..h_len];
    // Step 6: the 8·emLen − emBits leftmost bits of EM must be zero.
    let unused_bits = 8 * em_len - em_bits;
    let top_mask = 0xffu8 >> unused_bits;
    if masked_db[0] & !top_mask != 0 {
        return false;
    }
    // Steps 7–9.
    let mut db = mgf1(hash, h, masked_db.len());
    for (d, m) in db.iter_mut().zip(masked_db) {
        *d ^= m;
    }
    db[0] &= top_mask;
    // Step 10: emLen − hLen − sLen − 2 zero bytes, then 0x01.
    let ps_len = em_len - h_len - s_len - 2;
    if db[..ps_len].iter().any(|b| *b != 0) || db[ps_len] != 0x01 {
        return false;
    }
    // Steps 11–14.
    let salt = &db[db.len() - s_len..];
    hash.digest(&[&[0u8; 8], m_hash, salt]) == h
}

/// MGF1 (RFC 8017 §B.2.1): `Hash(seed || counter)` for counters 0, 1, … cut to `len` bytes.
fn mgf1(hash: Hash, seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + hash.output_len());
    let mut counter = 0u32;
    while out.len() < len {
        out.extend_from_slice(&hash.digest(&[seed, &counter.to_be_bytes()]));
        counter += 1;
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds EM per RFC 8017 §9.1.1 with a chosen salt, for checking the verifier's steps.
    fn encode(m_hash: &[u8], salt: &[u8], em_bits: usize) -> Vec<u8> {
        let hash = Hash::Sha256;
        let em_len = em_bits.div_ceil(8);
        let h = hash.digest(&[&[0u8; 8], m_hash, salt]);
        let mut db = vec![0u8; em_len - salt.len() - h.len() - 2];
        db.push(0x01);
        db.extend_from_slice(salt);
        for (d, m) in db.iter_mut().zip(mgf1(hash, &h, em_len - h.len() - 1)) {
            *d ^= m;
        }
        db[0] &= 0xff >> (8 * em_len - em_bits);
        db.extend_from_slice(&h);
        db.push(0xbc);
        db
    }

    #[test]
    fn accepts_an_encoding_built_by_the_rfc_steps() {
        let m_hash = Hash::Sha256.digest(&[b"message"]);
        for em_bits in [2047, 2048, 2055] {
            let em = encode(&m_hash, &[7; 32], em_bits);
            assert!(verify(Hash::Sha256, &m_hash, &em, em_bits), "{em_bits}");
        }
    }

    #[test]
    fn refuses_a_wrong_trailer_set_leftmost_bits_or_other_salt_length() {
        let m_hash = Hash::Sha256.digest(&[b"message"]);
        let mut em = encode(&m_hash, &[7; 32], 2047);
        em[255] = 0xbd;
        assert!(!verify(Hash::Sha256, &m_hash, &em, 2047));
        let mut em = encode(&m_hash, &[7; 32], 2047);
        em[0] |= 0x80;
        assert!(!verify(Hash::Sha256, &m_hash, &em, 2047));
        let em = encode(&m_hash, &[7; 20], 2047);
        assert!(!verify(Hash::Sha256, &m_hash, &em, 2047));
        let em = encode(&m_hash, &[7; 32], 2047);
        assert!(!verify(
            Hash::Sha256,
            &Hash::Sha256.digest(&[b"other"]),
            &em,
            2047
        ));
    }

    #[test]
    fn mgf1_output_has_the_requested_length_and_a_stable_prefix() {
        let long = mgf1(Hash::Sha256, b"seed", 100);
        assert_eq!(long.len(), 100);
        assert_eq!(&mgf1(Hash::Sha256, b"seed", 40)[..], &long[..40]);
    }
}
