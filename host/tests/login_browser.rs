//! Browser login once through a real browser: headless Chromium (Debian's `chromium`, driven by
//! e2e/browser/login.mjs with playwright-core) opens a protected page of the gateway, signs in at
//! the real OpenID Provider (e2e/op) and consents, and must end on the app's page showing the
//! identity headers the gateway added. Fails, never skips, when Chromium or the npm packages are
//! missing: scripts/test installs them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod login;

use std::process::{Command, Stdio};
use std::time::Duration;

use login::*;
use serde_json::Value;

const CHROMIUM: &str = "/usr/bin/chromium";
/// The whole browser run, Chromium's start included.
const BROWSER_BOUND: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_in_through_the_gateway_and_sees_the_identity_headers() {
    assert!(
        std::path::Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: apt-get install chromium (scripts/test does)"
    );
    let script_dir = repo().join("e2e/browser");
    assert!(
        script_dir.join("node_modules/playwright-core").is_dir(),
        "e2e/browser/node_modules is missing: run `npm ci --prefix e2e/browser`"
    );
    let world = LoginWorld::start("chromium", &[]).await;
    let start = world.url("/app/dashboard");
    let screenshot = repo().join("target/login-browser/final-page.png");
    let _ = std::fs::remove_file(&screenshot);

    let child = Command::new("node")
        .arg(script_dir.join("login.mjs"))
        .arg(&start)
        .arg(&screenshot)
        .arg("grace")
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut guard = ChildGuard(child);
    // Wait off the async threads (the gateway runs on them) and kill the browser when it hangs.
    let output = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + BROWSER_BOUND;
        loop {
            if guard.0.try_wait().unwrap().is_some() {
                let mut stdout = String::new();
                let mut stderr = String::new();
                use std::io::Read;
                guard
                    .0
                    .stdout
                    .take()
                    .unwrap()
                    .read_to_string(&mut stdout)
                    .unwrap();
                guard
                    .0
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut stderr)
                    .unwrap();
                let status = guard.0.wait().unwrap();
                return (status, stdout, stderr);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the browser did not finish within {BROWSER_BOUND:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    let (status, stdout, stderr) = output;
    assert!(status.success(), "login.mjs failed: {stderr}\n{stdout}");
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("login.mjs printed no result ({e}): {stdout}\n{stderr}");
    });

    assert_eq!(seen["url"], start.as_str());
    // The only requests off 127.0.0.1 are the provider's login pages importing a web font; they
    // were aborted, never sent.
    for origin in seen["blocked"].as_array().unwrap() {
        assert_eq!(origin, "https://fonts.googleapis.com", "{seen}");
    }
    // The page is the echo app's JSON: what the gateway forwarded.
    let app: Value = serde_json::from_str(seen["body"].as_str().unwrap())
        .unwrap_or_else(|e| panic!("the final page is not the app's JSON ({e}): {seen}"));
    assert_eq!(app["path"], "/app/dashboard");
    assert_eq!(app["headers"]["x-user"], "grace");
    assert_eq!(app["headers"]["x-user-issuer"], world.op.issuer());
    let bearer = app["headers"]["authorization"].as_str().unwrap();
    let token = bearer.strip_prefix("Bearer ").expect("a Bearer token");
    assert_eq!(jwt_claims(token)["sub"], "grace");
    assert!(!app["headers"]["cookie"]
        .as_str()
        .unwrap_or_default()
        .contains("oidc_session"));
    // The browser holds the session cookie, out of scripts' reach.
    let cookies = seen["cookies"].as_array().unwrap();
    let session = cookies
        .iter()
        .find(|c| c["name"] == "oidc_session")
        .unwrap_or_else(|| panic!("no session cookie in {cookies:?}"));
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Lax");
    assert!(!cookies.iter().any(|c| c["name"] == "oidc_session_login"));
    assert!(
        screenshot.is_file(),
        "no screenshot at {}",
        screenshot.display()
    );
}
