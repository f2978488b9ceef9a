//! The hash chain: how a row is hashed, and how the whole log is checked.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::{Action, AuditOutcome, AuditRow, GENESIS};
use crate::adapters::db::schema::{audit_events, verifications};
use crate::adapters::db::Conn;
use crate::domain::code::{Code, UnknownCode};

/// SHA-256 over a canonical encoding: a JSON array of the row's fields in a fixed
/// order (JSON escaping makes field boundaries unambiguous), then the previous hash.
/// The action and outcome are hashed as their stored text.
pub fn row_hash(row: &AuditRow) -> String {
    hash_of(&hashed(row))
}

/// The row's hashed columns, as they are stored.
pub fn hashed(row: &AuditRow) -> Hashed<'_> {
    Hashed {
        seq: row.seq,
        at: row.at,
        actor: &row.actor,
        office_code: &row.office_code,
        action: row.action.as_str(),
        target: &row.target,
        outcome: row.outcome.as_str(),
        address: &row.address,
        user_agent: &row.user_agent,
        detail: &row.detail,
        prev_hash: &row.prev_hash,
    }
}

/// The hashed columns of a row, as stored text: what [`hash_of`] hashes whichever
/// codes this version knows. Also the insertable part of a new row, so that what is
/// stored and what is hashed cannot drift apart.
#[derive(Debug, Clone, Copy, Insertable)]
#[diesel(table_name = audit_events)]
pub struct Hashed<'a> {
    pub seq: i32,
    /// UTC, as stored.
    pub at: NaiveDateTime,
    pub actor: &'a str,
    pub office_code: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub outcome: &'a str,
    pub address: &'a str,
    pub user_agent: &'a str,
    pub detail: &'a str,
    pub prev_hash: &'a str,
}

/// The hash a row with these columns must carry (hex SHA-256; see [`row_hash`]).
pub fn hash_of(row: &Hashed<'_>) -> String {
    // A tuple serializes as the same JSON array a `json!` array did, without copying
    // every field into a tree first (the service hashes each row it appends, `audit
    // verify` every row of the log).
    let canonical = serde_json::to_string(&(
        row.seq,
        canonical_at(row.at),
        row.actor,
        row.office_code,
        row.action,
        row.target,
        row.outcome,
        row.address,
        row.user_agent,
        row.detail,
        row.prev_hash,
    ))
    .expect("strings and numbers serialize");
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// A row exactly as stored, its codes as plain text: the chain is checked over the
/// bytes on disk, and a code this version does not know is reported by the row's
/// number instead of failing the whole walk.
#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events)]
struct StoredRow {
    seq: i32,
    at: NaiveDateTime,
    actor: String,
    office_code: String,
    action: String,
    target: String,
    outcome: String,
    address: String,
    user_agent: String,
    detail: String,
    prev_hash: String,
    hash: String,
}

impl StoredRow {
    fn hash(&self) -> String {
        hash_of(&Hashed {
            seq: self.seq,
            at: self.at,
            actor: &self.actor,
            office_code: &self.office_code,
            action: &self.action,
            target: &self.target,
            outcome: &self.outcome,
            address: &self.address,
            user_agent: &self.user_agent,
            detail: &self.detail,
            prev_hash: &self.prev_hash,
        })
    }

    /// The first of its codes this version does not know.
    fn unknown_code(&self) -> Option<UnknownCode> {
        Action::parse(&self.action)
            .err()
            .or_else(|| AuditOutcome::parse(&self.outcome).err())
    }
}

/// An event's time as the hash, the checkpoint signatures and the JSONL export write
/// it (`2025-04-10T00:30:12.123456Z`): one form, so an exported `at` is what was hashed.
pub fn canonical_at(at: chrono::NaiveDateTime) -> String {
    at.format_with_items(AT_FORMAT.iter()).to_string()
}

/// `%Y-%m-%dT%H:%M:%S%.6fZ`, parsed once instead of once a row.
static AT_FORMAT: std::sync::LazyLock<Vec<chrono::format::Item<'static>>> =
    std::sync::LazyLock::new(|| {
        chrono::format::StrftimeItems::new("%Y-%m-%dT%H:%M:%S%.6fZ")
            .parse_to_owned()
            .expect("a valid format")
    });

/// The first place where the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("監査ログ {seq} 番の内容がハッシュと一致しません（行が書き換えられています）")]
    Altered { seq: i32 },
    #[error("監査ログ {seq} 番の前ハッシュが直前の行と一致しません（行の削除または並べ替え）")]
    Unlinked { seq: i32 },
    #[error("監査ログの番号が {expected} 番から {found} 番へ飛んでいます（行が削除されています）")]
    Gap { expected: i32, found: i32 },
    /// The hashes hold, but this version cannot read the row: written by a newer
    /// version, or rewritten along with every hash after it.
    #[error("監査ログ {seq} 番の{code}（新しい版の kakunin が書いたか、行とそれ以降のハッシュが書き換えられています）")]
    Unknown { seq: i32, code: UnknownCode },
}

