//! The service's database: its migrations, its schema, and the WAL thread, on top of the
//! SQLite pool both programs share ([`kakunin_platform::sqlite`]).
//!
//! The closed vocabularies are stored as their fixed text ([`code`]).
//!
//! Every diesel call, `pool.get()` included, goes through [`run`] or [`write`] so it
//! never blocks an async worker. Backend-specific SQL stays in this module and in the
//! migrations.

use diesel_migrations::{embed_migrations, EmbeddedMigrations};

pub mod code;
pub mod schema;
mod wal;

pub use kakunin_platform::sqlite::{
    now_utc, open, open_with, run, write, writer_turn, DbConn, DbError, DbPool, PoolLimits,
};
pub use wal::WalCheckpointer;

/// The connection every query of the service takes. One name, so that a second backend
/// (PostgreSQL, issue K9) changes this line and not every query.
pub type Conn = diesel::SqliteConnection;

/// The verification service's migrations (the reference issuer has its own).
pub const SERVICE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
