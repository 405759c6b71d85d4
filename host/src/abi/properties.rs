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

fn header(h: &[(String, String)], name: &str) -> Option<Vec<u8>> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone().into_bytes())
}

fn int(v: i64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

pub fn get_property(host: &ProxyHost, path: &[String]) -> Result<Vec<u8>, Status> {
    let segs: Vec<&str> = path.iter().map(String::as_str).collect();
    let plugin = &host.plugin;
    match segs.as_slice() {
        ["plugin_name"] => return Ok(plugin.name.clone().into_bytes()),
        ["plugin_root_id"] => return Ok(plugin.root_id.clone().into_bytes()),
        ["plugin_vm_id"] => return Ok(plugin.vm_id.clone().into_bytes()),
        _ => {}
    }
    let stream = host.streams.get(&host.effective).ok_or(Status::NotFound)?;
    if let Some(v) = stream.properties.get(&segs.join(".")) {
        return Ok(v.clone());
    }
    let req = &stream.request_headers;
    let found = match segs.as_slice() {
        ["request", "path"] => header(req, ":path"),
        ["request", "url_path"] => header(req, ":path")
            .map(|p| p.split(|b| *b == b'?').next().unwrap_or_default().to_vec()),
        ["request", "query"] => header(req, ":path").and_then(|p| {
            p.iter()
                .position(|b| *b == b'?')
                .and_then(|i| p.get(i + 1..).map(<[u8]>::to_vec))
        }),
        ["request", "method"] => header(req, ":method"),
        ["request", "host"] => header(req, ":authority").or_else(|| header(req, "host")),
        ["request", "scheme"] => header(req, ":scheme"),
        ["request", "id"] => header(req, "x-request-id"),
        ["request", "useragent"] => header(req, "user-agent"),
        ["request", "referer"] => header(req, "referer"),
        ["request", "headers"] => Some(map::serialize(req)),
        ["request", "headers", name] => header(req, name),
        ["response", "headers"] => Some(map::serialize(&stream.response_headers)),
        ["response", "headers", name] => header(&stream.response_headers, name),
        ["response", "code"] => header(&stream.response_headers, ":status")
            .and_then(|s| String::from_utf8_lossy(&s).parse::<i64>().ok())
            .map(int),
        ["source", "address"] => stream.source.map(|a| a.to_string().into_bytes()),
        ["source", "port"] => stream.source.map(|a| int(i64::from(a.port()))),
        _ => None,
    };
    found.ok_or(Status::NotFound)
}

/// Sets a property on the effective stream context (Envoy's filter state, readable back).
pub fn set_property(host: &mut ProxyHost, path: &[String], value: Vec<u8>) -> Result<(), Status> {
    let key = path.join(".");
    let effective = host.effective;
    let stream = host.streams.get_mut(&effective).ok_or(Status::NotFound)?;
    stream.properties.insert(key, value);
    Ok(())
}
