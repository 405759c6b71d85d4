//! How streams reach their worker: directly from a task on the worker's own runtime (as the proxy
//! drives the connections it gives that worker), through the inbox from any other thread; and
//! how a headers phase answers when the filter changed the headers or left them alone.
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

/// A guest that answers every request with 600 + the number of requests its instance has seen
/// (so 601 for the first one).
const COUNTING: &str = r#"(global $seen (mut i32) (i32.const 0))
    (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (global.set $seen (i32.add (global.get $seen) (i32.const 1)))
      (call $reply (global.get $seen)) (i32.const 1))"#;

/// A guest that answers every request with 600 + the number of its instance's stream contexts
/// created and not yet deleted (so 601 when the request's own is the only one).
const LIVE: &str = r#"(global $live (mut i32) (i32.const 0))
    (func (export "proxy_on_context_create") (param i32 i32)
      (if (i32.ne (local.get 1) (i32.const 0))
        (then (global.set $live (i32.add (global.get $live) (i32.const 1))))))
    (func (export "proxy_on_delete") (param i32)
      (global.set $live (i32.sub (global.get $live) (i32.const 1))))
    (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (call $reply (global.get $live)) (i32.const 1))"#;

/// Imports of `EDITS`.
const HEADER_CALLS: &str = r#"
    (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
    (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
    (import "env" "proxy_get_header_map_pairs" (func $pairs (param i32 i32 i32) (result i32)))"#;

/// A guest that adds `x-added: 1` to the request headers, only reads the response headers
/// (one value, then all pairs), and continues both.
const EDITS: &str = r#"(data (i32.const 100) "x-added1server")
    (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (drop (call $add (i32.const 0) (i32.const 100) (i32.const 7) (i32.const 107) (i32.const 1)))
      (i32.const 0))
    (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
      (drop (call $get (i32.const 2) (i32.const 108) (i32.const 6) (i32.const 200) (i32.const 204)))
      (drop (call $pairs (i32.const 2) (i32.const 208) (i32.const 212)))
      (i32.const 0))"#;

fn pool() -> Arc<Pool> {
    pool_of(COUNTING)
}

/// Two workers running the guest `body`.
fn pool_of(body: &str) -> Arc<Pool> {
    pool_with("", body)
}

/// Two workers running the guest `body` with `imports`.
fn pool_with(imports: &str, body: &str) -> Arc<Pool> {
    Arc::new(
        Pool::start(PoolConfig {
            wasm: module(imports, body),
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

/// A runtime for this thread, to wait on tasks and streams.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
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
    let rt = runtime();
    // The guest answered each request during the first poll, on worker 1's instance only.
    let answers = rt.block_on(task).unwrap();
    assert_eq!(
        answers,
        vec![Some(Some(601)), Some(Some(602)), Some(Some(603))]
    );
}

/// Holds worker `worker`'s thread in a task (the worker cannot take its inbox meanwhile) until a
/// stream arrives on the returned sender; the task drops that stream there, lets the worker take
/// its inbox, and returns what a new stream on that worker is answered.
fn hold(
    pool: &Arc<Pool>,
    worker: usize,
) -> (
    std::sync::mpsc::Sender<Stream>,
    tokio::task::JoinHandle<Option<u16>>,
) {
    let (tx, rx) = std::sync::mpsc::channel::<Stream>();
    let (holding, held) = std::sync::mpsc::channel();
    let p = pool.clone();
    let task = pool.runtime(worker).expect("worker").spawn(async move {
        holding.send(()).expect("the test waits");
        let stream = rx.recv().expect("a stream");
        drop(stream);
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        let mut stream = p.stream_on(worker, None);
        status(&mut stream).await
    });
    held.recv().expect("the task runs");
    (tx, task)
}

#[test]
fn a_stream_on_another_thread_goes_through_the_inbox() {
    let pool = pool();
    let rt = runtime();
    let (release, task) = hold(&pool, 0);
    // Not answered at the first poll: the phase waits in the inbox of a worker that is held.
    let mut stream = pool.stream_on(0, None);
    assert_eq!(poll_once(status(&mut stream)), None);
    release.send(pool.stream_on(0, None)).unwrap();
    // The queued phase counted as the instance's first request.
    assert_eq!(rt.block_on(task).unwrap(), Some(602));
    drop(stream);
    let mut stream = pool.stream_on(0, None);
    assert_eq!(rt.block_on(status(&mut stream)), Some(603));
}

#[test]
fn a_stream_moved_to_its_workers_thread_keeps_its_messages_in_order() {
    let pool = pool_of(LIVE);
    let rt = runtime();
    let (release, task) = hold(&pool, 0);
    // The first phase is queued from this thread; the stream then ends on worker 0's thread,
    // whose worker must take that phase before the close.
    let mut moved = pool.stream_on(0, None);
    assert_eq!(poll_once(status(&mut moved)), None);
    release.send(moved).unwrap();
    // Only the new stream's context is live: the moved one was created and then deleted.
    assert_eq!(rt.block_on(task).unwrap(), Some(601));
}

#[test]
fn a_headers_phase_answers_unchanged_unless_a_hostcall_changed_the_headers() {
    let pool = pool_with(HEADER_CALLS, EDITS);
    let rt = runtime();
    let mut stream = pool.stream_on(0, None);
    // The request headers were changed: the answer carries them, the added header included.
    let mut want = headers();
    want.push(("x-added".into(), "1".into()));
    let request = rt.block_on(stream.request_headers(headers(), false));
    assert_eq!(request, Ok(Verdict::Continue(Some(want))));
    // The response headers were only read: nothing to rebuild.
    let given = vec![
        (":status".to_owned(), "200".to_owned()),
        ("server".to_owned(), "upstream".to_owned()),
    ];
    let response = rt.block_on(stream.response_headers(given, true));
    assert_eq!(response, Ok(Verdict::Continue(None)));
}
