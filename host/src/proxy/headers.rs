//! Conversions between hyper's header maps and the filter's `(name, value)` pairs with Envoy-style
//! pseudo-headers, hop-by-hop removal and the `X-Forwarded-*` headers. Pure functions, no I/O.

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

use crate::callout::HOP_BY_HOP;

/// Sum of name and value bytes, the measure the header limit applies to.
pub fn header_bytes(map: &HeaderMap) -> usize {
    map.iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum()
}

/// Removes hop-by-hop headers, including those the `Connection` header names (RFC 9110 §7.6.1).
pub fn strip_hop_by_hop(map: &mut HeaderMap) {
    // Most requests carry none of them (and then no `Connection` either): one pass over the names
    // is cheaper than a lookup per listed header. Most responses carry `Connection: keep-alive`:
    // only the names present are removed, not every listed one.
    let present = |name: &HeaderName| HOP_BY_HOP.contains(&name.as_str());
    if !map.keys().any(present) {
        return;
    }
    let mut doomed: Vec<HeaderName> = map.keys().filter(|name| present(name)).cloned().collect();
    doomed.extend(
        map.get_all(http::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok()),
    );
    for name in doomed {
        map.remove(name);
    }
}

/// The filter's view of a request head: `:method`, `:path`, `:authority`, `:scheme`, then the
/// headers without `host` (its value is `:authority`, as Envoy presents it).
pub fn request_pairs(parts: &http::request::Parts, scheme: &str) -> Vec<(String, String)> {
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let authority = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            parts
                .headers
                .get(http::header::HOST)
                .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
        })
        .unwrap_or_default();
    let mut pairs = Vec::with_capacity(parts.headers.len() + 4);
    pairs.push((":method".to_owned(), parts.method.as_str().to_owned()));
    pairs.push((":path".to_owned(), path));
    pairs.push((":authority".to_owned(), authority));
    pairs.push((":scheme".to_owned(), scheme.to_owned()));
    for (name, value) in &parts.headers {
        if name == http::header::HOST {
            continue;
        }
        pairs.push((name.as_str().to_owned(), value_text(value)));
    }
    pairs
}

/// A header value as the filter sees it: the text, with invalid UTF-8 replaced (the check for
/// visible ASCII comes first: it is the common case and cheaper than the UTF-8 decoder).
fn value_text(value: &HeaderValue) -> String {
    match value.to_str() {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
    }
}

/// Every header as `(name, value)` pairs, in the map's order.
pub fn header_pairs(map: &HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(name, value)| (name.as_str().to_owned(), value_text(value)))
        .collect()
}

/// The filter's view of a response head: `:status`, then the headers.
pub fn response_pairs(status: http::StatusCode, headers: &HeaderMap) -> Vec<(String, String)> {
    let mut pairs = Vec::with_capacity(headers.len() + 1);
    pairs.push((":status".to_owned(), status.as_str().to_owned()));
    pairs.extend(
        headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value_text(value))),
    );
    pairs
}

/// The header map to go on with after a filter phase: `given`, the map the pairs were made from,
/// when the filter changed nothing (`edited` is `None`; its values then pass byte for byte, even
/// those the pairs showed the filter with replacement characters), else the filter's pairs split
/// back into pseudo-headers and a map (see `split_pairs`).
pub fn after_filter(
    given: HeaderMap,
    edited: Option<Vec<(String, String)>>,
) -> (Vec<(String, String)>, HeaderMap) {
    match edited {
        Some(pairs) => split_pairs(pairs),
        None => (Vec::new(), given),
    }
}

/// Splits pairs back into pseudo-headers and a header map; invalid names or values are dropped
/// (a filter cannot make the proxy emit a malformed header).
pub fn split_pairs(pairs: Vec<(String, String)>) -> (Vec<(String, String)>, HeaderMap) {
    let mut pseudo = Vec::new();
    let mut map = HeaderMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        if name.starts_with(':') {
            pseudo.push((name, value));
            continue;
        }
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            continue;
        };
        map.append(name, value);
    }
    (pseudo, map)
}

