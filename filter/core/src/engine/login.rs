//! The authorization code flow in the engine: sending a browser to the provider, the callback
//! (state check, code exchange through a callout, ID token validation, session cookie), and
//! logout. What the browser carries is sealed by `login` and `session`; this module decides.
//!
//! Flows (request → effects):
//! - login route, no bearer token, no live session, browser GET → 302 to `authorization_endpoint`
//!   with `Set-Cookie: <name>_login=<sealed state, nonce, verifier, return path>`;
//! - `callback_path?code&state` → `Fetch` POST to `token_endpoint` (request paused) → answer →
//!   302 to the original path with the session cookie (chunked when large), login cookie expired;
//! - `logout_path` → session cookies expired, 302 to `end_session_endpoint` (or
//!   `post_logout_redirect_uri`, or a local "signed out" page).

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::callout::{Call, CallPlan, Job, Outcome};
use super::judge::Verdict;
use super::{Engine, Level, RequestId};
use crate::audit::{Audit, Metric};
use crate::config::LoginConfig;
use crate::decision::{Decision, Deny, Request};
use crate::entropy::{draw, EntropyError};
use crate::error::AuthError;
use crate::id_token::{self, Expected};
use crate::login::{self, Callback, PendingLogin, LOGIN_TTL_SECS};
use crate::session::Session;
use crate::{cookie, form, pkce, tokens};

/// A local reply carrying cookies and maybe a `location`.
pub(super) fn reply(status: u16, location: Option<String>, cookies: Vec<String>) -> Deny {
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(location) = location {
        headers.push(("location".to_string(), location));
    }
    headers.extend(cookies.into_iter().map(|c| ("set-cookie".to_string(), c)));
    headers.push(("cache-control".to_string(), "no-store".to_string()));
    let body = if status == 200 { "signed out\n" } else { "" };
    if status == 200 {
        headers.push((
            "content-type".to_string(),
            "text/plain; charset=utf-8".to_string(),
        ));
    }
    Deny {
        status,
        headers,
        body: body.to_string(),
    }
}

fn random_text<const N: usize>(engine: &mut Engine) -> Result<String, EntropyError> {
    Ok(URL_SAFE_NO_PAD.encode(draw::<N>(&mut *engine.entropy.0)?))
}

impl Engine {
    pub(super) fn login_config(&self) -> Option<&LoginConfig> {
        self.config.login.as_ref()
    }

    /// The callback and logout paths, which the filter answers itself.
    pub(super) fn login_paths(
        &mut self,
        req: &Request,
        now: Duration,
        audit: &Audit,
        may_wait: bool,
    ) -> Option<Verdict> {
        let cfg = self.login_config()?;
        let path = req.path_only();
        if path == cfg.callback_path {
            Some(self.callback(req, now, audit.clone(), may_wait))
        } else if path == cfg.logout_path {
            Some(Verdict::Decided(self.logout(req, audit.clone())))
        } else {
            None
        }
    }

