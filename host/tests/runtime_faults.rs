//! Faults: a trap or a missed deadline fails the streams the instance held closed (503) and a
//! fresh instance serves the next request.

mod guests;

use std::time::Duration;

use guests::{kit, kit_with, module, GET};
use oidc_host::limits::Limits;
use oidc_host::runtime::FilterFailure;

/// Traps on requests with 4 headers, pauses on 5, continues otherwise.
const TRAPPER: &str = r#"
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (if (i32.eq (local.get 1) (i32.const 4)) (then unreachable))
    (if (i32.eq (local.get 1) (i32.const 5)) (then (return (i32.const 1))))
    (i32.const 0))"#;

const FOUR: &[(&str, &str)] = &[
    (":method", "GET"),
    (":path", "/"),
    (":authority", "a"),
    ("x-trap", "1"),
];
const FIVE: &[(&str, &str)] = &[
    (":method", "GET"),
    (":path", "/"),
    (":authority", "a"),
    ("x", "1"),
    ("y", "2"),
];

#[test]
fn a_trap_fails_the_request_with_503_and_a_fresh_instance_serves_the_next() {
    let k = kit(&module("", TRAPPER));
    let o = k.request(FOUR);
    assert_eq!(o.status, Some(503));
    assert!(
        matches!(o.failure, Some(FilterFailure::Trapped(_))),
        "{o:?}"
    );
    assert!(k.request(GET).allowed());
    assert_eq!(k.metric("oidc_host_instance_restarts_total"), Some(1));
}

#[test]
fn a_trap_also_fails_the_paused_streams_the_instance_held() {
    let k = kit(&module("", TRAPPER));
    let mut held = k.start_request(FIVE);
    assert!(k.outcome(&mut held).paused);
    assert_eq!(k.request(FOUR).status, Some(503));
    let o = k.outcome(&mut held);
    assert_eq!(o.status, Some(503), "{o:?}");
    assert!(k.request(GET).allowed());
}

#[test]
fn an_endless_loop_hits_the_deadline_and_the_instance_is_replaced() {
    let body = r#"
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (if (i32.eq (local.get 1) (i32.const 4)) (then (loop $spin (br $spin))))
        (i32.const 0))"#;
    let limits = Limits {
        callback_deadline: Duration::from_millis(50),
        ..Limits::default()
    };
    let k = kit_with(&module("", body), limits);
    let o = k.request(FOUR);
    assert_eq!(o.failure, Some(FilterFailure::DeadlineExceeded));
    assert_eq!(o.status, Some(503));
    assert!(k.request(GET).allowed());
}

#[test]
fn a_guest_that_grows_memory_past_the_cap_cannot() {
    let body = r#"
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (call $reply (i32.add (i32.const 1) (memory.grow (i32.const 2000)))) (i32.const 1))"#;
    let limits = Limits {
        max_instance_memory_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let k = kit_with(&module("", body), limits);
    // memory.grow answers -1 under the cap, so the guest replies 600 + 0.
    assert_eq!(k.request(GET).status, Some(600));
}