pub fn pseudo<'a>(pseudo: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pseudo
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Adds `X-Forwarded-For` (appended to any the client sent), `-Proto` and `-Host` (set: this proxy
/// is the edge that knows them). `client_ip` is the client's address as text.
pub fn add_forwarded(map: &mut HeaderMap, client_ip: &str, scheme: &str, host: &str) {
    let xff = match map.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(previous) if !previous.trim().is_empty() => {
            HeaderValue::from_str(&format!("{previous}, {client_ip}"))
        }
        _ => HeaderValue::from_str(client_ip),
    };
    if let Ok(value) = xff {
        map.insert(X_FORWARDED_FOR, value);
    }
    if let Ok(value) = HeaderValue::from_str(scheme) {
        map.insert(X_FORWARDED_PROTO, value);
    }
    match HeaderValue::from_str(host) {
        Ok(value) if !host.is_empty() => {
            map.insert(X_FORWARDED_HOST, value);
        }
        _ => {
            map.remove(X_FORWARDED_HOST);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_headers_named_by_connection() {
        let mut map = HeaderMap::new();
        map.insert("connection", HeaderValue::from_static("close, x-secret"));
        map.insert("x-secret", HeaderValue::from_static("1"));
        map.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        map.insert("accept", HeaderValue::from_static("*/*"));
        strip_hop_by_hop(&mut map);
        assert_eq!(map.len(), 1);
        assert!(map.contains_key("accept"));
    }

    #[test]
    fn appends_client_address_to_forwarded_for() {
        let mut map = HeaderMap::new();
        map.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        add_forwarded(&mut map, "127.0.0.1", "http", "app.test");
        assert_eq!(map["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert_eq!(map["x-forwarded-proto"], "http");
        assert_eq!(map["x-forwarded-host"], "app.test");
    }

    #[test]
    fn keeps_headers_when_none_is_hop_by_hop() {
        let mut map = HeaderMap::new();
        map.insert("accept", HeaderValue::from_static("*/*"));
        map.insert("x-secret", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut map);
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn replaces_invalid_utf8_in_values_given_to_the_filter() {
        let mut map = HeaderMap::new();
        map.insert("x-text", HeaderValue::from_static("a\tb"));
        map.insert("x-bytes", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        map.insert(
            "x-utf8",
            HeaderValue::from_bytes("café".as_bytes()).unwrap(),
        );
        let pairs = response_pairs(http::StatusCode::OK, &map);
        assert_eq!(pairs[0], (":status".to_owned(), "200".to_owned()));
        assert_eq!(pairs[1], ("x-text".to_owned(), "a\tb".to_owned()));
        assert_eq!(pairs[2], ("x-bytes".to_owned(), "caf\u{fffd}".to_owned()));
        assert_eq!(pairs[3], ("x-utf8".to_owned(), "café".to_owned()));
        assert_eq!(header_pairs(&map), pairs[1..].to_vec());
    }

    #[test]
    fn goes_on_with_the_given_map_byte_for_byte_when_the_filter_changed_nothing() {
        let mut given = HeaderMap::new();
        given.insert("x-bytes", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        given.append("set-cookie", HeaderValue::from_static("a=1"));
        given.append("set-cookie", HeaderValue::from_static("b=2"));
        let (pseudo_headers, map) = after_filter(given.clone(), None);
        assert!(pseudo_headers.is_empty());
        assert_eq!(map, given);
        // Rebuilt from the filter's pairs, the value carries the replacement character instead.
        let edited = header_pairs(&given);
        let (_, rebuilt) = after_filter(given, Some(edited));
        assert_eq!(rebuilt["x-bytes"].as_bytes(), "caf\u{fffd}".as_bytes());
        let cookies: Vec<_> = rebuilt.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
    }

    #[test]
    fn drops_invalid_header_names_from_the_filter() {
        let (pseudo_headers, map) = split_pairs(vec![
            (":status".into(), "200".into()),
            ("bad name".into(), "x".into()),
            ("x-ok".into(), "y".into()),
        ]);
        assert_eq!(pseudo(&pseudo_headers, ":status"), Some("200"));
        assert_eq!(map.len(), 1);
    }
}
