//! Browser login end to end: the embedded filter in `oidc-host`, configured from
//! docs/guides/browser-login.md, against a real OpenID Provider (`oidc-provider`, e2e/op) on
//! loopback, driven by an HTTP client with a cookie jar through the provider's login and consent
//! pages. Sign-in, what the app receives, replayed callbacks, tampered and truncated cookies,
//! chunked sessions, refresh, logout, non-browser requests, and introspection of opaque tokens.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod login;

use std::time::Duration;

use login::*;
use oidc_host::config::{FilterJson, HostConfig};
use oidc_host::echo::EchoServer;
use oidc_host::embedded::FILTER_WASM;
use oidc_host::issuer::unix_now;
use oidc_host::proxy::Gateway;
use serde_json::json;

const SESSION: &str = "oidc_session";
const LOGIN: &str = "oidc_session_login";

/// What one completed sign-in left behind.
struct SignedIn {
    /// The URL the provider sent the browser back to.
    callback: String,
    /// The pending-login cookie as it was before the callback consumed it.
    login_cookie: String,
    /// The callback's answer (session cookies, redirect back).
    callback_reply: Reply,
    /// The app's answer to the first request with the session.
    app: Reply,
}

/// A browser opens `path` on a login route, signs in as `user`, and lands back on `path`.
async fn sign_in(world: &LoginWorld, browser: &mut Browser, path: &str, user: &str) -> SignedIn {
    let discovery = world.op.discovery().await;
    let start = browser.get(&world.url(path)).await;
    assert_eq!(start.status, 302, "{}", start.text());
    let location = start.location().unwrap();
    let authorize = discovery["authorization_endpoint"].as_str().unwrap();
    assert!(location.starts_with(&format!("{authorize}?")), "{location}");
    assert_eq!(
        query_param(&location, "redirect_uri").unwrap(),
        world.url("/callback")
    );
    assert_eq!(query_param(&location, "client_id").unwrap(), "web");
    assert_eq!(
        query_param(&location, "code_challenge_method").unwrap(),
        "S256"
    );
    let login_cookie = browser.cookie(LOGIN).expect("the pending login cookie");

    let callback = browser
        .sign_in_at_provider(start, &world.url("/callback"), user)
        .await;
    assert!(query_param(&callback, "code").is_some(), "{callback}");
    let callback_reply = browser.get(&callback).await;
    assert_eq!(callback_reply.status, 302, "{}", callback_reply.text());
    assert_eq!(callback_reply.location().unwrap(), path);
    assert!(
        callback_reply
            .cookies_expired()
            .contains(&LOGIN.to_string()),
        "{:?}",
        callback_reply.set_cookies()
    );
    for line in callback_reply.set_cookies() {
        if line.starts_with(SESSION) && !line.contains("Max-Age=0") {
            for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
                assert!(line.contains(attr), "{attr} missing");
            }
        }
    }
    let app = browser.get(&world.url(path)).await;
    assert_eq!(app.status, 200, "{}", app.text());
    SignedIn {
        callback,
        login_cookie,
        callback_reply,
        app,
    }
}

/// The bearer token the app received.
fn upstream_bearer(app: &Reply) -> String {
    let seen = app.json();
    let authorization = seen["headers"]["authorization"]
        .as_str()
        .unwrap_or_else(|| panic!("no authorization at the upstream: {seen}"));
    authorization
        .strip_prefix("Bearer ")
        .expect("a Bearer authorization")
        .to_string()
}

