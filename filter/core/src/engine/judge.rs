//! Judging one request: find the credential, authenticate it (cache, parse, issuer, claims, key,
//! signature), apply the route's policy, and shape the answer. Keys that are not there yet make the
//! request wait, once; everything else is decided here and now.

use std::rc::Rc;
use std::time::Duration;

use super::callout::CallPlan;
use super::{Effect, Engine};
use crate::audit::{Audit, Identity, Metric};
use crate::cache::{self, Verified};
use crate::decision::{Allow, Decision, Request};
use crate::error::AuthError;
use crate::extract::{self, Found};
use crate::policy::Route;
use crate::shared::SharedStore;
use crate::{claims, jws, response, verify};

pub(super) enum Verdict {
    Decided(Decision),
    /// Wait for this provider's keys (or discovery metadata).
    Wait(usize),
    /// Wait for a callout to the token or introspection endpoint.
    Call(CallPlan),
}

pub(super) enum Auth {
    Ok(Verified),
    Wait(usize),
    Call(CallPlan),
    Err(AuthError),
}

impl Engine {
    pub(super) fn judge(
        &mut self,
        req: &Request,
        now: Duration,
        shared: &mut dyn SharedStore,
        may_wait: bool,
    ) -> Verdict {
        let route = self.policy.route(&req.method, req.path_only());
        let ambiguous = matches!(route, Route::Ambiguous);
        let route = route.rule().map(|(i, r)| (i, r.allow_anonymous));
        let mut audit = request_audit(req);
        audit.rule = route.map(|(i, _)| i);
        if ambiguous {
            return Verdict::Decided(self.refuse(AuthError::AmbiguousPath, audit));
        }
        if let Some(verdict) = self.login_paths(req, now, &audit, may_wait) {
            return verdict;
        }
        let anonymous_ok = route.is_some_and(|(_, anon)| anon);
        let login_rule = route
            .map(|(i, _)| i)
            .filter(|i| self.config.rules[*i].login);
        let found = match (
            extract::find_token(&self.config.token_sources, req),
            login_rule,
        ) {
            (Ok(Some(found)), _) => found,
            // No bearer token on a login route: the session cookie authenticates.
            (Ok(None), Some(rule)) => return self.session_request(req, rule, now, may_wait, audit),
            (Ok(None), None) if anonymous_ok => {
                return Verdict::Decided(self.allow_anonymous(req, None, audit, "anonymous"))
            }
            (Ok(None), None) => return Verdict::Decided(self.refuse(AuthError::Missing, audit)),
            (Err(e), _) => return Verdict::Decided(self.refuse(e, audit)),
        };
        let verified = match self.authenticate(&found.token, now, shared, may_wait, &mut audit) {
            Auth::Ok(v) => v,
            Auth::Wait(provider) => return Verdict::Wait(provider),
            Auth::Call(plan) => return Verdict::Call(plan),
            // Kong's semantics for anonymous routes: a bad credential makes the request anonymous.
            Auth::Err(e) if anonymous_ok => {
                return Verdict::Decided(self.allow_anonymous(req, Some(&found), audit, e.code()))
            }
            Auth::Err(e) => return Verdict::Decided(self.refuse(e, audit)),
        };
        if let Some((index, _)) = route {
            let rule = &self.config.rules[index];
            if let Err(e) = self.policy.check(rule, &verified.claims) {
                return Verdict::Decided(self.refuse(e, audit));
            }
        }
        Verdict::Decided(self.allow(req, &found, &verified, audit))
    }

    fn authenticate(
        &mut self,
        token: &str,
        now: Duration,
        shared: &mut dyn SharedStore,
        may_wait: bool,
        audit: &mut Audit,
    ) -> Auth {
        if let Some(v) = self.cache.get(token, now) {
            self.count(Metric::CacheHit);
            audit.cached = true;
            audit.identity = v.identity.clone();
            audit.provider = Some(self.config.providers[v.provider].name.clone());
            return Auth::Ok(v);
        }
        let shared_key = cache::SharedKey::of(token);
        if let Some(v) = self.adopt_shared_verification(token, &shared_key, now, shared) {
            self.count(Metric::CacheHit);
            audit.cached = true;
            audit.identity = v.identity.clone();
            audit.provider = Some(self.config.providers[v.provider].name.clone());
            return Auth::Ok(v);
        }
        self.count(Metric::CacheMiss);
        let jws = match jws::parse(token) {
            Ok(jws) => jws,
            // Not a JWT: an opaque token, for the provider that introspects them, if any.
            Err(e) => {
                return match self.config.providers.iter().position(|p| p.introspection) {
                    Some(index) => self.introspect(index, token, now, may_wait, audit),
                    None => Auth::Err(e),
                }
            }
        };
        audit.set_identity(&jws.claims);
        let iss = jws.claims.get("iss").and_then(|v| v.as_str());
        let Some(index) = iss.and_then(|iss| {
            self.config
                .providers
                .iter()
                .position(|p| p.matches_issuer(iss))
        }) else {
            return Auth::Err(AuthError::UnknownIssuer);
        };
        if self.config.providers[index].introspection {
            return self.introspect(index, token, now, may_wait, audit);
        }
        let pcfg = &self.config.providers[index];
        audit.provider = Some(pcfg.name.clone());
        // The algorithm comes from the attacker-controlled header: it must be on the provider's
        // allow-list and must fit the selected key (jwks::select), never chosen by the token alone.
        if !pcfg.algorithms.contains(&jws.header.alg) {
            return Auth::Err(AuthError::UnsupportedAlg);
        }
        let now_secs = now.as_secs();
        if let Err(e) = claims::verify_registered(
            &jws.claims,
            jws.header.typ.as_deref(),
            pcfg,
            &self.config,
            now_secs,
        ) {
            return Auth::Err(e);
        }
        let checked = match self.providers[index].usable_keys(now) {
            None => Err(AuthError::KeysUnavailable),
            Some(keys) => keys
                .select(jws.header.kid.as_deref(), jws.header.alg)
                .and_then(|jwk| {
                    verify::verify_signature(
                        jws.header.alg,
                        &jwk.key,
                        jws.signing_input,
                        &jws.signature,
                    )
                    .map(|()| jwk.kid.clone())
                }),
        };
        let kid = match checked {
            Ok(kid) => kid,
            Err(AuthError::KeysUnavailable)
                if may_wait && self.providers[index].fetch_pending(now) =>
            {
                return Auth::Wait(index)
            }
            Err(AuthError::UnknownKid)
                if may_wait
                    && self.providers[index].request_refetch(now, jws.header.kid.as_deref()) =>
            {
                return Auth::Wait(index)
            }
            Err(e) => return Auth::Err(e),
        };
        let skew = Duration::from_secs(self.config.clock_skew_secs);
        let exp = jws
            .claims
            .get("exp")
            .and_then(|v| v.as_f64())
            .filter(|e| e.is_finite() && *e >= 0.0);
        let verified = Verified {
            provider: index,
            kid,
            claims: Rc::new(jws.claims),
            identity: audit.identity.clone(),
            valid_until: exp.map_or(now, |e| Duration::from_secs_f64(e) + skew),
        };
        // Tokens without `exp` (only when require_exp is off) are never cached: nothing bounds them.
        if exp.is_some() {
            self.cache.insert(token, verified.clone());
            let provider = &self.config.providers[index].name;
            cache::shared_put(shared, &shared_key, provider, &verified, &jws.payload);
        }
        Auth::Ok(verified)
    }

