//! The service's connection pool over either backend: SQLite (a file, the default) or
//! PostgreSQL (several nodes on one server, issue K9), chosen by the database URL.
//!
//! [`Conn`] is diesel's multi-backend connection: every query of the service is written
//! once against it. What only one backend has (SQLite's pragmas and `BEGIN IMMEDIATE`,
//! PostgreSQL's advisory locks) is decided here, by matching on the variant.

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

pub use kakunin_platform::sqlite::{
    now_utc, run, write, writer_turn, DbError, PoolLimits, WriteTransaction,
};

/// One connection of the service: to a SQLite file or to a PostgreSQL server.
#[derive(diesel::MultiConnection)]
pub enum Conn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// The backend every query of the service is built for (diesel's `MultiBackend`).
pub type Backend = MultiBackend;
pub type DbPool = Pool<Manager>;
pub type DbConn = PooledConnection<Manager>;

/// Which database a URL names: `postgres://…` or `postgresql://…` a PostgreSQL server,
/// anything else (a path, `sqlite://path`, `:memory:`) a SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Postgres(String),
    Sqlite(String),
}

/// libpq's URL parameters that hold a secret: a query such as `?password=…` is read
/// as the userinfo's password is (libpq, "Connection URIs").
const SECRET_PARAMETERS: [&str; 2] = ["password", "sslpassword"];

/// Whether the URL parameter `name` holds a secret (`SECRET_PARAMETERS`).
fn is_secret_parameter(name: &str) -> bool {
    SECRET_PARAMETERS
        .iter()
        .any(|s| name.eq_ignore_ascii_case(s))
}

/// Every password `url` holds, as written in its text and percent-decoded: the
/// userinfo's (between `://` and the last `@`, after its first `:`) and the values of
/// `SECRET_PARAMETERS` in its query. Read from the text, since a URL libpq refused may
/// not parse.
fn passwords_in(url: &str) -> Vec<String> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (authority, query) = match after_scheme.split_once('?') {
        Some((before, query)) => (before, query.split('#').next().unwrap_or("")),
        None => (after_scheme, ""),
    };
    let userinfo = authority
        .rsplit_once('@')
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password);
    let parameters = query.split('&').filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        is_secret_parameter(name).then_some(value)
    });
    let mut found: Vec<String> = Vec::new();
    for written in userinfo.into_iter().chain(parameters) {
        let decoded = percent_encoding::percent_decode_str(written).decode_utf8_lossy();
        for form in [written, decoded.as_ref()] {
            if !form.is_empty() && !found.iter().any(|f| f == form) {
                found.push(form.to_owned());
            }
        }
    }
    // The longest first, so a password that contains another is replaced whole.
    found.sort_by_key(|p| std::cmp::Reverse(p.len()));
    found
}

/// libpq's reason `reason` without the URL or its passwords, which it may quote: the
/// URL becomes `postgres://…`, each password ([`passwords_in`]) `***`.
fn without_url(reason: &str, url: &str) -> String {
    let mut out = reason.replace(url, "postgres://…");
    for password in passwords_in(url) {
        out = out.replace(&password, "***");
    }
    out
}

impl Location {
    /// Reads a database URL (the setting `database.url` / `KAKUNIN_DATABASE_URL`).
    pub fn parse(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Location::Postgres(url.to_owned())
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            Location::Sqlite(path.to_owned())
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Location::Postgres(_))
    }

    /// The file a SQLite location names: `None` for PostgreSQL, `:memory:` and SQLite's
    /// `file:` URIs, which are no plain path on disk.
    pub fn sqlite_file(&self) -> Option<&std::path::Path> {
        match self {
            Location::Sqlite(path) if path != ":memory:" && !path.starts_with("file:") => {
                Some(std::path::Path::new(path))
            }
            _ => None,
        }
    }

    /// The URL as it may be shown or logged: a PostgreSQL password becomes `***`, in the
    /// userinfo (`postgres://user:***@host/db`) and in the query (`?password=***`,
    /// `SECRET_PARAMETERS`); a URL that does not parse is only `postgres://…`.
    pub fn redacted(&self) -> String {
        match self {
            Location::Sqlite(path) => path.clone(),
            Location::Postgres(url) => match reqwest::Url::parse(url) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    if u.query().is_some() {
                        let pairs: Vec<(String, String)> = u
                            .query_pairs()
                            .map(|(name, value)| {
                                let value = if is_secret_parameter(&name) {
                                    "***".into()
                                } else {
                                    value
                                };
                                (name.into_owned(), value.into_owned())
                            })
                            .collect();
                        u.query_pairs_mut().clear().extend_pairs(pairs);
                    }
                    u.to_string()
                }
                Err(_) => "postgres://…".to_owned(),
            },
        }
    }

    /// Opens one connection, set up as the pool's are. An error never holds the URL's
    /// password: libpq's own reasons may quote the URL (`invalid percent-encoded
    /// token: "hun%ter2"`, `… in URI: "postgres://kakunin:…"`), so they are cut there.
    pub fn connect(&self) -> Result<Conn, DbError> {
        let conn = match self {
            Location::Postgres(url) => PgConnection::establish(url).map(Conn::Pg).map_err(|e| {
                DbError::Open(format!(
                    "{}: {}",
                    self.redacted(),
                    without_url(&e.to_string(), url)
                ))
            })?,
            Location::Sqlite(path) => {
                // Before the first SQLite connection opens: plans that do not depend on
                // bound values, so diesel's statement cache is kept (BENCHMARKS.md).
                kakunin_platform::sqlite::stable_plans();
                SqliteConnection::establish(path)
                    .map(Conn::Sqlite)
                    .map_err(|e| DbError::Open(format!("{path}: {e}")))?
            }
        };
        let mut conn = conn;
        setup(&mut conn).map_err(DbError::Query)?;
        Ok(conn)
    }
}

