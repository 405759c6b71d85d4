//! How much linear memory one filter instance needs: runs every token of `DIR/tokens.txt` (written
//! by the `load_tokens` example; each token is first seen, so the verified-token cache fills) through
//! the embedded `oidc_filter.wasm` in the host's runtime, one worker, with the instance's memory
//! capped by `Limits::max_instance_memory_bytes`, and bisects the smallest cap (in 64 KiB wasm pages)
//! under which no request fails and the instance is never replaced. That cap is the instance's peak
//! linear memory for the run.
//!
//! `cargo run --release -p oidc-benches --example instance_memory -- DIR`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use oidc_host::clock::SystemClock;
use oidc_host::limits::Limits;
use oidc_host::runtime::{Callout, CalloutResult, CalloutSender, Pool, PoolConfig, Verdict};

const PAGE: usize = 64 * 1024;

struct NoCallouts;

impl CalloutSender for NoCallouts {
    fn send(&self, _call: Callout, done: Box<dyn FnOnce(CalloutResult) + Send>) {
        done(CalloutResult::Failed {
            reason: "keys are inline".into(),
        });
    }
}

/// Requests that did not pass, or `None` when the pool cannot even start under this cap.
fn failures(config: &str, tokens: &[String], max_memory: usize) -> Option<usize> {
    let limits = Limits {
        max_instance_memory_bytes: max_memory,
        ..Limits::default()
    };
    let pool = Pool::start(PoolConfig {
        wasm: oidc_host::embedded::FILTER_WASM.to_vec(),
        plugin_config: config.as_bytes().to_vec(),
        vm_config: Vec::new(),
        plugin_name: "oidc".into(),
        root_id: String::new(),
        workers: 1,
        limits,
        clock: Arc::new(SystemClock::new()),
        callouts: Arc::new(NoCallouts),
    })
    .ok()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let source = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);
    let mut failed = 0;
    for token in tokens {
        let mut stream = pool.stream(Some(source));
        let headers = vec![
            (":method".into(), "GET".into()),
            (":path".into(), "/".into()),
            (":authority".into(), "api.example".into()),
            (":scheme".into(), "http".into()),
            ("authorization".into(), format!("Bearer {token}")),
        ];
        match rt.block_on(stream.request_headers(headers, true)) {
            Ok(Verdict::Continue(_)) => {}
            _ => failed += 1,
        }
    }
    let restarts = pool
        .metrics()
        .iter()
        .find(|m| m.name == "oidc_host_instance_restarts_total")
        .map_or(0, |m| m.value);
    Some(failed + usize::try_from(restarts).unwrap())
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: instance_memory DIR"));
    let jwks = std::fs::read_to_string(dir.join("jwks.json")).unwrap();
    let config = format!(
        r#"{{"providers":[{{"name":"bench","issuer":"https://idp.example.com","audiences":["api"],"jwks":{jwks}}}]}}"#
    );
    let tokens: Vec<String> = std::fs::read_to_string(dir.join("tokens.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let (mut lo, mut hi) = (1usize, 1024usize); // pages: lo fails (or is untested), hi must pass
    assert_eq!(
        failures(&config, &tokens, hi * PAGE),
        Some(0),
        "fails even with {} MiB",
        (hi * PAGE) >> 20
    );
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        let f = failures(&config, &tokens, mid * PAGE);
        eprintln!("cap {mid} pages ({} KiB): {f:?} failures", mid * 64);
        if f == Some(0) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    println!(
        "instance linear memory after {} first-seen tokens: {} pages = {:.2} MiB",
        tokens.len(),
        hi,
        (hi * PAGE) as f64 / (1024.0 * 1024.0)
    );
}
