//! One HTTP request: builds the core's `Request` from the request headers, asks the engine, and
//! applies the answer. A paused request is finished later by `effects::resolve`.

use oidc_filter_core::decision::{Decision, Request};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, MapType};

use crate::shared::HostShared;
use crate::{effects, now, SharedVm};

pub(crate) struct Stream {
    id: u32,
    vm: SharedVm,
}

impl Stream {
    pub(crate) fn new(id: u32, vm: SharedVm) -> Stream {
        Stream { id, vm }
    }

    fn request(&self) -> Request {
        let all = self.get_http_request_headers();
        let (mut method, mut path) = (None, None);
        let mut headers = Vec::with_capacity(all.len());
        // The first `:method` and `:path` count; pseudo-headers are moved out, not copied.
        for (name, value) in all {
            match name.as_str() {
                ":method" => method = method.or(Some(value)),
                ":path" => path = path.or(Some(value)),
                n if n.starts_with(':') => {}
                _ => headers.push((name, value)),
            }
        }
        let property = |path: Vec<&str>| {
            hostcalls::get_property(path)
                .ok()
                .flatten()
                .and_then(|b| String::from_utf8(b).ok())
        };
        Request {
            method: method
                .or_else(|| property(vec!["request", "method"]))
                .unwrap_or_default(),
            path: path
                .or_else(|| property(vec!["request", "path"]))
                .unwrap_or_default(),
            source: property(vec!["source", "address"]),
            headers,
        }
    }
}

impl Context for Stream {
    fn on_http_call_response(
        &mut self,
        token: u32,
        _headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        effects::fetch_answered(self, self.id, &self.vm, token, body_size);
    }

    fn on_done(&mut self) -> bool {
        let mut vm = self.vm.borrow_mut();
        vm.engine.cancel(self.id);
        vm.response_headers.remove(&self.id);
        true
    }
}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let request = self.request();
        let decided =
            self.vm
                .borrow_mut()
                .engine
                .on_request(self.id, &request, now(), &mut HostShared);
        // A fetch refused at dispatch answers this very request while its callback still runs.
        let later = effects::drain(self, self.id, &self.vm);
        let decision = match (decided, later) {
            (Decision::Pause, Some(decision)) => decision,
            (decision, _) => decision,
        };
        match decision {
            Decision::Allow(allow) => {
                effects::apply_allow(&self.vm, self.id, &allow);
                Action::Continue
            }
            Decision::Deny(deny) => {
                effects::send_deny(&deny);
                Action::Pause
            }
            Decision::Pause => Action::Pause,
        }
    }

    /// Adds what the decision asked for on the way back (a rewritten session cookie).
    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let headers = self.vm.borrow_mut().response_headers.remove(&self.id);
        for (name, value) in headers.unwrap_or_default() {
            let _ = hostcalls::add_map_value(MapType::HttpResponseHeaders, &name, &value);
        }
        Action::Continue
    }
}
