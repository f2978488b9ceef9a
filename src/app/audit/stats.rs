//! Counts for the supervisor's chart: verifications per Japan-time day and outcome.

use crate::adapters::db::{self, sql, Conn};
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
    use crate::adapters::db::schema::audit_daily::dsl as d;
    use diesel::upsert::excluded;

    let day = kakunin_protocol::time::jst_date_of_utc(at).to_string();
    // Built by diesel on the backend's own connection: a statement of fixed type, kept
    // prepared, where the SQL text it replaced was formatted for the backend and looked
    // up in the statement cache on every write of the verification writer.
    db::per_backend!(conn, |c| diesel::insert_into(d::audit_daily)
        .values((
            d::day.eq(&day),
            d::office_code.eq(office),
            d::outcome.eq(outcome),
            d::n.eq(n),
        ))
        .on_conflict((d::day, d::office_code, d::outcome))
        .do_update()
        .set(d::n.eq(d::n + excluded(d::n)))
        .execute(c))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::code::Code;

    #[test]
    fn counts_of_one_day_office_and_outcome_add_up_and_others_stay_apart() {
        let (_dir, pool) = db::scratch();
        let mut c = pool.get().unwrap();
        // 2025-04-10 23:30 UTC is 2025-04-11 in Japan.
        let at = NaiveDate::from_ymd_opt(2025, 4, 10)
            .unwrap()
            .and_hms_opt(23, 30, 0)
            .unwrap();
        count_verifications(&mut c, at, "4400", Outcome::Verified, 2).unwrap();
        count_verifications(&mut c, at, "4400", Outcome::Verified, 3).unwrap();
        count_verifications(&mut c, at, "4400", Outcome::NotFound, 1).unwrap();
        count_verifications(&mut c, at, "4500", Outcome::Verified, 7).unwrap();

        let day = NaiveDate::from_ymd_opt(2025, 4, 11).unwrap();
        let mut counts: Vec<(String, String, i64)> =
            daily_verifications(&mut c, &OfficeScope::One("4400".into()), day, day)
                .unwrap()
                .into_iter()
                .map(|d| (d.day, d.outcome.as_str().to_owned(), d.n))
                .collect();
        counts.sort();
        assert_eq!(
            counts,
            [
                ("2025-04-11".into(), "not_found".into(), 1),
                ("2025-04-11".into(), "verified".into(), 5)
            ]
        );
        let all = daily_verifications(&mut c, &OfficeScope::All, day, day).unwrap();
        assert_eq!(all.iter().map(|d| d.n).sum::<i64>(), 13);
    }
}
