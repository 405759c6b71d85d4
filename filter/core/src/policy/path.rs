//! Request paths as the upstream might read them, for route matching only (the request itself is
//! never rewritten).
//!
//! Security invariant: a path is routed only if every plausible reading of it selects the same
//! rule. Three readings are made:
//! - raw: the path as sent (an upstream that normalises nothing);
//! - strict: unreserved characters percent-decoded, other escapes kept (upper-cased), empty
//!   segments merged and `.`/`..` resolved (RFC 3986 section 6.2.2);
//! - loose: every escape decoded (also twice-encoded ones, `%252e`), `\` and `%2F`/`%5C` taken as
//!   `/`, `;params` dropped from segments (Tomcat), dots resolved, and compared case-insensitively
//!   (IIS and other case-insensitive servers).
//!
//! A path that cannot be read at all (no leading `/`, a NUL or control character in any reading,
//! a broken escape) has no reading.

/// One reading of a path.
pub(super) struct View {
    pub bytes: Vec<u8>,
    pub case_insensitive: bool,
}

/// Decoding passes of the loose reading: enough for double and triple encoding.
const LOOSE_DECODE_PASSES: usize = 3;

/// The three readings of `path` (without query), or `None` when it cannot be read safely.
pub(super) fn views(path: &str) -> Option<[View; 3]> {
    let raw = path.as_bytes();
    if raw.first() != Some(&b'/') || raw.iter().any(|b| is_control(*b)) {
        return None;
    }
    let strict = resolve(&decode_unreserved(raw)?, false);
    let mut loose = raw.to_vec();
    for _ in 0..LOOSE_DECODE_PASSES {
        loose = decode_all(&loose);
    }
    if loose.iter().any(|b| is_control(*b)) {
        return None;
    }
    for b in loose.iter_mut() {
        if *b == b'\\' {
            *b = b'/';
        }
    }
    let loose = resolve(&loose, true);
    Some([
        View {
            bytes: raw.to_vec(),
            case_insensitive: false,
        },
        View {
            bytes: strict,
            case_insensitive: false,
        },
        View {
            bytes: loose,
            case_insensitive: true,
        },
    ])
}

/// Whether every reading of `path` is `path` itself (the loose one compared case-insensitively):
/// a leading `/`, no control character, `%`, `\` or `;`, no `.` or `..` segment and no empty
/// segment but the last. Such a path (most are) is routed without building its readings.
pub(super) fn is_plain(path: &[u8]) -> bool {
    let Some((b'/', rest)) = path.split_first() else {
        return false;
    };
    if rest
        .iter()
        .any(|b| is_control(*b) || matches!(b, b'%' | b'\\' | b';'))
    {
        return false;
    }
    let mut segments = rest.split(|b| *b == b'/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        match segment {
            b"." | b".." => return false,
            b"" if !last => return false,
            _ => {}
        }
    }
    true
}

fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn escape_at(bytes: &[u8], i: usize) -> Option<u8> {
    let hi = hex(*bytes.get(i + 1)?)?;
    let lo = hex(*bytes.get(i + 2)?)?;
    Some(hi << 4 | lo)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Decodes escapes of unreserved characters, upper-cases the others; `None` on a broken escape
/// or an escaped control character.
fn decode_unreserved(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'%' {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let b = escape_at(raw, i)?;
        if is_control(b) {
            return None;
        }
        if is_unreserved(b) {
            out.push(b);
        } else {
            out.push(b'%');
            out.extend(raw[i + 1..i + 3].iter().map(u8::to_ascii_uppercase));
        }
        i += 3;
    }
    Some(out)
}

/// Decodes every well-formed escape once; a `%` not followed by two hex digits stays.
fn decode_all(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], escape_at(bytes, i)) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Merges empty segments and resolves `.` and `..` (never above the root). With `drop_params`,
/// `;...` is cut from each segment first, so `/..;/admin` resolves like `/../admin`.
fn resolve(path: &[u8], drop_params: bool) -> Vec<u8> {
    let mut segments: Vec<&[u8]> = Vec::new();
    let mut trailing = false;
    for seg in path.split(|b| *b == b'/').skip(1) {
        let seg = match (drop_params, seg.iter().position(|b| *b == b';')) {
            (true, Some(semi)) => &seg[..semi],
            _ => seg,
        };
        trailing = matches!(seg, b"" | b"." | b"..");
        match seg {
            b"" | b"." => {}
            b".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    for s in &segments {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if trailing || segments.is_empty() {
        out.push(b'/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_path_reads_as_itself_every_way() {
        for path in [
            "/",
            "/api",
            "/api/",
            "/api/Orders/42",
            "/a.b/c..d/.e",
            "/caf\u{e9}",
        ] {
            assert!(is_plain(path.as_bytes()), "{path}");
            let views = views(path).unwrap();
            for view in &views {
                assert_eq!(view.bytes, path.as_bytes(), "{path}");
            }
        }
    }

    #[test]
    fn paths_that_may_read_otherwise_are_not_plain() {
        for path in [
            "", "api", "//", "/a//b", "/.", "/..", "/a/./b", "/a/../b", "/a/.", "/a/..", "/%61",
            "/a%2fb", "/a\\b", "/a;x/b", "/a\tb", "/a\u{7f}",
        ] {
            assert!(!is_plain(path.as_bytes()), "{path:?}");
        }
    }
}
