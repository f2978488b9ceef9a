//! Rows of `signin_failures`: the contractor sign-in throttle. Like the service's, it
//! counts failures per login and per peer address within a window and refuses further
//! attempts, the right password included, until the window has passed.

use diesel::prelude::*;

use crate::schema::signin_failures;

/// Failures of one login within [`WINDOW_SECS`] that stop further attempts.
pub const MAX_PER_LOGIN: i64 = 5;
/// Failures from one address within [`WINDOW_SECS`] that stop further attempts.
pub const MAX_PER_ADDRESS: i64 = 20;
/// The window failures are counted in (15 minutes, as the service's).
pub const WINDOW_SECS: i64 = 15 * 60;

/// What is stored of a typed login: its SHA-256, so that nothing typed is kept.
pub fn login_digest(login: &str) -> String {
    kakunin_platform::secret::sha256_hex(login)
}

/// Seconds until attempts for `login` from `address` are allowed again; `None` when
/// they are allowed now.
pub fn throttled_for(
    conn: &mut SqliteConnection,
    login_sha256: &str,
    address: &str,
    now: i64,
) -> QueryResult<Option<i64>> {
    let since = now - WINDOW_SECS;
    let by_login: Vec<i64> = signin_failures::table
        .filter(signin_failures::login_sha256.eq(login_sha256))
        .filter(signin_failures::failed_at.gt(since))
        .order(signin_failures::failed_at.asc())
        .select(signin_failures::failed_at)
        .load(conn)?;
    let by_address: Vec<i64> = signin_failures::table
        .filter(signin_failures::address.eq(address))
        .filter(signin_failures::failed_at.gt(since))
        .order(signin_failures::failed_at.asc())
        .select(signin_failures::failed_at)
        .load(conn)?;
    // Allowed again once enough of the oldest failures have left the window.
    let wait = |times: &[i64], max: i64| -> Option<i64> {
        let over = times.len() as i64 - max;
        (over >= 0).then(|| times[over as usize] + WINDOW_SECS - now)
    };
    Ok(
        match (
            wait(&by_login, MAX_PER_LOGIN),
            wait(&by_address, MAX_PER_ADDRESS),
        ) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        },
    )
}

/// Records a failure, and forgets failures older than the window (the table is fed by
/// anonymous requests, so it must not grow without bound).
pub fn record_failure(
    conn: &mut SqliteConnection,
    login_sha256: &str,
    address: &str,
    now: i64,
) -> QueryResult<()> {
    diesel::delete(signin_failures::table.filter(signin_failures::failed_at.le(now - WINDOW_SECS)))
        .execute(conn)?;
    diesel::insert_into(signin_failures::table)
        .values((
            signin_failures::login_sha256.eq(login_sha256),
            signin_failures::address.eq(address),
            signin_failures::failed_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
