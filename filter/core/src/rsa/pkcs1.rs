//! EMSA-PKCS1-v1_5 (RFC 8017 §9.2) for verification: builds the one encoding a valid signature
//! can have. It never parses a recovered encoding: the caller compares the whole of it with the
//! bytes built here, as RFC 8017 §8.2.2 step 4 recommends, which leaves no room for the padding
//! and ASN.1 parser mistakes behind the Bleichenbacher'06 family of forgeries.

use super::Hash;

/// DER prefix of `DigestInfo { AlgorithmIdentifier { oid, NULL }, OCTET STRING (hash) }` for each
/// hash, from RFC 8017 §9.2, Notes 1. The NULL parameters are required: the one encoding is
/// the one with them.
fn digest_info_prefix(hash: Hash) -> &'static [u8] {
    match hash {
        Hash::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        Hash::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        Hash::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    }
}

/// `EM = 0x00 || 0x01 || PS || 0x00 || T` of `em_len` bytes, where `PS` is 0xff bytes (at least
/// eight) and `T` is the DigestInfo of `digest`; `None` if `em_len` is too short for that.
pub(super) fn encode(hash: Hash, digest: &[u8], em_len: usize) -> Option<Vec<u8>> {
    let prefix = digest_info_prefix(hash);
    let t_len = prefix.len() + digest.len();
    let ps_len = em_len.checked_sub(t_len + 3).filter(|len| *len >= 8)?;
    let mut em = Vec::with_capacity(em_len);
    em.extend_from_slice(&[0x00, 0x01]);
    em.resize(2 + ps_len, 0xff);
    em.push(0x00);
    em.extend_from_slice(prefix);
    em.extend_from_slice(digest);
    Some(em)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_has_the_layout_of_rfc_8017_section_9_2() {
        let digest = Hash::Sha256.digest(&[b"abc"]);
        let em = encode(Hash::Sha256, &digest, 256).unwrap();
        assert_eq!(em.len(), 256);
        assert_eq!(&em[..2], &[0x00, 0x01]);
        let ps_end = 256 - 19 - 32 - 1;
        assert!(em[2..ps_end].iter().all(|b| *b == 0xff));
        assert_eq!(em[ps_end], 0x00);
        assert_eq!(&em[256 - 32..], digest.as_slice());
    }

    #[test]
    fn prefix_lengths_announce_the_digest_lengths() {
        for hash in [Hash::Sha256, Hash::Sha384, Hash::Sha512] {
            let prefix = digest_info_prefix(hash);
            assert_eq!(usize::from(prefix[1]), prefix.len() - 2 + hash.output_len());
            assert_eq!(usize::from(prefix[18]), hash.output_len());
        }
    }

    #[test]
    fn refuses_lengths_without_room_for_eight_padding_bytes() {
        assert!(encode(Hash::Sha512, &[0; 64], 19 + 64 + 10).is_none());
        assert!(encode(Hash::Sha512, &[0; 64], 19 + 64 + 11).is_some());
    }
}
