//! A stream context's HTTP state (`StreamData`: header maps, buffered bodies, properties) and
//! the header-map and buffer hostcalls of `ProxyHost` that read and change it. Like the rest of
//! `ProxyHost`, plain Rust answering with `Status`.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::host::ProxyHost;
use super::Status;

/// `proxy_map_type_t` values.
pub mod map_type {
    pub const REQUEST_HEADERS: i32 = 0;
    pub const REQUEST_TRAILERS: i32 = 1;
    pub const RESPONSE_HEADERS: i32 = 2;
    pub const RESPONSE_TRAILERS: i32 = 3;
    pub const GRPC_INITIAL_METADATA: i32 = 4;
    pub const GRPC_TRAILING_METADATA: i32 = 5;
    pub const HTTP_CALL_RESPONSE_HEADERS: i32 = 6;
    pub const HTTP_CALL_RESPONSE_TRAILERS: i32 = 7;
}

/// `proxy_buffer_type_t` values.
pub mod buffer_type {
    pub const HTTP_REQUEST_BODY: i32 = 0;
    pub const HTTP_RESPONSE_BODY: i32 = 1;
    pub const DOWNSTREAM_DATA: i32 = 2;
    pub const UPSTREAM_DATA: i32 = 3;
    pub const HTTP_CALL_RESPONSE_BODY: i32 = 4;
    pub const GRPC_CALL_MESSAGE: i32 = 5;
    pub const VM_CONFIGURATION: i32 = 6;
    pub const PLUGIN_CONFIGURATION: i32 = 7;
    pub const FOREIGN_FUNCTION_ARGUMENTS: i32 = 8;
}

/// The HTTP state of one stream context.
#[derive(Debug, Clone, Default)]
pub struct StreamData {
    pub request_headers: Vec<(String, String)>,
    pub request_body: Vec<u8>,
    pub request_trailers: Vec<(String, String)>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Vec<u8>,
    pub response_trailers: Vec<(String, String)>,
    pub source: Option<SocketAddr>,
    /// Properties set by the proxy or by the guest (`proxy_set_property`), keyed by dotted path.
    pub properties: HashMap<String, Vec<u8>>,
    /// The four header maps a hostcall may have changed since the proxy gave them (bit
    /// `1 << map_type`): a phase that left its map alone answers "unchanged", and the proxy
    /// keeps its own copy instead of rebuilding one from the pairs.
    edited: u8,
}

impl StreamData {
    /// A new stream from `source`, with nothing given yet.
    pub fn new(source: Option<SocketAddr>) -> StreamData {
        StreamData {
            source,
            ..StreamData::default()
        }
    }

    /// Gives the filter `pairs` as `map`, one of the four stream header maps, not yet changed.
    pub fn give(&mut self, map: i32, pairs: Vec<(String, String)>) {
        if let (Some(bit), Some(slot)) = (edit_bit(map), self.stream_map(map)) {
            *slot = pairs;
            self.edited &= !bit;
        }
    }

    /// The pairs of `map` (one of the four stream header maps) when a hostcall may have
    /// changed them since they were given; `None` when none did.
    pub fn changed(&self, map: i32) -> Option<&Vec<(String, String)>> {
        let bit = edit_bit(map)?;
        if self.edited & bit == 0 {
            return None;
        }
        self.stream_map_ref(map)
    }

    /// One of the four stream header maps, for a change: it counts as edited from here on.
    fn edit(&mut self, map: i32) -> Option<&mut Vec<(String, String)>> {
        self.edited |= edit_bit(map)?;
        self.stream_map(map)
    }

    fn stream_map_ref(&self, map: i32) -> Option<&Vec<(String, String)>> {
        use map_type::*;
        match map {
            REQUEST_HEADERS => Some(&self.request_headers),
            REQUEST_TRAILERS => Some(&self.request_trailers),
            RESPONSE_HEADERS => Some(&self.response_headers),
            RESPONSE_TRAILERS => Some(&self.response_trailers),
            _ => None,
        }
    }

    fn stream_map(&mut self, map: i32) -> Option<&mut Vec<(String, String)>> {
        use map_type::*;
        match map {
            REQUEST_HEADERS => Some(&mut self.request_headers),
            REQUEST_TRAILERS => Some(&mut self.request_trailers),
            RESPONSE_HEADERS => Some(&mut self.response_headers),
            RESPONSE_TRAILERS => Some(&mut self.response_trailers),
            _ => None,
        }
    }
}

