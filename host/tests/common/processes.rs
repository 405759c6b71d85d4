//! Child processes for the suites that run real programs: the OpenID Provider in `e2e/op/`
//! (`node server.mjs`, oidc-provider) and the `oidc-host` binary. Each child is owned by a guard that
//! kills it on drop, panics included; every wait is bounded; everything listens on 127.0.0.1.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{scratch_dir, send};

/// Bound on a child coming up (node loading oidc-provider, the host compiling its filter).
pub const CHILD_START: Duration = Duration::from_secs(60);
/// Bound on a short-lived helper (`keys.mjs`, `authcode.mjs`, `node --version`).
pub const HELPER_RUN: Duration = Duration::from_secs(60);

const INSTALL_HINT: &str = "the real-OP suite needs Node.js (>= 20) and the OP's npm packages: \
                            run `npm ci --prefix e2e/op --no-audit --no-fund` (scripts/test does)";

/// The binary under test: `OIDC_HOST_BIN` (CI points it at the release build), else Cargo's.
pub fn host_bin() -> PathBuf {
    std::env::var_os("OIDC_HOST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_oidc-host")))
}

fn op_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .join("e2e")
        .join("op")
}

/// A running child, killed (and reaped) when dropped. Its stdout and stderr lines are collected.
pub struct ChildGuard {
    name: String,
    child: Child,
    lines: Receiver<String>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ChildGuard {
    pub fn spawn(name: &str, command: &mut Command) -> ChildGuard {
        die_with_the_test(command);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let (tx, lines) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for stream in [Box::new(stdout) as Box<dyn Read + Send>, Box::new(stderr)] {
            let (tx, log) = (tx.clone(), log.clone());
            // Keeps draining after start-up so the child never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    log.lock().expect("log").push(line.clone());
                    let _ = tx.send(line);
                }
            });
        }
        ChildGuard {
            name: name.to_owned(),
            child,
            lines,
            log,
        }
    }

    /// Everything the child printed so far, for failure messages.
    pub fn output(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }

    /// Waits (bounded) for the first line `pick` maps to a value.
    pub fn wait_for<T>(&self, what: &str, mut pick: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + CHILD_START;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(value) = pick(&line) {
                        return value;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{} did not report {what} within {CHILD_START:?}; output:\n{}",
                    self.name,
                    self.output()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "{} exited before reporting {what}; output:\n{}",
                    self.name,
                    self.output()
                ),
            }
        }
    }
}

