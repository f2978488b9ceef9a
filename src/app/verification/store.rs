//! Rows of the `verifications` and `number_locks` tables and the queries on them.

use std::collections::HashSet;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::adapters::db::schema::{certificate_uses, number_locks, verifications};
use crate::adapters::db::{self, Conn};
use crate::domain::case::{Case, Use};
use crate::domain::code::Code;
use crate::domain::outcome::Outcome;
use crate::domain::rules::{Expected, RuleResult};
use crate::domain::scope::OfficeScope;
use kakunin_protocol::jws;
use kakunin_protocol::payload::Certificate;
use kakunin_protocol::time::jst_day_start_utc;

/// One stored attempt. Reading a row whose outcome this version does not know fails
/// the query; its JSON columns are read on demand, and a damaged one is a
/// [`DamagedRow`], never an empty default.
// `treat_none_as_null`: an absent value is bound as NULL (no column has a default)
// rather than left out, so every row is the same statement, prepared once.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = verifications, treat_none_as_null = true)]
pub struct VerificationRow {
    pub id: String,
    pub office_code: String,
    pub actor: String,
    pub client_ref: Option<String>,
    pub certificate_number: String,
    #[serde(skip)]
    pub key_fingerprint: String,
    pub issuer_id: Option<String>,
    pub outcome: Outcome,
    pub checked_at: NaiveDateTime,
    pub kid: Option<String>,
    pub revision: Option<i32>,
    #[serde(skip)]
    pub jws: Option<String>,
    pub rules: String,
    pub expected: String,
    pub detail: Option<String>,
    /// The signed receipt (`app::receipt`), a flattened JWS; `None` for outcomes without
    /// a record. Written with the row, never changed.
    #[serde(skip)]
    pub receipt: Option<String>,
    /// SHA-256 of the rule profile the rules were checked with (`rule_profiles`).
    pub profile_digest: Option<String>,
    /// 案件番号 as typed, normalized (`domain::case`); `None` when not typed.
    pub case_number: Option<String>,
    /// 案件名 as typed, normalized; `None` when not typed.
    pub case_title: Option<String>,
}

/// A stored verification that cannot be read back as it was written: a column changed
/// by hand, or written by a version that knew other rule ids.
#[derive(Debug, thiserror::Error)]
#[error("照会 {id} の {column} 列を読めません: {reason}")]
pub struct DamagedRow {
    pub id: String,
    pub column: &'static str,
    pub reason: String,
}

impl VerificationRow {
    fn damaged(&self, column: &'static str, reason: impl std::fmt::Display) -> DamagedRow {
        DamagedRow {
            id: self.id.clone(),
            column,
            reason: reason.to_string(),
        }
    }

    /// The payload text as signed, for the outcomes that carry a certificate (verified
    /// and rejected), read from the stored JWS, whose payload part it is; `None` for
    /// the other outcomes.
    pub fn payload_text(&self) -> Result<Option<String>, DamagedRow> {
        if !self.outcome.has_certificate() {
            return Ok(None);
        }
        self.jws
            .as_deref()
            .and_then(jws::payload_text)
            .map(Some)
            .ok_or_else(|| self.damaged("jws", "署名付きの記録がありません"))
    }

    /// The certificate, for the outcomes that carry one (verified and rejected).
    pub fn certificate(&self) -> Result<Option<Certificate>, DamagedRow> {
        self.payload_text()?
            .map(|p| Certificate::from_json(p.as_bytes()).map_err(|e| self.damaged("jws", e)))
            .transpose()
    }

    /// The payload as JSON to embed in an answer as it is: checked to be JSON, never
    /// parsed into a tree and written out again (a batch answers 1000 of them).
    pub fn payload_raw(&self) -> Result<Option<Box<RawValue>>, DamagedRow> {
        self.payload_text()?
            .map(|p| RawValue::from_string(p).map_err(|e| self.damaged("jws", e)))
            .transpose()
    }

    /// The rule results; an id this version does not know makes the row damaged.
    pub fn rule_results(&self) -> Result<Vec<RuleResult>, DamagedRow> {
        serde_json::from_str(&self.rules).map_err(|e| self.damaged("rules", e))
    }

    /// The rule results as stored JSON, for answers: checked to be JSON and passed on as
    /// written, as the payload is (the pages parse them with [`Self::rule_results`]).
    pub fn rules_raw(&self) -> Result<Box<RawValue>, DamagedRow> {
        RawValue::from_string(self.rules.clone()).map_err(|e| self.damaged("rules", e))
    }

