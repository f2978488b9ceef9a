//! The service's database: the pool over SQLite or PostgreSQL (`pool`), the
//! migrations of each backend, the schema both match, and SQLite's WAL thread.
//!
//! The closed vocabularies are stored as their fixed text ([`code`]).
//!
//! Every diesel call, `pool.get()` included, goes through [`run`], [`write()`] or (a
//! short read of a local file) [`read`] so it never blocks an async worker.
//! Backend-specific SQL stays in this module and in the migrations: [`sql`] for the few
//! statements diesel's query builder cannot say for both backends.

use diesel_migrations::embed_migrations;

pub mod code;
pub mod copy;
mod pool;
pub mod schema;
pub mod sql;
mod wal;

pub use pool::{
    migrate, now_utc, open, open_with, ping, read, run, side_pool, write, writer_turn, Backend,
    Conn, DbConn, DbError, DbPool, Location, Migrations, PoolLimits, WRITE_LOCK,
};
pub use wal::WalCheckpointer;

/// The verification service's migrations, one folder per backend (the reference issuer
/// has its own). Both end in the tables `schema.rs` describes.
pub const SERVICE_MIGRATIONS: Migrations = Migrations {
    sqlite: embed_migrations!("migrations/sqlite"),
    postgres: embed_migrations!("migrations/postgres"),
};

/// A migrated SQLite database in a temporary directory, for unit tests; it is removed
/// with the returned directory.
#[cfg(test)]
pub fn scratch() -> (tempfile::TempDir, DbPool) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = dir.path().join("kakunin.db").display().to_string();
    let pool = open(&url, SERVICE_MIGRATIONS).expect("a migrated database");
    (dir, pool)
}

/// Runs one diesel statement on whichever backend `conn` is, for what diesel's
/// multi-backend connection cannot say itself (`ON CONFLICT`, `RETURNING`): the
/// statement is written once, `$c` is the backend's own connection.
///
/// ```ignore
/// db::per_backend!(conn, |c| diesel::insert_into(t).values(v).on_conflict_do_nothing().execute(c))
/// ```
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::adapters::db::Conn::Pg($c) => $body,
            $crate::adapters::db::Conn::Sqlite($c) => $body,
        }
    };
}
pub(crate) use per_backend;
