//! Requests on login routes authenticated by the session cookie: timeouts, renewal (cookie
//! rewrite, refresh through a callout shared by every request holding the same refresh token),
//! the route's policy on the session's claims, and what the upstream receives.
//!
//! Flow (request → effects): live session → allow with `Authorization: Bearer <access token>`
//! (per `session.upstream_token`), identity headers, the filter's cookies removed from `Cookie`,
//! and `Set-Cookie` on the response when the cookie was rewritten; access token about to expire
//! → `Fetch` POST `grant_type=refresh_token` (request paused) → allow with the new tokens, or on
//! failure a new login (302 for browsers, 401 otherwise).

use std::time::Duration;

use super::callout::{Call, CallPlan, Job, Outcome};
use super::judge::{request_audit, Verdict};
use super::{Engine, Level, RequestId};
use crate::audit::{Audit, Metric};
use crate::config::UpstreamToken;
use crate::decision::{Decision, Request};
use crate::error::AuthError;
use crate::id_token::{self, Expected};
use crate::session::{Renewal, Session};
use crate::{claims, cookie, introspection, login, tokens};

impl Engine {
    pub(super) fn session_request(
        &mut self,
        req: &Request,
        rule: usize,
        now: Duration,
        may_wait: bool,
        audit: Audit,
    ) -> Verdict {
        let api = self.config.rules[rule].api;
        let Some(cfg) = self.login_config().cloned() else {
            return Verdict::Decided(self.refuse(AuthError::Missing, audit));
        };
        let provider = &self.config.providers[cfg.provider];
        let secs = now.as_secs();
        let session = cookie::read(req, &cfg.session.cookie_name)
            .and_then(|v| Session::open(&cfg.session, &v))
            .filter(|s| s.provider == provider.name && !s.expired(secs, &cfg.session));
        let Some(session) = session else {
            return self.start_login(req, api, now, audit, may_wait);
        };
        if let Err(e) = self
            .policy
            .check(&self.config.rules[rule], &session.claims())
        {
            return Verdict::Decided(self.refuse(e, audit));
        }
        let rolled_over = secs
            >= session
                .refreshed
                .saturating_add(cfg.session.rolling_timeout_secs);
        let endpoint = self.providers[cfg.provider]
            .metadata()
            .and_then(|m| m.token_endpoint.clone());
        match (
            session.renewal(secs, &cfg.session),
            &session.refresh_token,
            endpoint,
        ) {
            (Renewal::Refresh, Some(refresh_token), Some(url)) => {
                let key = introspection::digest(refresh_token);
                if let Some(fetch) = self.calls.in_flight(&key) {
                    return Verdict::Call(CallPlan::Join(fetch));
                }
                let Some(client) = provider.client.as_ref() else {
                    return Verdict::Decided(self.refuse(AuthError::LoginFailed, audit));
                };
                let post = tokens::refresh_grant(client, refresh_token);
                Verdict::Call(CallPlan::New(Box::new(Call {
                    provider: cfg.provider,
                    url,
                    post,
                    job: Job::Refresh(session),
                    share: Some(key),
                })))
            }
            (Renewal::Refresh, _, _) if session.access_expired(secs) || rolled_over => {
                self.start_login(req, api, now, audit, may_wait)
            }
            (renewal, _, _) => {
                let touch = renewal != Renewal::None;
                Verdict::Decided(self.allow_session(req, session, touch, now, audit))
            }
        }
    }

    /// The token endpoint answered a refresh: every request that waited for it continues with
    /// the new tokens, or starts a new login when the refresh failed.
    pub(super) fn refresh_answered(
        &mut self,
        waiting: Vec<(RequestId, Request)>,
        session: Session,
        outcome: Outcome,
        now: Duration,
    ) {
        let renewed = self.renewed(session, outcome, now);
        if renewed.is_some() {
            self.count(Metric::SessionRefreshed);
        }
        for (id, req) in waiting {
            let audit = request_audit(&req);
            let decision = match &renewed {
                Some(session) => self.allow_session(&req, session.clone(), true, now, audit),
                None => {
                    let api = self.route_is_api(&req);
                    match self.start_login(&req, api, now, audit, false) {
                        Verdict::Decided(d) => d,
                        _ => self.refuse_request(&req, AuthError::IdpUnavailable),
                    }
                }
            };
            self.resolve(id, decision);
        }
    }

    fn route_is_api(&self, req: &Request) -> bool {
        self.policy
            .route(&req.method, req.path_only())
            .rule()
            .is_none_or(|(_, r)| r.api)
    }

