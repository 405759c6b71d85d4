//! How streams reach their worker: directly from a task on the worker's own runtime (as the proxy
//! drives the connections it gives that worker), through the inbox from any other thread.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod guests;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use guests::{module, GET};
use oidc_host::clock::SystemClock;
use oidc_host::runtime::{
    Callout, CalloutResult, CalloutSender, Pool, PoolConfig, Stream, Verdict,
};

struct NoCallouts;

impl CalloutSender for NoCallouts {
    fn send(&self, _call: Callout, done: Box<dyn FnOnce(CalloutResult) + Send>) {
        done(CalloutResult::Failed {
            reason: "no callouts here".into(),
        });
    }
}

/// Two workers running a guest that answers every request with 600 + the number of requests its
/// instance has seen (so 601 for the first one).
fn pool() -> Arc<Pool> {
    let body = r#"(global $seen (mut i32) (i32.const 0))
        (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
          (global.set $seen (i32.add (global.get $seen) (i32.const 1)))
          (call $reply (global.get $seen)) (i32.const 1))"#;
    Arc::new(
        Pool::start(PoolConfig {
            wasm: module("", body),
            plugin_config: b"{}".to_vec(),
            vm_config: Vec::new(),
            plugin_name: "streams".into(),
            root_id: String::new(),
            workers: 2,
            limits: Default::default(),
            clock: Arc::new(SystemClock::new()),
            callouts: Arc::new(NoCallouts),
        })
        .expect("the pool starts"),
    )
}

fn headers() -> Vec<(String, String)> {
    GET.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// The status the guest answered with.
async fn status(stream: &mut Stream) -> Option<u16> {
    match stream.request_headers(headers(), true).await {
        Ok(Verdict::Respond(r)) => Some(r.status),
        _ => None,
    }
}

/// Polls `f` once: its output if it was ready at once.
fn poll_once<F: Future>(f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

#[test]
fn a_stream_on_its_workers_thread_is_answered_without_waiting() {
    let pool = pool();
    let p = pool.clone();
    let task = pool.runtime(1).expect("worker 1").spawn(async move {
        let mut answers = Vec::new();
        for _ in 0..3 {
            let mut stream = p.stream_on(1, None);
            answers.push(poll_once(status(&mut stream)));
        }
        answers
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The guest answered each request during the first poll, on worker 1's instance only.
    let answers = rt.block_on(task).unwrap();
    assert_eq!(
        answers,
        vec![Some(Some(601)), Some(Some(602)), Some(Some(603))]
    );
}

#[test]
fn a_stream_on_another_thread_goes_through_the_inbox() {
    let pool = pool();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut stream = pool.stream_on(0, None);
    // Not ready at the first poll: the phase is a message the worker thread has yet to take.
    assert_eq!(poll_once(status(&mut stream)), None);
    drop(stream);
    let mut stream = pool.stream_on(0, None);
    assert_eq!(rt.block_on(status(&mut stream)), Some(602));
    // A stream on worker 0, driven from worker 1's thread, is a message to worker 0 too.
    let p = pool.clone();
    let task = pool.runtime(1).expect("worker 1").spawn(async move {
        let mut stream = p.stream_on(0, None);
        let first = poll_once(status(&mut stream));
        let mut stream = p.stream_on(0, None);
        (first, status(&mut stream).await)
    });
    assert_eq!(rt.block_on(task).unwrap(), (None, Some(604)));
}
