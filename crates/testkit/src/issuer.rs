//! The real `kakunin-issuer`, seeded with the demo data and serving on a loopback port it
//! binds itself, in a fresh temporary directory (database, keys, demo files, log).
//! Dropping it stops the server.
//!
//! ```ignore
//! let issuer = IssuerProcess::start();
//! // issuer.base_url, issuer.registry_toml, issuer.token, issuer.demo_keys
//! let out = issuer.cli(&["cancel", "W2025000001"]);
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

use crate::process::{output_with_stdin, Serving};
use crate::tls::ServerCert;

/// The HMAC secret the kit gives the issuer (tests look for it in logs).
pub const SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";

/// Every variable the issuer reads; cleared so the caller's environment cannot leak in.
const ISSUER_VARS: [&str; 11] = [
    "KAKUNIN_ISSUER_DATABASE_URL",
    "KAKUNIN_ISSUER_BIND",
    "KAKUNIN_ISSUER_KEYS_DIR",
    "KAKUNIN_ISSUER_SECRET",
    "KAKUNIN_ISSUER_SECRET_FILE",
    "KAKUNIN_ISSUER_ID",
    "KAKUNIN_ISSUER_NAME",
    "KAKUNIN_ISSUER_LOG",
    "KAKUNIN_NOTICE_FONT",
    "KAKUNIN_ISSUER_TLS_CERT",
    "KAKUNIN_ISSUER_TLS_KEY",
];

/// The `base_url` `demo-seed` writes before the server has a port; replaced by the
/// real one once the server says where it listens.
const SEEDED_BASE_URL: &str = "http://issuer-not-started.invalid";

/// One row of `demo-keys.csv`.
#[derive(Debug, Clone)]
pub struct DemoKey {
    pub certificate_number: String,
    /// Printed form, `XXXX-XXXX-XXXX-XXXX`.
    pub auth_key: String,
    /// `verified`, `rejected` or `not_found`.
    pub expected_outcome: String,
    /// Failing (rejected) or warned (verified) rule ids, in the profile's order; empty
    /// when none.
    pub expected_rules: Vec<String>,
    pub note: String,
}

/// A running, seeded `kakunin-issuer serve`.
pub struct IssuerProcess {
    /// `http://127.0.0.1:{port}` (`https://` when started with TLS), without a trailing
    /// `/`; changes on [`restart`](Self::restart).
    pub base_url: String,
    /// `issuers.toml` as `demo-seed` wrote it, with the server's real `base_url`: one
    /// `[[issuer]]` with the token inline and the demo key block.
    pub registry_toml: String,
    /// The bearer token of the client `demo`.
    pub token: String,
    /// The rows of `demo-keys.csv`, in file order.
    pub demo_keys: Vec<DemoKey>,
    seeded_registry: String,
    dir: TempDir,
    server: Option<Serving>,
    tls: Option<ServerCert>,
}

impl IssuerProcess {
    /// Seeds a fresh database with `demo-seed` and starts `serve`.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// As [`Self::start`], serving https with `cert` (`KAKUNIN_ISSUER_TLS_CERT` /
    /// `_KEY`): `base_url` and the registry say `https://127.0.0.1:{port}`. The kit
    /// waits for the line `serve` prints once it listens, not for a verified request,
    /// so a certificate made to be refused (expired, another host) is served too.
    pub fn start_tls(cert: &ServerCert) -> Self {
        Self::start_with(Some(cert.clone()))
    }

    fn start_with(tls: Option<ServerCert>) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut me = IssuerProcess {
            base_url: String::new(),
            registry_toml: String::new(),
            token: String::new(),
            demo_keys: Vec::new(),
            seeded_registry: String::new(),
            dir,
            server: None,
            tls,
        };
        let demo = me.demo_dir();
        let out = me.cli(&[
            "demo-seed",
            "--out",
            demo.to_str().expect("utf-8 path"),
            "--base-url",
            SEEDED_BASE_URL,
        ]);
        assert!(
            out.status.success(),
            "demo-seed failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        me.seeded_registry = read(&demo.join("issuers.toml"));
        me.token = read(&demo.join("token.txt")).trim().to_owned();
        me.demo_keys = read_demo_keys(&demo.join("demo-keys.csv"));
        me.spawn();
        me
    }

    /// The server's process id, for benches that read its CPU time.
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().map(Serving::pid)
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
            .env("KAKUNIN_ISSUER_BIND", "127.0.0.1:0")
            .env("KAKUNIN_ISSUER_SECRET", SECRET)
            .stdin(Stdio::null());
        if let Some(tls) = &self.tls {
            cmd.env("KAKUNIN_ISSUER_TLS_CERT", &tls.cert)
                .env("KAKUNIN_ISSUER_TLS_KEY", &tls.key);
        }
        cmd
    }

    /// Runs one CLI command to completion.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .expect("run kakunin-issuer")
    }

    /// Amends `number`'s certificate as the surety company's clerk would (`amend --file`
    /// with `change`: the members to change and a `summary`); panics unless it succeeds.
    pub fn amend(&self, number: &str, change: &serde_json::Value) {
        let file = self.dir().join(format!("amend-{number}.json"));
        std::fs::write(&file, change.to_string()).expect("write the change");
        let out = self.cli(&["amend", number, "--file", &file.display().to_string()]);
        assert!(
            out.status.success(),
            "amend {number}: {}",
            crate::process::stderr(&out)
        );
    }

    /// Runs one CLI command with `stdin` as its standard input.
    pub fn cli_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = self.command();
        cmd.args(args);
        output_with_stdin(cmd, stdin)
    }

    /// Stops the server and starts it again on the same database, on a new port:
    /// [`base_url`](Self::base_url) and [`registry_toml`](Self::registry_toml) follow.
    pub fn restart(&mut self) {
        self.server = None;
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

    /// The demo rows the issuer holds a record for (outcome `verified` or `rejected`).
    pub fn found_keys(&self) -> Vec<DemoKey> {
        self.demo_keys
            .iter()
            .filter(|k| k.expected_outcome != "not_found")
            .cloned()
            .collect()
    }

    /// `POST /v1/certificates/lookup` URL.
    pub fn lookup_url(&self) -> String {
        format!("{}/v1/certificates/lookup", self.base_url)
    }

    /// `SELECT COUNT(*)` of one of the issuer's tables.
    pub fn count_rows(&self, table: &str) -> i64 {
        let mut c = crate::sql::open(&self.db_path());
        crate::sql::count(&mut c, &format!("SELECT COUNT(*) AS n FROM {table}"))
    }

    fn spawn(&mut self) {
        let mut cmd = self.command();
        cmd.arg("serve").env("KAKUNIN_ISSUER_LOG", "info");
        let server = Serving::start(cmd, &self.log_path());
        self.base_url = server.base_url.clone();
        self.registry_toml = self
            .seeded_registry
            .replace(SEEDED_BASE_URL, &self.base_url);
        std::fs::write(self.demo_dir().join("issuers.toml"), &self.registry_toml)
            .expect("rewrite issuers.toml");
        self.server = Some(server);
    }
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

/// A well-formed auth key (16 symbols of the key alphabet) that belongs to no demo
/// certificate; `i` picks one of many.
pub fn unknown_key(i: usize) -> String {
    let alphabet = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    (0..16)
        .map(|j| alphabet[(i * 7 + j * 13) % 32] as char)
        .collect()
}

/// `text` as typed on a Japanese keyboard in full-width mode: every ASCII symbol
/// (`!`..`~`) becomes its full-width form (Ａ, ０, －).
pub fn full_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).expect("full-width form"),
            c => c,
        })
        .collect()
}
