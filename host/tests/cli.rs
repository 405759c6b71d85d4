//! The `oidc-host` binary: `check` accepting and refusing configurations (each cause named once,
//! logs plain and complete when stderr is not a terminal), and `run` draining an in-flight request
//! on SIGTERM before exiting 0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_oidc-host");

fn write_config(label: &str, wasm: &[u8], upstream: &str) -> std::path::PathBuf {
    let dir = scratch_dir(label);
    let wasm_path = dir.join("filter.wasm");
    std::fs::write(&wasm_path, wasm).unwrap();
    let config = dir.join("gateway.yaml");
    std::fs::write(&config, config_yaml(upstream, Some(&wasm_path), "")).unwrap();
    config
}

fn check(config: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .args(["check", "--config"])
        .arg(config)
        .output()
        .unwrap()
}

#[test]
fn check_accepts_a_config_whose_filter_configures() {
    let config = write_config("check-ok", &pass_through_guest(), "http://127.0.0.1:9");
    let output = check(&config);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok"));
}

#[test]
fn check_refuses_a_filter_config_with_the_filters_reason() {
    let config = write_config("check-bad-filter", &rejecting_guest(), "http://127.0.0.1:9");
    let output = check(&config);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(REJECT_REASON), "{stderr}");
}

#[test]
fn check_refuses_a_host_config_with_the_field_path() {
    let dir = scratch_dir("check-bad-host");
    let config = dir.join("gateway.yaml");
    std::fs::write(
        &config,
        "upstream: http://127.0.0.1:9\nclusters:\n  idp:\n    url: ftp://x\n",
    )
    .unwrap();
    let output = check(&config);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("clusters.idp.url"), "{stderr}");
}

#[test]
fn check_refuses_a_missing_file() {
    let output = check(std::path::Path::new("/nonexistent/gateway.yaml"));
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/gateway.yaml"));
}

/// The last line of stderr: the `error: …` line `main` prints after the logs.
fn error_line(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr.lines().last().unwrap_or_default();
    assert!(line.starts_with("error: "), "{stderr}");
    line.to_owned()
}

#[test]
fn a_refusal_names_each_cause_once() {
    let output = check(std::path::Path::new("/nonexistent/gateway.yaml"));
    let line = error_line(&output);
    assert_eq!(
        line.matches("No such file or directory").count(),
        1,
        "{line}"
    );

    let config = write_config("check-cause-once", &rejecting_guest(), "http://127.0.0.1:9");
    let line = error_line(&check(&config));
    assert_eq!(line.matches(REJECT_REASON).count(), 1, "{line}");
}

#[test]
fn logs_written_to_a_pipe_are_plain_text_and_all_there_at_exit() {
    let config = write_config("check-plain-logs", &rejecting_guest(), "http://127.0.0.1:9");
    let output = check(&config);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains('\x1b'), "terminal escapes in {stderr:?}");
    // The filter's own log line (written by the log thread) comes before the final error line.
    let logged = stderr
        .lines()
        .position(|l| l.contains("ERROR") && l.contains(REJECT_REASON));
    let last = stderr.lines().count().checked_sub(1);
    assert!(logged.is_some() && logged < last, "{stderr}");
}

/// An upstream that answers one request only when told to, and reports when it has received it.
async fn held_upstream() -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Receiver<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (received_tx, received_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed before the request head");
            head.extend_from_slice(&buf[..n]);
        }
        received_tx.send(()).unwrap();
        release_rx.await.ok();
        tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\ndrained")
            .await
            .unwrap();
        tcp.flush().await.unwrap();
        // Keep the connection open until the proxy closes it.
        let _ = tcp.read(&mut buf).await;
    });
    (addr, received_rx, release_tx)
}

#[tokio::test]
async fn sigterm_drains_the_in_flight_request_and_exits_zero() {
    let (upstream, received, release) = held_upstream().await;
    let config = write_config(
        "sigterm",
        &pass_through_guest(),
        &format!("http://{upstream}"),
    );
    let mut child = Command::new(BIN)
        .args(["--log-format", "json", "run", "--config"])
        .arg(&config)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // The gateway logs its bound address; read lines until it does.
    let stderr = child.stderr.take().unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if sent {
                continue;
            }
            if let Ok(record) = serde_json::from_str::<serde_json::Value>(&line) {
                if record["fields"]["message"] == "gateway listening" {
                    let addr = record["fields"]["addr"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    addr_tx.send(addr).ok();
                    sent = true;
                }
            }
        }
    });
    let addr: std::net::SocketAddr =
        tokio::task::spawn_blocking(move || addr_rx.recv_timeout(Duration::from_secs(60)).unwrap())
            .await
            .unwrap()
            .parse()
            .unwrap();

    let request = tokio::spawn(async move { get(addr, "/slow", &[]).await });
    tokio::time::timeout(STEP, received).await.unwrap().unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: sending a signal to our own child process by its pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    // Give the signal a chance to be handled while the request is still held, then release it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    release.send(()).unwrap();
    let reply = tokio::time::timeout(STEP, request).await.unwrap().unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, bytes::Bytes::from_static(b"drained"));
    let status = tokio::task::spawn_blocking(move || {
        for _ in 0..600 {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        child.kill().ok();
        None
    })
    .await
    .unwrap();
    let status = status.expect("the gateway exits after draining");
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn check_refuses_a_bad_config_of_the_embedded_filter_with_the_field_path() {
    let dir = scratch_dir("check-real-filter");
    let config = dir.join("gateway.yaml");
    std::fs::write(
        &config,
        "upstream: http://127.0.0.1:9\nworkers: 1\nfilter:\n  config:\n    providers:\n      - name: idp\n        issuer: ftp://idp.example\n",
    )
    .unwrap();
    let output = check(&config);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("providers[0].issuer"), "{stderr}");
}
