//! The golden cases of `testdata/golden/`, run through the core with a fixed clock and the IdP's
//! documents served from the case. The host runs the same cases through the `.wasm` and the proxy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use oidc_filter_core::config::Config;
use oidc_filter_core::engine::{Effect, Engine, FetchResult};
use oidc_filter_core::shared::MemoryShared;
use oidc_filter_core::{Decision, Request};
use oidc_testdata::golden::{self, Case};
use oidc_testdata::NOW;

struct Outcome {
    status: u16,
    reason: String,
    upstream: Vec<(String, String)>,
    challenge: Option<String>,
}

/// Carries out fetches from the case's IdP until the engine has nothing left to fetch.
fn settle(
    engine: &mut Engine,
    case: &Case,
    now: Duration,
    shared: &mut MemoryShared,
    log: &mut Vec<Effect>,
) {
    for _ in 0..20 {
        let mut fetched = false;
        while let Some(effect) = engine.poll_effect() {
            if let Effect::Fetch(f) = &effect {
                fetched = true;
                let result = match case.serve(&f.path) {
                    Some((status, body)) => FetchResult::Response { status, body },
                    None => FetchResult::Response {
                        status: 404,
                        body: vec![],
                    },
                };
                engine.on_fetch_response(f.id, result, now, shared);
            } else {
                log.push(effect);
            }
        }
        if !fetched {
            return;
        }
    }
    panic!("{}: fetches never settle", case.name);
}

fn run(case: &Case) -> Outcome {
    let config = Config::from_json(case.config().as_bytes())
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let mut engine = Engine::new(config, 1).unwrap();
    let mut shared = MemoryShared::new();
    let now = Duration::from_secs(NOW);
    let mut log = Vec::new();
    engine.on_tick(now, &mut shared);
    settle(&mut engine, case, now, &mut shared, &mut log);
    log.clear();

    let mut headers = case.request_headers(NOW);
    let request = Request {
        method: case.request.method.clone(),
        path: case.request.path.clone(),
        headers: headers.clone(),
        source: Some("127.0.0.1:40000".into()),
    };
    let mut decision = engine.on_request(7, &request, now, &mut shared);
    settle(&mut engine, case, now, &mut shared, &mut log);
    if decision == Decision::Pause {
        decision = log
            .iter()
            .find_map(|e| match e {
                Effect::Resolve {
                    request: 7,
                    decision,
                } => Some(decision.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{}: paused and never resolved", case.name));
    }
    let reason = log
        .iter()
        .find_map(|e| match e {
            Effect::Audit(a) => Some(a.reason.to_string()),
            _ => None,
        })
        .unwrap_or_default();
    match decision {
        Decision::Allow(allow) => {
            headers.retain(|(n, _)| {
                !allow
                    .remove_headers
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(n))
            });
            for (n, v) in allow.set_headers {
                headers.retain(|(h, _)| !h.eq_ignore_ascii_case(&n));
                headers.push((n, v));
            }
            Outcome {
                status: 200,
                reason,
                upstream: headers,
                challenge: None,
            }
        }
        Decision::Deny(deny) => {
            let challenge = deny
                .headers
                .iter()
                .find(|(n, _)| n == "www-authenticate")
                .map(|(_, v)| v.clone());
            Outcome {
                status: deny.status,
                reason,
                upstream: vec![],
                challenge,
            }
        }
        Decision::Pause => unreachable!(),
    }
}

#[test]
fn every_golden_case_has_its_expected_outcome_through_the_core() {
    let cases = golden::cases();
    assert!(cases.len() >= 20, "golden cases found: {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let out = run(case);
        let e = &case.expect;
        let header = |name: &str| {
            out.upstream
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let mut problems = Vec::new();
        if out.status != e.status {
            problems.push(format!("status {} (want {})", out.status, e.status));
        }
        if out.reason != e.reason {
            problems.push(format!("reason {} (want {})", out.reason, e.reason));
        }
        for (name, value) in &e.upstream_headers {
            if header(name) != Some(value.as_str()) {
                problems.push(format!(
                    "upstream {name}: {:?} (want {value})",
                    header(name)
                ));
            }
        }
        for name in &e.upstream_headers_absent {
            if header(name).is_some() {
                problems.push(format!("upstream {name} present"));
            }
        }
        for part in &e.www_authenticate_contains {
            if !out
                .challenge
                .as_deref()
                .unwrap_or_default()
                .contains(part.as_str())
            {
                problems.push(format!("challenge {:?} lacks {part}", out.challenge));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", case.name, problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