    /// No live session on a login route: a browser is sent to sign in, anything else gets 401.
    /// Broken or expired session cookies are expired either way.
    pub(super) fn start_login(
        &mut self,
        req: &Request,
        api: bool,
        now: Duration,
        mut audit: Audit,
        may_wait: bool,
    ) -> Verdict {
        let Some(cfg) = self.login_config().cloned() else {
            return Verdict::Decided(self.refuse(AuthError::Missing, audit));
        };
        let stale = cookie::expire(
            &cookie::present(req, &cfg.session.cookie_name),
            cfg.session.secure,
        );
        let browser = req
            .header_values("accept")
            .any(|a| a.to_ascii_lowercase().contains("text/html"));
        let navigable = matches!(req.method.as_str(), "GET" | "HEAD");
        if api || !browser || !navigable {
            return Verdict::Decided(self.refuse_with_cookies(AuthError::Missing, audit, stale));
        }
        let provider = cfg.provider;
        let endpoint = self.providers[provider]
            .metadata()
            .and_then(|m| m.authorization_endpoint.clone());
        let Some(endpoint) = endpoint else {
            if may_wait && self.providers[provider].fetch_pending(now) {
                return Verdict::Wait(provider);
            }
            return Verdict::Decided(self.refuse_with_cookies(
                AuthError::IdpUnavailable,
                audit,
                stale,
            ));
        };
        let pending = (|| -> Result<(PendingLogin, [u8; 12]), EntropyError> {
            let verifier = pkce::verifier(&draw::<32>(&mut *self.entropy.0)?);
            Ok((
                PendingLogin {
                    provider: self.config.providers[provider].name.clone(),
                    state: random_text::<16>(self)?,
                    nonce: random_text::<16>(self)?,
                    verifier,
                    return_to: login::safe_return(&req.path),
                    created: now.as_secs(),
                },
                draw::<12>(&mut *self.entropy.0)?,
            ))
        })();
        let sealed = pending
            .ok()
            .and_then(|(p, nonce)| p.seal(&cfg.session, nonce).map(|sealed| (p, sealed)));
        let (Some(client), Some((pending, sealed))) =
            (self.config.providers[provider].client.as_ref(), sealed)
        else {
            return Verdict::Decided(self.refuse_with_cookies(
                AuthError::EntropyUnavailable,
                audit,
                stale,
            ));
        };
        let location = login::authorization_url(&endpoint, client, &cfg.redirect_uri, &pending);
        let attrs = cookie::Attributes {
            secure: cfg.session.secure,
            max_age: LOGIN_TTL_SECS,
        };
        let mut cookies =
            cookie::set(&login::cookie_name(&cfg.session), &sealed, attrs, &[]).unwrap_or_default();
        cookies.extend(stale);
        self.count(Metric::LoginStarted);
        audit.provider = Some(self.config.providers[provider].name.clone());
        self.audit_login(audit, "login", "login_required", 302);
        Verdict::Decided(Decision::Deny(reply(302, Some(location), cookies)))
    }

    /// The provider sent the browser back: check the pending login, then exchange the code.
    fn callback(&mut self, req: &Request, now: Duration, audit: Audit, may_wait: bool) -> Verdict {
        let Some(cfg) = self.login_config().cloned() else {
            return Verdict::Decided(self.refuse(AuthError::Missing, audit));
        };
        let login_cookie = login::cookie_name(&cfg.session);
        // The pending login is used once: its cookie is expired by every answer to a callback.
        let clear = cookie::expire(&cookie::present(req, &login_cookie), cfg.session.secure);
        let pending = cookie::read(req, &login_cookie)
            .and_then(|v| PendingLogin::open(&cfg.session, &v, now.as_secs()))
            .filter(|p| p.provider == self.config.providers[cfg.provider].name);
        let params = Callback::parse(&req.path);
        let pcfg = self.config.providers[cfg.provider].clone();
        let pcfg = &pcfg;
        let refusal = match (&pending, &params) {
            (None, _) => Some(AuthError::LoginStateInvalid),
            (
                Some(_),
                Callback {
                    error: Some(code), ..
                },
            ) => {
                let code: String = code
                    .chars()
                    .filter(char::is_ascii_graphic)
                    .take(64)
                    .collect();
                let message = format!("provider {}: login refused: error={code}", pcfg.name);
                self.log(Level::Info, message);
                Some(AuthError::LoginFailed)
            }
            (Some(p), Callback { state, code, .. })
                if code.is_none() || !state.as_deref().is_some_and(|s| p.state_matches(s)) =>
            {
                Some(AuthError::LoginStateInvalid)
            }
            // RFC 9207 section 2.4: an `iss` that is not the provider's means a mix-up.
            (Some(_), Callback { iss: Some(iss), .. }) if !pcfg.matches_issuer(iss) => {
                Some(AuthError::LoginFailed)
            }
            _ => None,
        };
        let (Some(pending), None) = (pending, refusal.clone()) else {
            let err = refusal.unwrap_or(AuthError::LoginStateInvalid);
            return Verdict::Decided(self.refuse_with_cookies(err, audit, clear));
        };
        let endpoint = self.providers[cfg.provider]
            .metadata()
            .and_then(|m| m.token_endpoint.clone());
        let (Some(url), Some(client), Some(code)) = (endpoint, pcfg.client.as_ref(), params.code)
        else {
            if may_wait && self.providers[cfg.provider].fetch_pending(now) {
                return Verdict::Wait(cfg.provider);
            }
            return Verdict::Decided(self.refuse_with_cookies(
                AuthError::IdpUnavailable,
                audit,
                clear,
            ));
        };
        let post = tokens::code_grant(client, &code, &cfg.redirect_uri, &pending.verifier);
        Verdict::Call(CallPlan::New(Box::new(Call {
            provider: cfg.provider,
            url,
            post,
            job: Job::Exchange(pending),
            share: None,
        })))
    }

