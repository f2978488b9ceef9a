//! Server-side sessions: the cookie carries 256 random bits, the table only their hash.
//!
//! Kept in the database rather than a signed cookie so that sign-out, a password reset
//! or disabling an account ends the session at once.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::users::User;
use super::{random_token, sha256_hex};
use crate::adapters::db::now_utc;
use crate::adapters::db::schema::{sessions, users};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id_hash: String,
    pub user_id: Option<i32>,
    pub csrf: String,
    pub created_at: NaiveDateTime,
    pub last_seen: NaiveDateTime,
}

/// What a request's cookie amounts to.
pub enum Lookup {
    Active {
        session: Session,
        user: Option<User>,
    },
    /// It existed but was idle too long; it is deleted now.
    Expired {
        user: Option<User>,
    },
    Missing,
}

/// Starts a session and returns (cookie value, CSRF token).
pub fn create(
    conn: &mut SqliteConnection,
    user_id: Option<i32>,
    idle_minutes: i64,
) -> QueryResult<(String, String)> {
    let cookie = random_token();
    let csrf = random_token();
    let now = now_utc();
    // Opportunistic clean-up keeps abandoned sign-in pages from piling up.
    diesel::delete(
        sessions::table.filter(sessions::last_seen.lt(now - Duration::minutes(idle_minutes))),
    )
    .execute(conn)?;
    diesel::insert_into(sessions::table)
        .values((
            sessions::id_hash.eq(sha256_hex(&cookie)),
            sessions::user_id.eq(user_id),
            sessions::csrf.eq(&csrf),
            sessions::created_at.eq(now),
            sessions::last_seen.eq(now),
        ))
        .execute(conn)?;
    Ok((cookie, csrf))
}

/// Looks a cookie up, ending it when idle too long and touching it otherwise.
pub fn lookup(conn: &mut SqliteConnection, cookie: &str, idle_minutes: i64) -> QueryResult<Lookup> {
    let id_hash = sha256_hex(cookie);
    let found: Option<Session> = sessions::table
        .find(&id_hash)
        .select(Session::as_select())
        .first(conn)
        .optional()?;
    let Some(session) = found else {
        return Ok(Lookup::Missing);
    };
    let user = match session.user_id {
        Some(id) => users::table
            .find(id)
            .select(User::as_select())
            .first(conn)
            .optional()?
            .filter(|u| !u.disabled),
        None => None,
    };
    let now = now_utc();
    if session.last_seen < now - Duration::minutes(idle_minutes) {
        diesel::delete(sessions::table.find(&id_hash)).execute(conn)?;
        return Ok(Lookup::Expired { user });
    }
    // Touched at most once a minute, so that reading pages does not queue behind the
    // single writer; the idle limit is counted in minutes anyway.
    if now - session.last_seen > Duration::seconds(60) {
        diesel::update(sessions::table.find(&id_hash))
            .set(sessions::last_seen.eq(now))
            .execute(conn)?;
    }
    Ok(Lookup::Active { session, user })
}

pub fn end(conn: &mut SqliteConnection, cookie: &str) -> QueryResult<()> {
    diesel::delete(sessions::table.find(sha256_hex(cookie))).execute(conn)?;
    Ok(())
}
