//! The SQLite pool shared by the service and the reference issuer: connections set up
//! for a web server, migrations at open, and [`run`], the one way to touch it.
//!
//! Diesel is synchronous; every call, `pool.get()` included, goes through [`run`] (or
//! [`write()`]) so it never blocks an async worker.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

pub type DbPool = Pool<ConnectionManager<SqliteConnection>>;
pub type DbConn = PooledConnection<ConnectionManager<SqliteConnection>>;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("データベースに接続できません: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("データベースの処理に失敗しました: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("データベースを開けません: {0}")]
    Open(String),
    #[error("データベースの移行に失敗しました: {0}")]
    Migration(String),
    #[error("データベースの処理が中断されました")]
    Canceled,
    /// A shared write failed; each request that waited for it gets the reason.
    #[error("データベースへの書き込みに失敗しました: {0}")]
    Write(String),
    /// A shared write found no free connection in time; each request that waited for it
    /// gets the pool's reason (a [`diesel::r2d2::PoolError`] cannot be cloned). Answered
    /// like [`DbError::Pool`].
    #[error("データベースに接続できません: {0}")]
    NoConnection(String),
}

impl DbError {
    /// Whether no connection came free in time ([`DbError::Pool`], [`DbError::NoConnection`]):
    /// the web layers answer 503 with `Retry-After`, not 500.
    pub fn is_busy(&self) -> bool {
        matches!(self, DbError::Pool(_) | DbError::NoConnection(_))
    }
}

#[derive(Debug)]
struct Pragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        configure(conn).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// What every SQLite connection of either program is set to when it opens (the
/// service's multi-backend pool calls it too). WAL is set once in [`open_with`] (it is
/// stored in the file); per connection only what SQLite forgets: `busy_timeout` makes a
/// writer wait up to 5 s instead of failing, and foreign keys are off by default.
///
/// `wal_autocheckpoint`: the commit that passes the limit copies the WAL into the
/// database. At SQLite's default (1000 pages, 4 MB) nearly every 1000-item batch paid
/// for one; at 10000 pages (40 MB of WAL) it comes ten times less often, and a page
/// written again and again in between is copied once. `kakunin serve` copies in quiet
/// moments (its WAL checkpointer), so this is only its backstop.
pub fn configure(conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
    conn.batch_execute(
        "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
         PRAGMA wal_autocheckpoint = 10000;",
    )
}

/// Turns on SQLite's query planner stability guarantee (`SQLITE_DBCONFIG_ENABLE_QPSG`)
/// for every connection this process opens from now on, the pool's and any other.
///
/// Without it, a statement with `LIMIT ?` (diesel binds every `.first()` limit) is
/// planned for the bound value, so binding it again expires the statement and the next
/// step parses and plans it anew: diesel's statement cache then saves nothing, and the
/// re-planning was an eighth of the service's CPU per single verification (profile in
/// `BENCHMARKS.md`, "Single verification"). With the guarantee a plan never depends on
/// bound values; there are no `ANALYZE` statistics for it to depend on either, so the
/// plans are the ones SQLite chose before.
pub fn stable_plans() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: `stable_plans_hook` has the signature SQLite calls an automatic
        // extension with, and only configures the connection it is given.
        let rc = unsafe { libsqlite3_sys::sqlite3_auto_extension(Some(stable_plans_hook)) };
        debug_assert_eq!(rc, libsqlite3_sys::SQLITE_OK);
    });
}

/// Runs inside `sqlite3_open` for each new connection (see [`stable_plans`]).
unsafe extern "C" fn stable_plans_hook(
    db: *mut libsqlite3_sys::sqlite3,
    _error: *mut *mut std::ffi::c_char,
    _api: *const libsqlite3_sys::sqlite3_api_routines,
) -> std::ffi::c_int {
    // SAFETY: `db` is the connection being opened; the option takes an int and an
    // optional int pointer for the previous value.
    unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::ffi::c_int,
            std::ptr::null_mut::<std::ffi::c_int>(),
        );
    }
    libsqlite3_sys::SQLITE_OK
}

