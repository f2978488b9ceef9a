//! The hash chain: how a row is hashed, and how the whole log is checked.

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::{AuditRow, GENESIS};
use crate::db::schema::audit_events;

/// SHA-256 over a canonical encoding: a JSON array of the row's fields in a fixed
/// order (JSON escaping makes field boundaries unambiguous), then the previous hash.
pub fn row_hash(row: &AuditRow) -> String {
    let canonical = serde_json::json!([
        row.seq,
        row.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        row.actor,
        row.office_code,
        row.action,
        row.target,
        row.outcome,
        row.address,
        row.user_agent,
        row.detail,
        row.prev_hash,
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// The first place where the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("監査ログ {seq} 番の内容がハッシュと一致しません（行が書き換えられています）")]
    Altered { seq: i32 },
    #[error("監査ログ {seq} 番の前ハッシュが直前の行と一致しません（行の削除または並べ替え）")]
    Unlinked { seq: i32 },
    #[error("監査ログの番号が {expected} 番から {found} 番へ飛んでいます（行が削除されています）")]
    Gap { expected: i32, found: i32 },
}

/// Walks the log in order, in pages, and returns the count of intact rows.
pub fn verify_chain(
    conn: &mut SqliteConnection,
) -> Result<Result<i64, ChainBreak>, diesel::result::Error> {
    let mut prev = GENESIS.to_owned();
    let mut expected_seq = 1;
    let mut count = 0i64;
    loop {
        let page: Vec<AuditRow> = audit_events::table
            .filter(audit_events::seq.ge(expected_seq))
            .order(audit_events::seq.asc())
            .limit(5000)
            .select(AuditRow::as_select())
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
            if row_hash(&row) != row.hash {
                return Ok(Err(ChainBreak::Altered { seq: row.seq }));
            }
            prev = row.hash;
            expected_seq += 1;
            count += 1;
        }
    }
}
