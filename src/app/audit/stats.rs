//! Counts for the supervisor's chart: verifications per Japan-time day and outcome.

use crate::adapters::db::{sql, Conn};
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::domain::outcome::Outcome;
use crate::domain::scope::OfficeScope;

/// Reading a count whose outcome this version does not know fails the query.
#[derive(Debug, Clone, QueryableByName)]
pub struct DayCount {
    #[diesel(sql_type = Text)]
    pub day: String,
    #[diesel(sql_type = Text)]
    pub outcome: Outcome,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// `verify` events from `from` to `to` (Japan-time days, inclusive) by day and outcome,
/// read from the per-day summary that [`count_verifications`] keeps.
pub fn daily_verifications(
    conn: &mut Conn,
    scope: &OfficeScope,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<DayCount>> {
    let (from, to) = (from.to_string(), to.to_string());
    // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back to what the struct reads.
    let base = "SELECT day, outcome, CAST(SUM(n) AS BIGINT) AS n FROM audit_daily \
                WHERE day >= ? AND day <= ?";
    match scope {
        OfficeScope::All => {
            let text = sql::placeholders(conn, &format!("{base} GROUP BY day, outcome"));
            diesel::sql_query(text)
                .bind::<Text, _>(from)
                .bind::<Text, _>(to)
                .load(conn)
        }
        OfficeScope::One(office) => {
            let text = sql::placeholders(
                conn,
                &format!("{base} AND office_code = ? GROUP BY day, outcome"),
            );
            diesel::sql_query(text)
                .bind::<Text, _>(from)
                .bind::<Text, _>(to)
                .bind::<Text, _>(office)
                .load(conn)
        }
    }
}

/// Adds `n` verifications to the per-day summary; called by `append` in the events'
/// own transaction, so the chart and the log never disagree.
pub fn count_verifications(
    conn: &mut Conn,
    at: chrono::NaiveDateTime,
    office: &str,
    outcome: Outcome,
    n: i64,
) -> QueryResult<()> {
    let day = kakunin_protocol::time::jst_date_of_utc(at).to_string();
    let text = sql::placeholders(
        conn,
        "INSERT INTO audit_daily (day, office_code, outcome, n) VALUES (?, ?, ?, ?) \
         ON CONFLICT (day, office_code, outcome) DO UPDATE SET n = audit_daily.n + excluded.n",
    );
    diesel::sql_query(text)
        .bind::<Text, _>(day)
        .bind::<Text, _>(office)
        .bind::<Text, _>(outcome)
        .bind::<BigInt, _>(n)
        .execute(conn)?;
    Ok(())
}

/// Recomputes the summary from the events (after a bulk load, or if it is ever doubted).
pub fn rebuild_daily(conn: &mut Conn) -> QueryResult<()> {
    diesel::sql_query("DELETE FROM audit_daily").execute(conn)?;
    let day = sql::jst_day(conn, "at");
    diesel::sql_query(format!(
        "INSERT INTO audit_daily (day, office_code, outcome, n) \
         SELECT {day}, office_code, outcome, COUNT(*) FROM audit_events \
         WHERE action = 'verify' GROUP BY 1, 2, 3"
    ))
    .execute(conn)?;
    Ok(())
}
