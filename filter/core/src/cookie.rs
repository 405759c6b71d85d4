//! The filter's own cookies on the wire: reading them from `Cookie` headers (RFC 6265 section
//! 5.4), writing `Set-Cookie` values with the attributes the session needs, and splitting values
//! too large for one cookie into chunks `name.0`, `name.1`, ... It knows nothing of what the
//! values mean (`session`, `login`) or how they are protected (`seal`).
//!
//! RFC 6265 section 6.1: user agents keep at least 4096 bytes per cookie, counting name, value and
//! attributes, and at least 50 cookies per domain. Chunks stay well inside that.

use crate::decision::Request;

/// Largest value put in one cookie; name and attributes fit in the rest of 4096 bytes.
pub const CHUNK_BYTES: usize = 3800;
/// Most chunks of one value (about 38 KB): bounds what a client can make the filter assemble.
pub const MAX_CHUNKS: usize = 10;

/// Attributes of the cookies the filter sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attributes {
    /// `Secure`: sent over https only. Off only for plain-http local setups.
    pub secure: bool,
    /// `Max-Age` in seconds.
    pub max_age: u64,
}

/// `(name, value)` of every cookie in the request's `Cookie` headers, in order.
pub fn all(req: &Request) -> impl Iterator<Item = (&str, &str)> {
    req.header_values("cookie")
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            Some((name.trim(), value))
        })
}

/// The value of cookie `name`, or of its chunks `name.0`, `name.1`, ... joined. `None` when
/// absent, sent twice, or split into more than `MAX_CHUNKS` chunks.
pub fn read(req: &Request, name: &str) -> Option<String> {
    let whole: Vec<&str> = all(req)
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .collect();
    match whole.as_slice() {
        [one] => return Some((*one).to_string()),
        [] => {}
        _ => return None,
    }
    let mut out = String::new();
    for i in 0..=MAX_CHUNKS {
        let chunk_name = format!("{name}.{i}");
        let chunk: Vec<&str> = all(req)
            .filter(|(n, _)| *n == chunk_name)
            .map(|(_, v)| v)
            .collect();
        match chunk.as_slice() {
            [one] if i < MAX_CHUNKS => out.push_str(one),
            [] if i > 0 => return Some(out),
            _ => return None,
        }
    }
    None
}

/// Names of the request's cookies that are `name` or one of its chunks.
pub fn present(req: &Request, name: &str) -> Vec<String> {
    let mut names: Vec<String> = all(req)
        .map(|(n, _)| n)
        .filter(|n| *n == name || is_chunk_of(n, name))
        .map(str::to_string)
        .collect();
    names.dedup();
    names
}

fn is_chunk_of(candidate: &str, name: &str) -> bool {
    candidate
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `Set-Cookie` values storing `value` as `name` (or its chunks when large), and expiring those
/// of `existing` that the new value no longer uses. `None` when the value needs too many chunks.
pub fn set(name: &str, value: &str, attrs: Attributes, existing: &[String]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut written: Vec<String> = Vec::new();
    if value.len() <= CHUNK_BYTES {
        out.push(render(name, value, attrs));
        written.push(name.to_string());
    } else {
        let chunks: Vec<&str> = value
            .as_bytes()
            .chunks(CHUNK_BYTES)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        if chunks.len() > MAX_CHUNKS || chunks.concat().len() != value.len() {
            return None;
        }
        for (i, chunk) in chunks.iter().enumerate() {
            let chunk_name = format!("{name}.{i}");
            out.push(render(&chunk_name, chunk, attrs));
            written.push(chunk_name);
        }
    }
    out.extend(expire(
        existing.iter().filter(|n| !written.contains(n)),
        attrs.secure,
    ));
    Some(out)
}

/// `Set-Cookie` values that delete each named cookie.
pub fn expire<'a>(names: impl IntoIterator<Item = &'a String>, secure: bool) -> Vec<String> {
    let attrs = Attributes { secure, max_age: 0 };
    names.into_iter().map(|n| render(n, "", attrs)).collect()
}

/// One `Set-Cookie` value: `HttpOnly` (scripts never see it), `SameSite=Lax` (sent on top-level
/// navigations such as the provider's redirect back, not on cross-site subrequests), `Path=/`.
fn render(name: &str, value: &str, attrs: Attributes) -> String {
    let secure = if attrs.secure { "; Secure" } else { "" };
    format!(
        "{name}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        attrs.max_age
    )
}

/// The request's `Cookie` header without the cookies for which `ours` is true; `None` when
/// nothing remains.
pub fn without(req: &Request, ours: &dyn Fn(&str) -> bool) -> Option<String> {
    let kept: Vec<&str> = req
        .header_values("cookie")
        .flat_map(|h| h.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .filter(|pair| !ours(pair.split_once('=').map_or(*pair, |(n, _)| n.trim())))
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

/// Whether `candidate` is `name` or one of its chunks.
pub fn belongs_to(candidate: &str, name: &str) -> bool {
    candidate == name || is_chunk_of(candidate, name)
}
