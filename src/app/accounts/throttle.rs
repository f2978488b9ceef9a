//! Wrong passwords, counted per login and per address: at sign-in and on the own-password
//! form alike, so a stolen session cannot guess its owner's password any faster than a
//! stranger at the sign-in page.

use chrono::Duration;
use diesel::prelude::*;

use crate::adapters::db::now_utc;
use crate::adapters::db::schema::signin_failures;
use crate::config::Signin;

/// Whether `login` (or `address`, with a looser limit: an office may sit behind one
/// address) has failed too often within the window.
pub fn refuses(
    conn: &mut SqliteConnection,
    limits: &Signin,
    login: &str,
    address: &str,
) -> QueryResult<bool> {
    let since = now_utc() - Duration::minutes(limits.window_minutes);
    let by_login: i64 = signin_failures::table
        .filter(signin_failures::login.eq(login))
        .filter(signin_failures::at.ge(since))
        .count()
        .get_result(conn)?;
    let by_address: i64 = signin_failures::table
        .filter(signin_failures::address.eq(address))
        .filter(signin_failures::at.ge(since))
        .count()
        .get_result(conn)?;
    Ok(by_login >= limits.max_failures || by_address >= limits.max_failures * 4)
}

/// Counts one wrong password for `login` from `address`.
pub fn record_failure(conn: &mut SqliteConnection, login: &str, address: &str) -> QueryResult<()> {
    diesel::insert_into(signin_failures::table)
        .values((
            signin_failures::login.eq(login),
            signin_failures::address.eq(address),
            signin_failures::at.eq(now_utc()),
        ))
        .execute(conn)?;
    Ok(())
}
