//! Callouts: `proxy_http_call` reaches the sender, and the answer reaches the context that
//! dispatched it — the stream, or the root context for calls made in `proxy_on_tick`.

mod guests;

use std::time::Duration;

use guests::{kit, module, GET};
use oidc_host::abi::map::serialize;
use oidc_host::runtime::CalloutResult;

fn wat_bytes(b: &[u8]) -> String {
    b.iter().map(|x| format!("\\{x:02x}")).collect()
}

/// Imports and data for a GET callout to upstream "idp" (data at 100 and 200).
fn call_setup() -> (String, String, String) {
    let headers = serialize(&[
        (":method".into(), "GET".into()),
        (":path".into(), "/jwks".into()),
        (":authority".into(), "idp".into()),
    ]);
    let imports = r#"(import "env" "proxy_http_call" (func $call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
      (import "env" "proxy_set_tick_period_milliseconds" (func $tick (param i32) (result i32)))
      (import "env" "proxy_define_metric" (func $def (param i32 i32 i32 i32) (result i32)))
      (import "env" "proxy_record_metric" (func $rec (param i32 i64) (result i32)))"#
        .to_string();
    let data = format!(
        r#"(data (i32.const 100) "idp") (data (i32.const 120) "answered_on") (data (i32.const 200) "{}")"#,
        wat_bytes(&headers)
    );
    let call = format!(
        "(call $call (i32.const 100) (i32.const 3) (i32.const 200) (i32.const {}) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 300))",
        headers.len()
    );
    (imports, data, call)
}

fn ok_response() -> CalloutResult {
    CalloutResult::Response {
        headers: vec![
            (":status".into(), "200".into()),
            ("content-type".into(), "application/json".into()),
        ],
        body: b"{}".to_vec(),
        trailers: vec![],
    }
}

/// A stream dispatches a callout and pauses; the answer replies 600 + the number of response
/// headers, which only works on the stream context.
fn stream_caller() -> Vec<u8> {
    let (imports, data, call) = call_setup();
    let body = format!(
        r#"{data}
        (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
          (drop {call}) (i32.const 1))
        (func (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32)
          (call $reply (local.get 2)))"#
    );
    module(&imports, &body)
}

#[test]
fn a_callout_answer_reaches_the_stream_that_dispatched_it() {
    let k = kit(&stream_caller());
    let mut p = k.start_request(GET);
    assert!(k.outcome(&mut p).paused);
    let calls = k.pending_callouts();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].upstream, "idp");
    assert_eq!(calls[0].timeout, Duration::from_secs(1));
    assert!(calls[0]
        .headers
        .contains(&(":path".to_string(), "/jwks".to_string())));
    assert_eq!(k.answer_callouts(|_| Some(ok_response())), 1);
    assert_eq!(k.outcome(&mut p).status, Some(602));
    assert_eq!(k.callouts_made(), 1);
}

#[test]
fn a_timed_out_callout_is_answered_with_zero_headers() {
    let k = kit(&stream_caller());
    let mut p = k.start_request(GET);
    assert!(k.outcome(&mut p).paused);
    k.advance(Duration::from_secs(2));
    assert_eq!(k.outcome(&mut p).status, Some(600));
    assert!(k.pending_callouts().is_empty());
}

#[test]
fn a_callout_made_in_on_tick_is_answered_on_the_root_context() {
    let (imports, data, call) = call_setup();
    let body = format!(
        r#"{data}
        (func (export "proxy_on_configure") (param i32 i32) (result i32)
          (drop (call $tick (i32.const 1000))) (i32.const 1))
        (func (export "proxy_on_tick") (param i32) (drop {call}))
        (func (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32)
          (drop (call $def (i32.const 1) (i32.const 120) (i32.const 11) (i32.const 400)))
          (drop (call $rec (i32.load (i32.const 400)) (i64.extend_i32_u (local.get 0)))))"#
    );
    let k = kit(&module(&imports, &body));
    assert_eq!(k.callouts_made(), 0);
    k.advance(Duration::from_millis(999));
    assert_eq!(k.callouts_made(), 0, "no tick before the period");
    k.advance(Duration::from_millis(1));
    assert_eq!(k.callouts_made(), 1);
    k.answer_callouts(|_| Some(ok_response()));
    assert_eq!(k.metric("answered_on"), Some(1), "root context id");
}

#[test]
fn a_responder_answers_callouts_as_they_are_made() {
    let k = kit(&stream_caller());
    k.respond_with(|c| (c.upstream == "idp").then(ok_response));
    assert_eq!(k.request(GET).status, Some(602));
    assert_eq!(k.request(GET).status, Some(602));
    assert_eq!(k.callouts_made(), 2);
}
