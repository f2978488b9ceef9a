//! The real `kakunin serve` on a loopback port it binds itself, with a temporary SQLite
//! file (or, when the suite runs on PostgreSQL, a fresh database on the private cluster
//! of [`crate::postgres`]), a trust registry given by the test, and clients that sign in
//! or hold API tokens.
//!
//! ```ignore
//! let issuer = IssuerProcess::start();
//! let service = ServiceProcess::start(&issuer.registry_toml);
//! let officer = service.officer().await;            // signed in, office 440001
//! let api = service.api("keiyaku", "verify");        // a token of that office
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

use crate::client::{ApiClient, Browser};
use crate::process::{output_with_stdin, Serving};

/// The service's secret key in every test.
pub const SECRET: &str = "service-test-secret-0123456789abcdef0123456789abcdef";
/// The office of the accounts and tokens a test makes unless it says otherwise.
pub const OFFICE: &str = "440001";
/// Another office, for what must stay hidden from the first.
pub const OTHER_OFFICE: &str = "440002";

/// The name the kit registers an office under when a user or client needs it first
/// (`--office-name`; the service refuses unknown codes).
pub fn office_name(code: &str) -> String {
    format!("テスト事務所 {code}")
}
/// The password of every account [`ServiceProcess::add_user`] makes.
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

/// A `kakunin` instance: its directory (database, registry, audit key, log) and, once
/// started, its `serve`.
pub struct ServiceProcess {
    /// `http://127.0.0.1:{port}`, without a trailing `/`; empty until started, and new
    /// after each [`restart`](Self::restart).
    pub base_url: String,
    dir: TempDir,
    server: Option<Serving>,
    extra_config: bool,
    /// The PostgreSQL database's URL; `None` on SQLite (the file [`Self::db_path`]).
    postgres: Option<String>,
}

impl ServiceProcess {
    /// Starts the service trusting `registry_toml` (usually the issuer's).
    pub fn start(registry_toml: &str) -> Self {
        Self::start_with(registry_toml, None)
    }

    /// As [`start`](Self::start), with extra settings in a `KAKUNIN_CONFIG` file.
    pub fn start_with(registry_toml: &str, extra_config: Option<&str>) -> Self {
        let mut me = Self::prepare(registry_toml, extra_config);
        me.serve();
        me
    }

    /// As [`start`](Self::start), on the PostgreSQL database `postgres` (a URL) when
    /// given, else on a SQLite file, whatever the suite's backend.
    pub fn start_on(registry_toml: &str, postgres: Option<String>) -> Self {
        let mut me = Self::prepare_on(registry_toml, None, postgres);
        me.serve();
        me
    }

    /// Everything [`start_with`](Self::start_with) does but `serve`: the directory, the
    /// registry, the settings and the audit signing key (`kakunin key init`, which also
    /// makes the database). For tests and benches that fill the database first.
    pub fn prepare(registry_toml: &str, extra_config: Option<&str>) -> Self {
        let postgres =
            crate::postgres::enabled().then(|| crate::postgres::shared().create_database());
        Self::prepare_on(registry_toml, extra_config, postgres)
    }

    /// As [`prepare`](Self::prepare), on the PostgreSQL database `postgres` (a URL) when
    /// given, else on a SQLite file of its own, whatever the suite's backend. Two
    /// instances on one URL are two nodes of one installation.
    pub fn prepare_on(
        registry_toml: &str,
        extra_config: Option<&str>,
        postgres: Option<String>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(dir.path().join("issuers.toml"), registry_toml).expect("registry");
        if let Some(cfg) = extra_config {
            std::fs::write(dir.path().join("extra.toml"), cfg).expect("extra config");
        }
        let me = ServiceProcess {
            base_url: String::new(),
            dir,
            server: None,
            extra_config: extra_config.is_some(),
            postgres,
        };
        // `serve` refuses to start without the audit signing key, as in production.
        let out = me.cli(&["key", "init"]);
        assert!(
            out.status.success(),
            "key init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        me
    }

    /// A second node of this installation: its own directory holding copies of this
    /// one's registry, settings and keys (the audit signing key and the receipt keys
    /// must be the same on every node), on the same PostgreSQL database. Not started.
    pub fn node_beside(&self) -> Self {
        let url = self
            .postgres
            .clone()
            .expect("a second node needs a shared PostgreSQL database");
        let dir = tempfile::tempdir().expect("temporary directory");
        copy_tree(self.dir.path(), dir.path());
        let _ = std::fs::remove_file(dir.path().join("serve.log"));
        ServiceProcess {
            base_url: String::new(),
            dir,
            server: None,
            extra_config: self.extra_config,
            postgres: Some(url),
        }
    }

    /// Starts `serve` and waits until it says where it listens.
    pub fn serve(&mut self) {
        let mut cmd = self.command();
        cmd.arg("serve");
        let server = Serving::start(cmd, &self.dir.path().join("serve.log"));
        self.base_url = server.base_url.clone();
        self.server = Some(server);
    }

    /// Stops `serve` and starts it again on the same database (on a new port).
    pub fn restart(&mut self) {
        self.server = None;
        self.serve();
    }

    /// Kills `serve` with SIGKILL (no shutdown, no flush: a power cut as far as the
    /// process knows) and starts it again on the same database, on a new port.
    pub fn kill_and_restart(&mut self) {
        // `Child::kill` is SIGKILL on Unix; dropping the `Serving` sends it and reaps.
        self.server = None;
        self.serve();
    }

    /// The server's process id, for benches that read its CPU time.
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().map(Serving::pid)
    }

