//! Reading the audit log: filters and keyset pagination, newest first.
//!
//! Pages are cut by `seq` (the primary key), never by OFFSET, so page 1,000 of a
//! million-row log costs what page 1 does. The cursor is opaque to clients.
//!
//! Dates are turned into a `seq` range first (two index look-ups): `append` keeps `at`
//! non-decreasing along `seq`, so "from day A to day B" is exactly "seq from x to y",
//! and every query stays an ordered walk of the primary key or a `(column, seq)`
//! index instead of sorting a range of dates.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDate;
use diesel::prelude::*;

use super::{Action, AuditOutcome, AuditRow};
use crate::adapters::db::{schema::audit_events, Conn};
use crate::domain::bounds;
use crate::domain::scope::OfficeScope;
use kakunin_protocol::ids::CertificateNumber;
use kakunin_protocol::time::jst_day_start_utc;

#[derive(Debug, Clone)]
pub struct AuditFilter {
    pub scope: OfficeScope,
    /// Japan-time days, inclusive.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub actor: Option<String>,
    pub action: Option<Action>,
    pub outcome: Option<AuditOutcome>,
    /// The event's target, e.g. a 保証契約番号.
    pub target: Option<String>,
}

impl AuditFilter {
    pub fn new(scope: OfficeScope) -> Self {
        Self {
            scope,
            from: None,
            to: None,
            actor: None,
            action: None,
            outcome: None,
            target: None,
        }
    }

    /// The target a person types, read as [`bounds::typed_code`] reads it (full width
    /// as ASCII, blanks around it removed); the query matches it in every spelling it
    /// may be stored in (`target_spellings`).
    pub fn target_of_input(typed: &str) -> String {
        bounds::typed_code(typed)
    }

    /// The actor a person or a client types, read as [`bounds::typed_code`] reads it
    /// (full width as ASCII): a login (`officer`, or `OFFICER` as
    /// [`bounds::typed_login`] reads it) is the user `user:officer`; a stored form
    /// (`user:…` with its login folded alike, `token:…`, `cli:…`, the kind in any case)
    /// keeps the name after the colon as typed, since client names keep their case. The audit page and
    /// `GET /api/v1/audit/events` read `actor` alike.
    pub fn actor_of_input(typed: &str) -> String {
        let typed = bounds::typed_code(typed);
        match typed.split_once(':') {
            Some((kind, login)) if kind.eq_ignore_ascii_case("user") => {
                format!("user:{}", bounds::typed_login(login))
            }
            Some((kind, name)) => format!("{}:{name}", kind.to_ascii_lowercase()),
            None => format!("user:{}", bounds::typed_login(&typed)),
        }
    }
}

/// The stored spellings a filter's target matches: as typed (an API client's name keeps
/// its case), in lower case (a login is stored folded, so `OFFICER1` finds `officer1`),
/// and as a 保証契約番号 is stored when it reads as one (issuer-protocol §1, so
/// `w2025-000001` finds `W2025000001`).
fn target_spellings(target: &str) -> Vec<String> {
    let mut spellings = vec![target.to_owned(), target.to_ascii_lowercase()];
    spellings.extend(CertificateNumber::parse(target).map(|n| n.to_string()));
    spellings.sort();
    spellings.dedup();
    spellings
}

/// An opaque position in the log: the last `seq` a page showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub i32);

impl Cursor {
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("seq:{}", self.0))
    }

    pub fn decode(s: &str) -> Option<Self> {
        let raw = URL_SAFE_NO_PAD.decode(s).ok()?;
        let text = std::str::from_utf8(&raw).ok()?;
        text.strip_prefix("seq:")?.parse().ok().map(Cursor)
    }
}

/// The seq range `[lo, hi)` that the filter's dates cover.
#[derive(Debug, Clone, Copy)]
struct Span {
    lo: i32,
    hi: Option<i32>,
}

/// The first seq at or after `at`, found on the `(at, seq)` index.
fn first_at_or_after(conn: &mut Conn, at: chrono::NaiveDateTime) -> QueryResult<Option<i32>> {
    audit_events::table
        .filter(audit_events::at.ge(at))
        .order((audit_events::at.asc(), audit_events::seq.asc()))
        .select(audit_events::seq)
        .first(conn)
        .optional()
}

