//! The way to the protected application. A client's HTTP/1.1 connection carries one request at a
//! time, so it gets its own upstream connection (a `Link`), opened on its first request and
//! reopened when the application closes it: no shared pool to lock, no connect racing the
//! checkout, no task per request returning the connection to a pool. h2c clients multiplex, so
//! their requests go through a shared keep-alive pool instead. Only plain HTTP upstreams exist.

use std::sync::Mutex;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::body::{BoxError, ProxyBody};

/// How long an idle upstream connection stays in the shared (h2c clients') keep-alive pool.
const UPSTREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The upstream application: `host:port` and the pool shared by multiplexed clients.
pub struct Upstream {
    authority: String,
    pool: Client<HttpConnector, ProxyBody>,
}

/// One client connection's upstream connection, idle between that client's requests.
#[derive(Default)]
pub struct Link {
    idle: Mutex<Option<SendRequest<ProxyBody>>>,
}

impl Link {
    fn take(&self) -> Option<SendRequest<ProxyBody>> {
        self.idle.lock().ok().and_then(|mut idle| idle.take())
    }

    fn put(&self, sender: SendRequest<ProxyBody>) {
        if let Ok(mut idle) = self.idle.lock() {
            *idle = Some(sender);
        }
    }
}

impl Upstream {
    pub fn new(authority: String) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let pool = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(UPSTREAM_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Upstream { authority, pool }
    }

    /// `host:port` of the application.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Sends `request` (origin-form URI, `Host` set) over `link` when the client connection has
    /// one (HTTP/1.1), else through the shared pool. Dropping the future closes the connection
    /// the request was on; the link then opens a new one for the next request.
    pub async fn send(
        &self,
        link: Option<&Link>,
        request: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, BoxError> {
        match link {
            Some(link) => self.send_on_link(link, request).await,
            None => self.send_pooled(request).await,
        }
    }

    async fn send_on_link(
        &self,
        link: &Link,
        request: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, BoxError> {
        let mut sender = match link.take() {
            // Waits for the previous response's body to finish (HTTP/1.1 is sequential).
            Some(mut sender) => match sender.ready().await {
                Ok(()) => sender,
                Err(_) => self.connect().await?,
            },
            None => self.connect().await?,
        };
        match sender.try_send_request(request).await {
            Ok(response) => {
                link.put(sender);
                Ok(response)
            }
            Err(mut error) => match error.take_message() {
                // Never written: the application closed the idle connection just before (its
                // keep-alive ended). Sending it once on a fresh connection cannot duplicate it.
                Some(request) => {
                    let mut sender = self.connect().await?;
                    let response = sender.send_request(request).await?;
                    link.put(sender);
                    Ok(response)
                }
                None => Err(error.into_error().into()),
            },
        }
    }

    async fn send_pooled(
        &self,
        request: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, BoxError> {
        let (mut parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        parts.uri = format!("http://{}{}", self.authority, path).parse()?;
        Ok(self.pool.request(Request::from_parts(parts, body)).await?)
    }

    async fn connect(&self) -> Result<SendRequest<ProxyBody>, BoxError> {
        let tcp = TcpStream::connect(self.authority.as_str()).await?;
        tcp.set_nodelay(true)?;
        let (sender, connection) = http1::Builder::new().handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }
}
