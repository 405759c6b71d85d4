//! What reaches a worker and what it answers: the inbox and its messages, a stream's events
//! and replies, the phases, and the runtime's record of each live stream context. Types only;
//! the worker (`worker`) and its phase handling (`phases`) act on them.

use std::net::SocketAddr;
use std::sync::mpsc;

use bytes::Bytes;
use tokio::sync::{mpsc as channel, oneshot};

use super::stream::Headers;
use super::{CalloutResult, FilterFailure, LocalResponse, Verdict};
use crate::abi::map_type::*;
use crate::abi::{StreamData, StreamType};

/// Where a worker's messages go; sending never blocks and works from any thread.
pub(crate) type Inbox = channel::UnboundedSender<Msg>;

/// A message to a worker.
#[derive(Debug)]
pub(crate) enum Msg {
    Open {
        context: u32,
        source: Option<SocketAddr>,
    },
    /// A phase; the first one of a stream also creates its context (`open`).
    Event {
        context: u32,
        open: Option<Opening>,
        event: StreamEvent,
        reply: Reply,
    },
    SetProperty {
        context: u32,
        path: String,
        value: Vec<u8>,
    },
    Close {
        context: u32,
    },
    CalloutDone {
        generation: u64,
        call_id: u32,
        result: CalloutResult,
    },
    QueueReady {
        generation: u64,
        context: u32,
        queue_id: u32,
    },
    /// Sent only by the test kit, which drives a manual clock.
    #[cfg_attr(not(feature = "testkit"), allow(dead_code))]
    Timers(mpsc::Sender<()>),
    Drain(oneshot::Sender<()>),
    /// Nothing to do but what the worker's loop does after every message (re-arm the tick timer,
    /// finish a drain): sent when a direct delivery changed what that depends on.
    Wake,
    /// Benchmarks only: requests run on the worker without the cross-thread hop.
    #[cfg(feature = "testkit")]
    Bench(super::bench::BenchRun),
    Shutdown,
}

/// What creating a stream's context needs: the client address and the properties the proxy set.
#[derive(Debug)]
pub(crate) struct Opening {
    pub(crate) source: Option<SocketAddr>,
    pub(crate) properties: Vec<(String, Vec<u8>)>,
}

#[derive(Debug)]
pub(crate) enum StreamEvent {
    RequestHeaders(Headers, bool),
    RequestBody(Bytes, bool),
    RequestTrailers(Headers),
    ResponseHeaders(Headers, bool),
    ResponseBody(Bytes, bool),
    ResponseTrailers(Headers),
}

#[derive(Debug)]
pub(crate) enum Reply {
    Headers(oneshot::Sender<super::HeadersVerdict>),
    Body(oneshot::Sender<Result<Verdict<Bytes>, FilterFailure>>),
}

/// What a phase resolved to, before it is typed for its reply.
pub(super) enum Answer {
    /// `None`: the filter left them as the proxy gave them.
    Headers(Option<Headers>),
    Body(Bytes),
    Respond(LocalResponse),
}

impl Reply {
    pub(super) fn send(self, r: Result<Answer, FilterFailure>) {
        let mismatch = || FilterFailure::Trapped("internal: phase and reply disagree".into());
        match self {
            Reply::Headers(tx) => {
                let _ = tx.send(match r {
                    Ok(Answer::Headers(h)) => Ok(Verdict::Continue(h)),
                    Ok(Answer::Respond(lr)) => Ok(Verdict::Respond(lr)),
                    Ok(Answer::Body(_)) => Err(mismatch()),
                    Err(f) => Err(f),
                });
            }
            Reply::Body(tx) => {
                let _ = tx.send(match r {
                    Ok(Answer::Body(b)) => Ok(Verdict::Continue(b)),
                    Ok(Answer::Respond(lr)) => Ok(Verdict::Respond(lr)),
                    Ok(Answer::Headers(_)) => Err(mismatch()),
                    Err(f) => Err(f),
                });
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    RequestHeaders,
    RequestBody,
    RequestTrailers,
    ResponseHeaders,
    ResponseBody,
    ResponseTrailers,
}

impl Phase {
    pub(super) fn direction(self) -> StreamType {
        match self {
            Phase::RequestHeaders | Phase::RequestBody | Phase::RequestTrailers => {
                StreamType::Request
            }
            _ => StreamType::Response,
        }
    }

    /// The value the proxy continues with: the headers or trailers if a hostcall may have changed
    /// them (else `None`: the proxy keeps what it gave), or the whole buffered body, which is
    /// handed over and cleared.
    pub(super) fn value(self, d: &mut StreamData) -> Answer {
        match self {
            Phase::RequestHeaders => Answer::Headers(d.changed(REQUEST_HEADERS).cloned()),
            Phase::RequestTrailers => Answer::Headers(d.changed(REQUEST_TRAILERS).cloned()),
            Phase::ResponseHeaders => Answer::Headers(d.changed(RESPONSE_HEADERS).cloned()),
            Phase::ResponseTrailers => Answer::Headers(d.changed(RESPONSE_TRAILERS).cloned()),
            Phase::RequestBody => Answer::Body(std::mem::take(&mut d.request_body).into()),
            Phase::ResponseBody => Answer::Body(std::mem::take(&mut d.response_body).into()),
        }
    }
}

/// The runtime's view of a live stream context.
#[derive(Default)]
pub(super) struct Slot {
    pub(super) pending: Option<(Phase, Reply)>,
    pub(super) local: Option<LocalResponse>,
}

pub(super) enum PhaseResult {
    Answer(Answer),
    Paused(Phase),
}
