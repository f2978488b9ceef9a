//! `kakunin db copy`: a whole installation from one database to another (SQLite to
//! PostgreSQL, the move to several nodes), every table row for row, so that the audit
//! chain and its signed checkpoints hold on the target as they did on the source.
//!
//! The target must be empty (its migrations are applied first); the copy is one
//! transaction on the target, so a failure leaves it empty.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::*;
use super::{Conn, DbError};

/// Rows read and written at a time.
const CHUNK: i64 = 500;

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
/// types, in chunks of [`CHUNK`].
macro_rules! copy_table {
    ($from:expr, $to:expr, $copied:expr, $table:ident order [$($order:ident),+], [$($col:ident: $ty:ty),+ $(,)?]) => {{
        // Every column of the table, in the schema's order, or this does not compile: a
        // column added by a later migration cannot be left behind by the copy.
        let _: <$table::table as diesel::Table>::AllColumns = ($($table::$col,)+);
        let mut offset = 0i64;
        loop {
            let rows: Vec<($($ty,)+)> = $table::table
                .select(($($table::$col,)+))
                .order(($($table::$order,)+))
                .limit(CHUNK)
                .offset(offset)
                .load($from)?;
            let n = rows.len() as i64;
            let values: Vec<_> = rows
                .into_iter()
                .map(|($($col,)+)| ($($table::$col.eq($col),)+))
                .collect();
            if n > 0 {
                super::per_backend!($to, |c| diesel::insert_into($table::table)
                    .values(&values)
                    .execute(c))?;
            }
            offset += n;
            if n < CHUNK {
                break;
            }
        }
        $copied.push((stringify!($table), offset));
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
                use diesel::connection::SimpleConnection;
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
