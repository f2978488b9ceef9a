//! The hash chain: how a row is hashed, and how the whole log is checked.

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::{AuditRow, GENESIS};
use crate::adapters::db::schema::audit_events;

/// SHA-256 over a canonical encoding: a JSON array of the row's fields in a fixed
/// order (JSON escaping makes field boundaries unambiguous), then the previous hash.
pub fn row_hash(row: &AuditRow) -> String {
    // A tuple serializes as the same JSON array a `json!` array did, without copying
    // every field into a tree first (the service hashes each row it appends, `audit
    // verify` every row of the log).
    let canonical = serde_json::to_string(&(
        row.seq,
        canonical_at(row.at),
        &row.actor,
        &row.office_code,
        &row.action,
        &row.target,
        &row.outcome,
        &row.address,
        &row.user_agent,
        &row.detail,
        &row.prev_hash,
    ))
    .expect("strings and numbers serialize");
    hex::encode(Sha256::digest(canonical.as_bytes()))
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
            action: "verify".into(),
            target: "W2025000123".into(),
            outcome: "verified".into(),
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
