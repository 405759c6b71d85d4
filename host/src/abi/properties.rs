//! `proxy_get_property` / `proxy_set_property`: the properties filters commonly read. A path is a
//! list of segments (NUL-separated on the wire); values are raw strings, integers are 8-byte
//! little-endian as Envoy serializes them, and `request.headers` alone is a serialized header map.

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
        [b"source", b"address"] => {
            use std::io::Write as _;
            let a = stream.source.ok_or(Status::NotFound)?;
            write!(out, "{a}").map_err(|_| Status::InternalFailure)?;
        }
        [b"source", b"port"] => {
            let a = stream.source.ok_or(Status::NotFound)?;
            out.extend_from_slice(&int(i64::from(a.port())));
        }
        _ => return Err(Status::NotFound),
    }
    Ok(())
}

/// Sets a property on the effective stream context (Envoy's filter state, readable back).
pub fn set_property(host: &mut ProxyHost, path: &[String], value: Vec<u8>) -> Result<(), Status> {
    let key = path.join(".");
    let effective = host.effective;
    let stream = host.streams.get_mut(&effective).ok_or(Status::NotFound)?;
    stream.properties.insert(key, value);
    Ok(())
}
