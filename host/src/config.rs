//! The host configuration (`gateway.yaml`): where to listen, where the protected app is, the filter and
//! its JSON configuration, callout clusters, the admin listener and the proxy's limits.
//! It parses and validates; it starts nothing. Every error names the field path it is about.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// Largest accepted request header block, in bytes; beyond it the client gets 431.
pub const DEFAULT_MAX_REQUEST_HEADER_BYTES: usize = crate::limits::MAX_HEADER_BYTES;
/// How long a SIGTERM waits for in-flight requests before the process exits anyway.
pub const DEFAULT_DRAIN_TIMEOUT_MS: u64 = 10_000;
/// How long the proxy waits for the upstream's response head.
pub const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 = 30_000;
/// Default plugin name presented to the filter (`plugin_name` property).
pub const DEFAULT_PLUGIN_NAME: &str = "oidc";

/// An invalid or unreadable host configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A field is malformed or unknown; `path` is the dotted field path (`clusters.idp.timeout_ms`).
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
}

impl ConfigError {
    fn invalid(path: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// The whole host configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Address the proxy listens on (HTTP/1.1 and h2c).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The protected application, `http://host:port`.
    pub upstream: String,
    /// Number of filter workers (one wasm instance each); default: the number of cores.
    #[serde(default)]
    pub workers: Option<usize>,
    #[serde(default)]
    pub filter: FilterSection,
    /// Callout targets by name, like Envoy clusters.
    #[serde(default)]
    pub clusters: BTreeMap<String, ClusterConfig>,
    /// Address of the admin listener (`/metrics`, `/ready`); none when absent.
    #[serde(default)]
    pub admin: Option<SocketAddr>,
    #[serde(default)]
    pub limits: LimitsSection,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

/// `filter:` — which module to run and its configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSection {
    /// A `.wasm` file overriding the embedded filter.
    #[serde(default)]
    pub wasm: Option<PathBuf>,
    /// The filter's JSON configuration, as bytes handed to `proxy_on_configure`.
    #[serde(default)]
    pub config: FilterJson,
    /// The `plugin_name` property (default `oidc`).
    #[serde(default)]
    pub name: Option<String>,
    /// The root context id (`plugin_root_id`; default empty, as Envoy's default).
    #[serde(default)]
    pub root_id: Option<String>,
    /// The VM configuration handed to `proxy_on_vm_start`.
    #[serde(default)]
    pub vm_config: FilterJson,
}

impl FilterSection {
    pub fn plugin_name(&self) -> &str {
        self.name.as_deref().unwrap_or(DEFAULT_PLUGIN_NAME)
    }
    pub fn root_id(&self) -> &str {
        self.root_id.as_deref().unwrap_or("")
    }
}

/// A JSON document for the filter. Written either as a YAML mapping (serialized to JSON) or as a
/// string holding JSON (kept byte for byte, as Envoy's `StringValue` and Kong would pass it).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FilterJson(pub Vec<u8>);

impl fmt::Debug for FilterJson {
    // The document may carry client secrets: never print its content.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FilterJson({} bytes)", self.0.len())
    }
}

impl<'de> Deserialize<'de> for FilterJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        match value {
            serde_json::Value::Null => Ok(FilterJson(Vec::new())),
            serde_json::Value::String(text) => {
                if text.trim().is_empty() {
                    return Ok(FilterJson(Vec::new()));
                }
                serde_json::from_str::<serde_json::Value>(&text)
                    .map_err(|e| de::Error::custom(format!("not a JSON document: {e}")))?;
                Ok(FilterJson(text.into_bytes()))
            }
            other => serde_json::to_vec(&other)
                .map(FilterJson)
                .map_err(|e| de::Error::custom(format!("cannot encode as JSON: {e}"))),
        }
    }
}

/// A callout target: `name: url` or `name: { url, ca_file, timeout_ms }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `http://host[:port]` or `https://host[:port]`.
    pub url: String,
    /// PEM file of the CA certificates to trust instead of the webpki roots (https only).
    pub ca_file: Option<PathBuf>,
    /// Upper bound for any call to this cluster; the filter's own timeout applies when shorter.
    pub timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterFields {
    url: String,
    #[serde(default)]
    ca_file: Option<PathBuf>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

impl<'de> Deserialize<'de> for ClusterConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ClusterVisitor;
        impl<'de> Visitor<'de> for ClusterVisitor {
            type Value = ClusterConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a URL or a mapping with url, ca_file, timeout_ms")
            }
            fn visit_str<E: de::Error>(self, url: &str) -> Result<ClusterConfig, E> {
                Ok(ClusterConfig {
                    url: url.to_owned(),
                    ca_file: None,
                    timeout_ms: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ClusterConfig, A::Error> {
                let fields =
                    ClusterFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ClusterConfig {
                    url: fields.url,
                    ca_file: fields.ca_file,
                    timeout_ms: fields.timeout_ms,
                })
            }
        }
        deserializer.deserialize_any(ClusterVisitor)
    }
}

/// `limits:` — the proxy's caps. The runtime's own limits (epochs, memory) have their defaults in
/// `crate::limits`; the ones here are what operators commonly tune.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    #[serde(default = "default_max_request_header_bytes")]
    pub max_request_header_bytes: usize,
    #[serde(default = "default_drain_timeout_ms")]
    pub drain_timeout_ms: u64,
    #[serde(default = "default_upstream_timeout_ms")]
    pub upstream_timeout_ms: u64,
    /// CPU time one filter callback may take (default `limits::CALLBACK_DEADLINE`).
    #[serde(default)]
    pub callback_deadline_ms: Option<u64>,
    /// Linear memory one filter instance may grow to (default `limits::MAX_INSTANCE_MEMORY_BYTES`).
    #[serde(default)]
    pub max_instance_memory_bytes: Option<usize>,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_request_header_bytes: DEFAULT_MAX_REQUEST_HEADER_BYTES,
            drain_timeout_ms: DEFAULT_DRAIN_TIMEOUT_MS,
            upstream_timeout_ms: DEFAULT_UPSTREAM_TIMEOUT_MS,
            callback_deadline_ms: None,
            max_instance_memory_bytes: None,
        }
    }
}