/// How many connections the pool holds and how long a request waits for one.
#[derive(Debug, Clone, Copy)]
pub struct PoolLimits {
    /// Connections, at least 1.
    pub size: u32,
    /// How long [`run`] waits for a free connection before it fails with
    /// [`DbError::Pool`] (which the web layers answer with 503 and `Retry-After`).
    pub timeout: Duration,
}

impl Default for PoolLimits {
    fn default() -> Self {
        Self {
            size: 8,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Opens (creating if needed) the database file and applies pending migrations, with
/// the default [`PoolLimits`].
pub fn open(url: &str, migrations: EmbeddedMigrations) -> Result<DbPool, DbError> {
    open_with(url, migrations, PoolLimits::default())
}

/// [`open`] with the pool's size and wait given.
pub fn open_with(
    url: &str,
    migrations: EmbeddedMigrations,
    limits: PoolLimits,
) -> Result<DbPool, DbError> {
    // Created 0600 (its directory 0700) before SQLite would create it with the umask's
    // mode: it holds password hashes and every certificate looked up.
    if url != ":memory:" && !url.starts_with("file:") {
        crate::files::ensure_private_file(std::path::Path::new(url))
            .map_err(|e| DbError::Open(format!("{url}: {e}")))?;
    }
    stable_plans();
    // WAL lets readers go on while one writer commits. Switching needs the database
    // to itself, so it is done here, before the pool opens its connections at once.
    {
        use diesel::Connection;
        let mut first =
            SqliteConnection::establish(url).map_err(|e| DbError::Open(format!("{url}: {e}")))?;
        first
            .batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;")
            .map_err(DbError::Query)?;
    }
    let pool = Pool::builder()
        .max_size(limits.size.max(1))
        .connection_timeout(limits.timeout)
        // r2d2 would run a query on every checkout to see the connection is alive; a
        // connection to a local file cannot drop (PostgreSQL's will want it back on).
        .test_on_check_out(false)
        .connection_customizer(Box::new(Pragmas))
        .build(ConnectionManager::<SqliteConnection>::new(url))?;
    let mut conn = pool.get()?;
    conn.run_pending_migrations(migrations)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(pool)
}

/// Runs blocking database work on the blocking thread pool, with a connection of
/// `pool` (either program's SQLite pool, or the service's multi-backend one). Waiting
/// longer than the pool's timeout for a connection is [`DbError::Pool`].
pub async fn run<M, T, E, F>(pool: &diesel::r2d2::Pool<M>, f: F) -> Result<T, E>
where
    M: diesel::r2d2::ManageConnection,
    F: FnOnce(&mut M::Connection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(DbError::from)?;
        f(&mut conn)
    })
    .await
    .map_err(|_| E::from(DbError::Canceled))?
}

/// A connection that can open the write transaction [`write()`] runs `f` in: SQLite's
/// `BEGIN IMMEDIATE` here; the service's multi-backend connection adds PostgreSQL's
/// (a transaction holding the writers' advisory lock).
pub trait WriteTransaction: Sized {
    fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>;
}

impl WriteTransaction for SqliteConnection {
    fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        self.immediate_transaction(f)
    }
}

/// One writer at a time per process. Writers that collide on SQLite sleep in its busy
/// handler (about a millisecond a try) instead of queueing, so under load most of their
/// time is spent asleep; queueing them on a mutex in the process keeps the write lock
/// busy back to back. (On PostgreSQL the service's advisory lock orders writers across
/// nodes; the mutex still queues one node's writers before they hold a connection.)
static WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` in a write transaction ([`WriteTransaction`]), after the writers before it.
pub async fn write<M, T, E, F>(pool: &diesel::r2d2::Pool<M>, f: F) -> Result<T, E>
where
    M: diesel::r2d2::ManageConnection,
    M::Connection: WriteTransaction,
    F: FnOnce(&mut M::Connection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + From<diesel::result::Error> + Send + 'static,
{
    run(pool, move |conn: &mut M::Connection| {
        let _turn = writer_turn();
        conn.write_transaction(f)
    })
    .await
}

/// The writers' turn: hold it around a write transaction (see [`write()`]).
pub fn writer_turn() -> std::sync::MutexGuard<'static, ()> {
    // A writer that panicked left nothing half-done: its transaction rolled back.
    WRITER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Current time as every table stores it: UTC, without an offset.
pub fn now_utc() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}