/// r2d2's connection manager for [`Conn`]: establishes the variant the URL names
/// (diesel's own would try PostgreSQL first and then SQLite for any text).
#[derive(Debug, Clone)]
pub struct Manager {
    location: Location,
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = DbError;

    fn connect(&self) -> Result<Conn, DbError> {
        self.location.connect()
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), DbError> {
        conn.ping().map_err(DbError::Query)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.is_broken()
    }
}

/// Per connection, what the backend forgets between connections.
fn setup(conn: &mut Conn) -> diesel::QueryResult<()> {
    match conn {
        Conn::Sqlite(c) => kakunin_platform::sqlite::configure(c),
        // Times are stored without an offset, in UTC; a statement stuck behind a lock
        // fails after a minute rather than holding its connection for ever.
        Conn::Pg(c) => c.batch_execute("SET TIME ZONE 'UTC'; SET statement_timeout = 60000;"),
    }
}

/// Any number; the service's advisory locks on PostgreSQL ("kakunin" in ASCII, and
/// one more for migrations). Public for tests that hold the writers' lock.
pub const WRITE_LOCK: i64 = 0x6b616b756e696e;
const MIGRATION_LOCK: i64 = WRITE_LOCK + 1;

/// Opens the database with the default [`PoolLimits`] and applies pending migrations.
pub fn open(url: &str, migrations: Migrations) -> Result<DbPool, DbError> {
    open_with(url, migrations, PoolLimits::default())
}

/// The migrations of each backend (`migrations/sqlite`, `migrations/postgres`).
pub struct Migrations {
    pub sqlite: EmbeddedMigrations,
    pub postgres: EmbeddedMigrations,
}

/// [`open`] with the pool's size and wait given.
pub fn open_with(url: &str, migrations: Migrations, limits: PoolLimits) -> Result<DbPool, DbError> {
    let location = Location::parse(url);
    if let Location::Sqlite(_) = &location {
        // Created 0600 (its directory 0700) before SQLite would create it with the
        // umask's mode: it holds password hashes and every certificate looked up.
        if let Some(file) = location.sqlite_file() {
            kakunin_platform::files::ensure_private_file(file)
                .map_err(|e| DbError::Open(format!("{}: {e}", file.display())))?;
        }
        // WAL lets readers go on while one writer commits. Switching needs the
        // database to itself, so it is done here, before the pool opens its connections.
        let mut first = location.connect()?;
        first
            .batch_execute("PRAGMA journal_mode = WAL;")
            .map_err(DbError::Query)?;
    }
    let postgres = location.is_postgres();
    let pool = Pool::builder()
        .max_size(limits.size.max(1))
        .connection_timeout(limits.timeout)
        // r2d2 runs a query on every checkout to see the connection is alive: a
        // connection to a local file cannot drop, one to a server can (and `/readyz`
        // must see the server come back).
        .test_on_check_out(postgres)
        .build(Manager { location })
        .map_err(|e| DbError::Open(e.to_string()))?;
    let mut conn = pool.get()?;
    migrate(&mut conn, migrations)?;
    Ok(pool)
}

/// A second pool on the same database, for connections held for a while (the number
/// turns across nodes), opened as needed up to `limits.size`; no migrations.
pub fn side_pool(url: &str, limits: PoolLimits) -> Result<DbPool, DbError> {
    let location = Location::parse(url);
    let postgres = location.is_postgres();
    Pool::builder()
        .max_size(limits.size.max(1))
        .min_idle(Some(1))
        .connection_timeout(limits.timeout)
        .test_on_check_out(postgres)
        .build(Manager { location })
        .map_err(|e| DbError::Open(e.to_string()))
}

/// Applies pending migrations. On PostgreSQL under a session advisory lock, so that
/// nodes started together (or `kakunin migrate` beside serving nodes) migrate once.
pub fn migrate(conn: &mut Conn, migrations: Migrations) -> Result<(), DbError> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
    match conn {
        Conn::Sqlite(c) => c
            .run_pending_migrations(migrations.sqlite)
            .map(drop)
            .map_err(failed),
        Conn::Pg(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
            let done = c.run_pending_migrations(migrations.postgres).map(drop);
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
            done.map_err(failed)
        }
    }
}