/// `map`'s bit in `StreamData::edited`: the four stream header maps are map types 0 to 3.
fn edit_bit(map: i32) -> Option<u8> {
    use map_type::*;
    (REQUEST_HEADERS..=RESPONSE_TRAILERS)
        .contains(&map)
        .then(|| 1 << map)
}

/// The callout answer being delivered in `proxy_on_http_call_response`.
#[derive(Debug, Clone, Default)]
pub struct CallResponse {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
}

impl ProxyHost {
    pub(super) fn stream(&self) -> Result<&StreamData, Status> {
        self.streams.get(&self.effective).ok_or(Status::NotFound)
    }

    pub(super) fn stream_mut(&mut self) -> Result<&mut StreamData, Status> {
        self.streams
            .get_mut(&self.effective)
            .ok_or(Status::NotFound)
    }

    fn map_ref(&self, map: i32) -> Result<&Vec<(String, String)>, Status> {
        use map_type::*;
        match map {
            REQUEST_HEADERS | REQUEST_TRAILERS | RESPONSE_HEADERS | RESPONSE_TRAILERS => self
                .stream()?
                .stream_map_ref(map)
                .ok_or(Status::BadArgument),
            HTTP_CALL_RESPONSE_HEADERS => {
                Ok(&self.call_response.as_ref().ok_or(Status::NotFound)?.headers)
            }
            HTTP_CALL_RESPONSE_TRAILERS => Ok(&self
                .call_response
                .as_ref()
                .ok_or(Status::NotFound)?
                .trailers),
            GRPC_INITIAL_METADATA | GRPC_TRAILING_METADATA => Err(Status::NotFound),
            _ => Err(Status::BadArgument),
        }
    }

    fn map_mut(&mut self, map: i32) -> Result<&mut Vec<(String, String)>, Status> {
        use map_type::*;
        match map {
            REQUEST_HEADERS | REQUEST_TRAILERS | RESPONSE_HEADERS | RESPONSE_TRAILERS => {
                self.stream_mut()?.edit(map).ok_or(Status::BadArgument)
            }
            // Callout responses are read-only for the guest.
            HTTP_CALL_RESPONSE_HEADERS | HTTP_CALL_RESPONSE_TRAILERS => Err(Status::BadArgument),
            GRPC_INITIAL_METADATA | GRPC_TRAILING_METADATA => Err(Status::NotFound),
            _ => Err(Status::BadArgument),
        }
    }

    pub fn get_header_map_pairs(&self, map: i32) -> Result<Vec<(String, String)>, Status> {
        self.map_ref(map).cloned()
    }

    /// The pairs of `map`, borrowed (what `get_header_map_pairs` copies).
    pub fn header_map(&self, map: i32) -> Result<&[(String, String)], Status> {
        self.map_ref(map).map(Vec::as_slice)
    }

    pub fn set_header_map_pairs(
        &mut self,
        map: i32,
        pairs: Vec<(String, String)>,
    ) -> Result<(), Status> {
        *self.map_mut(map)? = pairs;
        Ok(())
    }

    /// The first value of `key` (names compare case-insensitively).
    pub fn get_header_map_value(&self, map: i32, key: &str) -> Result<String, Status> {
        self.header_map_value(map, key).map(str::to_string)
    }

    /// The first value of `key`, borrowed (what `get_header_map_value` copies).
    pub fn header_map_value(&self, map: i32, key: &str) -> Result<&str, Status> {
        self.map_ref(map)?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .ok_or(Status::NotFound)
    }

    pub fn add_header_map_value(&mut self, map: i32, key: &str, value: &str) -> Result<(), Status> {
        self.map_mut(map)?
            .push((key.to_string(), value.to_string()));
        Ok(())
    }