    /// The receipt as stored, to embed in an answer as it is (the bytes that were signed
    /// are inside it, so it is never re-serialized).
    pub fn receipt_raw(&self) -> Result<Option<Box<RawValue>>, DamagedRow> {
        self.receipt
            .clone()
            .map(|r| RawValue::from_string(r).map_err(|e| self.damaged("receipt", e)))
            .transpose()
    }

    /// The 案件 the officer typed, if any.
    pub fn case(&self) -> Option<Case> {
        Case::stored(self.case_number.as_deref(), self.case_title.as_deref())
    }

    /// The 照合 values the officer typed.
    pub fn expected(&self) -> Result<Expected, DamagedRow> {
        serde_json::from_str(&self.expected).map_err(|e| self.damaged("expected", e))
    }
}

/// Inserts rows one statement each, in the caller's transaction. A single-row insert
/// stays prepared in diesel's statement cache; a multi-row one (16 bound values a row)
/// was built, parsed and planned anew for every batch size and cost more CPU. Run on
/// the backend's own connection (`db::per_backend!`): through the multi-backend
/// connection diesel would build the statement's SQL on every call to find it in the
/// cache.
pub fn insert(conn: &mut Conn, rows: &[VerificationRow]) -> QueryResult<()> {
    for row in rows {
        db::per_backend!(conn, |c| diesel::insert_into(verifications::table)
            .values(row)
            .execute(c))?;
    }
    Ok(())
}

pub fn find(
    conn: &mut Conn,
    id: &str,
    scope: &OfficeScope,
) -> QueryResult<Option<VerificationRow>> {
    // Ids are ULIDs. One with another character (a URL's `%00`) names no verification,
    // and is not sent: PostgreSQL refuses a NUL in text with an error, not a miss.
    if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Ok(None);
    }
    // Not boxed: each shape is a statement diesel keeps prepared, found by its type.
    let by_id = verifications::table.filter(verifications::id.eq(id));
    match scope {
        OfficeScope::One(office) => db::per_backend!(conn, |c| by_id
            .filter(verifications::office_code.eq(office))
            .select(VerificationRow::as_select())
            .first(c)
            .optional()),
        OfficeScope::All => db::per_backend!(conn, |c| by_id
            .select(VerificationRow::as_select())
            .first(c)
            .optional()),
    }
}

/// The office's last verification of the same number that carried a certificate,
/// before the given one: the base of the re-verify comparison.
pub fn previous_with_certificate(
    conn: &mut Conn,
    row: &VerificationRow,
) -> QueryResult<Option<VerificationRow>> {
    db::per_backend!(conn, |c| verifications::table
        .filter(verifications::office_code.eq(&row.office_code))
        .filter(verifications::certificate_number.eq(&row.certificate_number))
        .filter(with_record())
        .filter(verifications::checked_at.lt(row.checked_at))
        .order(verifications::checked_at.desc())
        .select(VerificationRow::as_select())
        .first(c)
        .optional())
}

/// How many later verifications of one number the paper check reads at most.
pub const LATER_MAX: i64 = 500;

/// The office's verifications of the same number that carried a certificate, after the
/// given one, oldest first (at most [`LATER_MAX`]): what the paper check says was seen
/// since the paper was printed.
pub fn later_with_certificate(
    conn: &mut Conn,
    row: &VerificationRow,
) -> QueryResult<Vec<VerificationRow>> {
    verifications::table
        .filter(verifications::office_code.eq(&row.office_code))
        .filter(verifications::certificate_number.eq(&row.certificate_number))
        .filter(with_record())
        .filter(verifications::checked_at.gt(row.checked_at))
        .order((verifications::checked_at.asc(), verifications::id.asc()))
        .limit(LATER_MAX)
        .select(VerificationRow::as_select())
        .load(conn)
}

#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub number: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub outcome: Option<Outcome>,
    /// 案件番号, normalized as stored (`domain::case::case_text`).
    pub case_number: Option<String>,
}

pub const HISTORY_PAGE: i64 = 100;

/// Newest first, at most one page. Dates are Japan-time days.
pub fn history(
    conn: &mut Conn,
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
    if let Some(o) = f.outcome {
        q = q.filter(verifications::outcome.eq(o));
    }
    if let Some(c) = &f.case_number {
        q = q.filter(verifications::case_number.eq(c.clone()));
    }
    q.order((verifications::checked_at.desc(), verifications::id.desc()))
        .limit(HISTORY_PAGE)
        .load(conn)
}