impl Conn {
    /// Runs `f` in a write transaction, one at a time across every connection to the
    /// database: `BEGIN IMMEDIATE` on SQLite; on PostgreSQL a transaction that first
    /// takes the service's transaction-scoped advisory lock. So the audit chain (read
    /// the head, append after it) and every read-then-write of a use case see no other
    /// writer in between, on one node or many. Fails with
    /// [`AlreadyInTransaction`](diesel::result::Error::AlreadyInTransaction) inside
    /// another transaction, before `f` runs.
    pub fn immediate_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        match self {
            Conn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
            Conn::Pg(c) => {
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN")?;
                let locked =
                    c.batch_execute(&format!("SELECT pg_advisory_xact_lock({WRITE_LOCK})"));
                if let Err(e) = locked {
                    AnsiTransactionManager::rollback_transaction(c)?;
                    return Err(e.into());
                }
            }
        }
        match f(self) {
            Ok(value) => {
                <Conn as Connection>::TransactionManager::commit_transaction(self)?;
                Ok(value)
            }
            Err(e) => {
                <Conn as Connection>::TransactionManager::rollback_transaction(self)?;
                Err(e)
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Conn::Pg(_))
    }
}

impl WriteTransaction for Conn {
    fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        self.immediate_transaction(f)
    }
}

/// Runs a short read — indexed lookups of a few rows, no write — and answers it: in
/// place when the pool has an idle SQLite connection, otherwise as [`run`] does, on a
/// blocking thread. Used for the API token, a session, the number lock and the rows an
/// outcome page shows.
///
/// Why in place: a read of a few rows of a local SQLite file costs a few tens of µs,
/// while the trip to a blocking thread and back costs two thread switches, which on the
/// single verification's path cost more than the read itself (BENCHMARKS.md "Single
/// verification"). SQLite in WAL mode never makes a reader wait for the writer, so the
/// read cannot stall the async worker. A pool that tests connections on checkout (the
/// PostgreSQL pools: the test is a query over the network) is never checked out here,
/// and a PostgreSQL query always goes to a blocking thread, as does any read when no
/// connection is idle (waiting for one would block the worker). `f` must not write: a
/// write could wait for the writers' lock on the async worker.
pub async fn read<T, E, F>(pool: &DbPool, f: F) -> Result<T, E>
where
    F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    if pool.test_on_check_out() {
        return run(pool, f).await;
    }
    match pool.try_get() {
        Some(mut conn) if !conn.is_postgres() => f(&mut conn),
        Some(mut conn) => tokio::task::spawn_blocking(move || f(&mut conn))
            .await
            .map_err(|_| E::from(DbError::Canceled))?,
        None => run(pool, f).await,
    }
}

/// Whether the database answers within `wait`: a connection from the pool (a new one
/// if the server came back after the pooled ones broke) that answers a query.
pub async fn ping(pool: &DbPool, wait: Duration) -> bool {
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || match pool.get_timeout(wait) {
        Ok(mut conn) => conn.ping().is_ok(),
        Err(_) => false,
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod redaction_tests {
    use super::{without_url, Location};

    #[test]
    fn a_password_in_the_query_is_hidden_like_one_in_the_userinfo() {
        for url in [
            "postgresql://127.0.0.1:1/x?password=SuperSecretPW11",
            "postgres://kakunin@db/k?sslmode=require&PASSWORD=SuperSecretPW11&connect_timeout=3",
            "postgres://db/k?sslpassword=SuperSecretPW11",
            "postgres://db/k?password=Super%53ecretPW11",
        ] {
            let shown = Location::parse(url).redacted();
            assert!(!shown.contains("SuperSecretPW11"), "{shown}");
            assert!(shown.contains("***"), "{shown}");
            let said = without_url(
                &format!("invalid URI query parameter: \"password=SuperSecretPW11\" in {url}"),
                url,
            );
            assert!(!said.contains("SuperSecretPW11"), "{said}");
        }
        // What is no secret stays readable, for whoever looks for the wrong host.
        let shown = Location::parse("postgres://db/k?sslmode=require&password=pw").redacted();
        assert_eq!(shown, "postgres://db/k?sslmode=require&password=***");
    }

    #[test]
    fn libpq_reasons_lose_the_url_and_its_password() {
        let url = "postgresql://kakunin:hun%ter2@127.0.0.1:1/k";
        assert_eq!(
            without_url(r#"invalid percent-encoded token: "hun%ter2""#, url),
            r#"invalid percent-encoded token: "***""#
        );
        let url = "postgres://kakunin:hunter2@[::1/k";
        let said = without_url(&format!(r#"unexpected end of IPv6 in URI: "{url}""#), url);
        assert!(!said.contains("hunter2"), "{said}");
        assert_eq!(
            without_url("connection refused", "postgres://kakunin@db/k"),
            "connection refused"
        );
    }
}
