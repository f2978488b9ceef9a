//! The paper check (印刷物の照合): does a printout match a stored verification of the
//! reader's office, and has the office seen a newer revision or a cancellation of the
//! same certificate since?

use chrono::NaiveDateTime;
use diesel::QueryResult;

use crate::adapters::db::Conn;
use crate::app::audit::{Action, Actor};
use crate::app::receipt;
use crate::app::verification::{self, store, VerificationRow};
use crate::domain::paper::PaperRef;
use crate::domain::scope::OfficeScope;
use kakunin_protocol::payload::Status;

/// How the paper stands against the stored verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaperMatch {
    /// The paper's receipt digest is the stored receipt's.
    Matches,
    /// It is not: the paper was altered, or made from something else.
    Differs,
    /// Only the id was given; the digest was not compared.
    IdOnly,
    /// The stored verification has no receipt (made before receipts, or without a
    /// record), so there is nothing to compare a digest with.
    NoReceipt,
}

impl PaperMatch {
    /// The word the audit row's detail keeps (`paper=…`).
    pub fn code(self) -> &'static str {
        match self {
            PaperMatch::Matches => "match",
            PaperMatch::Differs => "mismatch",
            PaperMatch::IdOnly => "id_only",
            PaperMatch::NoReceipt => "no_receipt",
        }
    }
}

/// A later verification of the same certificate number, by the same office.
#[derive(Debug, Clone)]
pub struct Seen {
    pub verification_id: String,
    /// UTC, as stored.
    pub checked_at: NaiveDateTime,
    pub revision: i32,
}

/// What the check found.
#[derive(Debug, Clone)]
pub struct PaperCheck {
    pub row: VerificationRow,
    pub paper: PaperMatch,
    /// The highest revision the office saw after the paper's verification, when it is
    /// newer than the paper's.
    pub newer_revision: Option<Seen>,
    /// The first later verification whose record says the guarantee was cancelled,
    /// when the paper's own record did not.
    pub cancelled: Option<Seen>,
}

/// How `paper` stands against the stored `row`: its receipt digest (SHA-256 of the
/// receipt's JWS, base64url) against the row's receipt.
pub fn compare(paper: &PaperRef, row: &VerificationRow) -> PaperMatch {
    match (&paper.receipt_digest, &row.receipt) {
        (_, None) => PaperMatch::NoReceipt,
        (None, Some(_)) => PaperMatch::IdOnly,
        (Some(d), Some(r)) if *d == receipt::paper_digest(r) => PaperMatch::Matches,
        (Some(_), Some(_)) => PaperMatch::Differs,
    }
}

/// Reads the verification the paper names within `scope`, auditing the lookup as
/// `verification.check` in the caller's write transaction (its detail says whether the
/// paper matched; a miss is `denied` like any view), then what the office saw of the
/// same number since. `None` when the scope has no such verification: another office's
/// paper gets the same answer as an unknown one.
pub fn check(
    conn: &mut Conn,
    actor: &Actor,
    paper: &PaperRef,
    scope: &OfficeScope,
) -> QueryResult<Option<PaperCheck>> {
    let Some(row) = verification::open_audited_noting(
        conn,
        actor,
        &paper.verification_id,
        scope,
        Action::PaperCheck,
        |row| Some(format!("paper={}", compare(paper, row).code())),
    )?
    else {
        return Ok(None);
    };
    let paper_match = compare(paper, &row);
    let own = row.certificate().ok().flatten();
    let own_revision = row.revision.unwrap_or(0);
    let own_cancelled = own.as_ref().is_some_and(|c| c.status == Status::Cancelled);
    let mut newer_revision: Option<Seen> = None;
    let mut cancelled = None;
    for later in store::later_with_certificate(conn, &row)? {
        let seen = Seen {
            verification_id: later.id.clone(),
            checked_at: later.checked_at,
            revision: later.revision.unwrap_or(0),
        };
        if seen.revision > own_revision
            && newer_revision
                .as_ref()
                .is_none_or(|n| seen.revision > n.revision)
        {
            newer_revision = Some(seen.clone());
        }
        // A row whose record cannot be read shows on its own page; here it says nothing.
        let is_cancelled = later
            .certificate()
            .ok()
            .flatten()
            .is_some_and(|c| c.status == Status::Cancelled);
        if is_cancelled && !own_cancelled && cancelled.is_none() {
            cancelled = Some(seen);
        }
    }
    Ok(Some(PaperCheck {
        row,
        paper: paper_match,
        newer_revision,
        cancelled,
    }))
}
