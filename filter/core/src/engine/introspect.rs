//! Judging opaque tokens through RFC 7662 introspection: answer from the cache, or park the
//! request on one introspection callout per token; when the answer comes, cache it and judge the
//! waiting requests again. An endpoint that fails fails them closed (503), never open.

use std::time::Duration;

use super::callout::{Call, CallPlan, Job, Outcome};
use super::judge::{Auth, Verdict};
use super::{Engine, Level, RequestId};
use crate::audit::{Audit, Metric};
use crate::cache::Verified;
use crate::decision::Request;
use crate::error::AuthError;
use crate::introspection::{self, Answer, Digest32};
use crate::shared::SharedStore;

impl Engine {
    /// Authenticates `token` by introspection at provider `index`.
    pub(super) fn introspect(
        &mut self,
        index: usize,
        token: &str,
        now: Duration,
        may_wait: bool,
        audit: &mut Audit,
    ) -> Auth {
        let cfg = &self.config.providers[index];
        audit.provider = Some(cfg.name.clone());
        match self.answers.get(token, now) {
            Some(Answer::Active(claims)) => {
                audit.set_identity(&claims);
                return Auth::Ok(Verified {
                    provider: index,
                    kid: None,
                    claims,
                    identity: audit.identity.clone(),
                    valid_until: now,
                });
            }
            Some(Answer::Inactive) => return Auth::Err(AuthError::InactiveToken),
            // Not known yet: ask, also for a request judged again once discovery has arrived
            // (`may_wait` is about waiting for the provider's metadata, not about callouts).
            None => {}
        }
        let key = introspection::digest(token);
        if let Some(fetch) = self.calls.in_flight(&key) {
            return Auth::Call(CallPlan::Join(fetch));
        }
        let endpoint = cfg.introspection_endpoint.clone().or_else(|| {
            self.providers[index]
                .metadata()
                .and_then(|m| m.introspection_endpoint.clone())
        });
        let (Some(url), Some(client)) = (endpoint, cfg.client.as_ref()) else {
            if may_wait
                && self.providers[index].metadata().is_none()
                && self.providers[index].fetch_pending(now)
            {
                return Auth::Wait(index);
            }
            let message = format!("provider {}: no introspection_endpoint", cfg.name);
            self.log(Level::Error, message);
            return Auth::Err(AuthError::IdpUnavailable);
        };
        Auth::Call(CallPlan::New(Box::new(Call {
            provider: index,
            url,
            post: introspection::request(client, token),
            job: Job::Introspect {
                provider: index,
                token: key,
            },
            share: Some(key),
        })))
    }

    pub(super) fn introspection_answered(
        &mut self,
        provider: usize,
        token: Digest32,
        waiting: Vec<(RequestId, Request)>,
        outcome: Outcome,
        now: Duration,
        shared: &mut dyn SharedStore,
    ) {
        let cfg = self.config.providers[provider].clone();
        let cfg = &cfg;
        let answer = match outcome {
            Outcome::Ok(body) => {
                introspection::parse(&body, cfg, now.as_secs(), self.config.clock_skew_secs)
                    .map_err(str::to_string)
            }
            Outcome::Refused(status) => Err(format!("HTTP status {status}")),
            Outcome::Unavailable(reason) => Err(reason),
        };
        match answer {
            Ok(answer) => {
                self.count(Metric::IntrospectionOk);
                let until = introspection::cache_until(&answer, cfg, now);
                self.answers.insert(token, answer, until);
                for (id, request) in waiting {
                    let decision = match self.judge(&request, now, shared, false) {
                        Verdict::Decided(d) => d,
                        Verdict::Wait(_) => self.decide_final(id, &request, now, shared),
                        // The answer just came and is already stale (its `exp` is now): asking
                        // again could go on forever, so the request fails closed.
                        Verdict::Call(_) => {
                            self.refuse_request(&request, AuthError::IdpUnavailable)
                        }
                    };
                    self.resolve(id, decision);
                }
            }
            Err(reason) => {
                let message = format!("provider {}: introspection failed: {reason}", cfg.name);
                self.count(Metric::IntrospectionFailed);
                self.log(Level::Warn, message);
                for (id, request) in waiting {
                    let decision = self.refuse_request(&request, AuthError::IdpUnavailable);
                    self.resolve(id, decision);
                }
            }
        }
    }
}
