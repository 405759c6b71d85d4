//! `proxy_get_property` / `proxy_set_property`: the properties filters commonly read. A path is a
//! list of segments (NUL-separated on the wire); values are raw strings, integers are 8-byte
//! little-endian as Envoy serializes them, and `request.headers` alone is a serialized header map.

use std::net::SocketAddr;

use super::{map, ProxyHost, Status};

/// Splits a wire path (`request\0path`) into segments; a trailing NUL is tolerated.
pub fn split_path(raw: &[u8]) -> Vec<String> {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    raw.split(|b| *b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a [u8]> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_bytes())
}

fn int(v: i64) -> [u8; 8] {
    v.to_le_bytes()
}

/// The value of the property at the wire path `raw`, appended to `out`.
pub fn get_property(host: &ProxyHost, wire: &[u8], out: &mut Vec<u8>) -> Result<(), Status> {
    let raw = wire.strip_suffix(&[0]).unwrap_or(wire);
    let mut segs = [&b""[..]; 3];
    let mut n = 0;
    for seg in raw.split(|b| *b == 0) {
        if let Some(slot) = segs.get_mut(n) {
            *slot = seg;
        }
        n += 1;
    }
    // Paths longer than any this host knows can still name a property set by path.
    let segs = segs.get(..n).unwrap_or(&[]);
    let plugin = &host.plugin;
    let fixed = match segs {
        [b"plugin_name"] => Some(&plugin.name),
        [b"plugin_root_id"] => Some(&plugin.root_id),
        [b"plugin_vm_id"] => Some(&plugin.vm_id),
        _ => None,
    };
    if let Some(v) = fixed {
        out.extend_from_slice(v.as_bytes());
        return Ok(());
    }
    let stream = host.streams.get(&host.effective).ok_or(Status::NotFound)?;
    if !stream.properties.is_empty() {
        if let Some(v) = stream.properties.get(&split_path(wire).join(".")) {
            out.extend_from_slice(v);
            return Ok(());
        }
    }
    let req = &stream.request_headers;
    let resp = &stream.response_headers;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match segs {
        [b"request", b"path"] => {
            out.extend_from_slice(header(req, ":path").ok_or(Status::NotFound)?)
        }
        [b"request", b"url_path"] => {
            let p = header(req, ":path").ok_or(Status::NotFound)?;
            out.extend_from_slice(p.split(|b| *b == b'?').next().unwrap_or_default());
        }
        [b"request", b"query"] => {
            let p = header(req, ":path").ok_or(Status::NotFound)?;
            let i = p.iter().position(|b| *b == b'?').ok_or(Status::NotFound)?;
            out.extend_from_slice(p.get(i + 1..).unwrap_or_default());
        }
        [b"request", b"method"] => {
            out.extend_from_slice(header(req, ":method").ok_or(Status::NotFound)?)
        }
        [b"request", b"host"] => out.extend_from_slice(
            header(req, ":authority")
                .or_else(|| header(req, "host"))
                .ok_or(Status::NotFound)?,
        ),
        [b"request", b"scheme"] => {
            out.extend_from_slice(header(req, ":scheme").ok_or(Status::NotFound)?)
        }
        [b"request", b"id"] => {
            out.extend_from_slice(header(req, "x-request-id").ok_or(Status::NotFound)?)
        }
        [b"request", b"useragent"] => {
            out.extend_from_slice(header(req, "user-agent").ok_or(Status::NotFound)?)
        }
        [b"request", b"referer"] => {
            out.extend_from_slice(header(req, "referer").ok_or(Status::NotFound)?)
        }
        [b"request", b"headers"] => map::serialize_into(req, out),
        [b"request", b"headers", name] => {
            out.extend_from_slice(header(req, &text(name)).ok_or(Status::NotFound)?)
        }
        [b"response", b"headers"] => map::serialize_into(resp, out),
        [b"response", b"headers", name] => {
            out.extend_from_slice(header(resp, &text(name)).ok_or(Status::NotFound)?)
        }
        [b"response", b"code"] => {
            let code = header(resp, ":status")
                .and_then(|s| String::from_utf8_lossy(s).parse::<i64>().ok())
                .ok_or(Status::NotFound)?;
            out.extend_from_slice(&int(code));
        }
        [b"source", b"address"] => write_address(out, stream.source.ok_or(Status::NotFound)?),
        [b"source", b"port"] => {
            let a = stream.source.ok_or(Status::NotFound)?;
            out.extend_from_slice(&int(i64::from(a.port())));
        }
        _ => return Err(Status::NotFound),
    }
    Ok(())
}

/// `ip:port`, as `SocketAddr` displays it. Filters read this on every request (for their logs),
/// so IPv4 addresses are written digit by digit: `fmt` costs several times more.
fn write_address(out: &mut Vec<u8>, address: SocketAddr) {
    match address {
        SocketAddr::V4(v4) => {
            for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                write_decimal(out, u32::from(octet));
            }
            out.push(b':');
            write_decimal(out, u32::from(v4.port()));
        }
        SocketAddr::V6(v6) => {
            use std::io::Write as _;
            // Writing to a Vec cannot fail.
            let _ = write!(out, "{v6}");
        }
    }
}

fn write_decimal(out: &mut Vec<u8>, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut start = digits.len();
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        start -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

/// Sets a property on the effective stream context (Envoy's filter state, readable back).
pub fn set_property(host: &mut ProxyHost, path: &[String], value: Vec<u8>) -> Result<(), Status> {
    let key = path.join(".");
    let effective = host.effective;
    let stream = host.streams.get_mut(&effective).ok_or(Status::NotFound)?;
    stream.properties.insert(key, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_socket_addr_displays_them() {
        for text in [
            "127.0.0.1:8080",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "10.20.3.40:443",
            "[::1]:5000",
            "[2001:db8::7%3]:1",
        ] {
            let address: SocketAddr = text.parse().unwrap();
            let mut out = b"x".to_vec();
            write_address(&mut out, address);
            assert_eq!(out, format!("x{address}").into_bytes(), "{text}");
        }
    }
}
