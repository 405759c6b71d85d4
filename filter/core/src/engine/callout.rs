//! Callouts the engine makes for requests, not for keys: the token endpoint (code exchange,
//! refresh) and the introspection endpoint. Owns which request waits on which callout, shares one
//! callout among requests that need the same answer (one refresh per refresh token, one
//! introspection per token), and fails waiting requests closed when no answer comes in time.

use std::collections::HashMap;
use std::time::Duration;

use super::{Effect, Engine, Fetch, FetchId, FetchResult, RequestId, MAX_FETCH_BYTES};
use crate::config::FetchUrl;
use crate::decision::{Decision, Request};
use crate::error::AuthError;
use crate::introspection::Digest32;
use crate::login::PendingLogin;
use crate::session::Session;
use crate::shared::SharedStore;
use crate::tokens::FormPost;

/// What a callout's answer is for.
#[derive(Debug)]
pub(super) enum Job {
    Exchange(PendingLogin),
    Refresh(Session),
    Introspect { provider: usize, token: Digest32 },
}

/// A callout to make.
#[derive(Debug)]
pub(super) struct Call {
    pub provider: usize,
    pub url: String,
    pub post: FormPost,
    pub job: Job,
    /// Requests needing the same answer join this callout instead of making their own.
    pub share: Option<Digest32>,
}

/// How a request waits for a callout.
#[derive(Debug)]
pub(super) enum CallPlan {
    New(Box<Call>),
    Join(FetchId),
}

/// A callout's answer, classified.
pub(super) enum Outcome {
    Ok(Vec<u8>),
    /// The endpoint refused (4xx): a bad code, a revoked refresh token.
    Refused(u16),
    /// No usable answer: fail closed with 503.
    Unavailable(String),
}

#[derive(Debug)]
struct Parked {
    id: RequestId,
    request: Request,
    fetch: FetchId,
}

#[derive(Debug, Default)]
pub(super) struct Calls {
    jobs: HashMap<FetchId, (Job, Duration)>,
    shared_by: HashMap<Digest32, FetchId>,
    parked: Vec<Parked>,
}

impl Calls {
    pub fn next_deadline(&self) -> Option<Duration> {
        self.jobs.values().map(|(_, d)| *d).min()
    }

    pub fn cancel(&mut self, id: RequestId) {
        self.parked.retain(|p| p.id != id);
    }

    pub fn in_flight(&self, key: &Digest32) -> Option<FetchId> {
        self.shared_by.get(key).copied()
    }
}

impl Engine {
    /// Parks request `id` on a callout (making it if new). `Pause`, or a 503 when the callout
    /// cannot be made.
    pub(super) fn park(
        &mut self,
        id: RequestId,
        request: &Request,
        plan: CallPlan,
        now: Duration,
    ) -> Decision {
        let fetch = match plan {
            CallPlan::Join(fetch) if self.calls.jobs.contains_key(&fetch) => fetch,
            CallPlan::Join(_) => return self.refuse_request(request, AuthError::IdpUnavailable),
            CallPlan::New(call) => match self.dispatch_call(*call, now) {
                Some(fetch) => fetch,
                None => return self.refuse_request(request, AuthError::IdpUnavailable),
            },
        };
        self.calls.parked.push(Parked {
            id,
            request: request.clone(),
            fetch,
        });
        Decision::Pause
    }

    fn dispatch_call(&mut self, call: Call, now: Duration) -> Option<FetchId> {
        let cfg = &self.config.providers[call.provider];
        let Ok(url) = FetchUrl::parse(&call.url) else {
            let message = format!(
                "provider {}: refusing to call an invalid endpoint URL",
                cfg.name
            );
            self.log(super::Level::Error, message);
            return None;
        };
        let timeout = self.providers[call.provider].settings().fetch_timeout;
        let id = self.next_fetch;
        self.next_fetch += 1;
        let fetch = Fetch {
            id,
            upstream: cfg.callout_target(&url),
            scheme: url.scheme(),
            authority: url.authority(),
            path: url.path_and_query.clone(),
            timeout,
            method: "POST",
            headers: call.post.headers,
            body: call.post.body.into_bytes(),
        };
        // Waiting requests are failed a second after the callout's own timeout.
        self.calls
            .jobs
            .insert(id, (call.job, now + timeout + Duration::from_secs(1)));
        if let Some(key) = call.share {
            self.calls.shared_by.insert(key, id);
        }
        self.effects.push_back(Effect::Fetch(fetch));
        Some(id)
    }

    /// The answer to a callout made for requests.
    pub(super) fn call_answered(
        &mut self,
        id: FetchId,
        result: FetchResult,
        now: Duration,
        shared: &mut dyn SharedStore,
    ) {
        let Some((job, _)) = self.calls.jobs.remove(&id) else {
            return;
        };
        self.calls.shared_by.retain(|_, f| *f != id);
        let (waiting, rest): (Vec<Parked>, Vec<Parked>) = std::mem::take(&mut self.calls.parked)
            .into_iter()
            .partition(|p| p.fetch == id);
        self.calls.parked = rest;
        let waiting: Vec<(RequestId, Request)> =
            waiting.into_iter().map(|p| (p.id, p.request)).collect();
        let outcome = match result {
            FetchResult::Response {
                status: 200..=299,
                body,
            } if body.len() <= MAX_FETCH_BYTES => Outcome::Ok(body),
            FetchResult::Response {
                status: 200..=299, ..
            } => Outcome::Unavailable("response too large".into()),
            FetchResult::Response {
                status: s @ 400..=499,
                ..
            } => Outcome::Refused(s),
            FetchResult::Response { status, .. } => {
                Outcome::Unavailable(format!("HTTP status {status}"))
            }
            FetchResult::Failed(reason) => Outcome::Unavailable(reason),
        };
        match job {
            Job::Exchange(login) => self.exchange_answered(waiting, login, outcome, now),
            Job::Refresh(session) => self.refresh_answered(waiting, session, outcome, now),
            Job::Introspect { provider, token } => {
                self.introspection_answered(provider, token, waiting, outcome, now, shared)
            }
        }
    }

    /// Fails requests whose callout did not answer in time (503), and forgets the callout.
    pub(super) fn expire_calls(&mut self, now: Duration) {
        let late: Vec<FetchId> = self
            .calls
            .jobs
            .iter()
            .filter(|(_, (_, deadline))| now >= *deadline)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            self.calls.jobs.remove(&id);
            self.calls.shared_by.retain(|_, f| *f != id);
            let (waiting, rest): (Vec<Parked>, Vec<Parked>) =
                std::mem::take(&mut self.calls.parked)
                    .into_iter()
                    .partition(|p| p.fetch == id);
            self.calls.parked = rest;
            for p in waiting {
                let decision = self.refuse_request(&p.request, AuthError::IdpUnavailable);
                self.resolve(p.id, decision);
            }
        }
    }

    pub(super) fn resolve(&mut self, request: RequestId, decision: Decision) {
        if decision != Decision::Pause {
            self.effects
                .push_back(Effect::Resolve { request, decision });
        }
    }
}
