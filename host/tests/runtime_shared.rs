//! Host-wide shared data (CAS), shared queues, effective-context changes and metrics.

mod guests;

use guests::{kit, module, GET};
use oidc_host::testkit::TestKit;

const THREE: &[(&str, &str)] = GET;
const FOUR: &[(&str, &str)] = &[
    (":method", "GET"),
    (":path", "/"),
    (":authority", "a"),
    ("x", "1"),
];

#[test]
fn shared_data_set_with_a_stale_cas_is_a_cas_mismatch() {
    // Sets k, reads its CAS, then sets again with cas+1 (3 headers) or the read cas (4 headers).
    let imports = r#"(import "env" "proxy_set_shared_data" (func $set (param i32 i32 i32 i32 i32) (result i32)))
      (import "env" "proxy_get_shared_data" (func $get (param i32 i32 i32 i32 i32) (result i32)))"#;
    let body = r#"(data (i32.const 100) "k") (data (i32.const 110) "v")
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (local $cas i32)
        (drop (call $set (i32.const 100) (i32.const 1) (i32.const 110) (i32.const 1) (i32.const 0)))
        (drop (call $get (i32.const 100) (i32.const 1) (i32.const 200) (i32.const 204) (i32.const 208)))
        (local.set $cas (i32.load (i32.const 208)))
        (if (i32.eq (local.get 1) (i32.const 3)) (then (local.set $cas (i32.add (local.get $cas) (i32.const 1)))))
        (call $reply (call $set (i32.const 100) (i32.const 1) (i32.const 110) (i32.const 1) (local.get $cas)))
        (i32.const 1))"#;
    let k = kit(&module(imports, body));
    assert_eq!(k.request(THREE).status, Some(608), "CAS_MISMATCH");
    assert_eq!(
        k.request(FOUR).status,
        Some(600),
        "OK with the current token"
    );
}

#[test]
fn shared_data_is_shared_across_workers() {
    // Each request increments a counter stored in shared data; with two workers the requests
    // alternate between instances, and the value still counts them all.
    let imports = r#"(import "env" "proxy_set_shared_data" (func $set (param i32 i32 i32 i32 i32) (result i32)))
      (import "env" "proxy_get_shared_data" (func $get (param i32 i32 i32 i32 i32) (result i32)))"#;
    let body = r#"(data (i32.const 100) "n")
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (local $n i32)
        (if (i32.eqz (call $get (i32.const 100) (i32.const 1) (i32.const 200) (i32.const 204) (i32.const 208)))
          (then (local.set $n (i32.load8_u (i32.load (i32.const 200))))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (i32.store8 (i32.const 120) (local.get $n))
        (drop (call $set (i32.const 100) (i32.const 1) (i32.const 120) (i32.const 1) (i32.const 0)))
        (call $reply (local.get $n)) (i32.const 1))"#;
    let k = TestKit::new(&module(imports, body), "{}", 2).unwrap();
    let statuses: Vec<_> = (0..4).map(|_| k.request(GET).status).collect();
    assert_eq!(statuses, vec![Some(601), Some(602), Some(603), Some(604)]);
}

#[test]
fn a_queue_ready_on_root_resumes_the_waiting_stream_through_set_effective_context() {
    // Root registers queue "q"; a stream stores its id, enqueues and pauses; on_queue_ready
    // (root) dequeues, switches to the stream, adds a header and continues it.
    let imports = r#"(import "env" "proxy_register_shared_queue" (func $reg (param i32 i32 i32) (result i32)))
      (import "env" "proxy_enqueue_shared_queue" (func $enq (param i32 i32 i32) (result i32)))
      (import "env" "proxy_dequeue_shared_queue" (func $deq (param i32 i32 i32) (result i32)))
      (import "env" "proxy_set_effective_context" (func $eff (param i32) (result i32)))
      (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
      (import "env" "proxy_continue_stream" (func $cont (param i32) (result i32)))
      (import "env" "proxy_define_metric" (func $def (param i32 i32 i32 i32) (result i32)))
      (import "env" "proxy_increment_metric" (func $inc (param i32 i64) (result i32)))"#;
    let body = r#"(data (i32.const 100) "q") (data (i32.const 110) "m") (data (i32.const 120) "x-q")
      (data (i32.const 130) "yes") (data (i32.const 140) "dequeued")
      (global $q (mut i32) (i32.const 0)) (global $waiting (mut i32) (i32.const 0))
      (func (export "proxy_on_configure") (param i32 i32) (result i32)
        (drop (call $reg (i32.const 100) (i32.const 1) (i32.const 300)))
        (global.set $q (i32.load (i32.const 300))) (i32.const 1))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (global.set $waiting (local.get 0))
        (drop (call $enq (global.get $q) (i32.const 110) (i32.const 1)))
        (i32.const 1))
      (func (export "proxy_on_queue_ready") (param i32 i32)
        (if (i32.eqz (call $deq (local.get 1) (i32.const 320) (i32.const 324)))
          (then
            (drop (call $def (i32.const 0) (i32.const 140) (i32.const 8) (i32.const 330)))
            (drop (call $inc (i32.load (i32.const 330)) (i64.load8_u (i32.load (i32.const 320)))))))
        (if (i32.eqz (call $eff (global.get $waiting)))
          (then
            (drop (call $add (i32.const 0) (i32.const 120) (i32.const 3) (i32.const 130) (i32.const 3)))
            (drop (call $cont (i32.const 0))))))"#;
    let k = kit(&module(imports, body));
    let o = k.request(GET);
    assert!(o.allowed(), "{o:?}");
    assert_eq!(o.upstream_header("x-q"), Some("yes"));
    assert_eq!(k.metric("dequeued"), Some(u64::from(b'm')));
}