impl LimitsSection {
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_millis(self.drain_timeout_ms)
    }
    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_timeout_ms)
    }
    /// The runtime's limits with the configured overrides applied.
    pub fn runtime_limits(&self) -> crate::limits::Limits {
        let mut limits = crate::limits::Limits {
            max_header_bytes: self.max_request_header_bytes,
            ..crate::limits::Limits::default()
        };
        if let Some(ms) = self.callback_deadline_ms {
            limits.callback_deadline = Duration::from_millis(ms);
        }
        if let Some(bytes) = self.max_instance_memory_bytes {
            limits.max_instance_memory_bytes = bytes;
        }
        limits
    }
}

fn default_max_request_header_bytes() -> usize {
    DEFAULT_MAX_REQUEST_HEADER_BYTES
}
fn default_drain_timeout_ms() -> u64 {
    DEFAULT_DRAIN_TIMEOUT_MS
}
fn default_upstream_timeout_ms() -> u64 {
    DEFAULT_UPSTREAM_TIMEOUT_MS
}

/// A parsed `scheme://host[:port]` with the port filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// `host:port`, with IPv6 hosts bracketed.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }
}

/// Parses an `http://` or `https://` URL without path, query or credentials.
pub fn parse_endpoint(url: &str, allow_https: bool) -> Result<Endpoint, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") if allow_https => true,
        Some("https") => return Err("must be an http:// URL".into()),
        _ => return Err("must start with http:// or https://".into()),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| "must name a host".to_owned())?;
    if authority.as_str().contains('@') {
        return Err("must not carry credentials".into());
    }
    let path = uri.path();
    if !(path.is_empty() || path == "/") || uri.query().is_some() {
        return Err("must not have a path or query".into());
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.is_empty() {
        return Err("must name a host".into());
    }
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    Ok(Endpoint {
        tls,
        host: host.to_owned(),
        port,
    })
}

impl HostConfig {
    /// Reads and validates a YAML file.
    pub fn load(path: &Path) -> Result<HostConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = HostConfig::parse(&text)?;
        config.resolve_relative_paths(path.parent().unwrap_or(Path::new(".")));
        Ok(config)
    }

    /// Parses and validates a YAML document.
    pub fn parse(yaml: &str) -> Result<HostConfig, ConfigError> {
        let deserializer = serde_yaml::Deserializer::from_str(yaml);
        let config: HostConfig = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { "(root)".into() } else { path };
            ConfigError::invalid(path, e.into_inner().to_string())
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        parse_endpoint(&self.upstream, false).map_err(|r| ConfigError::invalid("upstream", r))?;
        if self.workers == Some(0) {
            return Err(ConfigError::invalid("workers", "must be at least 1"));
        }
        for (name, cluster) in &self.clusters {
            if name.is_empty() {
                return Err(ConfigError::invalid("clusters", "names must not be empty"));
            }
            let endpoint = parse_endpoint(&cluster.url, true)
                .map_err(|r| ConfigError::invalid(format!("clusters.{name}.url"), r))?;
            if cluster.ca_file.is_some() && !endpoint.tls {
                return Err(ConfigError::invalid(
                    format!("clusters.{name}.ca_file"),
                    "only applies to https:// clusters",
                ));
            }
            if cluster.timeout_ms == Some(0) {
                return Err(ConfigError::invalid(
                    format!("clusters.{name}.timeout_ms"),
                    "must be positive",
                ));
            }
        }
        if self.limits.max_request_header_bytes < 1024 {
            return Err(ConfigError::invalid(
                "limits.max_request_header_bytes",
                "must be at least 1024",
            ));
        }
        if self.limits.callback_deadline_ms == Some(0) {
            return Err(ConfigError::invalid(
                "limits.callback_deadline_ms",
                "must be positive",
            ));
        }
        if self.limits.upstream_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "limits.upstream_timeout_ms",
                "must be positive",
            ));
        }
        Ok(())
    }

    /// Paths in the file are relative to the file's directory.
    fn resolve_relative_paths(&mut self, base: &Path) {
        if let Some(wasm) = &mut self.filter.wasm {
            if wasm.is_relative() {
                *wasm = base.join(&*wasm);
            }
        }
        for cluster in self.clusters.values_mut() {
            if let Some(ca) = &mut cluster.ca_file {
                if ca.is_relative() {
                    *ca = base.join(&*ca);
                }
            }
        }
    }

    /// The upstream endpoint (validated by `parse`).
    pub fn upstream_endpoint(&self) -> Result<Endpoint, ConfigError> {
        parse_endpoint(&self.upstream, false).map_err(|r| ConfigError::invalid("upstream", r))
    }

    /// Workers to start: the configured number, or one per core.
    pub fn worker_count(&self) -> usize {
        self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
    }

    /// The filter module: the configured file, or the embedded filter.
    pub fn filter_wasm(&self) -> Result<Vec<u8>, ConfigError> {
        match &self.filter.wasm {
            Some(path) => std::fs::read(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            }),
            None => Ok(crate::embedded::FILTER_WASM.to_vec()),
        }
    }
}