    /// The session after a refresh, or `None` when the refresh failed (a new login follows).
    fn renewed(&mut self, session: Session, outcome: Outcome, now: Duration) -> Option<Session> {
        let index = self.login_config()?.provider;
        let name = self.config.providers[index].name.clone();
        let body = match outcome {
            Outcome::Ok(body) => body,
            Outcome::Refused(status) => {
                self.log(
                    Level::Info,
                    format!("provider {name}: refresh refused: HTTP status {status}"),
                );
                return None;
            }
            Outcome::Unavailable(reason) => {
                self.log(
                    Level::Warn,
                    format!("provider {name}: refresh failed: {reason}"),
                );
                return None;
            }
        };
        let answer = match tokens::parse_response(&body) {
            Ok(answer) => answer,
            Err(e) => {
                self.log(
                    Level::Warn,
                    format!("provider {name}: refresh response refused: {e}"),
                );
                return None;
            }
        };
        let secs = now.as_secs();
        let mut renewed = Session {
            access_token: answer.access_token,
            refresh_token: answer.refresh_token.or(session.refresh_token.clone()),
            access_expires: answer.expires_in.map(|e| secs.saturating_add(e)),
            scope: answer.scope.or(session.scope.clone()),
            issued: secs,
            refreshed: secs,
            ..session.clone()
        };
        if let Some(id_token) = answer.id_token {
            // OIDC Core 12.2: same issuer and subject; a nonce, if present, is the original one.
            let before = session.claims();
            let text = |n: &str| before.get(n).and_then(|v| v.as_str());
            let pcfg = &self.config.providers[index];
            let expected = Expected {
                client_id: pcfg.client.as_ref().map_or("", |c| c.client_id.as_str()),
                nonce: text("nonce"),
                access_token: Some(&renewed.access_token),
                sub: Some(text("sub").unwrap_or_default()),
                now_secs: secs,
                skew_secs: self.config.clock_skew_secs,
            };
            let keys = self.providers[index].usable_keys(now);
            if let Err(e) = id_token::validate(&id_token, pcfg, keys, &expected) {
                self.log(
                    Level::Warn,
                    format!("provider {name}: refreshed ID token refused: {e}"),
                );
                return None;
            }
            renewed.id_token = id_token;
        }
        Some(renewed)
    }

    /// Lets a session-authenticated request through. `rewrite`: set the cookie again (new
    /// tokens, or the idle timer restarts).
    fn allow_session(
        &mut self,
        req: &Request,
        mut session: Session,
        rewrite: bool,
        now: Duration,
        mut audit: Audit,
    ) -> Decision {
        let Some(cfg) = self.login_config().cloned() else {
            return self.refuse(AuthError::Missing, audit);
        };
        let mut allow = self.identity_cleared(req, None);
        if rewrite {
            session.issued = now.as_secs();
            match self.session_cookies(req, &session) {
                Ok(cookies) => allow
                    .response_headers
                    .extend(cookies.into_iter().map(|c| ("set-cookie".to_string(), c))),
                Err(e) => return self.refuse(e, audit),
            }
        }
        let claims = session.claims();
        for (header, path) in &self.config.claims_to_headers {
            if let Some(value) = claims::lookup(&claims, path) {
                allow
                    .set_headers
                    .push((header.clone(), claims::header_value(value)));
            }
        }
        match cfg.session.upstream_token {
            UpstreamToken::AccessToken => allow.set_headers.push((
                "authorization".to_string(),
                format!("Bearer {}", session.access_token),
            )),
            UpstreamToken::IdToken => allow.set_headers.push((
                "authorization".to_string(),
                format!("Bearer {}", session.id_token),
            )),
            UpstreamToken::None => allow.remove_headers.push("authorization".to_string()),
        }
        // The upstream never sees the filter's own cookies.
        let login_cookie = login::cookie_name(&cfg.session);
        let ours =
            |name: &str| cookie::belongs_to(name, &cfg.session.cookie_name) || name == login_cookie;
        allow.remove_headers.push("cookie".to_string());
        if let Some(rest) = cookie::without(req, &ours) {
            allow.set_headers.push(("cookie".to_string(), rest));
        }
        audit.set_identity(&claims);
        audit.provider = Some(session.provider.clone());
        audit.decision = "allow";
        audit.reason = "ok";
        audit.status = 200;
        self.count(Metric::Allowed);
        self.effects.push_back(super::Effect::Audit(audit));
        Decision::Allow(allow)
    }
}
