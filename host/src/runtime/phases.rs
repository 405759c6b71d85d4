//! The worker's stream phases, callout and queue deliveries, ticks, and the application of the
//! actions hostcalls recorded (continue, local response, close, done).

use std::time::Duration;

use super::engine::{ctx, i, Pick};
use super::messages::{Answer, Phase, PhaseResult, StreamEvent};
use super::worker::Worker;
use super::{CalloutResult, FilterFailure, LocalResponse};
use crate::abi::{map_type, Action, CallResponse};

/// `proxy_on_request_headers`, `proxy_on_request_body` and their response twins.
type PhaseFn = Pick<(i32, i32, i32), i32>;
/// `proxy_on_request_trailers` / `proxy_on_response_trailers`.
type TrailersFn = Pick<(i32, i32), i32>;

impl Worker {
    /// Runs one phase callback. `Ok(None)`: the stream vanished during the callback.
    pub(super) fn run_phase(
        &mut self,
        context: u32,
        event: StreamEvent,
    ) -> Result<Option<PhaseResult>, FilterFailure> {
        let cap = self.cfg.limits.max_body_buffered_bytes;
        let Some(vm) = self.vm.as_mut() else {
            return Err(FilterFailure::WorkerGone);
        };
        let Some(d) = vm.host().streams.get_mut(&context) else {
            return Ok(None);
        };
        let c = ctx(context);
        let (phase, eos) = match &event {
            StreamEvent::RequestHeaders(_, e) => (Phase::RequestHeaders, *e),
            StreamEvent::RequestBody(_, e) => (Phase::RequestBody, *e),
            StreamEvent::RequestTrailers(_) => (Phase::RequestTrailers, true),
            StreamEvent::ResponseHeaders(_, e) => (Phase::ResponseHeaders, *e),
            StreamEvent::ResponseBody(_, e) => (Phase::ResponseBody, *e),
            StreamEvent::ResponseTrailers(_) => (Phase::ResponseTrailers, true),
        };
        let too_large = |status: u16| {
            Ok(Some(PhaseResult::Answer(Answer::Respond(LocalResponse {
                status,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: "body too large for the filter to buffer\n".into(),
            }))))
        };
        // Envoy answers 413 when a buffered request body overflows, 500 for a response body.
        let (f, n): (PhaseFn, usize) = match event {
            StreamEvent::RequestHeaders(h, _) => {
                let n = h.len();
                d.give(map_type::REQUEST_HEADERS, h);
                (|x| x.on_request_headers.as_ref(), n)
            }
            StreamEvent::ResponseHeaders(h, _) => {
                let n = h.len();
                d.give(map_type::RESPONSE_HEADERS, h);
                (|x| x.on_response_headers.as_ref(), n)
            }
            StreamEvent::RequestBody(b, _) => {
                if d.request_body.len() + b.len() > cap {
                    return too_large(413);
                }
                d.request_body.extend_from_slice(&b);
                let n = d.request_body.len();
                (|x| x.on_request_body.as_ref(), n)
            }
            StreamEvent::ResponseBody(b, _) => {
                if d.response_body.len() + b.len() > cap {
                    return too_large(500);
                }
                d.response_body.extend_from_slice(&b);
                let n = d.response_body.len();
                (|x| x.on_response_body.as_ref(), n)
            }
            StreamEvent::RequestTrailers(t) => {
                let n = t.len();
                d.give(map_type::REQUEST_TRAILERS, t);
                let f: TrailersFn = |x| x.on_request_trailers.as_ref();
                return self.finish_phase(context, phase, eos, f, (c, i(n)));
            }
            StreamEvent::ResponseTrailers(t) => {
                let n = t.len();
                d.give(map_type::RESPONSE_TRAILERS, t);
                let f: TrailersFn = |x| x.on_response_trailers.as_ref();
                return self.finish_phase(context, phase, eos, f, (c, i(n)));
            }
        };
        let eos_arg = i32::from(eos);
        let action = vm.call(f, context, (c, i(n), eos_arg)).unwrap_or(Ok(0))?;
        self.after_phase(context, phase, eos, action)
    }

