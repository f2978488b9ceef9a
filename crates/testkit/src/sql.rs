//! Plain SQL on a program's database (a SQLite file, or the service's PostgreSQL
//! database when the suite runs on it), for tests that check what was stored (or that
//! tamper with it on a copy). The programs keep running: SQLite's WAL lets a reader in.
//! The statements given must read the same on both backends (or the test is SQLite's
//! only).

use std::path::Path;

use diesel::prelude::*;

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum Db {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Opens the SQLite file at `path`.
pub fn open(path: &Path) -> Db {
    SqliteConnection::establish(path.to_str().expect("utf-8 path"))
        .map(Db::Sqlite)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// Opens what a database URL names: `postgres://…` or a SQLite file's path.
pub fn open_url(url: &str) -> Db {
    if url.starts_with("postgres://") {
        open_postgres(url)
    } else {
        open(Path::new(url))
    }
}

/// Opens the PostgreSQL database at `url`.
pub fn open_postgres(url: &str) -> Db {
    diesel::PgConnection::establish(url)
        .map(Db::Pg)
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

/// Runs one statement; panics with it when it fails.
pub fn exec(conn: &mut Db, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// PostgreSQL types `n` as the column is (INTEGER or BIGINT) where SQLite has one
/// integer type: read it as BIGINT on both.
fn as_bigint(conn: &Db, sql: &str) -> String {
    match conn {
        Db::Pg(_) => format!("SELECT CAST(n AS BIGINT) AS n FROM ({sql}) AS q"),
        Db::Sqlite(_) => sql.to_owned(),
    }
}

/// The one integer a query selects `AS n` (`SELECT COUNT(*) AS n FROM …`).
pub fn count(conn: &mut Db, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(as_bigint(conn, sql))
        .get_result::<N>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n
}

/// The one text a query selects `AS t`.
pub fn text(conn: &mut Db, sql: &str) -> String {
    #[derive(QueryableByName)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    diesel::sql_query(sql)
        .get_result::<T>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .t
}

/// Every text a query selects `AS t`, in order.
pub fn texts(conn: &mut Db, sql: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    diesel::sql_query(sql)
        .load::<T>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| r.t)
        .collect()
}

/// Every integer a query selects `AS n`, in order.
pub fn integers(conn: &mut Db, sql: &str) -> Vec<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(as_bigint(conn, sql))
        .load::<N>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| r.n)
        .collect()
}

/// `hours` hours before now (UTC) as a SQL literal that both backends store as the
/// service's `Timestamp` columns do.
pub fn utc_hours_ago(hours: i64) -> String {
    let t = chrono::Utc::now().naive_utc() - chrono::Duration::hours(hours);
    format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.6f"))
}

/// The names of the database's tables (the migrations' bookkeeping table included).
pub fn tables(conn: &mut Db) -> Vec<String> {
    let query = match conn {
        Db::Pg(_) => {
            "SELECT string_agg(table_name, ',') AS t FROM information_schema.tables \
             WHERE table_schema = 'public'"
        }
        Db::Sqlite(_) => "SELECT group_concat(name) AS t FROM sqlite_master WHERE type = 'table'",
    };
    text(conn, query).split(',').map(str::to_owned).collect()
}

/// An expression for the length in bytes of the text column `column`.
pub fn bytes(conn: &Db, column: &str) -> String {
    match conn {
        Db::Pg(_) => format!("octet_length({column})"),
        Db::Sqlite(_) => format!("length(CAST({column} AS BLOB))"),
    }
}
