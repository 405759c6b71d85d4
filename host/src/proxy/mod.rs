//! The reverse proxy: a tokio + hyper server taking HTTP/1.1 and h2c (prior knowledge), running each
//! request through a filter `Stream` from the pool, and forwarding allowed requests to the upstream
//! (one upstream connection per HTTP/1.1 client connection, a keep-alive pool for h2c clients).
//! `Gateway` wires config, pool, callouts, listener and admin together and owns graceful shutdown
//! (stop accepting, drain in-flight requests within a bound, stop the workers).

mod body;
mod filtered;
mod handler;
pub mod headers;
mod upstream;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

pub use body::ProxyBody;
pub use handler::{Client, Proxy};
use upstream::{Link, Upstream};

use crate::admin::HostMetrics;
use crate::callout::HttpCallouts;
use crate::config::{ConfigError, HostConfig};
use crate::runtime::{Pool, PoolConfig, StartError};

/// Slack above the header limit for the request line in hyper's HTTP/1 read buffer.
const REQUEST_LINE_ALLOWANCE: usize = 16 * 1024;

/// Why the gateway did not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Filter(#[from] StartError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("filter start was interrupted: {0}")]
    Interrupted(String),
}

/// Starts the worker pool for `config` with `wasm`; blocking work runs off the async threads.
pub async fn start_pool(
    config: &HostConfig,
    wasm: Vec<u8>,
    workers: usize,
) -> Result<Pool, GatewayError> {
    let callouts = HttpCallouts::new(&config.clusters, tokio::runtime::Handle::current())?;
    let pool_config = PoolConfig {
        wasm,
        plugin_config: config.filter.config.0.clone(),
        vm_config: config.filter.vm_config.0.clone(),
        plugin_name: config.filter.plugin_name().to_owned(),
        root_id: config.filter.root_id().to_owned(),
        workers,
        limits: config.limits.runtime_limits(),
        clock: Arc::new(crate::clock::SystemClock::new()),
        callouts: Arc::new(callouts),
    };
    let pool = tokio::task::spawn_blocking(move || Pool::start(pool_config))
        .await
        .map_err(|e| GatewayError::Interrupted(e.to_string()))??;
    Ok(pool)
}

/// Validates `config` and its filter configuration by starting one worker (`oidc-host check`).
pub async fn check(config: &HostConfig) -> Result<(), GatewayError> {
    let wasm = config.filter_wasm()?;
    let pool = start_pool(config, wasm, 1).await?;
    pool.shutdown().await;
    Ok(())
}

/// A running gateway: the proxy listener, the optional admin listener and the filter pool.
pub struct Gateway {
    addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    metrics: Arc<HostMetrics>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Starts everything `config` describes with the configured (or embedded) filter.
    pub async fn start(config: &HostConfig) -> Result<Gateway, GatewayError> {
        let wasm = config.filter_wasm()?;
        Gateway::start_with_wasm(config, wasm).await
    }

    /// Starts everything `config` describes with the given filter module.
    pub async fn start_with_wasm(
        config: &HostConfig,
        wasm: Vec<u8>,
    ) -> Result<Gateway, GatewayError> {
        let upstream = config.upstream_endpoint()?;
        let metrics = Arc::new(HostMetrics::default());
        let pool = Arc::new(start_pool(config, wasm, config.worker_count()).await?);

        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| GatewayError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| GatewayError::Bind {
            addr: config.listen,
            source,
        })?;
        let (admin, admin_addr) = match config.admin {
            Some(admin_listen) => {
                let admin_listener =
                    TcpListener::bind(admin_listen)
                        .await
                        .map_err(|source| GatewayError::Bind {
                            addr: admin_listen,
                            source,
                        })?;
                let bound = admin_listener
                    .local_addr()
                    .map_err(|source| GatewayError::Bind {
                        addr: admin_listen,
                        source,
                    })?;
                let task = crate::admin::spawn(admin_listener, pool.clone(), metrics.clone());
                (Some(task), Some(bound))
            }
            None => (None, None),
        };

