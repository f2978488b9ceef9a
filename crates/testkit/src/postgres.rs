//! A private PostgreSQL for tests: a cluster of its own in a temporary directory
//! (`initdb`, `pg_ctl` from Debian's `postgresql`), on a free loopback port with its
//! socket in that directory, trust authentication for the user `kakunin`. Nothing
//! depends on a server already running.
//!
//! One cluster per test process ([`shared`]), one fresh database per service
//! ([`Cluster::create_database`]). A test that stops and starts the server makes its
//! own ([`Cluster::start`]). The server runs as the `postgres` user when the tests run
//! as root (`initdb` refuses root).
//!
//! The integration suite uses it when `KAKUNIN_TEST_BACKEND=postgres` ([`enabled`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// The variable that selects the integration suite's backend: `postgres` or (unset,
/// anything else) SQLite.
pub const BACKEND_VAR: &str = "KAKUNIN_TEST_BACKEND";

/// Whether this test process runs the service on PostgreSQL.
pub fn enabled() -> bool {
    std::env::var(BACKEND_VAR).is_ok_and(|v| v == "postgres")
}

/// For a test that only makes sense on SQLite (it reads or damages the database file
/// itself): true, after saying so with `reason`, when the suite runs on PostgreSQL, so
/// the test returns early.
pub fn sqlite_only(reason: &str) -> bool {
    let skip = enabled();
    if skip {
        eprintln!("SQLite only, skipped on PostgreSQL: {reason}");
    }
    skip
}

/// The database user every test connects as (trust authentication on loopback).
pub const USER: &str = "kakunin";

/// A running private cluster; dropping it stops the server and removes its files.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    /// Chosen at the first start (see [`Cluster::start`]), kept for restarts.
    port: std::sync::atomic::AtomicU16,
    owner: Option<&'static str>,
    /// Closing this pipe (the test process ending, even by a panic or a signal that
    /// skips destructors) makes the watchdog stop the server and remove the directory.
    watchdog: Mutex<Option<Child>>,
    databases: AtomicU32,
}

/// The cluster of this test process, started on first use and stopped when the
/// process ends.
pub fn shared() -> &'static Cluster {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    SHARED.get_or_init(Cluster::start)
}

fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect(
            "PostgreSQL is not installed (/usr/lib/postgresql): run scripts/install-test-deps.sh",
        )
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("no /usr/lib/postgresql/*/bin/initdb: run scripts/install-test-deps.sh")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Cluster {
    /// Makes and starts a new cluster; panics with the server's words if it cannot.
    pub fn start() -> Cluster {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("kakunin-pg-")
            .tempdir()
            .expect("temporary directory")
            .keep();
        let owner = is_root().then_some("postgres");
        if let Some(user) = owner {
            let ok = Command::new("chown")
                .args(["-R", user])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown {} to {user}", dir.display());
        }
        let me = Cluster {
            dir,
            bin,
            port: std::sync::atomic::AtomicU16::new(free_port()),
            owner,
            watchdog: Mutex::new(None),
            databases: AtomicU32::new(0),
        };
        let out = me
            .as_owner("initdb")
            .args(["--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"])
            .arg(format!("--username={USER}"))
            .arg("-D")
            .arg(me.data())
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // A free port may be taken by another program before the server binds it (the
        // machine runs other tests and demos): then try another one.
        for _ in 0..4 {
            match me.try_start_server() {
                Err(log) if log.contains("Address already in use") => {
                    me.port.store(free_port(), Ordering::Relaxed);
                }
                _ => break,
            }
        }
        me.start_server();
        me.arm_watchdog();
        me
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn as_owner(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match self.owner {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    /// Starts the server (again, after [`stop_server`](Self::stop_server)) on the same
    /// port and data, and waits until it accepts connections.
    pub fn start_server(&self) {
        if let Err(message) = self.try_start_server() {
            panic!("{message}");
        }
    }

    /// [`start_server`](Self::start_server), giving `pg_ctl`'s account and the server's
    /// log when it does not start. A server already running is left as it is.
    fn try_start_server(&self) -> Result<(), String> {
        if self.running() {
            return Ok(());
        }
        // fsync off and a small shared memory: a throwaway cluster on a shared machine.
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c shared_buffers=32MB -c max_connections=200",
            self.port(),
            self.dir.display()
        );
        let out = self
            .as_owner("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .output()
            .expect("run pg_ctl start");
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "pg_ctl start: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
        ))
    }

    /// Whether the server of this data directory runs (`pg_ctl status`).
    fn running(&self) -> bool {
        self.as_owner("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("status")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Stops the server (fast shutdown: open connections are cut), keeping its data.
    pub fn stop_server(&self) {
        let _ = self
            .as_owner("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-m", "fast", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    fn arm_watchdog(&self) {
        let script = format!(
            "cat >/dev/null; {} -D '{}' -m immediate -w stop >/dev/null 2>&1; rm -rf '{}'",
            self.bin.join("pg_ctl").display(),
            self.data().display(),
            self.dir.display()
        );
        // As root the stop must run as the owner; the removal as root is fine too
        // (the directory is ours).
        let mut cmd = match self.owner {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", "sh", "-c", &script]);
                c
            }
            None => {
                let mut c = Command::new("sh");
                c.args(["-c", &script]);
                c
            }
        };
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the cluster's watchdog");
        *self.watchdog.lock().unwrap() = Some(child);
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port.load(Ordering::Relaxed)
    }

    /// `postgres://kakunin@127.0.0.1:{port}/{database}`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{database}", self.port())
    }

    /// Runs SQL through `psql` on `database`; panics with its error.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url(database))
            .args(["-c", sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Creates a new, empty database and returns its URL.
    pub fn create_database(&self) -> String {
        let n = self.databases.fetch_add(1, Ordering::SeqCst);
        let name = format!("t{}_{n}", std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// `pg_dump` of the database at `url`: every row as text.
    pub fn dump(&self, url: &str) -> Vec<u8> {
        let out = Command::new(self.bin.join("pg_dump"))
            .args(["--no-owner", "--data-only", "-d", url])
            .output()
            .expect("run pg_dump");
        assert!(
            out.status.success(),
            "pg_dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Closing the watchdog's standard input stops the server and removes the files.
        if let Some(mut child) = self.watchdog.lock().unwrap().take() {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.flush();
            }
            let _ = child.wait();
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
