//! Outbound HTTP calls made by the filter through `proxy_http_call` (discovery, JWKS, token endpoints).
//! The target is a configured cluster name first (Envoy style: its URL decides scheme and TLS), else a
//! plain `host:port` (Kong style: `:scheme: https` turns TLS on, verified against the `:authority` host).
//! Each call gets its own HTTP/1.1 connection, a timeout and a cap on the response size; every outcome,
//! including failures, is reported exactly once through the runtime's completion callback.
//! It does not decide what the guest sees for a failure: the runtime turns `Failed` into an empty response.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::config::{parse_endpoint, ClusterConfig, ConfigError};
use crate::runtime::{Callout, CalloutResult, CalloutSender};

/// Headers that describe one connection and are never forwarded on another.
pub(crate) const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Where and how to reach one callout target.
#[derive(Clone)]
struct Target {
    host: String,
    port: u16,
    /// TLS settings and the name to verify, when the target speaks https.
    tls: Option<(Arc<rustls::ClientConfig>, String)>,
    timeout_cap: Option<Duration>,
}

struct Inner {
    clusters: HashMap<String, Target>,
    webpki_tls: Arc<rustls::ClientConfig>,
    handle: tokio::runtime::Handle,
    max_response_bytes: usize,
}

/// The host's `CalloutSender`: real HTTP(S) over tokio, on the runtime given at construction.
#[derive(Clone)]
pub struct HttpCallouts {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HttpCallouts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCallouts")
            .field("clusters", &self.inner.clusters.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl HttpCallouts {
    /// Builds the client for the configured clusters; calls run on `handle`.
    pub fn new(
        clusters: &BTreeMap<String, ClusterConfig>,
        handle: tokio::runtime::Handle,
    ) -> Result<HttpCallouts, ConfigError> {
        let webpki_tls = tls_config(webpki_roots()).map_err(|reason| ConfigError::Invalid {
            path: "clusters".into(),
            reason,
        })?;
        let mut targets = HashMap::new();
        for (name, cluster) in clusters {
            let endpoint =
                parse_endpoint(&cluster.url, true).map_err(|reason| ConfigError::Invalid {
                    path: format!("clusters.{name}.url"),
                    reason,
                })?;
            let tls = if endpoint.tls {
                let config = match &cluster.ca_file {
                    Some(path) => {
                        let invalid = |reason: String| ConfigError::Invalid {
                            path: format!("clusters.{name}.ca_file"),
                            reason,
                        };
                        tls_config(load_ca_file(path).map_err(invalid)?).map_err(invalid)?
                    }
                    None => webpki_tls.clone(),
                };
                Some((config, endpoint.host.clone()))
            } else {
                None
            };
            targets.insert(
                name.clone(),
                Target {
                    host: endpoint.host,
                    port: endpoint.port,
                    tls,
                    timeout_cap: cluster.timeout_ms.map(Duration::from_millis),
                },
            );
        }
        Ok(HttpCallouts {
            inner: Arc::new(Inner {
                clusters: targets,
                webpki_tls,
                handle,
                max_response_bytes: crate::limits::MAX_CALLOUT_RESPONSE_BYTES,
            }),
        })
    }

    /// Performs one call and returns its outcome (what `send` reports through `done`).
    pub async fn call(&self, call: Callout) -> CalloutResult {
        let target = match self.resolve(&call) {
            Ok(target) => target,
            Err(reason) => return CalloutResult::Failed { reason },
        };
        let timeout = match target.timeout_cap {
            Some(cap) => call.timeout.min(cap),
            None => call.timeout,
        };
        let max = self.inner.max_response_bytes;
        match tokio::time::timeout(timeout, exchange(&target, call, max)).await {
            Ok(Ok(result)) => result,
            Ok(Err(reason)) => CalloutResult::Failed { reason },
            Err(_) => CalloutResult::Failed {
                reason: "timeout".into(),
            },
        }
    }

    fn resolve(&self, call: &Callout) -> Result<Target, String> {
        if let Some(target) = self.inner.clusters.get(&call.upstream) {
            return Ok(target.clone());
        }
        let authority: http::uri::Authority = call
            .upstream
            .parse()
            .map_err(|_| format!("unknown cluster or bad host:port {:?}", call.upstream))?;
        if authority.as_str().contains('@') {
            return Err("upstream must not carry credentials".into());
        }
        let tls = header(&call.headers, ":scheme").is_some_and(|s| s.eq_ignore_ascii_case("https"));
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let tls = tls.then(|| {
            let name = header(&call.headers, ":authority")
                .and_then(|a| a.parse::<http::uri::Authority>().ok())
                .map(|a| {
                    a.host()
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_owned()
                })
                .unwrap_or_else(|| host.clone());
            (self.inner.webpki_tls.clone(), name)
        });
        Ok(Target {
            host,
            port,
            tls,
            timeout_cap: None,
        })
    }
}

impl CalloutSender for HttpCallouts {
    fn send(&self, call: Callout, done: Box<dyn FnOnce(CalloutResult) + Send>) {
        let this = self.clone();
        self.inner.handle.spawn(async move {
            let result = this.call(call).await;
            done(result);
        });
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

async fn exchange(target: &Target, call: Callout, max: usize) -> Result<CalloutResult, String> {
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("connect to {}:{} failed: {e}", target.host, target.port))?;
    let _ = tcp.set_nodelay(true);
    let default_authority = if target.host.contains(':') {
        format!("[{}]:{}", target.host, target.port)
    } else {
        format!("{}:{}", target.host, target.port)
    };
    let request = build_request(call, &default_authority)?;
    match &target.tls {
        None => send_on(tcp, request, max).await,
        Some((config, name)) => {
            let server_name = ServerName::try_from(name.clone())
                .map_err(|_| format!("invalid TLS server name {name:?}"))?;
            let tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(server_name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {name} failed: {e}"))?;
            send_on(tls, request, max).await
        }
    }
}

fn build_request(
    call: Callout,
    default_authority: &str,
) -> Result<http::Request<Full<Bytes>>, String> {
    let method = header(&call.headers, ":method").unwrap_or("GET");
    let path = header(&call.headers, ":path").unwrap_or("/");
    let authority = header(&call.headers, ":authority").unwrap_or(default_authority);
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, authority);
    for (name, value) in &call.headers {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with(':')
            || lower == "host"
            || lower == "content-length"
            || HOP_BY_HOP.contains(&lower.as_str())
        {
            continue;
        }
        builder = builder.header(lower, value.as_str());
    }
    // HTTP/1.1 without chunked encoding has no trailers: the guest's are dropped, as Envoy does on h1.
    builder
        .body(Full::new(Bytes::from(call.body)))
        .map_err(|e| format!("invalid callout request: {e}"))
}

async fn send_on<S>(
    io: S,
    request: http::Request<Full<Bytes>>,
    max: usize,
) -> Result<CalloutResult, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    let connection = tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let (parts, mut body) = response.into_parts();
    let mut headers = vec![(":status".to_owned(), parts.status.as_str().to_owned())];
    headers.extend(to_pairs(&parts.headers));
    let mut collected = Vec::new();
    let mut trailers = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading response body failed: {e}"))?;
        if let Some(data) = frame.data_ref() {
            if collected.len() + data.len() > max {
                connection.abort();
                return Err(format!("response body exceeds {max} bytes"));
            }
            collected.extend_from_slice(data);
        } else if let Some(map) = frame.trailers_ref() {
            trailers.extend(to_pairs(map));
        }
    }
    drop(sender);
    connection.abort();
    Ok(CalloutResult::Response {
        headers,
        body: collected,
        trailers,
    })
}

/// Header map to (lowercase name, value) pairs; non-UTF-8 bytes are replaced, never a failure.
pub(crate) fn to_pairs(map: &http::HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn webpki_roots() -> rustls::RootCertStore {
    rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

fn load_ca_file(path: &std::path::Path) -> Result<rustls::RootCertStore, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("bad PEM in {}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("bad certificate in {}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("no certificate in {}", path.display()));
    }
    Ok(roots)
}

fn tls_config(roots: rustls::RootCertStore) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