    fn finish_phase(
        &mut self,
        context: u32,
        phase: Phase,
        eos: bool,
        f: TrailersFn,
        args: (i32, i32),
    ) -> Result<Option<PhaseResult>, FilterFailure> {
        let Some(vm) = self.vm.as_mut() else {
            return Err(FilterFailure::WorkerGone);
        };
        let action = vm.call(f, context, args).unwrap_or(Ok(0))?;
        self.after_phase(context, phase, eos, action)
    }

    fn after_phase(
        &mut self,
        context: u32,
        phase: Phase,
        eos: bool,
        action: i32,
    ) -> Result<Option<PhaseResult>, FilterFailure> {
        self.apply_actions()?;
        let Some(vm) = self.vm.as_mut() else {
            return Err(FilterFailure::WorkerGone);
        };
        let Some(d) = vm.host().streams.get_mut(&context) else {
            return Ok(None);
        };
        if action == 0 {
            return Ok(Some(PhaseResult::Answer(phase.value(d))));
        }
        // Pausing a body chunk that is not the last one buffers it (StopIterationAndBuffer):
        // nothing is passed on yet and the next chunk is appended.
        if matches!(phase, Phase::RequestBody | Phase::ResponseBody) && !eos {
            return Ok(Some(PhaseResult::Answer(Answer::Body(bytes::Bytes::new()))));
        }
        Ok(Some(PhaseResult::Paused(phase)))
    }

    /// Applies what hostcalls recorded, after the callback has returned. `Done` runs the
    /// context's final callbacks, which may record more; loop until nothing is left.
    pub(super) fn apply_actions(&mut self) -> Result<(), FilterFailure> {
        self.after_callback();
        for _ in 0..64 {
            let Some(vm) = self.vm.as_mut() else {
                return Ok(());
            };
            let actions = std::mem::take(&mut vm.host().actions);
            if actions.is_empty() {
                return Ok(());
            }
            for a in actions {
                match a {
                    Action::Continue { context, stream } => self.resume(context, stream),
                    Action::LocalResponse { context, response } => self.respond(context, response),
                    Action::Close { context, .. } => self.respond(
                        context,
                        LocalResponse {
                            status: 503,
                            headers: Vec::new(),
                            body: bytes::Bytes::new(),
                        },
                    ),
                    Action::Done { context } => self.finalize(context)?,
                }
            }
            self.after_callback();
        }
        Ok(())
    }

    fn resume(&mut self, context: u32, stream: crate::abi::StreamType) {
        let Some(slot) = self.slots.get_mut(&context) else {
            return;
        };
        let matches = slot
            .pending
            .as_ref()
            .is_some_and(|(p, _)| p.direction() == stream);
        if !matches {
            return;
        }
        let Some((phase, reply)) = slot.pending.take() else {
            return;
        };
        let Some(d) = self
            .vm
            .as_mut()
            .and_then(|vm| vm.host().streams.get_mut(&context))
        else {
            return reply.send(Err(FilterFailure::Trapped("stream state lost".into())));
        };
        reply.send(Ok(phase.value(d)));
    }

    fn respond(&mut self, context: u32, response: LocalResponse) {
        let Some(slot) = self.slots.get_mut(&context) else {
            return;
        };
        match slot.pending.take() {
            Some((_, reply)) => reply.send(Ok(Answer::Respond(response))),
            None => slot.local = Some(response),
        }
    }

    /// `proxy_on_log` and `proxy_on_delete`, then forget the context.
    fn finalize(&mut self, context: u32) -> Result<(), FilterFailure> {
        let Some(vm) = self.vm.as_mut() else {
            return Ok(());
        };
        vm.call(|x| x.on_log.as_ref(), context, ctx(context))
            .unwrap_or(Ok(()))?;
        vm.call(|x| x.on_delete.as_ref(), context, ctx(context))
            .unwrap_or(Ok(()))?;
        vm.host().streams.remove(&context);
        vm.host().calls.retain(|_, owner| *owner != context);
        Ok(())
    }