fn span(conn: &mut Conn, f: &AuditFilter) -> QueryResult<Span> {
    let lo = match f.from {
        // Nothing at or after the start: an empty range.
        Some(d) => first_at_or_after(conn, jst_day_start_utc(d))?.unwrap_or(i32::MAX),
        None => 0,
    };
    let hi = match f.to {
        Some(d) => Some(
            first_at_or_after(conn, jst_day_start_utc(d) + chrono::Duration::days(1))?
                .unwrap_or(i32::MAX),
        ),
        None => None,
    };
    Ok(Span { lo, hi })
}

fn filtered<'a>(
    f: &'a AuditFilter,
    span: Span,
) -> audit_events::BoxedQuery<'a, crate::adapters::db::Backend> {
    let mut q = audit_events::table.into_boxed();
    if let OfficeScope::One(office) = &f.scope {
        q = q.filter(audit_events::office_code.eq(office));
    }
    if span.lo > 0 {
        q = q.filter(audit_events::seq.ge(span.lo));
    }
    if let Some(hi) = span.hi {
        q = q.filter(audit_events::seq.lt(hi));
    }
    if let Some(a) = &f.actor {
        q = q.filter(audit_events::actor.eq(a));
    }
    if let Some(a) = &f.action {
        q = q.filter(audit_events::action.eq(a));
    }
    if let Some(o) = &f.outcome {
        q = q.filter(audit_events::outcome.eq(o));
    }
    if let Some(t) = &f.target {
        q = q.filter(audit_events::target.eq_any(target_spellings(t)));
    }
    q
}

/// One page, newest first, and the cursor of the next page when there is one.
pub fn page(
    conn: &mut Conn,
    f: &AuditFilter,
    after: Option<Cursor>,
    limit: i64,
) -> QueryResult<(Vec<AuditRow>, Option<Cursor>)> {
    let span = span(conn, f)?;
    let mut q = filtered(f, span);
    if let Some(Cursor(seq)) = after {
        q = q.filter(audit_events::seq.lt(seq));
    }
    let mut rows: Vec<AuditRow> = q
        .order(audit_events::seq.desc())
        .limit(limit + 1)
        .select(AuditRow::as_select())
        .load(conn)?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| Cursor(r.seq))
    } else {
        None
    };
    Ok((rows, next))
}

/// Every matching row up to `until` (inclusive) when given, oldest first, read in
/// chunks for exports of any size; `each` gets the connection too, for look-ups of its
/// own between chunks' reads. An export fixes the head when it starts, so rows appended
/// meanwhile (its own audit row included) do not stretch it without end.
pub fn for_each_until(
    conn: &mut Conn,
    f: &AuditFilter,
    until: Option<i32>,
    mut each: impl FnMut(&mut Conn, &AuditRow) -> Result<(), ExportError>,
) -> Result<u64, ExportError> {
    let mut after = 0;
    let mut count = 0;
    loop {
        let rows = ascending_page(conn, f, after, until, 5000)?;
        let Some(last) = rows.last() else {
            return Ok(count);
        };
        after = last.seq;
        for r in &rows {
            each(conn, r)?;
            count += 1;
        }
    }
}

