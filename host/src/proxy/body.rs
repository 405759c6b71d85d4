//! Bodies the proxy streams between tasks: a bounded channel of frames (backpressure comes from the
//! channel's capacity), and the boxed body type every response the proxy sends uses.

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body of every request and response the proxy produces (`Send`, not `Sync`: a response body
/// holds the filter's pending verdict).
pub type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;
pub type FrameSender = mpsc::Sender<Result<Frame<Bytes>, BoxError>>;

/// Frames in flight between a pump task and the connection writing them.
const CHANNEL_FRAMES: usize = 8;

/// A body fed frame by frame from a pump task; an `Err` item aborts the message.
pub struct ChannelBody {
    rx: mpsc::Receiver<Result<Frame<Bytes>, BoxError>>,
    done: bool,
}

pub fn channel() -> (FrameSender, ChannelBody) {
    let (tx, rx) = mpsc::channel(CHANNEL_FRAMES);
    (tx, ChannelBody { rx, done: false })
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = self.rx.poll_recv(cx);
        if let Poll::Ready(None) = polled {
            self.done = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

pub fn empty() -> ProxyBody {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn full(bytes: Bytes) -> ProxyBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn streamed(body: ChannelBody) -> ProxyBody {
    body.boxed_unsync()
}

pub fn filtered(body: super::filtered::FilteredBody) -> ProxyBody {
    body.boxed_unsync()
}

/// The error that aborts a streamed message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Aborted(pub String);
