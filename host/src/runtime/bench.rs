//! Benchmarks only (test kit): whole requests run on a worker thread, without the hop from the
//! caller's thread, so the per-request cost of the runtime and the filter can be measured apart
//! from the hop's. Each request is what a `Stream` does: open, request headers, close.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::messages::{Reply, StreamEvent};
use super::stream::Headers;
use super::worker::Worker;
use super::Verdict;

/// A batch of requests for one worker and where to send the time it took.
#[derive(Debug)]
pub(crate) struct BenchRun {
    pub(crate) requests: Vec<Headers>,
    pub(crate) source: Option<SocketAddr>,
    pub(crate) first_context: u32,
    /// The time the batch took and each request's status (200 for continue, 0 for a failure).
    pub(crate) done: mpsc::Sender<(Duration, Vec<u16>)>,
}

impl Worker {
    pub(super) fn bench(&mut self, run: BenchRun) {
        let mut answers = Vec::with_capacity(run.requests.len());
        let start = Instant::now();
        for (context, headers) in (run.first_context..).zip(run.requests) {
            let (tx, rx) = oneshot::channel();
            self.open(context, run.source);
            self.event(
                context,
                StreamEvent::RequestHeaders(headers, true),
                Reply::Headers(tx),
            );
            self.close(context);
            answers.push(rx);
        }
        let elapsed = start.elapsed();
        let statuses = answers
            .into_iter()
            .map(|mut rx| match rx.try_recv() {
                Ok(Ok(Verdict::Continue(_))) => 200,
                Ok(Ok(Verdict::Respond(r))) => r.status,
                _ => 0,
            })
            .collect();
        let _ = run.done.send((elapsed, statuses));
    }
}
