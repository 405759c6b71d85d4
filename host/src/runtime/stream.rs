//! `Stream`: the proxy's handle on one HTTP context on one worker. Each phase is a message to the
//! worker and a oneshot answer; a paused filter simply leaves the answer pending.

use std::net::SocketAddr;
use std::sync::mpsc;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::worker::{Msg, Reply, StreamEvent};
use super::{FilterFailure, Verdict};

pub(crate) type Headers = Vec<(String, String)>;
pub(crate) type HeadersAnswer = oneshot::Receiver<Result<Verdict<Headers>, FilterFailure>>;
pub(crate) type BodyAnswer = oneshot::Receiver<Result<Verdict<Bytes>, FilterFailure>>;

/// One HTTP context on one worker; dropping it ends the context (`on_done`, `on_log`, `on_delete`).
pub struct Stream {
    inbox: Option<mpsc::Sender<Msg>>,
    context_id: u32,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("context_id", &self.context_id)
            .finish()
    }
}

impl Stream {
    pub(crate) fn open(
        inbox: mpsc::Sender<Msg>,
        context_id: u32,
        source: Option<SocketAddr>,
    ) -> Self {
        let ok = inbox
            .send(Msg::Open {
                context: context_id,
                source,
            })
            .is_ok();
        Self {
            inbox: ok.then_some(inbox),
            context_id,
        }
    }

    pub(crate) fn detached(context_id: u32) -> Self {
        Self {
            inbox: None,
            context_id,
        }
    }

    /// The proxy-wasm context id of this stream.
    pub fn context_id(&self) -> u32 {
        self.context_id
    }

    /// Sets a property the filter can read with `proxy_get_property` (e.g. `request.protocol`,
    /// `destination.address`); `path` uses `.` between segments.
    pub fn set_property(&mut self, path: &str, value: impl Into<Vec<u8>>) {
        if let Some(inbox) = &self.inbox {
            let _ = inbox.send(Msg::SetProperty {
                context: self.context_id,
                path: path.to_string(),
                value: value.into(),
            });
        }
    }

    fn submit_headers(&self, event: StreamEvent) -> HeadersAnswer {
        let (tx, rx) = oneshot::channel();
        if let Some(inbox) = &self.inbox {
            let _ = inbox.send(Msg::Event {
                context: self.context_id,
                event,
                reply: Reply::Headers(tx),
            });
        }
        rx
    }

    fn submit_body(&self, event: StreamEvent) -> BodyAnswer {
        let (tx, rx) = oneshot::channel();
        if let Some(inbox) = &self.inbox {
            let _ = inbox.send(Msg::Event {
                context: self.context_id,
                event,
                reply: Reply::Body(tx),
            });
        }
        rx
    }

    pub(crate) fn submit_request_headers(&self, h: Headers, eos: bool) -> HeadersAnswer {
        self.submit_headers(StreamEvent::RequestHeaders(h, eos))
    }
    pub(crate) fn submit_request_body(&self, b: Bytes, eos: bool) -> BodyAnswer {
        self.submit_body(StreamEvent::RequestBody(b, eos))
    }
    pub(crate) fn submit_response_headers(&self, h: Headers, eos: bool) -> HeadersAnswer {
        self.submit_headers(StreamEvent::ResponseHeaders(h, eos))
    }
    pub(crate) fn submit_response_body(&self, b: Bytes, eos: bool) -> BodyAnswer {
        self.submit_body(StreamEvent::ResponseBody(b, eos))
    }

    pub async fn request_headers(
        &mut self,
        headers: Headers,
        end_of_stream: bool,
    ) -> Result<Verdict<Headers>, FilterFailure> {
        answer(self.submit_request_headers(headers, end_of_stream)).await
    }
    pub async fn request_body(
        &mut self,
        chunk: Bytes,
        end_of_stream: bool,
    ) -> Result<Verdict<Bytes>, FilterFailure> {
        answer(self.submit_request_body(chunk, end_of_stream)).await
    }
    pub async fn request_trailers(
        &mut self,
        trailers: Headers,
    ) -> Result<Verdict<Headers>, FilterFailure> {
        answer(self.submit_headers(StreamEvent::RequestTrailers(trailers))).await
    }
    pub async fn response_headers(
        &mut self,
        headers: Headers,
        end_of_stream: bool,
    ) -> Result<Verdict<Headers>, FilterFailure> {
        answer(self.submit_response_headers(headers, end_of_stream)).await
    }
    pub async fn response_body(
        &mut self,
        chunk: Bytes,
        end_of_stream: bool,
    ) -> Result<Verdict<Bytes>, FilterFailure> {
        answer(self.submit_response_body(chunk, end_of_stream)).await
    }
    pub async fn response_trailers(
        &mut self,
        trailers: Headers,
    ) -> Result<Verdict<Headers>, FilterFailure> {
        answer(self.submit_headers(StreamEvent::ResponseTrailers(trailers))).await
    }
}

async fn answer<T>(
    rx: oneshot::Receiver<Result<Verdict<T>, FilterFailure>>,
) -> Result<Verdict<T>, FilterFailure> {
    // A dropped sender means the worker is gone (shut down or failed to restart).
    rx.await.unwrap_or(Err(FilterFailure::WorkerGone))
}

impl Drop for Stream {
    fn drop(&mut self) {
        if let Some(inbox) = &self.inbox {
            let _ = inbox.send(Msg::Close {
                context: self.context_id,
            });
        }
    }
}
