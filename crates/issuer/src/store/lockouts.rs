//! Rows of `lookup_failures` and `lookup_lockouts`: wrong keys per number and the
//! resulting lockouts (issuer-protocol.md §2), kept in the database so that a restart
//! does not reopen a locked number.

use diesel::prelude::*;

use crate::schema::{lookup_failures, lookup_lockouts};

/// Wrong keys within [`WINDOW_SECS`] that lock a number.
pub const MAX_FAILURES: i64 = 10;
/// The window wrong keys are counted in, and how long a lockout lasts.
pub const WINDOW_SECS: i64 = 3600;

/// Until when (Unix seconds) lookups of `number` are locked, if they are now.
pub fn locked_until(
    conn: &mut SqliteConnection,
    number: &str,
    now: i64,
) -> QueryResult<Option<i64>> {
    let until: Option<i64> = lookup_lockouts::table
        .find(number)
        .select(lookup_lockouts::locked_until)
        .first(conn)
        .optional()?;
    match until {
        Some(t) if t > now => Ok(Some(t)),
        Some(_) => {
            diesel::delete(lookup_lockouts::table.find(number)).execute(conn)?;
            Ok(None)
        }
        None => Ok(None),
    }
}

/// Records a wrong key for `number` (existing or not); locks the number when this is
/// the [`MAX_FAILURES`]th within the window.
pub fn record_failure(conn: &mut SqliteConnection, number: &str, now: i64) -> QueryResult<()> {
    diesel::delete(
        lookup_failures::table
            .filter(lookup_failures::certificate_number.eq(number))
            .filter(lookup_failures::failed_at.le(now - WINDOW_SECS)),
    )
    .execute(conn)?;
    diesel::insert_into(lookup_failures::table)
        .values((
            lookup_failures::certificate_number.eq(number),
            lookup_failures::failed_at.eq(now),
        ))
        .execute(conn)?;
    let recent: i64 = lookup_failures::table
        .filter(lookup_failures::certificate_number.eq(number))
        .count()
        .get_result(conn)?;
    if recent >= MAX_FAILURES {
        diesel::replace_into(lookup_lockouts::table)
            .values((
                lookup_lockouts::certificate_number.eq(number),
                lookup_lockouts::locked_until.eq(now + WINDOW_SECS),
            ))
            .execute(conn)?;
        // The lockout now stands for these failures; after it ends, counting starts afresh.
        diesel::delete(
            lookup_failures::table.filter(lookup_failures::certificate_number.eq(number)),
        )
        .execute(conn)?;
    }
    Ok(())
}
