//! Test harness: the real `kakunin-issuer` binary, seeded with the demo data and serving
//! on a free loopback port, in a fresh temporary directory (database, keys, demo files,
//! log). Dropping the harness stops the server.
//!
//! ```ignore
//! let issuer = support::issuer::IssuerProcess::start();
//! // issuer.base_url, issuer.registry_toml, issuer.token, issuer.demo_keys
//! let out = issuer.cli(&["cancel", "W2025000001"]);
//! ```

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The HMAC secret the harness gives the issuer (tests may look for it in logs).
pub const SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";

/// Every variable the issuer reads; cleared so the caller's environment cannot leak in.
const ISSUER_VARS: [&str; 9] = [
    "KAKUNIN_ISSUER_DATABASE_URL",
    "KAKUNIN_ISSUER_BIND",
    "KAKUNIN_ISSUER_KEYS_DIR",
    "KAKUNIN_ISSUER_SECRET",
    "KAKUNIN_ISSUER_SECRET_FILE",
    "KAKUNIN_ISSUER_ID",
    "KAKUNIN_ISSUER_NAME",
    "KAKUNIN_ISSUER_LOG",
    "KAKUNIN_NOTICE_FONT",
];

/// One row of `demo-keys.csv`.
#[derive(Debug, Clone)]
pub struct DemoKey {
    pub certificate_number: String,
    /// Printed form, `XXXX-XXXX-XXXX-XXXX`.
    pub auth_key: String,
    /// `verified`, `rejected` or `not_found`.
    pub expected_outcome: String,
    /// Failing (rejected) or warned (verified) rule ids; empty when none.
    pub expected_rules: Vec<String>,
    pub note: String,
}

/// A running, seeded `kakunin-issuer serve`.
pub struct IssuerProcess {
    /// `http://127.0.0.1:{port}`.
    pub base_url: String,
    /// `issuers.toml` as `demo-seed` wrote it: one `[[issuer]]` with the token inline
    /// and the demo key block. Load it with `Registry::from_toml_str`.
    pub registry_toml: String,
    /// The bearer token of the client `demo`.
    pub token: String,
    /// The rows of `demo-keys.csv`, in file order.
    pub demo_keys: Vec<DemoKey>,
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl IssuerProcess {
    /// Seeds a fresh database with `demo-seed` and starts `serve`; waits for `/healthz`.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        let mut me = IssuerProcess {
            base_url: format!("http://127.0.0.1:{port}"),
            registry_toml: String::new(),
            token: String::new(),
            demo_keys: Vec::new(),
            port,
            dir,
            child: None,
        };
        let demo = me.demo_dir();
        let out = me.cli(&["demo-seed", "--out", demo.to_str().expect("utf-8 path")]);
        assert!(
            out.status.success(),
            "demo-seed failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        me.registry_toml = read(&demo.join("issuers.toml"));
        me.token = read(&demo.join("token.txt")).trim().to_owned();
        me.demo_keys = read_demo_keys(&demo.join("demo-keys.csv"));
        me.spawn();
        me
    }

    /// The server's process id, for benches that read its CPU time.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A command for the issuer binary with this instance's settings (and secret).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(crate::bins::kakunin_issuer());
        for v in ISSUER_VARS {
            cmd.env_remove(v);
        }
        cmd.current_dir(self.dir.path())
            .env("KAKUNIN_ISSUER_DATABASE_URL", self.db_path())
            .env("KAKUNIN_ISSUER_KEYS_DIR", self.keys_dir())
            .env("KAKUNIN_ISSUER_BIND", format!("127.0.0.1:{}", self.port))
            .env("KAKUNIN_ISSUER_SECRET", SECRET)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs one CLI command to completion.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .expect("run kakunin-issuer")
    }

    /// Runs one CLI command with `stdin` as its standard input.
    pub fn cli_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = self.command();
        cmd.args(args);
        output_with_stdin(cmd, stdin)
    }

    /// Stops and starts the server on the same port and database.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("issuer.db")
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    /// Where `demo-seed` wrote `token.txt`, `issuers.toml`, `notices/`, `records/`,
    /// `demo-keys.csv`.
    pub fn demo_dir(&self) -> PathBuf {
        self.dir.path().join("demo")
    }

    /// Everything the server wrote to standard output and standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("serve.log")
    }

    /// The demo row of a certificate number (the first, i.e. the right key).
    pub fn demo_key(&self, number: &str) -> &DemoKey {
        self.demo_keys
            .iter()
            .find(|k| k.certificate_number == number)
            .unwrap_or_else(|| panic!("{number} is not in demo-keys.csv"))
    }

    /// `POST /v1/certificates/lookup` URL.
    pub fn lookup_url(&self) -> String {
        format!("{}/v1/certificates/lookup", self.base_url)
    }

    fn spawn(&mut self) {
        let mut cmd = self.command();
        cmd.arg("serve").env("KAKUNIN_ISSUER_LOG", "info");
        serve_until_healthy(cmd, &self.log_path(), self.port, &mut self.child);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for IssuerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts `cmd` (a `serve`) with its output appended to `log` and waits up to 60 s for
/// `/healthz` on `port`. The child goes into `child` before the wait, so dropping the
/// harness stops it even when the wait fails.
pub fn serve_until_healthy(mut cmd: Command, log: &Path, port: u16, child: &mut Option<Child>) {
    let name = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let spawned = cmd
        .stdout(file.try_clone().expect("log file"))
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("start {name} serve: {e}"));
    *child = Some(spawned);
    let read_log = || std::fs::read_to_string(log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !healthz(port) {
        if let Some(Ok(Some(status))) = child.as_mut().map(|c| c.try_wait()) {
            panic!("{name} serve exited ({status}):\n{}", read_log());
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not answer /healthz:\n{}",
            read_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `cmd` to completion with `stdin` as its standard input, capturing its output.
pub fn output_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("write stdin");
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for {program}: {e}"))
}

/// A port nobody listens on right now (bound and released; the race is acceptable for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub fn healthz(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req =
        format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn read_demo_keys(path: &Path) -> Vec<DemoKey> {
    let mut reader = csv::Reader::from_path(path).expect("demo-keys.csv");
    let headers = reader.headers().expect("header row").clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            "certificate_number",
            "auth_key",
            "expected_outcome",
            "expected_rules",
            "note"
        ]
    );
    reader
        .records()
        .map(|r| {
            let r = r.expect("csv row");
            DemoKey {
                certificate_number: r[0].to_owned(),
                auth_key: r[1].to_owned(),
                expected_outcome: r[2].to_owned(),
                expected_rules: r[3]
                    .split('|')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                note: r[4].to_owned(),
            }
        })
        .collect()
}