    /// A token another worker verified, if its key is still in the provider's current set.
    /// Tokens verified without a `kid` are not taken from other workers: nothing ties them to a key.
    fn adopt_shared_verification(
        &mut self,
        token: &str,
        key: &cache::SharedKey,
        now: Duration,
        shared: &dyn SharedStore,
    ) -> Option<Verified> {
        let entry = cache::shared_get(shared, key, now)?;
        let index = self
            .config
            .providers
            .iter()
            .position(|p| p.name == entry.provider)?;
        let kid = entry.kid?;
        let keys = self.providers[index].usable_keys(now)?;
        if !keys.kids().any(|k| k == kid) {
            return None;
        }
        let verified = Verified {
            provider: index,
            kid: Some(kid),
            identity: Rc::new(Identity::of(&entry.claims)),
            claims: Rc::new(entry.claims),
            valid_until: Duration::from_millis(entry.valid_until_ms),
        };
        self.cache.insert(token, verified.clone());
        Some(verified)
    }

    fn allow(
        &mut self,
        req: &Request,
        found: &Found<'_>,
        verified: &Verified,
        mut audit: Audit,
    ) -> Decision {
        let mut allow = self.identity_cleared(req, Some(found));
        for (header, path) in &self.config.claims_to_headers {
            if let Some(value) = claims::lookup(&verified.claims, path) {
                allow
                    .set_headers
                    .push((header.clone(), claims::header_value(value)));
            }
        }
        audit.decision = "allow";
        audit.reason = "ok";
        audit.status = 200;
        self.count(Metric::Allowed);
        self.effects.push_back(Effect::Audit(audit));
        Decision::Allow(allow)
    }

    fn allow_anonymous(
        &mut self,
        req: &Request,
        found: Option<&Found<'_>>,
        mut audit: Audit,
        reason: &'static str,
    ) -> Decision {
        let allow = self.identity_cleared(req, found);
        audit.decision = "allow";
        audit.reason = reason;
        audit.status = 200;
        self.count(Metric::Allowed);
        self.effects.push_back(Effect::Audit(audit));
        Decision::Allow(allow)
    }

    /// Identity headers are always removed first, so a client cannot forge them; the credential is
    /// removed too when it must not reach the upstream.
    pub(super) fn identity_cleared(&self, req: &Request, found: Option<&Found<'_>>) -> Allow {
        let mut allow = Allow {
            remove_headers: self
                .config
                .claims_to_headers
                .iter()
                .map(|(h, _)| h.clone())
                .collect(),
            ..Allow::default()
        };
        if let (false, Some(found)) = (self.config.forward_token, found) {
            extract::strip(&self.config.token_sources, found, req).apply_to(&mut allow);
        }
        allow
    }

    /// Refuses a request judged earlier (its callout failed or timed out).
    pub(super) fn refuse_request(&mut self, req: &Request, err: AuthError) -> Decision {
        self.refuse(err, request_audit(req))
    }

    pub(super) fn refuse(&mut self, err: AuthError, mut audit: Audit) -> Decision {
        let deny = response::deny(&err, self.reply_style());
        audit.decision = "deny";
        audit.reason = err.code();
        audit.status = deny.status;
        self.count(Metric::Denied(err.code()));
        self.effects.push_back(Effect::Audit(audit));
        Decision::Deny(deny)
    }
}

/// The audit record's request fields.
pub(super) fn request_audit(req: &Request) -> Audit {
    Audit {
        method: req.method.clone(),
        path: req.path_only().to_string(),
        source: req.source.clone(),
        ..Audit::default()
    }
}
