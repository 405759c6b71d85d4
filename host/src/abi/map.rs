//! Header-map serialization as the spec defines it: a `u32` count, a `u32` key and value size per
//! pair, then each key and value followed by a NUL byte; all little-endian. Both encodings of an
//! empty map are accepted (a zero-length buffer, and a count of 0 — also a lone `0x00` byte).

use super::Status;

/// Bytes one pair may declare before the map is rejected, so a forged count cannot allocate much.
const MIN_PAIR_BYTES: usize = 8 + 2;

/// Serializes `pairs`; an empty map is the zero-length buffer (as Envoy sends it).
pub fn serialize(pairs: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(serialized_len(pairs));
    serialize_into(pairs, &mut out);
    out
}

/// The size `serialize` produces for `pairs`.
pub fn serialized_len(pairs: &[(String, String)]) -> usize {
    if pairs.is_empty() {
        return 0;
    }
    let body: usize = pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    4 + pairs.len() * 8 + body
}

/// Appends what `serialize` produces to `out`.
pub fn serialize_into(pairs: &[(String, String)], out: &mut Vec<u8>) {
    if pairs.is_empty() {
        return;
    }
    out.reserve(serialized_len(pairs));
    out.extend_from_slice(&len32(pairs.len()).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&len32(k.len()).to_le_bytes());
        out.extend_from_slice(&len32(v.len()).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn u32_at(buf: &[u8], at: usize) -> Result<usize, Status> {
    let b = buf.get(at..at + 4).ok_or(Status::BadArgument)?;
    let a: [u8; 4] = b.try_into().map_err(|_| Status::BadArgument)?;
    usize::try_from(u32::from_le_bytes(a)).map_err(|_| Status::BadArgument)
}

/// Parses a serialized map from the guest. Malformed input is `BAD_ARGUMENT`.
pub fn deserialize(buf: &[u8]) -> Result<Vec<(String, String)>, Status> {
    if buf.len() < 4 {
        // Zero-length, or the single NUL byte the spec allows for an empty map.
        return if buf.iter().all(|b| *b == 0) {
            Ok(Vec::new())
        } else {
            Err(Status::BadArgument)
        };
    }
    let count = u32_at(buf, 0)?;
    if count == 0 {
        return Ok(Vec::new());
    }
    if count > buf.len() / MIN_PAIR_BYTES {
        return Err(Status::BadArgument);
    }
    let mut sizes = Vec::with_capacity(count);
    for i in 0..count {
        let at = 4 + i * 8;
        sizes.push((u32_at(buf, at)?, u32_at(buf, at + 4)?));
    }
    let mut pos = 4 + count * 8;
    let mut take = |n: usize| -> Result<String, Status> {
        let end = pos.checked_add(n).ok_or(Status::BadArgument)?;
        let s = buf.get(pos..end).ok_or(Status::BadArgument)?;
        if buf.get(end) != Some(&0) {
            return Err(Status::BadArgument);
        }
        pos = end + 1;
        Ok(String::from_utf8_lossy(s).into_owned())
    };
    let mut out = Vec::with_capacity(count);
    for (k, v) in sizes {
        let key = take(k)?;
        let value = take(v)?;
        out.push((key, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn serializes_the_spec_example() {
        let got = serialize(&pairs(&[("a", "1"), ("b", "22")]));
        let want: Vec<u8> = [
            &2u32.to_le_bytes()[..],
            &1u32.to_le_bytes(),
            &1u32.to_le_bytes(),
            &1u32.to_le_bytes(),
            &2u32.to_le_bytes(),
            b"a\x001\x00b\x0022\x00",
        ]
        .concat();
        assert_eq!(got, want);
        assert_eq!(
            deserialize(&got).unwrap(),
            pairs(&[("a", "1"), ("b", "22")])
        );
    }

    #[test]
    fn accepts_every_encoding_of_the_empty_map() {
        assert!(deserialize(&[]).unwrap().is_empty());
        assert!(deserialize(&[0]).unwrap().is_empty());
        assert!(deserialize(&0u32.to_le_bytes()).unwrap().is_empty());
        assert!(serialize(&[]).is_empty());
    }

    #[test]
    fn rejects_truncated_and_forged_maps() {
        let good = serialize(&pairs(&[("key", "value")]));
        for cut in 1..good.len() {
            assert_eq!(
                deserialize(&good[..cut]),
                Err(Status::BadArgument),
                "cut at {cut}"
            );
        }
        let mut forged = good.clone();
        forged[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(deserialize(&forged), Err(Status::BadArgument));
        let mut no_nul = good;
        let last = no_nul.len() - 1;
        no_nul[last] = b'x';
        assert_eq!(deserialize(&no_nul), Err(Status::BadArgument));
    }
}