#[tokio::test]
async fn a_browser_signs_in_and_the_app_receives_the_access_token_and_identity() {
    let world = LoginWorld::start("sign-in", &[]).await;
    let mut browser = Browser::new();
    let signed = sign_in(&world, &mut browser, "/app/orders?page=2", "alice").await;

    let seen = signed.app.json();
    assert_eq!(seen["path"], "/app/orders?page=2");
    assert_eq!(seen["headers"]["x-user"], "alice");
    assert_eq!(seen["headers"]["x-user-issuer"], world.op.issuer());
    // The gateway's cookies stay between the browser and the gateway.
    let cookies = seen["headers"]["cookie"].as_str().unwrap_or_default();
    assert!(!cookies.contains(SESSION), "{cookies}");

    // The bearer is the provider's access token for this person, signed with its key.
    let token = upstream_bearer(&signed.app);
    let claims = jwt_claims(&token);
    assert_eq!(claims["iss"], world.op.issuer());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], "orders-api");
    assert_eq!(claims["client_id"], "web");
    assert!(claims["exp"].as_u64().unwrap() > unix_now());
    let kid = jwt_header(&token)["kid"].clone();
    let jwks_uri = world.op.discovery().await["jwks_uri"]
        .as_str()
        .unwrap()
        .to_string();
    let keys = fetch("GET", &jwks_uri, &[], None).await.json();
    assert!(
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid),
        "{kid} not among the provider's keys"
    );

    // The session carries on without the provider: same token, no redirect, on an API route too.
    let again = browser.get(&world.url("/app/other")).await;
    assert_eq!(again.status, 200);
    assert_eq!(upstream_bearer(&again), token);
    let api = browser
        .request(
            "GET",
            &world.url("/api/items"),
            &[("accept", "application/json".to_string())],
            None,
        )
        .await;
    assert_eq!(api.status, 200, "{}", api.text());
    assert_eq!(api.json()["headers"]["x-user"], "alice");

    // Forged identity headers from the browser never reach the app.
    let forged = browser
        .request(
            "GET",
            &world.url("/app/x"),
            &[("x-user", "admin".to_string())],
            None,
        )
        .await;
    assert_eq!(forged.json()["headers"]["x-user"], "alice");
}

#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let world = LoginWorld::start("replay", &[]).await;
    let mut browser = Browser::new();
    let signed = sign_in(&world, &mut browser, "/app", "bob").await;

    // The same callback again: its pending login was used up with the first one.
    let replay = browser.get(&signed.callback).await;
    assert_eq!(replay.status, 400, "{}", replay.text());
    assert!(
        replay.cookies_set().is_empty(),
        "{:?}",
        replay.set_cookies()
    );

    // An attacker who copied the pending-login cookie as well: the code was already exchanged.
    let mut attacker = Browser::new();
    attacker.set_cookie(LOGIN, signed.login_cookie.clone());
    let stolen = attacker.get(&signed.callback).await;
    assert_eq!(stolen.status, 401, "{}", stolen.text());
    assert!(
        !stolen.cookies_set().iter().any(|n| n.starts_with(SESSION)),
        "{:?}",
        stolen.set_cookies()
    );
    assert!(attacker.cookie(SESSION).is_none());

    // A callback with a state that is not the pending login's.
    let mut other = Browser::new();
    let start = other.get(&world.url("/app")).await;
    assert_eq!(start.status, 302);
    let code = query_param(&signed.callback, "code").unwrap();
    let forged = other
        .get(&world.url(&format!("/callback?code={code}&state=not-the-state")))
        .await;
    assert_eq!(forged.status, 400, "{}", forged.text());
    assert!(other.cookie(SESSION).is_none());
}

#[tokio::test]
async fn tampered_and_truncated_session_cookies_send_the_browser_to_sign_in_again() {
    let world = LoginWorld::start("tamper", &[]).await;
    let mut browser = Browser::new();
    sign_in(&world, &mut browser, "/app", "carol").await;
    let good = browser.cookie(SESSION).expect("one session cookie");
    let authorize = world.op.discovery().await["authorization_endpoint"]
        .as_str()
        .unwrap()
        .to_string();

    let mid = good.len() / 2;
    let flipped = if &good[mid..=mid] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &good[..mid], &good[mid + 1..]);
    let truncated = good[..good.len() - 8].to_string();
    for (what, value) in [("tampered", tampered), ("truncated", truncated)] {
        browser.set_cookie(SESSION, value.clone());
        let page = browser.get(&world.url("/app")).await;
        assert_eq!(page.status, 302, "{what}: {}", page.text());
        assert!(
            page.location().unwrap().starts_with(&authorize),
            "{what}: {:?}",
            page.location()
        );
        assert!(
            page.cookies_expired().contains(&SESSION.to_string()),
            "{what}: {:?}",
            page.set_cookies()
        );
        // An API route never redirects: 401.
        let mut api_client = Browser::new();
        api_client.set_cookie(SESSION, value);
        let api = api_client
            .request(
                "GET",
                &world.url("/api/items"),
                &[("accept", "application/json".to_string())],
                None,
            )
            .await;
        assert_eq!(api.status, 401, "{what}");
    }

    // The untouched cookie still works: the refusals were about the changes.
    browser.set_cookie(SESSION, good);
    let page = browser.get(&world.url("/app")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.json()["headers"]["x-user"], "carol");
}

