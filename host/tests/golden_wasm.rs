//! The golden cases of `testdata/golden/`, run through the real `oidc_filter.wasm` in the host's test
//! kit: manual clock, IdP documents served as scripted callout answers, no sockets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use oidc_host::runtime::CalloutResult;
use oidc_host::testkit::{Outcome, TestKit};
use oidc_testdata::golden::{self, Case};
use oidc_testdata::NOW;

fn kit(case: &Case) -> TestKit {
    let wasm = std::fs::read(env!("OIDC_FILTER_WASM")).unwrap();
    let kit = TestKit::builder(&wasm)
        .plugin_config(case.config())
        .workers(1)
        .start_at_unix_secs(NOW)
        .start()
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let idp = golden::cases()
        .into_iter()
        .find(|c| c.name == case.name)
        .unwrap();
    kit.respond_with(move |call| {
        let path = call
            .headers
            .iter()
            .find(|(n, _)| n == ":path")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let (status, body) = idp.serve(&path).unwrap_or((404, Vec::new()));
        Some(CalloutResult::Response {
            headers: vec![(":status".into(), status.to_string())],
            body,
            trailers: vec![],
        })
    });
    kit
}

fn audit_reason(kit: &TestKit) -> Option<String> {
    kit.logs().iter().rev().find_map(|l| {
        let json = l.message.strip_prefix("oidc audit ")?;
        let v: serde_json::Value = serde_json::from_str(json).ok()?;
        Some(v["reason"].as_str()?.to_string())
    })
}

fn run(case: &Case) -> (Outcome, Option<String>) {
    let kit = kit(case);
    // Let the first tick start discovery and key fetches.
    kit.advance(std::time::Duration::from_millis(200));
    let mut headers: Vec<(String, String)> = vec![
        (":method".into(), case.request.method.clone()),
        (":path".into(), case.request.path.clone()),
        (":authority".into(), "api.example".into()),
        (":scheme".into(), "https".into()),
    ];
    headers.extend(case.request_headers(NOW));
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let outcome = kit.request(&refs);
    let reason = audit_reason(&kit);
    (outcome, reason)
}

#[test]
fn every_golden_case_has_its_expected_outcome_through_the_wasm_filter() {
    let cases = golden::cases();
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for case in &cases {
        let (out, reason) = run(case);
        let e = &case.expect;
        let mut problems = Vec::new();
        let status = if out.allowed() {
            200
        } else {
            out.status.unwrap_or(0)
        };
        if status != e.status {
            problems.push(format!(
                "status {status} (want {}), paused={}",
                e.status, out.paused
            ));
        }
        if reason.as_deref() != Some(e.reason.as_str()) {
            problems.push(format!("reason {reason:?} (want {})", e.reason));
        }
        for (name, value) in &e.upstream_headers {
            if out.upstream_header(name) != Some(value.as_str()) {
                problems.push(format!(
                    "upstream {name}: {:?} (want {value})",
                    out.upstream_header(name)
                ));
            }
        }
        for name in &e.upstream_headers_absent {
            if out.upstream_header(name).is_some() {
                problems.push(format!("upstream {name} present"));
            }
        }
        for part in &e.www_authenticate_contains {
            let challenge = out.response_header("www-authenticate").unwrap_or_default();
            if !challenge.contains(part.as_str()) {
                problems.push(format!("challenge {challenge:?} lacks {part}"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", case.name, problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
