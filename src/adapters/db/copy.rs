//! `kakunin db copy`: a whole installation from one database to another (SQLite to
//! PostgreSQL, the move to several nodes), every table row for row, so that the audit
//! chain and its signed checkpoints hold on the target as they did on the source.
//!
//! The target must be empty (its migrations are applied first); the copy is one
//! transaction on the target, so a failure leaves it empty.

use chrono::NaiveDateTime;
use diesel::connection::{DefaultLoadingMode, SimpleConnection};
use diesel::pg::PgRowByRowLoadingMode;
use diesel::prelude::*;

use super::schema::*;
use super::{Conn, DbError};

/// Rows written at a time.
const CHUNK: usize = 500;

/// Why a copy did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("コピー先のデータベースは空ではありません（表 {table} に {rows} 行あります）。空のデータベースを指定してください")]
    TargetNotEmpty { table: &'static str, rows: i64 },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("データベースの処理に失敗しました: {0}")]
    Query(#[from] diesel::result::Error),
}

/// Rows copied, per table, in the order copied.
pub type Copied = Vec<(&'static str, i64)>;

/// Copies one table: `$table` ordered by `$order`, the listed columns with their Rust
/// types, read as one stream and written in chunks of [`CHUNK`].
///
/// One query streams the table: pages of `LIMIT … OFFSET …` made SQLite step over
/// every row before each page, so a copy took time quadratic in the table's rows
/// (900,000 audit events: 67 s, now 9 s; BENCHMARKS.md, "`kakunin db copy` of a long
/// log"). SQLite hands rows over one by one anyway; from PostgreSQL they are read in
/// libpq's row-by-row mode, since its default holds a whole result in memory. That
/// query lasts as long as the copy of its table, so the source transaction lifts the
/// pool's `statement_timeout` for itself (`SET LOCAL`).
macro_rules! copy_table {
    ($from:expr, $to:expr, $copied:expr, $table:ident order [$($order:ident),+], [$($col:ident: $ty:ty),+ $(,)?]) => {{
        // Every column of the table, in the schema's order, or this does not compile: a
        // column added by a later migration cannot be left behind by the copy.
        let _: <$table::table as diesel::Table>::AllColumns = ($($table::$col,)+);
        let query = $table::table
            .select(($($table::$col,)+))
            .order(($($table::$order,)+));
        let mut write_all = |rows: &mut dyn Iterator<Item = QueryResult<($($ty,)+)>>| {
            let mut copied = 0i64;
            let mut chunk = Vec::with_capacity(CHUNK);
            let mut rows = rows.peekable();
            while let Some(row) = rows.next() {
                let ($($col,)+) = row?;
                chunk.push(($($table::$col.eq($col),)+));
                if chunk.len() == CHUNK || rows.peek().is_none() {
                    super::per_backend!(&mut *$to, |c| diesel::insert_into($table::table)
                        .values(&chunk)
                        .execute(c))?;
                    copied += chunk.len() as i64;
                    chunk.clear();
                }
            }
            Ok::<_, CopyError>(copied)
        };
        let copied = match &mut *$from {
            Conn::Sqlite(c) => {
                write_all(&mut query.load_iter::<_, DefaultLoadingMode>(c)?)?
            }
            Conn::Pg(c) => write_all(&mut query.load_iter::<_, PgRowByRowLoadingMode>(c)?)?,
        };
        $copied.push((stringify!($table), copied));
    }};
}

/// Counts of every table, to refuse a target that holds anything.
fn counts(conn: &mut Conn) -> QueryResult<Vec<(&'static str, i64)>> {
    Ok(vec![
        ("offices", offices::table.count().get_result(conn)?),
        ("users", users::table.count().get_result(conn)?),
        ("sessions", sessions::table.count().get_result(conn)?),
        (
            "signin_failures",
            signin_failures::table.count().get_result(conn)?,
        ),
        ("api_tokens", api_tokens::table.count().get_result(conn)?),
        (
            "verifications",
            verifications::table.count().get_result(conn)?,
        ),
        (
            "certificate_uses",
            certificate_uses::table.count().get_result(conn)?,
        ),
        (
            "number_locks",
            number_locks::table.count().get_result(conn)?,
        ),
        (
            "audit_events",
            audit_events::table.count().get_result(conn)?,
        ),
        (
            "audit_checkpoints",
            audit_checkpoints::table.count().get_result(conn)?,
        ),
        ("audit_daily", audit_daily::table.count().get_result(conn)?),
        (
            "installation",
            installation::table.count().get_result(conn)?,
        ),
        (
            "rule_profiles",
            rule_profiles::table.count().get_result(conn)?,
        ),
    ])
}

/// Copies every table of `from` into the empty `to` (both migrated to this version).
pub fn copy(from: &mut Conn, to: &mut Conn) -> Result<Copied, CopyError> {
    for (table, rows) in counts(to)? {
        if rows > 0 {
            return Err(CopyError::TargetNotEmpty { table, rows });
        }
    }
    // The source is read in one transaction too, so the copy is of one moment.
    from.immediate_transaction(|from| {
        if let Conn::Pg(c) = from {
            c.batch_execute("SET LOCAL statement_timeout = 0")?;
        }
        to.immediate_transaction(|to| -> Result<Copied, CopyError> {
            let mut copied = Copied::new();
            copy_table!(from, to, copied, offices order [code],
                [code: String, name: String, created_at: NaiveDateTime]);
            copy_table!(from, to, copied, users order [id],
                [id: i32, login: String, name: String, role: String, office_code: String,
                 password_hash: String, disabled: bool, created_at: NaiveDateTime,
                 must_change_password: bool]);
            copy_table!(from, to, copied, sessions order [id_hash],
                [id_hash: String, user_id: Option<i32>, csrf: String,
                 created_at: NaiveDateTime, last_seen: NaiveDateTime]);
            copy_table!(from, to, copied, signin_failures order [id],
                [id: i32, login: String, address: String, at: NaiveDateTime]);
            copy_table!(from, to, copied, api_tokens order [id],
                [id: i32, name: String, office_code: String, scope: String, token_hash: String,
                 created_at: NaiveDateTime, revoked_at: Option<NaiveDateTime>,
                 last_used_at: Option<NaiveDateTime>]);
            copy_table!(from, to, copied, verifications order [id],
                [id: String, office_code: String, actor: String, client_ref: Option<String>,
                 certificate_number: String, key_fingerprint: String,
                 issuer_id: Option<String>, outcome: String, checked_at: NaiveDateTime,
                 kid: Option<String>, revision: Option<i32>, jws: Option<String>,
                 rules: String, expected: String, detail: Option<String>,
                 receipt: Option<String>, profile_digest: Option<String>,
                 case_number: Option<String>, case_title: Option<String>]);
            copy_table!(from, to, copied, certificate_uses
                order [certificate_number, office_code, case_number],
                [certificate_number: String, office_code: String, case_number: String]);
            copy_table!(from, to, copied, number_locks order [certificate_number],
                [certificate_number: String, locked_until: NaiveDateTime]);
            copy_table!(from, to, copied, audit_events order [seq],
                [seq: i32, at: NaiveDateTime, actor: String, office_code: String,
                 action: String, target: String, outcome: String, address: String,
                 user_agent: String, detail: String, prev_hash: String, hash: String]);
            copy_table!(from, to, copied, audit_checkpoints order [id],
                [id: i32, at: NaiveDateTime, event_count: i32, head_seq: i32,
                 head_hash: String, key_id: String, signature: String]);
            copy_table!(from, to, copied, audit_daily order [day, office_code, outcome],
                [day: String, office_code: String, outcome: String, n: i64]);
            copy_table!(from, to, copied, installation order [key],
                [key: String, value: String]);
            copy_table!(from, to, copied, rule_profiles order [digest],
                [digest: String, name: String, text: String, first_used_at: NaiveDateTime]);
            if let Conn::Pg(c) = to {
                // The ids were copied as they were: the identity columns must go on
                // after the largest, not from 1.
                for table in [
                    "users",
                    "signin_failures",
                    "api_tokens",
                    "audit_checkpoints",
                ] {
                    c.batch_execute(&format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                         COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                    ))?;
                }
            }
            Ok(copied)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::db;

    /// The audit log's order and hashes, as a copy must keep them.
    fn events(conn: &mut Conn) -> Vec<(i32, String, String)> {
        audit_events::table
            .select((
                audit_events::seq,
                audit_events::prev_hash,
                audit_events::hash,
            ))
            .order(audit_events::seq)
            .load(conn)
            .unwrap()
    }

    fn uses(conn: &mut Conn) -> Vec<(String, String, String)> {
        certificate_uses::table
            .select((
                certificate_uses::certificate_number,
                certificate_uses::office_code,
                certificate_uses::case_number,
            ))
            .order((
                certificate_uses::certificate_number,
                certificate_uses::office_code,
                certificate_uses::case_number,
            ))
            .load(conn)
            .unwrap()
    }

    /// Tables of several chunks, one of them keyed by three columns, arrive whole and
    /// in order: nothing is lost or doubled where one chunk ends and the next begins.
    #[test]
    fn tables_longer_than_a_chunk_are_copied_row_for_row() {
        let (_a, from) = db::scratch();
        let (_b, to) = db::scratch();
        let mut src = from.get().unwrap();
        let at = db::now_utc();
        let events_n = CHUNK * 2 + 234;
        // Exactly two chunks: the last one full, and no empty insert after it.
        let uses_n = CHUNK * 2;
        src.immediate_transaction(|c| {
            for seq in 1..=events_n as i32 {
                diesel::insert_into(audit_events::table)
                    .values((
                        audit_events::seq.eq(seq),
                        audit_events::at.eq(at),
                        audit_events::actor.eq("officer1"),
                        audit_events::office_code.eq("4400"),
                        audit_events::action.eq("verification_view"),
                        audit_events::target.eq(format!("v{seq}")),
                        audit_events::outcome.eq("allowed"),
                        audit_events::address.eq("127.0.0.1"),
                        audit_events::user_agent.eq("test"),
                        audit_events::detail.eq(""),
                        audit_events::prev_hash.eq(format!("h{}", seq - 1)),
                        audit_events::hash.eq(format!("h{seq}")),
                    ))
                    .execute(c)?;
            }
            for i in 0..uses_n {
                // Numbers repeat across offices and cases, so all three columns order them.
                diesel::insert_into(certificate_uses::table)
                    .values((
                        certificate_uses::certificate_number.eq(format!("W{:010}", i / 6)),
                        certificate_uses::office_code.eq(["4400", "4500"][i % 2]),
                        certificate_uses::case_number.eq(format!("{}", i % 3)),
                    ))
                    .execute(c)?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
        let mut dst = to.get().unwrap();
        let copied = copy(&mut src, &mut dst).unwrap();
        let count = |table| copied.iter().find(|(t, _)| *t == table).map(|(_, n)| *n);
        assert_eq!(count("audit_events"), Some(events_n as i64));
        assert_eq!(count("certificate_uses"), Some(uses_n as i64));
        assert_eq!(count("number_locks"), Some(0), "an empty table");
        assert_eq!(events(&mut dst), events(&mut src));
        assert_eq!(uses(&mut dst), uses(&mut src));
    }
}
