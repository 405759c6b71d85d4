//! An echo upstream for `oidc-host demo` and tests: answers every request with a JSON document of
//! its method, path, headers and body, so what the gateway forwarded (identity headers included)
//! is visible. Test double only; it binds wherever it is told (loopback in practice).

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;

/// Request bodies larger than this are answered with 413: the echo is for looking, not for load.
const MAX_ECHO_BODY_BYTES: usize = 1024 * 1024;

/// A running echo server; dropping it stops accepting.
pub struct EchoServer {
    addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl EchoServer {
    pub async fn start(bind: SocketAddr) -> std::io::Result<EchoServer> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service_fn(echo))
                        .await;
                });
            }
        });
        Ok(EchoServer { addr, accept })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://host:port`, usable as the gateway's `upstream`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        let value = Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned());
        match headers.get_mut(name.as_str()) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.clone(), value]),
            None => {
                headers.insert(name.as_str().to_owned(), value);
            }
        }
    }
    let (status, body) = match Limited::new(body, MAX_ECHO_BODY_BYTES).collect().await {
        Ok(collected) => (
            200,
            String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        ),
        Err(_) => (413, String::new()),
    };
    let document = json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path_and_query().map_or("/", |pq| pq.as_str()),
        "headers": headers,
        "body": body,
    });
    let mut response = Response::new(Full::new(Bytes::from(document.to_string())));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
