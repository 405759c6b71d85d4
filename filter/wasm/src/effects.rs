//! Carries out the engine's effects: callouts, replies to paused requests, logs and metrics; and
//! feeds callout answers back. Replies to other requests go through `proxy_set_effective_context`,
//! after which the calling context is made effective again so later hostcalls stay its own.

use oidc_filter_core::decision::Decision;
use oidc_filter_core::engine::{Effect, Fetch, FetchResult, Level};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::Context;
use proxy_wasm::types::{BufferType, LogLevel, MapType};

use crate::shared::HostShared;
use crate::{log, now, SharedVm};

/// What an audit log line starts with; the record's JSON follows.
const AUDIT_PREFIX: &str = "oidc audit ";
/// Room for a typical audit line, so building one allocates once.
const AUDIT_LINE_CAPACITY: usize = 320;

/// Drains the engine's effects. `own` is the context whose callback is running.
pub(crate) fn run(ctx: &dyn Context, own: u32, vm: &SharedVm) {
    if let Some(decision) = drain(ctx, own, vm) {
        resolve(vm, own, &decision);
        restore(own);
    }
}

/// Drains the engine's effects, carrying out all but the decision for `own` itself, which is
/// returned: while `own`'s request-headers callback runs, its answer must be the callback's return
/// value (a `proxy_continue_stream` for a stream that has not paused yet is lost in Envoy).
pub(crate) fn drain(ctx: &dyn Context, own: u32, vm: &SharedVm) -> Option<Decision> {
    let mut resolves = Vec::new();
    let mut mine = None;
    loop {
        let Some(effect) = vm.borrow_mut().engine.poll_effect() else {
            break;
        };
        match effect {
            Effect::Fetch(fetch) => dispatch(ctx, vm, &fetch),
            Effect::Resolve { request, decision } if request == own => mine = Some(decision),
            Effect::Resolve { request, decision } => resolves.push((request, decision)),
            Effect::Log { level, message } => log(log_level(level), &message),
            // Written whatever the host's log level: `proxy_get_log_level` would tell, but Kong's
            // ngx_wasm_module registers it as not implemented and with another signature than
            // the ABI's, so a module importing it does not load there.
            Effect::Audit(audit) => {
                let mut line = String::with_capacity(AUDIT_LINE_CAPACITY);
                line.push_str(AUDIT_PREFIX);
                audit.write_json(&mut line);
                log(LogLevel::Info, &line);
            }
            Effect::Count(metric) => {
                let id = metric
                    .index()
                    .and_then(|i| vm.borrow().metrics.get(i).copied().flatten());
                if let Some(id) = id {
                    let _ = hostcalls::increment_metric(id, 1);
                }
            }
        }
    }
    // Only replies to other requests change the effective context.
    if !resolves.is_empty() {
        for (request, decision) in resolves {
            resolve(vm, request, &decision);
        }
        restore(own);
    }
    mine
}

/// Makes the running callback's context effective again after replies to other requests.
fn restore(own: u32) {
    if own != 0 {
        let _ = hostcalls::set_effective_context(own);
    }
}

fn dispatch(ctx: &dyn Context, vm: &SharedVm, fetch: &Fetch) {
    let mut headers = vec![
        (":method", fetch.method),
        (":path", fetch.path.as_str()),
        (":authority", fetch.authority.as_str()),
        (":scheme", fetch.scheme),
        ("user-agent", "oidc-filter"),
    ];
    if !fetch.headers.iter().any(|(n, _)| n == "accept") {
        headers.push(("accept", "application/json"));
    }
    headers.extend(fetch.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let body = (!fetch.body.is_empty()).then_some(fetch.body.as_slice());
    match ctx.dispatch_http_call(&fetch.upstream, headers, body, vec![], fetch.timeout) {
        Ok(token) => {
            vm.borrow_mut().callouts.insert(token, fetch.id);
        }
        Err(status) => {
            let reason = format!("dispatch to {} refused: {status:?}", fetch.upstream);
            vm.borrow_mut().engine.on_fetch_response(
                fetch.id,
                FetchResult::Failed(reason),
                now(),
                &mut HostShared,
            );
        }
    }
}

/// Applies a decision to a paused request of this VM.
fn resolve(vm: &SharedVm, request: u32, decision: &Decision) {
    if hostcalls::set_effective_context(request).is_err() {
        return; // the request is gone
    }
    match decision {
        Decision::Allow(allow) => {
            apply_allow(vm, request, allow);
            let _ = hostcalls::resume_http_request();
        }
        Decision::Deny(deny) => send_deny(deny),
        Decision::Pause => {}
    }
}

/// Applies an allow decision to the request headers of the effective context `request`, and keeps
/// its response headers for `on_http_response_headers`.
pub(crate) fn apply_allow(vm: &SharedVm, request: u32, allow: &oidc_filter_core::decision::Allow) {
    if !allow.response_headers.is_empty() {
        vm.borrow_mut()
            .response_headers
            .insert(request, allow.response_headers.clone());
    }
    for name in &allow.remove_headers {
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, None);
    }
    for (name, value) in &allow.set_headers {
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value));
    }
    if let Some(path) = &allow.new_path {
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, ":path", Some(path));
    }
}

/// Sends a local reply: a refusal or a login redirect. Repeated names (`set-cookie`) are sent as
/// separate headers.
pub(crate) fn send_deny(deny: &oidc_filter_core::decision::Deny) {
    let headers: Vec<(&str, &str)> = deny
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let _ =
        hostcalls::send_http_response(u32::from(deny.status), headers, Some(deny.body.as_bytes()));
}

/// A callout answered (on whichever context dispatched it).
pub(crate) fn fetch_answered(
    ctx: &dyn Context,
    own: u32,
    vm: &SharedVm,
    token: u32,
    body_size: usize,
) {
    let Some(id) = vm.borrow_mut().callouts.remove(&token) else {
        return;
    };
    let headers = hostcalls::get_map(MapType::HttpCallResponseHeaders).unwrap_or_default();
    let status = headers
        .iter()
        .find(|(n, _)| n == ":status")
        .and_then(|(_, v)| v.parse::<u16>().ok());
    let result = match status {
        Some(status) => {
            let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
                .ok()
                .flatten()
                .unwrap_or_default();
            FetchResult::Response { status, body }
        }
        // No response: ngx_wasm_module says why in `:dispatch_status`; Envoy gives no headers.
        None => {
            let why = headers
                .iter()
                .find(|(n, _)| n == ":dispatch_status")
                .map(|(_, v)| v.as_str());
            FetchResult::Failed(format!(
                "no response ({})",
                why.unwrap_or("connection failed or timed out")
            ))
        }
    };
    vm.borrow_mut()
        .engine
        .on_fetch_response(id, result, now(), &mut HostShared);
    run(ctx, own, vm);
}

fn log_level(level: Level) -> LogLevel {
    match level {
        Level::Debug => LogLevel::Debug,
        Level::Info => LogLevel::Info,
        Level::Warn => LogLevel::Warn,
        Level::Error => LogLevel::Error,
    }
}
