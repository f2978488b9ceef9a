//! Rows of the `verifications` and `number_locks` tables and the queries on them.

use std::collections::HashSet;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::adapters::db::schema::{number_locks, verifications};
use crate::domain::outcome::Outcome;
use crate::domain::rules::RuleResult;
use crate::domain::scope::OfficeScope;
use kakunin_protocol::jws;
use kakunin_protocol::payload::Certificate;
use kakunin_protocol::time::jst_day_start_utc;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = verifications)]
pub struct VerificationRow {
    pub id: String,
    pub office_code: String,
    pub actor: String,
    pub client_ref: Option<String>,
    pub certificate_number: String,
    #[serde(skip)]
    pub key_fingerprint: String,
    pub issuer_id: Option<String>,
    pub outcome: String,
    pub checked_at: NaiveDateTime,
    pub kid: Option<String>,
    pub revision: Option<i32>,
    #[serde(skip)]
    pub jws: Option<String>,
    pub rules: String,
    pub expected: String,
    pub detail: Option<String>,
}

impl VerificationRow {
    pub fn outcome(&self) -> Outcome {
        Outcome::parse(&self.outcome).unwrap_or(Outcome::InvalidRecord)
    }

    /// The payload text as signed, for the outcomes that carry a certificate (verified
    /// and rejected); read from the stored JWS, whose payload part it is.
    pub fn payload_text(&self) -> Option<String> {
        if !self.outcome().has_certificate() {
            return None;
        }
        self.jws.as_deref().and_then(jws::payload_text)
    }

    /// The certificate, for the outcomes that carry one (verified and rejected).
    pub fn certificate(&self) -> Option<Certificate> {
        self.payload_text()
            .and_then(|p| Certificate::from_json(p.as_bytes()).ok())
    }

    /// The payload as JSON to embed in an answer as it is: checked to be JSON, never
    /// parsed into a tree and written out again (a batch answers 1000 of them).
    pub fn payload_raw(&self) -> Option<Box<RawValue>> {
        self.payload_text()
            .and_then(|p| RawValue::from_string(p).ok())
    }

    pub fn rule_results(&self) -> Vec<RuleResult> {
        serde_json::from_str(&self.rules).unwrap_or_default()
    }

    /// The rule results as stored JSON, for answers; `[]` if the column were damaged.
    pub fn rules_raw(&self) -> Box<RawValue> {
        RawValue::from_string(self.rules.clone())
            .unwrap_or_else(|_| RawValue::from_string("[]".to_owned()).expect("[] is JSON"))
    }

    pub fn expected(&self) -> crate::domain::rules::Expected {
        serde_json::from_str(&self.expected).unwrap_or_default()
    }
}

/// Inserts rows one statement each, in the caller's transaction. A single-row insert
/// stays prepared in diesel's statement cache; a multi-row one (16 bound values a row)
/// was built, parsed and planned anew for every batch size and cost more CPU.
pub fn insert(conn: &mut SqliteConnection, rows: &[VerificationRow]) -> QueryResult<()> {
    for row in rows {
        diesel::insert_into(verifications::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

pub fn find(
    conn: &mut SqliteConnection,
    id: &str,
    scope: &OfficeScope,
) -> QueryResult<Option<VerificationRow>> {
    let mut q = verifications::table
        .filter(verifications::id.eq(id))
        .select(VerificationRow::as_select())
        .into_boxed();
    if let OfficeScope::One(office) = scope {
        q = q.filter(verifications::office_code.eq(office.clone()));
    }
    q.first(conn).optional()
}

/// The office's last verification of the same number that carried a certificate,
/// before the given one: the base of the re-verify comparison.
pub fn previous_with_certificate(
    conn: &mut SqliteConnection,
    row: &VerificationRow,
) -> QueryResult<Option<VerificationRow>> {
    verifications::table
        .filter(verifications::office_code.eq(&row.office_code))
        .filter(verifications::certificate_number.eq(&row.certificate_number))
        .filter(
            verifications::outcome.eq_any(
                Outcome::ALL
                    .iter()
                    .filter(|o| o.has_certificate())
                    .map(|o| o.as_str()),
            ),
        )
        .filter(verifications::checked_at.lt(row.checked_at))
        .order(verifications::checked_at.desc())
        .select(VerificationRow::as_select())
        .first(conn)
        .optional()
}

#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub number: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub outcome: Option<String>,
}

pub const HISTORY_PAGE: i64 = 100;

/// Newest first, at most one page. Dates are Japan-time days.
pub fn history(
    conn: &mut SqliteConnection,
    scope: &OfficeScope,
    f: &HistoryFilter,
) -> QueryResult<Vec<VerificationRow>> {
    let mut q = verifications::table
        .select(VerificationRow::as_select())
        .into_boxed();
    if let OfficeScope::One(office) = scope {
        q = q.filter(verifications::office_code.eq(office.clone()));
    }
    if let Some(n) = &f.number {
        q = q.filter(verifications::certificate_number.eq(n.clone()));
    }
    if let Some(d) = f.from {
        q = q.filter(verifications::checked_at.ge(jst_day_start_utc(d)));
    }
    if let Some(d) = f.to {
        q = q.filter(verifications::checked_at.lt(jst_day_start_utc(d) + Duration::days(1)));
    }
    if let Some(o) = &f.outcome {
        q = q.filter(verifications::outcome.eq(o.clone()));
    }
    q.order((verifications::checked_at.desc(), verifications::id.desc()))
        .limit(HISTORY_PAGE)
        .load(conn)
}

/// Which of `numbers` are locked here at `now`: one query for a whole batch.
pub fn locked_among(
    conn: &mut SqliteConnection,
    numbers: &[String],
    now: NaiveDateTime,
) -> QueryResult<HashSet<String>> {
    let mut locked = HashSet::new();
    // 500 bound values a query, like `insert`, to stay far below SQLite's limit.
    for chunk in numbers.chunks(500) {
        locked.extend(
            number_locks::table
                .filter(number_locks::certificate_number.eq_any(chunk))
                .filter(number_locks::locked_until.gt(now))
                .select(number_locks::certificate_number)
                .load::<String>(conn)?,
        );
    }
    Ok(locked)
}

pub fn recent_not_found(
    conn: &mut SqliteConnection,
    number: &str,
    since: NaiveDateTime,
) -> QueryResult<i64> {
    verifications::table
        .filter(verifications::certificate_number.eq(number))
        .filter(verifications::outcome.eq("not_found"))
        .filter(verifications::checked_at.ge(since))
        .count()
        .get_result(conn)
}

pub fn lock(conn: &mut SqliteConnection, number: &str, until: NaiveDateTime) -> QueryResult<()> {
    diesel::replace_into(number_locks::table)
        .values((
            number_locks::certificate_number.eq(number),
            number_locks::locked_until.eq(until),
        ))
        .execute(conn)?;
    Ok(())
}
