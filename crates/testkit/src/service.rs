//! Test harness: the real `kakunin serve` on a free loopback port with a temporary
//! SQLite file, a trust registry given by the test, and a signed-in browser-like client.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use tempfile::TempDir;

use crate::issuer::{free_port, output_with_stdin, serve_until_healthy};

pub const SECRET: &str = "service-test-secret-0123456789abcdef0123456789abcdef";
pub const OFFICE: &str = "440001";
pub const PASSWORD: &str = "correct-horse-battery";

const SERVICE_VARS: [&str; 10] = [
    "KAKUNIN_DATABASE_URL",
    "KAKUNIN_BIND",
    "KAKUNIN_ISSUERS_FILE",
    "KAKUNIN_PROFILE",
    "KAKUNIN_SECRET_KEY",
    "KAKUNIN_SECRET_KEY_FILE",
    "KAKUNIN_LOG",
    "KAKUNIN_CONFIG",
    "KAKUNIN_TOKEN_WJCS",
    "KAKUNIN_AUDIT_SIGNING_KEY_FILE",
];

/// A running `kakunin serve`.
pub struct ServiceProcess {
    pub base_url: String,
    port: u16,
    dir: TempDir,
    child: Option<Child>,
    extra_config: Option<String>,
}

impl ServiceProcess {
    /// Starts the service trusting `registry_toml` (usually the issuer harness's).
    pub fn start(registry_toml: &str) -> Self {
        Self::start_with(registry_toml, None)
    }

    /// As [`start`], with extra settings in a `KAKUNIN_CONFIG` file.
    pub fn start_with(registry_toml: &str, extra_config: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(dir.path().join("issuers.toml"), registry_toml).expect("registry");
        let port = free_port();
        let mut me = ServiceProcess {
            base_url: format!("http://127.0.0.1:{port}"),
            port,
            dir,
            child: None,
            extra_config: extra_config.map(str::to_owned),
        };
        if let Some(cfg) = &me.extra_config {
            std::fs::write(me.dir.path().join("extra.toml"), cfg).expect("extra config");
        }
        me.spawn();
        me
    }

    /// The server's process id, for benches that read its CPU time.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The `kakunin` binary with this instance's settings; runs in the project root so
    /// `config/default.toml` and `config/profiles/` are found as in production.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(crate::bins::kakunin());
        for v in SERVICE_VARS {
            cmd.env_remove(v);
        }
        cmd.current_dir(crate::bins::workspace_root())
            .env("KAKUNIN_DATABASE_URL", self.db_path())
            .env("KAKUNIN_ISSUERS_FILE", self.dir.path().join("issuers.toml"))
            .env("KAKUNIN_BIND", format!("127.0.0.1:{}", self.port))
            .env("KAKUNIN_SECRET_KEY", SECRET)
            .env("KAKUNIN_LOG", "info,kakunin=debug")
            .env("KAKUNIN_AUDIT_SIGNING_KEY_FILE", self.audit_key_path())
            .stdin(Stdio::null());
        if self.extra_config.is_some() {
            cmd.env("KAKUNIN_CONFIG", self.dir.path().join("extra.toml"));
        }
        cmd
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run kakunin")
    }

    /// Creates an API client through the CLI and returns its bearer token.
    pub fn create_token(&self, name: &str, office: &str, scope: &str) -> String {
        let out = self.cli(&[
            "token", "create", "--name", name, "--office", office, "--scope", scope,
        ]);
        assert!(
            out.status.success(),
            "token create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    pub fn cli_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = self.command();
        cmd.args(args);
        output_with_stdin(cmd, stdin)
    }

    /// Creates a staff account through the CLI (password on stdin, as operators do).
    pub fn add_user(&self, login: &str, role: &str, office: &str) {
        let out = self.cli_with_stdin(
            &[
                "user",
                "add",
                "--login",
                login,
                "--name",
                &format!("{login} 太郎"),
                "--role",
                role,
                "--office",
                office,
            ],
            &format!("{PASSWORD}\n"),
        );
        assert!(
            out.status.success(),
            "user add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The audit checkpoint signing key (`kakunin key init` makes it before the first start).
    pub fn audit_key_path(&self) -> PathBuf {
        self.dir.path().join("audit-signing.key")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("kakunin.db")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    /// Replaces the trust registry; takes effect at the next restart.
    pub fn set_registry(&self, registry_toml: &str) {
        std::fs::write(self.dir.path().join("issuers.toml"), registry_toml).expect("registry");
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        // `serve` refuses to start without the audit signing key, as in production.
        if !self.audit_key_path().exists() {
            let out = self.cli(&["key", "init"]);
            assert!(
                out.status.success(),
                "key init failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut cmd = self.command();
        cmd.arg("serve");
        serve_until_healthy(
            cmd,
            &self.dir.path().join("serve.log"),
            self.port,
            &mut self.child,
        );
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A signed-in client for `login`.
    pub async fn sign_in(&self, login: &str) -> Browser {
        let mut b = Browser::new(&self.base_url);
        let res = b.sign_in(login, PASSWORD).await;
        assert_eq!(
            res.status(),
            200,
            "sign-in of {login} should land on the verify form"
        );
        b
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A cookie-keeping HTTP client that follows the service's redirects like a browser.
pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .expect("client");
        Self {
            base: base.to_owned(),
            http,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET")
    }

    pub async fn text(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    /// The CSRF token of the form on `path`.
    pub async fn csrf(&self, path: &str) -> String {
        csrf_of(&self.text(path).await)
    }

    pub async fn sign_in(&mut self, login: &str, password: &str) -> reqwest::Response {
        let csrf = self.csrf("/login").await;
        self.post(
            "/login",
            &[("login", login), ("password", password), ("csrf", &csrf)],
        )
        .await
    }

    /// Submits the verify form; returns the final response (the outcome page when the
    /// input was valid).
    pub async fn verify(
        &self,
        number: &str,
        key: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let csrf = self.csrf("/").await;
        let mut form = vec![
            ("certificate_number", number),
            ("auth_key", key),
            ("csrf", csrf.as_str()),
        ];
        form.extend_from_slice(extra);
        self.post("/verify", &form).await
    }
}

pub fn csrf_of(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page
        .find(marker)
        .unwrap_or_else(|| panic!("no csrf field in:\n{page}"))
        + marker.len();
    page[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The verification id of an outcome page URL `/verifications/{id}`.
pub fn verification_id(res: &reqwest::Response) -> String {
    res.url()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}
