//! The service's own lock on a certificate number, as the officer is told about it:
//! how many wrong tries are left before it, or until when it stands. The one read of
//! that state; [`super::store`] keeps the rows.

use chrono::{Duration, NaiveDateTime};
use diesel::QueryResult;

use super::store;
use crate::adapters::db::Conn;
use crate::config::Lockout;

/// The lock state of one number at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// Not locked: `tries_left` more 該当なし within the window lock it (at least 1).
    Open { tries_left: i64 },
    /// Locked by this service until `until` (UTC); it lifts by itself then.
    Locked { until: NaiveDateTime },
}

/// The lock state of `number` at `now` (UTC) under `lockout`, counting the 該当なし of
/// every user within the window, as the guard in [`super::Verifier`] does.
pub fn lock_state(
    conn: &mut Conn,
    lockout: &Lockout,
    number: &str,
    now: NaiveDateTime,
) -> QueryResult<LockState> {
    if let Some(until) = store::locked_until(conn, number, now)? {
        return Ok(LockState::Locked { until });
    }
    let since = now - Duration::minutes(lockout.window_minutes);
    let misses = store::recent_not_found(conn, number, since)?;
    Ok(LockState::Open {
        tries_left: (lockout.not_found_limit - misses).max(1),
    })
}