impl ChainBreak {
    /// Whether the break proves the log was changed (every break but [`ChainBreak::Unknown`]).
    pub fn is_tampering(&self) -> bool {
        !matches!(self, ChainBreak::Unknown { .. })
    }
}

/// Verifications and the log's `verify` rows disagree: every attempt stores its row and
/// its audit row in one transaction, so a difference means rows were removed from one
/// of them after the fact. This is what finds the newest audit rows deleted, which the
/// chain cannot (what is left is a shorter chain that holds) until a checkpoint signs
/// past them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("照会の記録が {verifications} 件あるのに、監査ログの照会は {audited} 件です（監査ログまたは照会の記録の行が削除されています）")]
pub struct AttemptsMismatch {
    pub verifications: i64,
    pub audited: i64,
}

/// Counts the stored verifications against the log's `verify` rows
/// ([`AttemptsMismatch`]).
pub fn attempts_audited(
    conn: &mut Conn,
) -> Result<Result<i64, AttemptsMismatch>, diesel::result::Error> {
    let verifications: i64 = verifications::table.count().get_result(conn)?;
    let audited: i64 = audit_events::table
        .filter(audit_events::action.eq(Action::Verify))
        .count()
        .get_result(conn)?;
    Ok(if verifications == audited {
        Ok(audited)
    } else {
        Err(AttemptsMismatch {
            verifications,
            audited,
        })
    })
}

/// Walks the log in order, in pages, and returns the count of intact rows.
pub fn verify_chain(conn: &mut Conn) -> Result<Result<i64, ChainBreak>, diesel::result::Error> {
    let mut prev = GENESIS.to_owned();
    let mut expected_seq = 1;
    let mut count = 0i64;
    loop {
        let page: Vec<StoredRow> = audit_events::table
            .filter(audit_events::seq.ge(expected_seq))
            .order(audit_events::seq.asc())
            .limit(5000)
            .select(StoredRow::as_select())
            .load(conn)?;
        if page.is_empty() {
            return Ok(Ok(count));
        }
        for row in page {
            if row.seq != expected_seq {
                return Ok(Err(ChainBreak::Gap {
                    expected: expected_seq,
                    found: row.seq,
                }));
            }
            if row.prev_hash != prev {
                return Ok(Err(ChainBreak::Unlinked { seq: row.seq }));
            }
            if row.hash() != row.hash {
                return Ok(Err(ChainBreak::Altered { seq: row.seq }));
            }
            if let Some(code) = row.unknown_code() {
                return Ok(Err(ChainBreak::Unknown { seq: row.seq, code }));
            }
            prev = row.hash;
            expected_seq += 1;
            count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored hashes depend on this encoding byte for byte: a change would make every
    /// existing log read as tampered. The expected value was computed by the first
    /// implementation (a `serde_json::json!` array).
    #[test]
    fn the_row_encoding_never_changes() {
        let row = AuditRow {
            seq: 42,
            at: chrono::NaiveDate::from_ymd_opt(2025, 4, 10)
                .unwrap()
                .and_hms_micro_opt(0, 30, 12, 123456)
                .unwrap(),
            actor: "user:officer".into(),
            office_code: "440001".into(),
            action: Action::Verify,
            target: "W2025000123".into(),
            outcome: AuditOutcome::Verification(crate::domain::outcome::Outcome::Verified),
            address: "127.0.0.1".into(),
            user_agent: "Mozilla/5.0 \"quoted\" \\ 日本語\n".into(),
            detail: r#"{"issuer":"wjcs","verification":"01J"}"#.into(),
            prev_hash: GENESIS.into(),
            hash: String::new(),
        };
        assert_eq!(
            row_hash(&row),
            "c91d0415330f7886e8fea7cb1ee0d16396c90ef994c9a4d9439dd5fd894a17f6"
        );
    }
}