/// Backs up `Drop` when the test process itself is killed (a CI timeout): on Linux the child gets
/// SIGKILL when the thread that spawned it exits, so spawn from the test's own thread (not from
/// `spawn_blocking`, whose threads come and go).
fn die_with_the_test(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt as _;
        // SAFETY: between fork and exec the closure only calls prctl, which is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}

/// Runs a short-lived command to completion within `HELPER_RUN`, killing it otherwise.
pub fn run_bounded(name: &str, command: &mut Command) -> Output {
    die_with_the_test(command);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}; {INSTALL_HINT}"));
    let readers = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .map(|stream| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_end(&mut buf);
            }
            buf
        })
    });
    let deadline = Instant::now() + HELPER_RUN;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} did not finish within {HELPER_RUN:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let [stdout, stderr] = readers.map(|r| r.join().expect("reader"));
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Fails (never skips) unless node and the OP's packages are installed.
fn require_node_and_op_packages() {
    let node = run_bounded("node --version", Command::new("node").arg("--version"));
    assert!(
        node.status.success(),
        "`node --version` failed: {INSTALL_HINT}"
    );
    let package = op_dir().join("node_modules/oidc-provider/package.json");
    assert!(
        package.is_file(),
        "{} is missing: {INSTALL_HINT}",
        package.display()
    );
}

/// The OpenID Provider of `e2e/op/server.mjs` on a fixed loopback port, so it can be stopped,
/// given new keys and started again at the same issuer URL.
pub struct OpenIdProvider {
    port: u16,
    keys: PathBuf,
    redirect_uri: String,
    process: Option<ChildGuard>,
}

impl OpenIdProvider {
    /// Writes an RSA key `rsa-1` and an EC key `ec-1` and picks a free port; does not start.
    pub fn prepare(label: &str) -> OpenIdProvider {
        require_node_and_op_packages();
        let keys = scratch_dir(label).join("op-keys.json");
        let op = OpenIdProvider {
            port: super::closed_port().port(),
            keys,
            redirect_uri: format!("http://{}/callback", super::closed_port()),
            process: None,
        };
        op.write_keys(&["rsa-1:rsa", "ec-1:ec"]);
        op
    }

    /// `prepare` then `start`.
    pub fn start_new(label: &str) -> OpenIdProvider {
        let mut op = OpenIdProvider::prepare(label);
        op.start();
        op
    }

    fn write_keys(&self, specs: &[&str]) {
        let output = run_bounded(
            "node keys.mjs",
            Command::new("node")
                .arg(op_dir().join("keys.mjs"))
                .arg(&self.keys)
                .args(specs),
        );
        assert!(
            output.status.success(),
            "keys.mjs failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts the OP and waits for its "op listening" line.
    pub fn start(&mut self) {
        assert!(self.process.is_none(), "the OP is already running");
        let process = ChildGuard::spawn(
            "the OP (node e2e/op/server.mjs)",
            Command::new("node")
                .arg(op_dir().join("server.mjs"))
                .current_dir(op_dir())
                .env("OP_PORT", self.port.to_string())
                .env("OP_KEYS", &self.keys)
                .env("OP_REDIRECTS", &self.redirect_uri),
        );
        let expected = format!("op listening {}", self.issuer());
        process.wait_for(&expected, |line| (line.trim() == expected).then_some(()));
        self.process = Some(process);
    }

    /// Kills the OP; its port stays reserved for `start`.
    pub fn stop(&mut self) {
        self.process = None;
    }

    /// Stops the OP, writes a new RSA key `kid` in front (it signs; the old keys stay published)
    /// and starts it again on the same port.
    pub fn rotate_rsa_key(&mut self, kid: &str) {
        self.stop();
        self.write_keys(&[&format!("{kid}:rsa")]);
        self.start();
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// A client-credentials access token of client `svc` for `resource` with `scope`, as
    /// `curl -u svc:svc-secret -d grant_type=client_credentials -d resource=… -d scope=… /token`.
    pub async fn client_credentials(&self, resource: &str, scope: &str) -> String {
        let form = format!(
            "grant_type=client_credentials&resource={}&scope={}",
            form_encode(resource),
            form_encode(scope)
        );
        let reply = send(
            self.addr(),
            "POST",
            "/token",
            &[
                ("authorization", "Basic c3ZjOnN2Yy1zZWNyZXQ="), // svc:svc-secret
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            &form,
        )
        .await;
        assert_eq!(reply.status, 200, "token endpoint: {:?}", reply.body);
        reply.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// The token response of the authorization code flow with PKCE for user `alice` of client
    /// `web`, driven by `e2e/op/authcode.mjs` without a browser.
    pub fn authorization_code(&self) -> serde_json::Value {
        let output = run_bounded(
            "node authcode.mjs",
            Command::new("node")
                .arg(op_dir().join("authcode.mjs"))
                .arg(self.issuer())
                .arg(&self.redirect_uri),
        );
        assert!(
            output.status.success(),
            "authcode.mjs failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("token response JSON")
    }
}

fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `oidc-host run` as a child process, with its proxy and admin addresses read from its log.
pub struct HostProcess {
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    process: ChildGuard,
}

impl HostProcess {
    /// Writes `gateway.yaml` (listen and admin on ephemeral ports) and runs the binary on it.
    pub fn start(label: &str, upstream: &str, workers: usize, filter: &serde_json::Value) -> Self {
        let config = scratch_dir(label).join("gateway.yaml");
        let yaml = format!(
            "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstream: {upstream}\nworkers: {workers}\n\
             filter:\n  config: {filter}\n"
        );
        std::fs::write(&config, yaml).expect("write gateway.yaml");
        let bin = host_bin();
        let process = ChildGuard::spawn(
            &format!("oidc-host ({}, from OIDC_HOST_BIN or Cargo)", bin.display()),
            Command::new(&bin)
                .args([
                    "--log-format",
                    "json",
                    "--log-level",
                    "info",
                    "run",
                    "--config",
                ])
                .arg(&config),
        );
        let (addr, admin) = process.wait_for("gateway listening", |line| {
            let record: serde_json::Value = serde_json::from_str(line).ok()?;
            let fields = &record["fields"];
            if fields["message"] != "gateway listening" {
                return None;
            }
            let addr = fields["addr"].as_str()?.parse().ok()?;
            let admin = fields["admin"]
                .as_str()?
                .strip_prefix("Some(")?
                .strip_suffix(')')?
                .parse()
                .ok()?;
            Some((addr, admin))
        });
        HostProcess {
            addr,
            admin,
            process,
        }
    }

    /// The value of one counter on the admin `/metrics` page (0 when not exposed yet).
    pub async fn metric(&self, name: &str) -> u64 {
        let reply = super::get(self.admin, "/metrics", &[]).await;
        assert_eq!(reply.status, 200);
        let text = String::from_utf8_lossy(&reply.body);
        text.lines()
            .filter_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .map(|value| value.trim().parse::<u64>().expect("counter value"))
            .next()
            .unwrap_or(0)
    }

    /// The host's log so far, for failure messages.
    pub fn log(&self) -> String {
        self.process.output()
    }
}
