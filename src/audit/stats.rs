//! Counts for the supervisor's chart: verifications per Japan-time day and outcome.

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use crate::verifications::store::jst_day_start;
use crate::verifications::OfficeScope;

#[derive(Debug, Clone, QueryableByName)]
pub struct DayCount {
    #[diesel(sql_type = Text)]
    pub day: String,
    #[diesel(sql_type = Text)]
    pub outcome: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// `verify` events from `from` to `to` (Japan-time days, inclusive) by day and outcome.
pub fn daily_verifications(
    conn: &mut SqliteConnection,
    scope: &OfficeScope,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<DayCount>> {
    // Raw SQL for the date arithmetic only; every value is a bound parameter.
    let start = jst_day_start(from);
    let end = jst_day_start(to) + Duration::days(1);
    let base = "SELECT date(at, '+9 hours') AS day, outcome, COUNT(*) AS n FROM audit_events \
                WHERE action = 'verify' AND at >= ? AND at < ?";
    match scope {
        OfficeScope::All => diesel::sql_query(format!("{base} GROUP BY day, outcome"))
            .bind::<Timestamp, _>(start)
            .bind::<Timestamp, _>(end)
            .load(conn),
        OfficeScope::One(office) => {
            diesel::sql_query(format!("{base} AND office_code = ? GROUP BY day, outcome"))
                .bind::<Timestamp, _>(start)
                .bind::<Timestamp, _>(end)
                .bind::<Text, _>(office)
                .load(conn)
        }
    }
}
