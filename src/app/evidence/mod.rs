//! Evidence that lasts (issue K8): the rule profiles a verification was checked with,
//! the evidence bundle (証拠一式) of one verification, checking either again, and the
//! paper check of a printout (`paper`).

pub mod bundle;
pub mod check;
pub mod paper;
pub mod profiles;

use diesel::prelude::*;

use crate::adapters::db::schema::audit_events;
use crate::adapters::db::Conn;
use crate::app::audit::{checkpoint, AuditRow};
use crate::app::receipt::Receipt;
use ed25519_dalek::VerifyingKey;

/// How a receipt stands in the audit log.
#[derive(Debug)]
pub enum AuditLink {
    /// The row it names is there, and a signed checkpoint covers it intact.
    Covered { checkpoint: i32 },
    /// The row is there; no checkpoint covers it yet (the next one will).
    NotYetCovered,
}

/// Checks that the audit row a receipt names is in the log with the hash it names, for
/// this verification, and that the checkpoint covering it (if one exists yet) is
/// signed by `audit_key` and the chain from the row to it holds.
pub fn audit_link(
    conn: &mut Conn,
    receipt: &Receipt,
    audit_key: Option<&VerifyingKey>,
) -> QueryResult<Result<AuditLink, String>> {
    let row: Option<AuditRow> = audit_events::table
        .find(receipt.audit_seq)
        .select(AuditRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = row else {
        return Ok(Err(format!(
            "確認記録が指す監査ログ {} 番がありません（削除されています）",
            receipt.audit_seq
        )));
    };
    if row.hash != receipt.audit_hash
        || !row
            .detail
            .contains(&format!("\"verification\":\"{}\"", receipt.verification_id))
    {
        return Ok(Err(format!(
            "監査ログ {} 番が確認記録の指す行と一致しません（書き換えられています）",
            receipt.audit_seq
        )));
    }
    let status = checkpoint::event_status(conn, &row, audit_key)?;
    if !(status.hash_ok && status.linked) {
        return Ok(Err(format!(
            "監査ログ {} 番のハッシュチェーンが切れています",
            receipt.audit_seq
        )));
    }
    Ok(Ok(match status.checkpoint {
        None => AuditLink::NotYetCovered,
        Some(c) if !c.signature_ok => {
            return Ok(Err(format!(
                "監査ログ {} 番を含むチェックポイント {} 番の署名が確認できません",
                receipt.audit_seq, c.id
            )))
        }
        Some(c) if !c.chain_ok => {
            return Ok(Err(format!(
                "監査ログ {} 番からチェックポイント {} 番までのハッシュチェーンが切れています",
                receipt.audit_seq, c.id
            )))
        }
        Some(c) => AuditLink::Covered { checkpoint: c.id },
    }))
}

/// Reads a stored verification within `scope`, audits the read as `action` (in the
/// caller's write transaction) and puts its bundle together without the summary page.
/// `None` when the scope has no such verification.
pub fn open_bundle(
    conn: &mut Conn,
    actor: &crate::app::audit::Actor,
    id: &str,
    scope: &crate::domain::scope::OfficeScope,
    receipt_keys: &[crate::app::receipt::PublicKey],
    registry: &kakunin_protocol::registry::Registry,
) -> QueryResult<
    Option<(
        crate::app::verification::VerificationRow,
        Result<bundle::Bundle, bundle::BundleError>,
    )>,
> {
    let Some(row) = crate::app::verification::open_audited(
        conn,
        actor,
        id,
        scope,
        crate::app::audit::Action::VerificationView,
    )?
    else {
        return Ok(None);
    };
    let text = match &row.profile_digest {
        Some(d) => profiles::text(conn, d)?,
        None => None,
    };
    let made = bundle::assemble(&row, receipt_keys, registry, text);
    Ok(Some((row, made)))
}