#[tokio::test]
async fn a_large_session_is_split_into_chunk_cookies_and_accepted() {
    let world = LoginWorld::start("chunks", &[("OP_TOKEN_PADDING", "6000".to_string())]).await;
    let mut browser = Browser::new();
    let signed = sign_in(&world, &mut browser, "/app", "dave").await;

    let set = signed.callback_reply.cookies_set();
    assert!(!set.contains(&SESSION.to_string()), "{set:?}");
    for chunk in ["oidc_session.0", "oidc_session.1", "oidc_session.2"] {
        assert!(set.contains(&chunk.to_string()), "{chunk} in {set:?}");
    }
    let cookie_bytes: usize = browser
        .jar
        .iter()
        .filter(|c| c.name.starts_with(SESSION))
        .map(|c| c.value.len())
        .sum();
    assert!(cookie_bytes > 8000, "{cookie_bytes}");
    for line in signed.callback_reply.set_cookies() {
        assert!(line.len() <= 4096, "a cookie over 4096 bytes");
    }

    // The whole access token reached the app, padding and all.
    let token = upstream_bearer(&signed.app);
    assert_eq!(jwt_claims(&token)["padding"].as_str().unwrap().len(), 6000);
    assert_eq!(signed.app.json()["headers"]["x-user"], "dave");
    let cookies = signed.app.json()["headers"]["cookie"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!cookies.contains(SESSION), "chunks reached the app");

    // Without its middle chunk the session does not open.
    let chunks: Vec<Cookie> = browser
        .jar
        .iter()
        .filter(|c| c.name.starts_with(SESSION))
        .cloned()
        .collect();
    browser.jar.retain(|c| c.name != "oidc_session.1");
    let broken = browser.get(&world.url("/app")).await;
    assert_eq!(broken.status, 302);
    let expired = broken.cookies_expired();
    assert!(
        expired.contains(&"oidc_session.0".to_string()),
        "{expired:?}"
    );
    for chunk in chunks {
        browser.set_cookie(&chunk.name, chunk.value);
    }

    // Logout reads the chunked session (its ID token is the hint) and expires every chunk.
    let out = browser.get(&world.url("/logout")).await;
    assert_eq!(out.status, 302, "{}", out.text());
    let hint = query_param(&out.location().unwrap(), "id_token_hint").expect("id_token_hint");
    assert_eq!(jwt_claims(&hint)["sub"], "dave");
    let expired = out.cookies_expired();
    for chunk in ["oidc_session.0", "oidc_session.1", "oidc_session.2"] {
        assert!(
            expired.contains(&chunk.to_string()),
            "{chunk} in {expired:?}"
        );
    }
    assert!(!browser
        .cookie_names()
        .iter()
        .any(|n| n.starts_with(SESSION)));
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_without_a_new_sign_in() {
    let world = LoginWorld::start(
        "refresh",
        &[
            ("OP_ACCESS_TOKEN_TTL", "5".to_string()),
            ("OP_REFRESH_WITHOUT_OFFLINE_ACCESS", "1".to_string()),
        ],
    )
    .await;
    let mut browser = Browser::new();
    let signed = sign_in(&world, &mut browser, "/app", "erin").await;
    let first = upstream_bearer(&signed.app);
    let first_exp = jwt_claims(&first)["exp"].as_u64().unwrap();

    // Wait until the first access token has expired (a few seconds: its lifetime is 5 s).
    let wait = (first_exp + 1).saturating_sub(unix_now());
    assert!(wait <= 10, "the access token lives {wait} s more");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert!(unix_now() > first_exp);

    let page = browser.get(&world.url("/app")).await;
    assert_eq!(
        page.status,
        200,
        "a refresh, not a new sign-in: {}",
        page.text()
    );
    let second = upstream_bearer(&page);
    assert_ne!(second, first);
    let claims = jwt_claims(&second);
    assert_eq!(claims["sub"], "erin");
    assert!(claims["exp"].as_u64().unwrap() > first_exp);
    assert!(
        page.cookies_set().iter().any(|n| n.starts_with(SESSION)),
        "the refreshed tokens are stored: {:?}",
        page.set_cookies()
    );
    assert_ne!(claims["jti"], jwt_claims(&first)["jti"]);
    assert!(claims["exp"].as_u64().unwrap() > unix_now());
    assert_eq!(page.json()["headers"]["x-user"], "erin");

    // The refreshed session goes on (its new token is not expired yet, or is refreshed again).
    let next = browser.get(&world.url("/app/next")).await;
    assert_eq!(next.status, 200, "{}", next.text());
    assert_eq!(jwt_claims(&upstream_bearer(&next))["sub"], "erin");
}

#[tokio::test]
async fn logout_clears_the_session_and_ends_it_at_the_provider() {
    let world = LoginWorld::start("logout", &[]).await;
    let mut browser = Browser::new();
    sign_in(&world, &mut browser, "/app", "frank").await;
    let end_session = world.op.discovery().await["end_session_endpoint"]
        .as_str()
        .unwrap()
        .to_string();

    let out = browser.get(&world.url("/logout")).await;
    assert_eq!(out.status, 302, "{}", out.text());
    let location = out.location().unwrap();
    assert!(
        location.starts_with(&format!("{end_session}?")),
        "{location}"
    );
    let hint = query_param(&location, "id_token_hint").expect("id_token_hint");
    let hint_claims = jwt_claims(&hint);
    assert_eq!(hint_claims["sub"], "frank");
    assert_eq!(hint_claims["aud"], "web");
    assert_eq!(
        query_param(&location, "post_logout_redirect_uri").unwrap(),
        world.url("/signed-out")
    );
    assert!(
        out.cookies_expired().contains(&SESSION.to_string()),
        "{:?}",
        out.set_cookies()
    );
    assert!(browser.cookie(SESSION).is_none());

    // The provider accepts the hint and the registered redirect: it asks to confirm.
    let confirm = browser.get(&location).await;
    assert_eq!(confirm.status, 200, "{}", confirm.text());
    let html = confirm.text();
    let (action, mut form) = parse_form(&html).expect("the provider's logout form");
    assert!(html.contains("name=\"logout\""));
    form.push(("logout".into(), "yes".into()));
    let body = form
        .iter()
        .map(|(n, v)| format!("{}={}", form_encode(n), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let done = browser
        .request(
            "POST",
            &absolute(&confirm.url, &action),
            &[(
                "content-type",
                "application/x-www-form-urlencoded".to_string(),
            )],
            Some(body),
        )
        .await;
    let back = browser
        .follow(done, &world.url("/signed-out"))
        .await
        .unwrap_or_else(|page| panic!("{} {}", page.status, page.text()));
    let signed_out = browser.get(&back).await;
    assert_eq!(signed_out.status, 200);
    assert_eq!(signed_out.json()["path"], "/signed-out");
    assert!(signed_out.json()["headers"].get("x-user").is_none());

    // Signed out here and at the provider: the app needs a new sign-in, with the login page.
    let again = browser.get(&world.url("/app")).await;
    assert_eq!(again.status, 302);
    let page = browser
        .follow(again, &world.url("/callback"))
        .await
        .expect_err("the provider asks to sign in again");
    assert!(page.text().contains("name=\"login\""), "{}", page.text());
}

#[tokio::test]
async fn a_request_that_is_not_from_a_browser_gets_401_not_a_redirect() {
    let world = LoginWorld::start("non-browser", &[]).await;
    for (method, path, accept) in [
        ("GET", "/app", "application/json"),
        ("GET", "/app", "*/*"),
        ("POST", "/app", "text/html"),
        ("GET", "/api/items", "text/html"),
    ] {
        let reply = fetch(
            method,
            &world.url(path),
            &[("accept", accept.to_string())],
            None,
        )
        .await;
        assert_eq!(reply.status, 401, "{method} {path} {accept}");
        assert!(reply.location().is_none(), "{method} {path} {accept}");
        let challenge = reply.headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert!(!reply.cookies_set().contains(&LOGIN.to_string()));
    }
    // The same route redirects a browser.
    let browser = fetch(
        "GET",
        &world.url("/app"),
        &[("accept", "text/html".to_string())],
        None,
    )
    .await;
    assert_eq!(browser.status, 302);
}

async fn opaque_token(op: &Op) -> String {
    let body =
        "grant_type=client_credentials&scope=orders%3Aread&resource=https%3A%2F%2Fopaque-api";
    let reply = fetch(
        "POST",
        &format!("{}/token", op.issuer()),
        &svc_form_headers(),
        Some(body.to_string()),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let token = reply.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(token.split('.').count(), 1, "an opaque token, not a JWT");
    token
}

#[tokio::test]
async fn introspection_accepts_an_active_opaque_token_and_refuses_it_once_revoked() {
    let op = Op::start("introspection", &[]).await;
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let filter = json!({
        "providers": [{
            "name": "op",
            "issuer": op.issuer(),
            "audiences": ["orders-api"],
            "client_id": "svc",
            "client_secret": "svc-secret",
            "introspection": true,
            "introspection_cache_max_secs": 1,
        }],
        "rules": [{"path_prefix": "/api", "scopes_required": ["orders:read"]}],
        "claims_to_headers": {"x-client": "client_id", "x-roles": "roles"},
    });
    let mut config = HostConfig::parse(&format!(
        "listen: 127.0.0.1:0\nupstream: {}\nworkers: 2\n",
        echo.url()
    ))
    .unwrap();
    config.filter.config = FilterJson(serde_json::to_vec(&filter).unwrap());
    let gateway = Gateway::start_with_wasm(&config, FILTER_WASM.to_vec())
        .await
        .unwrap();
    let url = format!("http://{}/api/orders", gateway.addr());

    let token = opaque_token(&op).await;
    let bearer = [("authorization", format!("Bearer {token}"))];
    for _ in 0..2 {
        // Both workers: each asks the provider (or its cache) and lets the request through.
        let reply = fetch("GET", &url, &bearer, None).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let seen = reply.json();
        assert_eq!(seen["headers"]["x-client"], "svc");
        assert_eq!(seen["headers"]["authorization"], format!("Bearer {token}"));
    }

    let revoke = fetch(
        "POST",
        &format!("{}/token/revocation", op.issuer()),
        &svc_form_headers(),
        Some(format!(
            "token={}&token_type_hint=access_token",
            form_encode(&token)
        )),
    )
    .await;
    assert_eq!(revoke.status, 200, "{}", revoke.text());
    assert_eq!(op.introspect(&token).await["active"], false);

    // Past the cache bound (1 s), every worker asks again and hears that the token is revoked.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for _ in 0..2 {
        let reply = fetch("GET", &url, &bearer, None).await;
        assert_eq!(reply.status, 401, "{}", reply.text());
        let challenge = reply.headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("invalid_token"), "{challenge}");
        assert!(reply.json().get("method").is_none(), "the app answered");
    }

    // A token the provider never issued.
    let unknown = fetch(
        "GET",
        &url,
        &[("authorization", "Bearer not-a-token-it-issued".to_string())],
        None,
    )
    .await;
    assert_eq!(unknown.status, 401);
}