        let proxy = Arc::new(Proxy {
            pool,
            upstream: Upstream::new(upstream.authority()),
            max_header_bytes: config.limits.max_request_header_bytes,
            upstream_timeout: config.limits.upstream_timeout(),
            metrics: metrics.clone(),
        });
        metrics.set_ready(true);
        let (stop, stopped) = oneshot::channel();
        let drain = config.limits.drain_timeout();
        let task = tokio::spawn(serve(listener, proxy, stopped, drain, admin));
        tracing::info!(%addr, admin = ?admin_addr, upstream = %config.upstream, "gateway listening");
        Ok(Gateway {
            addr,
            admin_addr,
            metrics,
            stop: Some(stop),
            task,
        })
    }

    /// The proxy's bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin listener's bound address, when configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    pub fn metrics(&self) -> &Arc<HostMetrics> {
        &self.metrics
    }

    /// Stops accepting, drains in-flight requests (bounded by `limits.drain_timeout_ms`) and stops
    /// the filter workers.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

type ServerBuilder = hyper_util::server::conn::auto::Builder<TokioExecutor>;

/// Moves an accepted connection to the next filter worker's thread and serves it there, so every
/// filter call of its requests runs on the thread that owns the connection, as an Envoy worker
/// does (no hand-off between threads per request phase).
fn hand_off(
    tcp: TcpStream,
    peer: SocketAddr,
    proxy: &Arc<Proxy>,
    builder: &ServerBuilder,
    graceful: &GracefulShutdown,
) -> std::io::Result<()> {
    let worker = proxy.pool.next_worker();
    let Some(runtime) = proxy.pool.runtime(worker) else {
        return Err(std::io::Error::other("no filter worker"));
    };
    let tcp = tcp.into_std()?;
    // Registers the socket with the worker runtime's reactor.
    let tcp = {
        let _entered = runtime.enter();
        TcpStream::from_std(tcp)?
    };
    let proxy = proxy.clone();
    let per_connection = Arc::new((Client::new(peer), Link::default()));
    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let proxy = proxy.clone();
        let per_connection = per_connection.clone();
        async move {
            let (client, link) = &*per_connection;
            // h2c requests share the connection concurrently: they use the pool.
            let link = (req.version() != http::Version::HTTP_2).then_some(link);
            Ok::<_, Infallible>(proxy.handle(req, client, worker, link).await)
        }
    });
    let connection = builder
        .serve_connection(TokioIo::new(tcp), service)
        .into_owned();
    let watched = graceful.watch(connection);
    runtime.spawn(async move {
        if let Err(error) = watched.await {
            tracing::debug!(%error, "connection ended with an error");
        }
    });
    Ok(())
}

async fn serve(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    mut stopped: oneshot::Receiver<()>,
    drain: Duration,
    admin: Option<tokio::task::JoinHandle<()>>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = ServerBuilder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .max_buf_size(proxy.max_header_bytes + REQUEST_LINE_ALLOWANCE);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(proxy.max_header_bytes).unwrap_or(u32::MAX));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of descriptors and similar: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                if let Err(error) = hand_off(tcp, peer, &proxy, &builder, &graceful) {
                    tracing::warn!(%error, "cannot hand the connection to a filter worker");
                }
            }
            _ = &mut stopped => break,
        }
    }
    drop(listener);
    proxy.metrics.set_ready(false);
    tracing::info!("shutting down: draining in-flight requests");
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "drain timeout ({} ms) reached; closing remaining connections",
            drain.as_millis()
        );
    }
    if let Some(admin) = admin {
        admin.abort();
        let _ = admin.await;
    }
    match Arc::try_unwrap(proxy) {
        Ok(proxy) => match Arc::try_unwrap(proxy.pool) {
            Ok(pool) => pool.shutdown().await,
            Err(pool) => drop(pool),
        },
        Err(proxy) => drop(proxy),
    }
    tracing::info!("shutdown complete");
}