    /// The token endpoint answered a code exchange: validate, set the session, send the browser
    /// back where it started.
    pub(super) fn exchange_answered(
        &mut self,
        waiting: Vec<(RequestId, Request)>,
        pending: PendingLogin,
        outcome: Outcome,
        now: Duration,
    ) {
        for (id, req) in waiting {
            let decision = match self.finish_login(&req, &pending, &outcome, now) {
                Ok(decision) => decision,
                Err(err) => {
                    let clear = self.login_config().map_or_else(Vec::new, |cfg| {
                        cookie::expire(
                            &cookie::present(&req, &login::cookie_name(&cfg.session)),
                            cfg.session.secure,
                        )
                    });
                    self.refuse_with_cookies(err, super::judge::request_audit(&req), clear)
                }
            };
            self.resolve(id, decision);
        }
    }

    fn finish_login(
        &mut self,
        req: &Request,
        pending: &PendingLogin,
        outcome: &Outcome,
        now: Duration,
    ) -> Result<Decision, AuthError> {
        let cfg = self.login_config().cloned().ok_or(AuthError::LoginFailed)?;
        let index = cfg.provider;
        let name = self.config.providers[index].name.clone();
        let body = match outcome {
            Outcome::Ok(body) => body,
            Outcome::Refused(status) => {
                self.log(
                    Level::Warn,
                    format!("provider {name}: code exchange refused: HTTP status {status}"),
                );
                return Err(AuthError::LoginFailed);
            }
            Outcome::Unavailable(reason) => {
                self.log(
                    Level::Warn,
                    format!("provider {name}: token endpoint failed: {reason}"),
                );
                return Err(AuthError::IdpUnavailable);
            }
        };
        let answer = tokens::parse_response(body).map_err(|e| {
            self.log(
                Level::Warn,
                format!("provider {name}: token response refused: {e}"),
            );
            AuthError::LoginFailed
        })?;
        let Some(id_token) = answer.id_token.clone() else {
            self.log(
                Level::Warn,
                format!("provider {name}: token response lacks id_token"),
            );
            return Err(AuthError::LoginFailed);
        };
        let pcfg = &self.config.providers[index];
        let client_id = pcfg.client.as_ref().map_or("", |c| c.client_id.as_str());
        let expected = Expected {
            client_id,
            nonce: Some(&pending.nonce),
            access_token: Some(&answer.access_token),
            sub: None,
            now_secs: now.as_secs(),
            skew_secs: self.config.clock_skew_secs,
        };
        let checked = id_token::validate(
            &id_token,
            pcfg,
            self.providers[index].usable_keys(now),
            &expected,
        );
        let claims = match checked {
            Ok(claims) => claims,
            Err(e) => {
                if matches!(e, id_token::IdTokenError::Key("unknown_kid")) {
                    self.providers[index].request_refetch(now, None);
                }
                self.log(
                    Level::Warn,
                    format!("provider {name}: ID token refused: {e}"),
                );
                return Err(e.into());
            }
        };
        let secs = now.as_secs();
        let session = Session {
            provider: name.clone(),
            id_token,
            access_token: answer.access_token,
            refresh_token: answer.refresh_token,
            access_expires: answer.expires_in.map(|e| secs.saturating_add(e)),
            scope: answer.scope,
            created: secs,
            issued: secs,
            refreshed: secs,
        };
        let mut cookies = self.session_cookies(req, &session)?;
        cookies.extend(cookie::expire(
            &cookie::present(req, &login::cookie_name(&cfg.session)),
            cfg.session.secure,
        ));
        let mut audit = super::judge::request_audit(req);
        audit.set_identity(&claims);
        audit.provider = Some(name);
        self.count(Metric::LoginCompleted);
        self.audit_login(audit, "login", "ok", 302);
        let location = login::safe_return(&pending.return_to);
        Ok(Decision::Deny(reply(302, Some(location), cookies)))
    }