    /// The `kakunin` binary with this instance's settings; runs in the project root so
    /// `config/default.toml` and `config/profiles/` are found as in production.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(crate::bins::kakunin());
        for v in SERVICE_VARS {
            cmd.env_remove(v);
        }
        cmd.current_dir(crate::bins::workspace_root())
            .env("KAKUNIN_DATABASE_URL", self.database_url())
            .env("KAKUNIN_ISSUERS_FILE", self.registry_path())
            .env("KAKUNIN_BIND", "127.0.0.1:0")
            .env("KAKUNIN_SECRET_KEY", SECRET)
            .env("KAKUNIN_LOG", "info,kakunin=debug")
            .env("KAKUNIN_AUDIT_SIGNING_KEY_FILE", self.audit_key_path())
            .stdin(Stdio::null());
        if self.extra_config {
            cmd.env("KAKUNIN_CONFIG", self.dir.path().join("extra.toml"));
        }
        cmd
    }

    /// Runs one CLI command to completion.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run kakunin")
    }

    /// Runs one CLI command with `stdin` as its standard input.
    pub fn cli_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = self.command();
        cmd.args(args);
        output_with_stdin(cmd, stdin)
    }

    /// Creates an API client through the CLI and returns its bearer token.
    pub fn create_token(&self, name: &str, office: &str, scope: &str) -> String {
        let out = self.cli(&[
            "token",
            "create",
            "--name",
            name,
            "--office",
            office,
            "--office-name",
            &office_name(office),
            "--scope",
            scope,
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

    /// An API client with a new token `name` of [`OFFICE`] and `scope` (`verify`, `audit`).
    pub fn api(&self, name: &str, scope: &str) -> ApiClient {
        self.api_of(name, OFFICE, scope)
    }

    /// An API client with a new token `name` of `office` and `scope`.
    pub fn api_of(&self, name: &str, office: &str, scope: &str) -> ApiClient {
        ApiClient::new(
            &self.base_url,
            Some(&self.create_token(name, office, scope)),
        )
    }

    /// An API client without a token.
    pub fn anonymous_api(&self) -> ApiClient {
        ApiClient::new(&self.base_url, None)
    }

    /// Creates a staff account through the CLI (password [`PASSWORD`] on stdin, as
    /// operators do); its name is `{login} 太郎`.
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
                "--office-name",
                &office_name(office),
            ],
            &format!("{PASSWORD}\n"),
        );
        assert!(
            out.status.success(),
            "user add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A client signed in as `login` (made with [`add_user`](Self::add_user)), on the
    /// verify form.
    pub async fn sign_in(&self, login: &str) -> Browser {
        let b = self.browser();
        let res = b.sign_in(login, PASSWORD).await;
        assert_eq!(
            res.status(),
            200,
            "sign-in of {login} should land on the verify form"
        );
        b
    }

    /// A new account `login` with `role` at [`OFFICE`], signed in.
    pub async fn user(&self, login: &str, role: &str) -> Browser {
        self.add_user(login, role, OFFICE);
        self.sign_in(login).await
    }

    /// The officer `officer1` of [`OFFICE`], signed in.
    pub async fn officer(&self) -> Browser {
        self.user("officer1", "officer").await
    }

    /// A client with no session yet.
    pub fn browser(&self) -> Browser {
        Browser::new(&self.base_url)
    }

    /// The audit checkpoint signing key (`kakunin key init` made it).
    pub fn audit_key_path(&self) -> PathBuf {
        self.dir.path().join("audit-signing.key")
    }

    /// The SQLite file (when the instance is on SQLite: see [`on_postgres`](Self::on_postgres)).
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("kakunin.db")
    }

    /// What `KAKUNIN_DATABASE_URL` says: the PostgreSQL URL or the SQLite file's path.
    pub fn database_url(&self) -> String {
        match &self.postgres {
            Some(url) => url.clone(),
            None => self.db_path().to_string_lossy().into_owned(),
        }
    }

    /// Whether this instance keeps its data on PostgreSQL.
    pub fn on_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// A connection to the live database (see [`crate::sql`]).
    pub fn db(&self) -> crate::sql::Db {
        match &self.postgres {
            Some(url) => crate::sql::open_postgres(url),
            None => crate::sql::open(&self.db_path()),
        }
    }

    /// Everything the database holds, as text, for tests that look for a secret in it:
    /// the SQLite file and its WAL, or a `pg_dump` of the PostgreSQL database.
    pub fn stored_text(&self) -> String {
        let bytes = match &self.postgres {
            Some(url) => crate::postgres::shared().dump(url),
            None => {
                let mut stored = Vec::new();
                for suffix in ["", "-wal"] {
                    stored.extend(
                        std::fs::read(format!("{}{suffix}", self.db_path().display()))
                            .unwrap_or_default(),
                    );
                }
                stored
            }
        };
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// `SELECT … AS n` on the live database.
    pub fn count(&self, sql: &str) -> i64 {
        crate::sql::count(&mut self.db(), sql)
    }

    /// The trust registry file the service reads at start.
    pub fn registry_path(&self) -> PathBuf {
        self.dir.path().join("issuers.toml")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything `serve` wrote so far (standard output and error).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    /// Replaces the trust registry; takes effect at the next restart.
    pub fn set_registry(&self, registry_toml: &str) {
        std::fs::write(self.registry_path(), registry_toml).expect("registry");
    }
}

/// Copies the files under `from` into `to` (directories made as needed).
fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read the service's directory") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            std::fs::create_dir_all(&target).expect("make a directory");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}
