//! The response body sent to the client: each upstream frame is run through the filter
//! (`on_http_response_body` / `on_http_response_trailers`) as the client's connection reads it, in
//! the connection's own task, so a response needs no pump task and no channel between tasks.
//! Once the head is sent, a filter that fails or answers locally can only abort the body (the
//! client sees a reset, never unfiltered data).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use super::body::{Aborted, BoxError};
use super::handler::SharedStream;
use super::headers::{after_filter, header_pairs};
use crate::runtime::{FilterFailure, HeadersVerdict, Verdict};

/// The filter's verdict on one frame, with the stream handed back for the next one.
type Filtering = Pin<Box<dyn Future<Output = (SharedStream, Step)> + Send>>;

enum Step {
    Data(Result<Verdict<Bytes>, FilterFailure>),
    /// The verdict on the trailers, with the map they were read from.
    Trailers(HeadersVerdict, HeaderMap),
}

enum State {
    /// Waiting for the next upstream frame.
    Reading(SharedStream),
    /// Waiting for the filter; `last` when the frame ended the upstream body.
    Filtering(Filtering, bool),
    /// Finished or aborted; the filter's stream has been released (its context ends).
    Done,
}

pub struct FilteredBody {
    upstream: Incoming,
    state: State,
}

impl FilteredBody {
    pub fn new(upstream: Incoming, stream: SharedStream) -> Self {
        FilteredBody {
            upstream,
            state: State::Reading(stream),
        }
    }
}

fn filter_data(stream: SharedStream, data: Bytes, end: bool) -> State {
    let future = async move {
        let verdict = stream.lock().await.response_body(data, end).await;
        (stream, Step::Data(verdict))
    };
    State::Filtering(Box::pin(future), end)
}

fn filter_trailers(stream: SharedStream, trailers: HeaderMap) -> State {
    let future = async move {
        let pairs = header_pairs(&trailers);
        let verdict = stream.lock().await.response_trailers(pairs).await;
        (stream, Step::Trailers(verdict, trailers))
    };
    State::Filtering(Box::pin(future), true)
}

fn abort(reason: &str) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
    Poll::Ready(Some(Err(Box::new(Aborted(reason.to_owned())))))
}

impl Body for FilteredBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            match std::mem::replace(&mut this.state, State::Done) {
                State::Done => return Poll::Ready(None),
                State::Filtering(mut filtering, last) => {
                    let Poll::Ready((stream, step)) = filtering.as_mut().poll(cx) else {
                        this.state = State::Filtering(filtering, last);
                        return Poll::Pending;
                    };
                    match step {
                        Step::Data(Ok(Verdict::Continue(chunk))) => {
                            if !last {
                                this.state = State::Reading(stream);
                            }
                            if !chunk.is_empty() {
                                return Poll::Ready(Some(Ok(Frame::data(chunk))));
                            }
                        }
                        Step::Trailers(Ok(Verdict::Continue(edited)), given) => {
                            let (_, map) = after_filter(given, edited);
                            return Poll::Ready(Some(Ok(Frame::trailers(map))));
                        }
                        Step::Data(_) | Step::Trailers(..) => {
                            tracing::warn!("filter stopped a response after its headers were sent");
                            return abort("filter stopped the response");
                        }
                    }
                }
                State::Reading(stream) => {
                    let frame = match Pin::new(&mut this.upstream).poll_frame(cx) {
                        Poll::Pending => {
                            this.state = State::Reading(stream);
                            return Poll::Pending;
                        }
                        Poll::Ready(None) => {
                            this.state = filter_data(stream, Bytes::new(), true);
                            continue;
                        }
                        Poll::Ready(Some(Err(_))) => return abort("upstream body aborted"),
                        Poll::Ready(Some(Ok(frame))) => frame,
                    };
                    this.state = match frame.into_data() {
                        Ok(data) => {
                            let end = this.upstream.is_end_stream();
                            filter_data(stream, data, end)
                        }
                        Err(frame) => match frame.into_trailers() {
                            Ok(trailers) => filter_trailers(stream, trailers),
                            // A frame kind this proxy does not know is not forwarded.
                            Err(_) => State::Reading(stream),
                        },
                    };
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