    /// `Set-Cookie` values that store `session` (chunked when large) and expire chunks it no
    /// longer uses.
    pub(super) fn session_cookies(
        &mut self,
        req: &Request,
        session: &Session,
    ) -> Result<Vec<String>, AuthError> {
        let cfg = self.login_config().cloned().ok_or(AuthError::LoginFailed)?;
        let nonce = draw::<12>(&mut *self.entropy.0).map_err(|_| AuthError::EntropyUnavailable)?;
        let sealed = session
            .seal(&cfg.session, nonce)
            .ok_or(AuthError::LoginFailed)?;
        let attrs = cookie::Attributes {
            secure: cfg.session.secure,
            max_age: session
                .created
                .saturating_add(cfg.session.absolute_timeout_secs)
                .saturating_sub(session.issued),
        };
        let existing = cookie::present(req, &cfg.session.cookie_name);
        cookie::set(&cfg.session.cookie_name, &sealed, attrs, &existing).ok_or_else(|| {
            self.log(
                Level::Error,
                "session too large for its cookies: request fewer scopes or claims".to_string(),
            );
            AuthError::LoginFailed
        })
    }

    /// Ends the session here and, when the provider supports it, there (OpenID Connect RP-Initiated
    /// Logout 1.0, section 2).
    fn logout(&mut self, req: &Request, mut audit: Audit) -> Decision {
        let Some(cfg) = self.login_config().cloned() else {
            return self.refuse(AuthError::Missing, audit);
        };
        let session = cookie::read(req, &cfg.session.cookie_name)
            .and_then(|v| Session::open(&cfg.session, &v));
        let mut gone = cookie::present(req, &cfg.session.cookie_name);
        gone.extend(cookie::present(req, &login::cookie_name(&cfg.session)));
        let cookies = cookie::expire(&gone, cfg.session.secure);
        let pcfg = &self.config.providers[cfg.provider];
        let endpoint = self.providers[cfg.provider]
            .metadata()
            .and_then(|m| m.end_session_endpoint.clone());
        let location = match endpoint {
            Some(endpoint) => {
                let mut params: Vec<(&str, &str)> = Vec::new();
                if let Some(s) = &session {
                    params.push(("id_token_hint", &s.id_token));
                }
                if let Some(uri) = &cfg.post_logout_redirect_uri {
                    params.push(("post_logout_redirect_uri", uri));
                }
                if let Some(client) = &pcfg.client {
                    params.push(("client_id", &client.client_id));
                }
                Some(form::append_query(&endpoint, &form::serialize(&params)))
            }
            None => cfg.post_logout_redirect_uri.clone(),
        };
        if let Some(s) = &session {
            audit.set_identity(&s.claims());
        }
        audit.provider = Some(pcfg.name.clone());
        let status = if location.is_some() { 302 } else { 200 };
        self.audit_login(audit, "logout", "ok", status);
        Decision::Deny(reply(status, location, cookies))
    }

    pub(super) fn refuse_with_cookies(
        &mut self,
        err: AuthError,
        audit: Audit,
        cookies: Vec<String>,
    ) -> Decision {
        match self.refuse(err, audit) {
            Decision::Deny(mut deny) => {
                deny.headers
                    .extend(cookies.into_iter().map(|c| ("set-cookie".to_string(), c)));
                Decision::Deny(deny)
            }
            other => other,
        }
    }

    fn audit_login(
        &mut self,
        mut audit: Audit,
        decision: &'static str,
        reason: &'static str,
        status: u16,
    ) {
        audit.decision = decision;
        audit.reason = reason;
        audit.status = status;
        self.effects.push_back(super::Effect::Audit(audit));
    }
}