/// Which of `numbers` are locked here at `now`: one query for a whole batch.
pub fn locked_among(
    conn: &mut Conn,
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

/// When this service's lock on `number` lifts (UTC), if one stands at `now`.
pub fn locked_until(
    conn: &mut Conn,
    number: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<NaiveDateTime>> {
    db::per_backend!(conn, |c| number_locks::table
        .filter(number_locks::certificate_number.eq(number))
        .filter(number_locks::locked_until.gt(now))
        .select(number_locks::locked_until)
        .first(c)
        .optional())
}

pub fn recent_not_found(conn: &mut Conn, number: &str, since: NaiveDateTime) -> QueryResult<i64> {
    verifications::table
        .filter(verifications::certificate_number.eq(number))
        .filter(verifications::outcome.eq(Outcome::NotFound))
        .filter(verifications::checked_at.ge(since))
        .count()
        .get_result(conn)
}

pub fn lock(conn: &mut Conn, number: &str, until: NaiveDateTime) -> QueryResult<()> {
    db::per_backend!(conn, |c| diesel::insert_into(number_locks::table)
        .values((
            number_locks::certificate_number.eq(number),
            number_locks::locked_until.eq(until),
        ))
        .on_conflict(number_locks::certificate_number)
        .do_update()
        .set(number_locks::locked_until.eq(until))
        .execute(c))?;
    Ok(())
}

/// The uses of each of `numbers` (`domain::case::Use`): every distinct office and
/// 案件番号 under which it was verified with an outcome that carried a record, in every
/// office (the caller says only *whether* another office did, never which). Read from
/// the `certificate_uses` ledger ([`note_uses`]), so the cost follows the number of
/// distinct uses, not of stored attempts. One number is asked with `=`, a statement
/// diesel keeps prepared (the single verification's case); more, 500 a query.
pub fn uses_of(
    conn: &mut Conn,
    numbers: &[String],
) -> QueryResult<std::collections::HashMap<String, Vec<Use>>> {
    let columns = (
        certificate_uses::certificate_number,
        certificate_uses::office_code,
        certificate_uses::case_number,
    );
    let found: Vec<(String, String, String)> = match numbers {
        [number] => db::per_backend!(conn, |c| certificate_uses::table
            .filter(certificate_uses::certificate_number.eq(number))
            .select(columns)
            .load(c))?,
        _ => {
            let mut found = Vec::new();
            for chunk in numbers.chunks(500) {
                found.extend(
                    certificate_uses::table
                        .filter(certificate_uses::certificate_number.eq_any(chunk))
                        .select(columns)
                        .load::<(String, String, String)>(conn)?,
                );
            }
            found
        }
    };
    let mut uses: std::collections::HashMap<String, Vec<Use>> = std::collections::HashMap::new();
    for (number, office_code, case_number) in found {
        uses.entry(number).or_default().push(Use {
            office_code,
            case_number: (!case_number.is_empty()).then_some(case_number),
        });
    }
    Ok(uses)
}

/// Adds the uses of `rows` that carried a record to the `certificate_uses` ledger, once
/// each (no 案件番号 is stored as ''). The caller holds the transaction that stores the
/// rows, so the ledger never lags the verifications it is read beside.
pub fn note_uses(conn: &mut Conn, rows: &[VerificationRow]) -> QueryResult<()> {
    for row in rows.iter().filter(|r| r.outcome.has_certificate()) {
        let values = (
            certificate_uses::certificate_number.eq(&row.certificate_number),
            certificate_uses::office_code.eq(&row.office_code),
            certificate_uses::case_number.eq(row.case_number.as_deref().unwrap_or("")),
        );
        db::per_backend!(conn, |c| diesel::insert_into(certificate_uses::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    Ok(())
}

/// Every verification of `office` whose outcome carried a record, by number, oldest
/// first: what `kakunin watch` reads to find the accepted guarantees and what was seen
/// of them since.
pub fn with_certificate_of_office(
    conn: &mut Conn,
    office: &str,
) -> QueryResult<Vec<VerificationRow>> {
    verifications::table
        .filter(verifications::office_code.eq(office))
        .filter(with_record())
        .order((
            verifications::certificate_number.asc(),
            verifications::checked_at.asc(),
            verifications::id.asc(),
        ))
        .select(VerificationRow::as_select())
        .load(conn)
}

/// `outcome` is one that carried a record (verified and rejected): the attempts that
/// count as a use of a guarantee. Two fixed comparisons rather than `IN (…)` of a
/// list: the SQL is then the same on every call and stays prepared in diesel's cache,
/// where an `eq_any` list was parsed and planned anew on every outcome page.
fn with_record() -> WithRecord {
    let [a, b]: [Outcome; 2] = Outcome::ALL
        .iter()
        .copied()
        .filter(|o| o.has_certificate())
        .collect::<Vec<_>>()
        .try_into()
        .expect("two outcomes carry a record");
    verifications::outcome
        .eq(a)
        .or(verifications::outcome.eq(b))
}

type WithRecord = diesel::dsl::Or<
    diesel::dsl::Eq<verifications::outcome, Outcome>,
    diesel::dsl::Eq<verifications::outcome, Outcome>,
>;

#[cfg(test)]
pub(super) mod tests {
    use diesel::Connection;
    use diesel_migrations::MigrationHarness;

    use super::*;
    use crate::adapters::db::SERVICE_MIGRATIONS;

    /// A stored attempt of W2025000123 with only what the tests look at set.
    pub(in crate::app::verification) fn row(
        id: &str,
        office: &str,
        outcome: Outcome,
        case_number: Option<&str>,
    ) -> VerificationRow {
        VerificationRow {
            id: id.into(),
            office_code: office.into(),
            actor: "officer1".into(),
            client_ref: None,
            certificate_number: "W2025000123".into(),
            key_fingerprint: "fp".into(),
            issuer_id: Some("demo".into()),
            outcome,
            checked_at: db::now_utc(),
            kid: None,
            revision: None,
            jws: None,
            rules: "[]".into(),
            expected: "{}".into(),
            detail: None,
            receipt: None,
            profile_digest: None,
            case_number: case_number.map(str::to_owned),
            case_title: None,
        }
    }

    fn sorted(mut uses: Vec<Use>) -> Vec<(String, Option<String>)> {
        uses.sort_by(|a, b| {
            (&a.office_code, &a.case_number).cmp(&(&b.office_code, &b.case_number))
        });
        uses.into_iter()
            .map(|u| (u.office_code, u.case_number))
            .collect()
    }

    /// An installation upgraded to the ledger finds the uses its stored verifications
    /// made before, and only those that carried a record, once each.
    #[test]
    fn the_ledger_migration_takes_over_the_uses_already_stored() {
        let mut c = Conn::Sqlite(diesel::SqliteConnection::establish(":memory:").unwrap());
        let Conn::Sqlite(sqlite) = &mut c else {
            unreachable!()
        };
        // Every migration before the ledger's, as the installation had them.
        while !sqlite
            .pending_migrations(SERVICE_MIGRATIONS.sqlite)
            .unwrap()[0]
            .name()
            .to_string()
            .contains("certificate_uses")
        {
            sqlite
                .run_next_migration(SERVICE_MIGRATIONS.sqlite)
                .unwrap();
        }
        insert(
            &mut c,
            &[
                row("1", "4400", Outcome::Verified, Some("R7-1")),
                row("2", "4400", Outcome::Verified, Some("R7-1")),
                row("3", "4400", Outcome::Rejected, None),
                row("4", "4401", Outcome::Verified, Some("X")),
                row("5", "4402", Outcome::NotFound, Some("Y")),
                row("6", "4403", Outcome::IssuerUnavailable, None),
            ],
        )
        .unwrap();
        let Conn::Sqlite(sqlite) = &mut c else {
            unreachable!()
        };
        sqlite
            .run_pending_migrations(SERVICE_MIGRATIONS.sqlite)
            .unwrap();

        let uses = uses_of(&mut c, &["W2025000123".into()]).unwrap();
        assert_eq!(
            sorted(uses["W2025000123"].clone()),
            [
                ("4400".into(), None),
                ("4400".into(), Some("R7-1".into())),
                ("4401".into(), Some("X".into())),
            ]
        );

        // Stored from now on: a new 案件 once, a repeat not again, a miss never.
        let new = [
            row("7", "4400", Outcome::Verified, Some("R7-2")),
            row("8", "4400", Outcome::Rejected, Some("R7-2")),
            row("9", "4404", Outcome::NotFound, None),
        ];
        insert(&mut c, &new).unwrap();
        note_uses(&mut c, &new).unwrap();
        let uses = uses_of(&mut c, &["W2025000123".into(), "W2025000999".into()]).unwrap();
        assert_eq!(uses["W2025000123"].len(), 4);
        assert!(!uses.contains_key("W2025000999"));
    }
}