    /// Replaces every value of `key` with one (adds it when absent), as Envoy's `setCopy`.
    pub fn replace_header_map_value(
        &mut self,
        map: i32,
        key: &str,
        value: &str,
    ) -> Result<(), Status> {
        let m = self.map_mut(map)?;
        match m.iter().position(|(k, _)| k.eq_ignore_ascii_case(key)) {
            Some(i) => {
                if let Some(slot) = m.get_mut(i) {
                    slot.1 = value.to_string();
                }
                let mut seen = 0usize;
                m.retain(|(k, _)| {
                    if k.eq_ignore_ascii_case(key) {
                        seen += 1;
                        seen == 1
                    } else {
                        true
                    }
                });
            }
            None => m.push((key.to_string(), value.to_string())),
        }
        Ok(())
    }

    pub fn remove_header_map_value(&mut self, map: i32, key: &str) -> Result<(), Status> {
        self.map_mut(map)?
            .retain(|(k, _)| !k.eq_ignore_ascii_case(key));
        Ok(())
    }

    fn buffer_ref(&self, buffer: i32) -> Result<&[u8], Status> {
        use buffer_type::*;
        match buffer {
            HTTP_REQUEST_BODY => Ok(&self.stream()?.request_body),
            HTTP_RESPONSE_BODY => Ok(&self.stream()?.response_body),
            HTTP_CALL_RESPONSE_BODY => {
                Ok(&self.call_response.as_ref().ok_or(Status::NotFound)?.body)
            }
            VM_CONFIGURATION => Ok(&self.plugin.vm_config),
            PLUGIN_CONFIGURATION => Ok(&self.plugin.plugin_config),
            FOREIGN_FUNCTION_ARGUMENTS => self.foreign_args.as_deref().ok_or(Status::NotFound),
            DOWNSTREAM_DATA | UPSTREAM_DATA | GRPC_CALL_MESSAGE => Err(Status::NotFound),
            _ => Err(Status::BadArgument),
        }
    }

    pub fn get_buffer_status(&self, buffer: i32) -> Result<usize, Status> {
        self.buffer_ref(buffer).map(<[u8]>::len)
    }

    /// Up to `max_size` bytes from `start`; a start past the end is `BAD_ARGUMENT`.
    pub fn get_buffer_bytes(
        &self,
        buffer: i32,
        start: u32,
        max_size: u32,
    ) -> Result<Vec<u8>, Status> {
        let mut out = Vec::new();
        self.buffer_bytes_into(buffer, start, max_size, &mut out)?;
        Ok(out)
    }

    /// What `get_buffer_bytes` returns, appended to `out`.
    pub fn buffer_bytes_into(
        &self,
        buffer: i32,
        start: u32,
        max_size: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), Status> {
        let b = self.buffer_ref(buffer)?;
        let start = usize::try_from(start).map_err(|_| Status::BadArgument)?;
        if start > b.len() {
            return Err(Status::BadArgument);
        }
        let max = usize::try_from(max_size).unwrap_or(usize::MAX);
        let end = start.saturating_add(max).min(b.len());
        out.extend_from_slice(b.get(start..end).unwrap_or_default());
        Ok(())
    }

    /// Replaces `size` bytes at `start` with `value` (prepend, append, inject, replace).
    pub fn set_buffer_bytes(
        &mut self,
        buffer: i32,
        start: u32,
        size: u32,
        value: &[u8],
    ) -> Result<(), Status> {
        use buffer_type::*;
        let cap = self.limits.max_body_buffered_bytes;
        let b = match buffer {
            HTTP_REQUEST_BODY => &mut self.stream_mut()?.request_body,
            HTTP_RESPONSE_BODY => &mut self.stream_mut()?.response_body,
            HTTP_CALL_RESPONSE_BODY
            | VM_CONFIGURATION
            | PLUGIN_CONFIGURATION
            | FOREIGN_FUNCTION_ARGUMENTS => return Err(Status::BadArgument),
            DOWNSTREAM_DATA | UPSTREAM_DATA | GRPC_CALL_MESSAGE => return Err(Status::NotFound),
            _ => return Err(Status::BadArgument),
        };
        let start = usize::try_from(start).unwrap_or(usize::MAX).min(b.len());
        let end = start
            .saturating_add(usize::try_from(size).unwrap_or(usize::MAX))
            .min(b.len());
        if b.len() - (end - start) + value.len() > cap {
            return Err(Status::BadArgument);
        }
        b.splice(start..end, value.iter().copied());
        Ok(())
    }
}