/// Up to `limit` matching rows after `after` (exclusive) and up to `until` (inclusive,
/// when given), oldest first: one page of an export, read with a connection held for
/// that page only.
pub fn ascending_page(
    conn: &mut Conn,
    f: &AuditFilter,
    after: i32,
    until: Option<i32>,
    limit: i64,
) -> QueryResult<Vec<AuditRow>> {
    let span = span(conn, f)?;
    let mut q = filtered(f, span).filter(audit_events::seq.gt(after));
    if let Some(until) = until {
        q = q.filter(audit_events::seq.le(until));
    }
    q.order(audit_events::seq.asc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error("書き出しに失敗しました: {0}")]
    Io(#[from] std::io::Error),
}

pub fn find(conn: &mut Conn, seq: i32, scope: &OfficeScope) -> QueryResult<Option<AuditRow>> {
    let f = AuditFilter::new(scope.clone());
    filtered(&f, Span { lo: 0, hi: None })
        .filter(audit_events::seq.eq(seq))
        .select(AuditRow::as_select())
        .first(conn)
        .optional()
}

/// How many rows match (for an export's progress bar).
pub fn count(conn: &mut Conn, f: &AuditFilter, until: Option<i32>) -> QueryResult<i64> {
    let span = span(conn, f)?;
    let mut q = filtered(f, span);
    if let Some(until) = until {
        q = q.filter(audit_events::seq.le(until));
    }
    q.count().get_result(conn)
}

/// The newest seq, or 0 for an empty log.
pub fn head_seq(conn: &mut Conn) -> QueryResult<i32> {
    audit_events::table
        .select(diesel::dsl::max(audit_events::seq))
        .first::<Option<i32>>(conn)
        .map(|s| s.unwrap_or(0))
}

/// Whether the filter narrows more than office and dates, so the per-day summary
/// (`audit_daily`, by office and outcome) cannot answer for it.
pub fn narrower_than_summary(f: &AuditFilter) -> bool {
    f.actor.is_some()
        || f.target.is_some()
        || f.outcome.is_some()
        || f.action.is_some_and(|a| a != Action::Verify)
}

/// `verify` events matching every part of `f`, counted by Japan-time day (from `from`
/// to `to`, inclusive) and outcome: the chart of a filtered table. Reads the events
/// themselves, one index walk of the range; the chart's range is bounded (62 days).
pub fn daily_verifications(
    conn: &mut Conn,
    f: &AuditFilter,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<super::stats::DayCount>> {
    let mut ranged = f.clone();
    ranged.from = Some(from);
    ranged.to = Some(to);
    let span = span(conn, &ranged)?;
    let rows: Vec<(chrono::NaiveDateTime, AuditOutcome)> = filtered(&ranged, span)
        .filter(audit_events::action.eq(Action::Verify))
        .select((audit_events::at, audit_events::outcome))
        .load(conn)?;
    let mut counts = std::collections::BTreeMap::new();
    for (at, outcome) in rows {
        if let AuditOutcome::Verification(o) = outcome {
            let day = kakunin_protocol::time::jst_date_of_utc(at).to_string();
            *counts.entry((day, o)).or_insert(0i64) += 1;
        }
    }
    Ok(counts
        .into_iter()
        .map(|((day, outcome), n)| super::stats::DayCount { day, outcome, n })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_actor_reads_logins_folded_and_client_names_as_typed() {
        for (typed, actor) in [
            ("officer1", "user:officer1"),
            ("OFFICER1", "user:officer1"),
            ("ｏｆｆｉｃｅｒ１", "user:officer1"),
            ("user:Officer1", "user:officer1"),
            ("token:Keiyaku", "token:Keiyaku"),
            ("cli:root", "cli:root"),
            ("USER:officer1", "user:officer1"),
            ("ｕｓｅｒ：ｏｆｆｉｃｅｒ１", "user:officer1"),
            ("Token:Keiyaku", "token:Keiyaku"),
        ] {
            assert_eq!(AuditFilter::actor_of_input(typed), actor, "{typed}");
        }
    }

    #[test]
    fn a_typed_target_matches_a_login_folded_a_number_normalized_and_a_name_as_typed() {
        assert_eq!(
            AuditFilter::target_of_input(" ＯＦＦＩＣＥＲ１ "),
            "OFFICER1"
        );
        assert_eq!(
            target_spellings("OFFICER1"),
            ["OFFICER1", "officer1"],
            "a login"
        );
        assert_eq!(
            target_spellings("w2025-000001"),
            ["W2025000001", "w2025-000001"],
            "a number"
        );
        assert_eq!(
            target_spellings("Keiyaku"),
            ["KEIYAKU", "Keiyaku", "keiyaku"],
            "an API client's name"
        );
    }

    #[test]
    fn cursor_round_trips_and_rejects_junk() {
        assert_eq!(Cursor::decode(&Cursor(42).encode()), Some(Cursor(42)));
        assert_eq!(Cursor::decode("not-a-cursor"), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("seq:x")), None);
    }
}
