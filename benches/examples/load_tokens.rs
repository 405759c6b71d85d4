//! Writes what the load comparison (`benches/load/compare.sh`) needs, signed with the test key
//! `testdata/keys/rsa-a.pem` (RSA-2048, RS256, `kid` "bench"):
//!
//! - `jwks.json`: the public key set, inlined into the gateway's filter configuration;
//! - `seen.txt`: one token, sent on every request of the seen-before run;
//! - `tokens.txt`: N distinct tokens (they differ in `jti`), one per line, for the first-seen run.
//!
//! Tokens are valid for two hours from now (the proxies under test read the real clock).
//!
//! `cargo run -p oidc-benches --example load_tokens -- OUT_DIR [N]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use oidc_testdata::keys::TestKey;
use serde_json::json;

pub const ISSUER: &str = "https://idp.example.com";

fn main() {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().expect("usage: load_tokens OUT_DIR [N]"));
    let n: u64 = args.next().map_or(10_000, |s| s.parse().expect("N"));
    std::fs::create_dir_all(&out).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let key = TestKey::rs256("bench");
    let mint = |jti: &str| {
        key.mint(&json!({
            "iss": ISSUER, "sub": "user-1", "aud": "api", "scope": "read write",
            "iat": now, "exp": now + 7200, "jti": jti,
        }))
    };
    let jwks = json!({"keys": [key.jwk()]});
    std::fs::write(out.join("jwks.json"), jwks.to_string()).unwrap();
    std::fs::write(out.join("seen.txt"), format!("{}\n", mint("seen"))).unwrap();

    // Signing dominates; split it over the machine's cores.
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get()) as u64;
    let chunks: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let mint = &mint;
                s.spawn(move || {
                    (0..n)
                        .filter(|i| i % threads == t)
                        .map(|i| mint(&format!("first-{i}")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut file = std::io::BufWriter::new(std::fs::File::create(out.join("tokens.txt")).unwrap());
    for token in chunks.iter().flatten() {
        writeln!(file, "{token}").unwrap();
    }
    file.flush().unwrap();
    eprintln!(
        "wrote {n} tokens, seen.txt and jwks.json to {}",
        out.display()
    );
}