    /// The proxy dropped the stream: `proxy_on_done`, then (unless it defers) log and delete.
    pub(super) fn close(&mut self, context: u32) {
        if self.slots.remove(&context).is_none() {
            return;
        }
        let Some(vm) = self.vm.as_mut() else { return };
        let done = vm
            .call(|x| x.on_done.as_ref(), context, ctx(context))
            .unwrap_or(Ok(1));
        let r = match done {
            Ok(0) => {
                vm.host().awaiting_done.insert(context);
                Ok(())
            }
            Ok(_) => self.finalize(context),
            Err(e) => Err(e),
        };
        if let Err(e) = r.and_then(|()| self.apply_actions()) {
            self.fail(e, None);
        }
    }

    /// Delivers a callout answer to the context that dispatched it.
    pub(super) fn callout_done(&mut self, call_id: u32, result: CalloutResult) {
        let cap = self.cfg.limits.max_callout_response_bytes;
        let Some(vm) = self.vm.as_mut() else { return };
        let Some(owner) = vm.host().calls.remove(&call_id) else {
            return;
        };
        let root = vm.host().root_context;
        if owner != root && !vm.host().streams.contains_key(&owner) {
            return;
        }
        if vm.ex.on_http_call_response.is_none() {
            return;
        }
        let failed = |reason: String| CallResponse {
            headers: vec![(":dispatch_status".into(), reason)],
            ..CallResponse::default()
        };
        let (resp, counts) = match result {
            CalloutResult::Response { body, .. } if body.len() > cap => {
                (failed("response too large".into()), (0, 0, 0))
            }
            CalloutResult::Response {
                headers,
                body,
                trailers,
            } => {
                let counts = (headers.len(), body.len(), trailers.len());
                (
                    CallResponse {
                        headers,
                        body,
                        trailers,
                    },
                    counts,
                )
            }
            // As ngx_wasm_module: zero sizes, the reason in `:dispatch_status`.
            CalloutResult::Failed { reason } => (failed(reason), (0, 0, 0)),
        };
        vm.host().call_response = Some(resp);
        let r = vm
            .call(
                |x| x.on_http_call_response.as_ref(),
                owner,
                (
                    ctx(owner),
                    ctx(call_id),
                    i(counts.0),
                    i(counts.1),
                    i(counts.2),
                ),
            )
            .unwrap_or(Ok(()));
        vm.host().call_response = None;
        if let Err(e) = r.and_then(|()| self.apply_actions()) {
            self.fail(e, None);
        }
    }

    pub(super) fn queue_ready(&mut self, context: u32, queue_id: u32) {
        let Some(vm) = self.vm.as_mut() else { return };
        if context != vm.host().root_context && !vm.host().streams.contains_key(&context) {
            return;
        }
        let Some(r) = vm.call(
            |x| x.on_queue_ready.as_ref(),
            context,
            (ctx(context), ctx(queue_id)),
        ) else {
            return;
        };
        if let Err(e) = r.and_then(|()| self.apply_actions()) {
            self.fail(e, None);
        }
    }

    /// Fires `proxy_on_tick` on the root context when its period has elapsed by the clock.
    pub(super) fn fire_due_tick(&mut self) {
        let now = self.cfg.clock.now_monotonic();
        let Some(due) = self.next_tick else { return };
        if now < due {
            return;
        }
        let Some(vm) = self.vm.as_mut() else { return };
        let period = vm.host().tick_period.unwrap_or(Duration::from_secs(1));
        self.next_tick = Some(now + period);
        let root = vm.host().root_context;
        let Some(r) = vm.call(|x| x.on_tick.as_ref(), root, ctx(root)) else {
            return;
        };
        if let Err(e) = r.and_then(|()| self.apply_actions()) {
            self.fail(e, None);
        }
    }

    /// Picks up a tick period the guest set during the last callback.
    pub(super) fn after_callback(&mut self) {
        let Some(vm) = self.vm.as_mut() else { return };
        let host = vm.host();
        if host.tick_dirty {
            host.tick_dirty = false;
            let now = self.cfg.clock.now_monotonic();
            self.next_tick = host.tick_period.map(|p| now + p);
        }
    }
}
