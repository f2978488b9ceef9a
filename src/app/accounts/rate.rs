//! The API rate limit kept in the database, for several nodes on one PostgreSQL: a
//! GCRA per token (the algorithm governor runs in memory on one node), whose state is
//! the token's theoretical arrival time `tat` in `api_rate`, read and advanced under a
//! row lock so that every node takes from the same quota.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::adapters::db::schema::api_rate;
use crate::adapters::db::{self, Conn};

/// Takes `n` units of `per_minute` (all of them available after a quiet minute) for
/// the token at `now`: `Ok(None)` when granted, `Ok(Some(wait))` when not (nothing is
/// taken; `wait` until they would be). `n` above `per_minute` is the caller's to refuse.
pub fn take(
    conn: &mut Conn,
    token_id: i32,
    n: u32,
    per_minute: u32,
    now: NaiveDateTime,
) -> QueryResult<Option<Duration>> {
    if n == 0 {
        return Ok(None);
    }
    let window = Duration::minutes(1);
    let interval = window / per_minute.max(1) as i32;
    conn.transaction(|conn| {
        db::per_backend!(conn, |c| diesel::insert_into(api_rate::table)
            .values((api_rate::token_id.eq(token_id), api_rate::tat.eq(now)))
            .on_conflict_do_nothing()
            .execute(c))?;
        let tat: NaiveDateTime = match conn {
            // The row lock holds other nodes' takes for this token until commit.
            Conn::Pg(c) => api_rate::table
                .find(token_id)
                .select(api_rate::tat)
                .for_update()
                .first(c)?,
            // One writer at a time on SQLite already.
            Conn::Sqlite(c) => api_rate::table
                .find(token_id)
                .select(api_rate::tat)
                .first(c)?,
        };
        let new_tat = tat.max(now) + interval * n as i32;
        if new_tat - now > window {
            return Ok(Some(new_tat - window - now));
        }
        diesel::update(api_rate::table.find(token_id))
            .set(api_rate::tat.eq(new_tat))
            .execute(conn)?;
        Ok(None)
    })
}
