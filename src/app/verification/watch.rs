//! `kakunin watch`: the accepted guarantees of one office that need a look
//! (`domain::watch` says which and why).
//!
//! The accepted guarantee of a 保証契約番号 is the office's last `verified`
//! verification of it; what the office saw of the number after that (later
//! verifications with a record, all `rejected` by construction) is what the reasons
//! read. A later record that cannot be read back says nothing here, as at the paper
//! check; an accepted one that cannot is listed with the reason.

use chrono::NaiveDate;
use diesel::QueryResult;

use super::store::{self, VerificationRow};
use crate::adapters::db::Conn;
use crate::domain::case::Case;
use crate::domain::outcome::Outcome;
use crate::domain::watch::{self, SeenSince};
use kakunin_protocol::time::jst_date_of_utc;

/// One accepted guarantee that needs a look.
#[derive(Debug, Clone)]
pub struct Watched {
    pub certificate_number: String,
    /// The accepting verification's id.
    pub verification_id: String,
    /// The 案件 it was accepted under.
    pub case: Option<Case>,
    /// What calls for a look, in Japanese, one sentence each.
    pub reasons: Vec<String>,
}

/// The office's accepted guarantees with at least one reason, by 保証契約番号. `today`
/// is the Japan-time day; `days` how far ahead a guarantee period's end is listed.
pub fn watch(
    conn: &mut Conn,
    office: &str,
    today: NaiveDate,
    days: u32,
) -> QueryResult<Vec<Watched>> {
    let rows = store::with_certificate_of_office(conn, office)?;
    let mut found = Vec::new();
    for number_rows in rows.chunk_by(|a, b| a.certificate_number == b.certificate_number) {
        let Some(at) = number_rows
            .iter()
            .rposition(|r| r.outcome == Outcome::Verified)
        else {
            continue;
        };
        if let Some(w) = look(&number_rows[at], &number_rows[at + 1..], today, days) {
            found.push(w);
        }
    }
    Ok(found)
}

fn look(
    accepted: &VerificationRow,
    since: &[VerificationRow],
    today: NaiveDate,
    days: u32,
) -> Option<Watched> {
    let reasons = match accepted.certificate() {
        Ok(Some(cert)) => {
            let later: Vec<(NaiveDate, _)> = since
                .iter()
                .filter_map(|r| {
                    let cert = r.certificate().ok().flatten()?;
                    Some((jst_date_of_utc(r.checked_at), cert))
                })
                .collect();
            let seen: Vec<SeenSince<'_>> = later
                .iter()
                .map(|(seen_on, certificate)| SeenSince {
                    seen_on: *seen_on,
                    certificate,
                })
                .collect();
            let accepted_on = jst_date_of_utc(accepted.checked_at);
            watch::reasons(&cert, accepted_on, &seen, today, days)
                .iter()
                .map(ToString::to_string)
                .collect()
        }
        Ok(None) => vec!["受理した照会に電子証書が保存されていません".to_owned()],
        Err(e) => vec![format!("受理した照会の電子証書を読めません（{e}）")],
    };
    (!reasons.is_empty()).then(|| Watched {
        certificate_number: accepted.certificate_number.clone(),
        verification_id: accepted.id.clone(),
        case: accepted.case(),
        reasons,
    })
}
