//! `Stream`: the proxy's handle on one HTTP context on one worker. Each phase goes to the worker
//! (directly when the stream is driven on the worker's own thread, else as a message) with a
//! oneshot for the answer; a paused filter simply leaves the answer pending. The context is
//! created on the worker with the first phase (one message instead of two or three, since the
//! proxy opens a stream, sets properties and sends the request headers at once).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::messages::{Inbox, Msg, Opening, Reply, StreamEvent};
use super::worker::deliver_here;
use super::{FilterFailure, HeadersVerdict, Verdict};

pub(crate) type Headers = Vec<(String, String)>;
pub(crate) type HeadersAnswer = oneshot::Receiver<HeadersVerdict>;
pub(crate) type BodyAnswer = oneshot::Receiver<Result<Verdict<Bytes>, FilterFailure>>;

/// One HTTP context on one worker; dropping it ends the context (`on_done`, `on_log`, `on_delete`).
pub struct Stream {
    inbox: Option<Inbox>,
    context_id: u32,
    /// What creating the context on the worker needs, until the first phase carries it there.
    opening: Mutex<Option<Opening>>,
    /// Whether a message of this stream went through the inbox: from then on they all do, so
    /// none overtakes one still queued (a stream moved to its worker's thread after a phase).
    queued: AtomicBool,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("context_id", &self.context_id)
            .finish()
    }
}

impl Stream {
    pub(crate) fn open(inbox: Inbox, context_id: u32, source: Option<SocketAddr>) -> Self {
        Self {
            inbox: Some(inbox),
            context_id,
            opening: Mutex::new(Some(Opening {
                source,
                properties: Vec::new(),
            })),
            queued: AtomicBool::new(false),
        }
    }

    pub(crate) fn detached(context_id: u32) -> Self {
        Self {
            inbox: None,
            context_id,
            opening: Mutex::new(None),
            queued: AtomicBool::new(false),
        }
    }

    /// To the worker: directly when on its thread and it is free (and no earlier message of this
    /// stream is queued), else through its inbox. A detached stream has no worker to tell.
    fn deliver(&self, msg: Msg) {
        let Some(inbox) = &self.inbox else { return };
        let msg = if self.queued.load(Ordering::Relaxed) {
            msg
        } else {
            match deliver_here(inbox, msg) {
                Ok(()) => return,
                Err(msg) => msg,
            }
        };
        self.queued.store(true, Ordering::Relaxed);
        let _ = inbox.send(msg);
    }

    /// The opening, once: the first phase takes it to the worker.
    fn take_opening(&self) -> Option<Opening> {
        self.opening
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// The proxy-wasm context id of this stream.
    pub fn context_id(&self) -> u32 {
        self.context_id
    }

    /// Sets a property the filter can read with `proxy_get_property` (e.g. `request.protocol`,
    /// `destination.address`); `path` uses `.` between segments.
    pub fn set_property(&mut self, path: &str, value: impl Into<Vec<u8>>) {
        let opening = self.opening.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(o) = opening {
            o.properties.push((path.to_string(), value.into()));
            return;
        }
        self.deliver(Msg::SetProperty {
            context: self.context_id,
            path: path.to_string(),
            value: value.into(),
        });
    }

    /// A phase to the worker, answered through `reply`.
    fn submit(&self, event: StreamEvent, reply: Reply) {
        self.deliver(Msg::Event {
            context: self.context_id,
            open: self.take_opening(),
            event,
            reply,
        });
    }

    fn submit_headers(&self, event: StreamEvent) -> HeadersAnswer {
        let (tx, rx) = oneshot::channel();
        self.submit(event, Reply::Headers(tx));
        rx
    }

    fn submit_body(&self, event: StreamEvent) -> BodyAnswer {
        let (tx, rx) = oneshot::channel();
        self.submit(event, Reply::Body(tx));
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
    ) -> HeadersVerdict {
        answer(self.submit_request_headers(headers, end_of_stream)).await
    }
    pub async fn request_body(
        &mut self,
        chunk: Bytes,
        end_of_stream: bool,
    ) -> Result<Verdict<Bytes>, FilterFailure> {
        answer(self.submit_request_body(chunk, end_of_stream)).await
    }
    pub async fn request_trailers(&mut self, trailers: Headers) -> HeadersVerdict {
        answer(self.submit_headers(StreamEvent::RequestTrailers(trailers))).await
    }
    pub async fn response_headers(
        &mut self,
        headers: Headers,
        end_of_stream: bool,
    ) -> HeadersVerdict {
        answer(self.submit_response_headers(headers, end_of_stream)).await
    }
    pub async fn response_body(
        &mut self,
        chunk: Bytes,
        end_of_stream: bool,
    ) -> Result<Verdict<Bytes>, FilterFailure> {
        answer(self.submit_response_body(chunk, end_of_stream)).await
    }
    pub async fn response_trailers(&mut self, trailers: Headers) -> HeadersVerdict {
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
        // A stream that never reached a phase still had a context: create it, then end it.
        if let Some(o) = self.take_opening() {
            self.deliver(Msg::Open {
                context: self.context_id,
                source: o.source,
            });
        }
        self.deliver(Msg::Close {
            context: self.context_id,
        });
    }
}
