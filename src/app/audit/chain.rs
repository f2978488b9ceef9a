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

/// Where the stored verifications and the log's `verify` rows disagree. Every attempt
/// stores its row and its audit row in one transaction, the audit row naming the row's
/// id (`"verification"` in its detail) with the row's outcome; so a verification
/// without its audit row, an audit row without its verification, or the two with
/// different outcomes means rows were removed, added or changed after the fact. This
/// is what finds the newest audit rows deleted, which the chain cannot (what is left
/// is a shorter chain that holds) until a checkpoint signs past them, and a stored
/// outcome rewritten, which the chain does not cover.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttemptsMismatch {
    #[error("照会 {id} の記録に対応する監査ログの行がありません（監査ログの行が削除されたか、照会の記録が足されています）")]
    NotAudited { id: String },
    #[error("監査ログ {seq} 番の照会 {id} の記録がありません（照会の記録が削除されています）")]
    NotStored { seq: i32, id: String },
    #[error("照会 {id} の記録の結果（{stored}）が監査ログ {seq} 番の結果（{audited}）と違います（照会の記録が書き換えられています）")]
    Outcome {
        id: String,
        seq: i32,
        stored: String,
        audited: String,
    },
    #[error("監査ログ {seq} 番の照会の詳細から照会番号を読めません")]
    Unreadable { seq: i32 },
}

/// Compares every stored verification with the log's `verify` rows
/// ([`AttemptsMismatch`]): the count of attempts when they agree. Reads the log's
/// `verify` rows once (their ids held in memory, ≈ 50 bytes each) and the
/// verifications in id order.
pub fn attempts_audited(
    conn: &mut Conn,
) -> Result<Result<i64, AttemptsMismatch>, diesel::result::Error> {
    #[derive(serde::Deserialize)]
    struct Named {
        verification: String,
    }
    let mut audited: Vec<(String, i32, String)> = Vec::new();
    let mut after = 0;
    loop {
        let page: Vec<(i32, String, String)> = audit_events::table
            .filter(audit_events::action.eq(Action::Verify))
            .filter(audit_events::seq.gt(after))
            .order(audit_events::seq.asc())
            .limit(5000)
            .select((
                audit_events::seq,
                audit_events::outcome,
                audit_events::detail,
            ))
            .load(conn)?;
        let Some(last) = page.last() else { break };
        after = last.0;
        for (seq, outcome, detail) in page {
            match serde_json::from_str::<Named>(&detail) {
                Ok(n) => audited.push((n.verification, seq, outcome)),
                Err(_) => return Ok(Err(AttemptsMismatch::Unreadable { seq })),
            }
        }
    }
    audited.sort_unstable();
    let mut audited = audited.into_iter().peekable();
    let mut count = 0i64;
    let mut after_id = String::new();
    loop {
        let page: Vec<(String, String)> = verifications::table
            .filter(verifications::id.gt(&after_id))
            .order(verifications::id.asc())
            .limit(5000)
            .select((verifications::id, verifications::outcome))
            .load(conn)?;
        let Some(last) = page.last() else { break };
        after_id = last.0.clone();
        for (id, stored) in page {
            // Audit rows of ids below this one have no verification.
            if let Some((gone, seq, _)) = audited.next_if(|(a, _, _)| *a < id) {
                return Ok(Err(AttemptsMismatch::NotStored { seq, id: gone }));
            }
            match audited.next_if(|(a, _, _)| *a == id) {
                Some((_, seq, audited_outcome)) if audited_outcome != stored => {
                    // Said as a person reads them (確認済み, 不適合, …).
                    let label = |code: &str| {
                        crate::domain::outcome::Outcome::parse(code)
                            .map_or_else(|_| code.to_owned(), |o| o.banner().to_owned())
                    };
                    return Ok(Err(AttemptsMismatch::Outcome {
                        id,
                        seq,
                        stored: label(&stored),
                        audited: label(&audited_outcome),
                    }));
                }
                Some(_) => count += 1,
                None => return Ok(Err(AttemptsMismatch::NotAudited { id })),
            }
        }
    }
    Ok(match audited.next() {
        Some((id, seq, _)) => Err(AttemptsMismatch::NotStored { seq, id }),
        None => Ok(count),
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
