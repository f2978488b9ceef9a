//! Server-side sessions: the cookie carries 256 random bits, the table only their hash.
//!
//! Kept in the database rather than a signed cookie so that sign-out, a password reset
//! or disabling an account ends the session at once.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::users::User;
use super::{random_token, sha256_hex};
use crate::adapters::db::schema::{sessions, users};
use crate::adapters::db::{self, now_utc, Conn};
use crate::config::Server;

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
    /// It existed but was idle too long, or older than its absolute lifetime; it is
    /// deleted now.
    Expired {
        user: Option<User>,
    },
    Missing,
}

/// Starts a signed-in session and returns (cookie value, CSRF token).
///
/// Prunes on the way: sessions idle or older than their lifetimes, and every session
/// without a user. Those are the pre-sign-in sessions that the sign-in page wrote
/// before its CSRF token became stateless ([`super::signin_token`]); none is written
/// any more, and none that an older version wrote outlives the next sign-in.
pub fn create(
    conn: &mut Conn,
    user_id: Option<i32>,
    limits: &Server,
) -> QueryResult<(String, String)> {
    let cookie = random_token();
    let csrf = random_token();
    let now = now_utc();
    diesel::delete(
        sessions::table.filter(
            sessions::last_seen
                .lt(now - Duration::minutes(limits.session_idle_minutes))
                .or(sessions::created_at.lt(now - Duration::hours(limits.session_max_hours)))
                .or(sessions::user_id.is_null()),
        ),
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

/// Looks a cookie up, ending it when idle too long or older than
/// `server.session_max_hours` however busy, and touching it otherwise.
pub fn lookup(conn: &mut Conn, cookie: &str, limits: &Server) -> QueryResult<Lookup> {
    let id_hash = sha256_hex(cookie);
    let Some((session, user)) = read(conn, &id_hash)? else {
        return Ok(Lookup::Missing);
    };
    let now = now_utc();
    match due(&session, now, limits) {
        Due::Nothing => {}
        Due::End => {
            diesel::delete(sessions::table.find(&id_hash)).execute(conn)?;
            return Ok(Lookup::Expired { user });
        }
        Due::Touch => {
            diesel::update(sessions::table.find(&id_hash))
                .set(sessions::last_seen.eq(now))
                .execute(conn)?;
        }
    }
    Ok(Lookup::Active { session, user })
}

/// [`lookup`] when it would write nothing: the active session, untouched, that nearly
/// every page within a minute of the last one finds. `None` when there is something
/// to write or decide (no such session, one to end or to touch): then call [`lookup`].
/// A read only, so it may run on the request's own thread
/// ([`db::read`]).
pub fn peek(conn: &mut Conn, cookie: &str, limits: &Server) -> QueryResult<Option<Lookup>> {
    let Some((session, user)) = read(conn, &sha256_hex(cookie))? else {
        return Ok(None);
    };
    Ok(match due(&session, now_utc(), limits) {
        Due::Nothing => Some(Lookup::Active { session, user }),
        Due::End | Due::Touch => None,
    })
}

/// What [`lookup`] has to write of a session it found.
enum Due {
    Nothing,
    /// Idle too long, or older than its absolute lifetime.
    End,
    /// Touched at most once a minute, so that reading pages does not queue behind the
    /// single writer; the idle limit is counted in minutes anyway.
    Touch,
}

fn due(session: &Session, now: NaiveDateTime, limits: &Server) -> Due {
    if session.last_seen < now - Duration::minutes(limits.session_idle_minutes)
        || session.created_at < now - Duration::hours(limits.session_max_hours)
    {
        Due::End
    } else if now - session.last_seen > Duration::seconds(60) {
        Due::Touch
    } else {
        Due::Nothing
    }
}

/// The session of a cookie's hash and its user, if enabled. On the backend's own
/// connection: found in diesel's statement cache by type.
fn read(conn: &mut Conn, id_hash: &str) -> QueryResult<Option<(Session, Option<User>)>> {
    let found: Option<Session> = db::per_backend!(conn, |c| sessions::table
        .find(id_hash)
        .select(Session::as_select())
        .first(c)
        .optional())?;
    let Some(session) = found else {
        return Ok(None);
    };
    let user = match session.user_id {
        Some(id) => db::per_backend!(conn, |c| users::table
            .find(id)
            .select(User::as_select())
            .first(c)
            .optional())?
        .filter(|u| !u.disabled),
        None => None,
    };
    Ok(Some((session, user)))
}

pub fn end(conn: &mut Conn, cookie: &str) -> QueryResult<()> {
    diesel::delete(sessions::table.find(sha256_hex(cookie))).execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Server {
        Server {
            bind: "127.0.0.1:0".into(),
            secure_cookies: false,
            session_idle_minutes: 30,
            session_max_hours: 8,
            trusted_proxies: Vec::new(),
        }
    }

    fn set(conn: &mut Conn, cookie: &str, last_seen: NaiveDateTime, created_at: NaiveDateTime) {
        diesel::update(sessions::table.find(sha256_hex(cookie)))
            .set((
                sessions::last_seen.eq(last_seen),
                sessions::created_at.eq(created_at),
            ))
            .execute(conn)
            .unwrap();
    }

    /// `peek` answers only what `lookup` would answer without writing: an expired
    /// session, or one due to be touched, always goes through `lookup`.
    #[test]
    fn peek_passes_only_a_live_session_with_nothing_to_write() {
        let (_dir, pool) = db::scratch();
        let mut c = pool.get().unwrap();
        let limits = limits();
        let (cookie, _) = create(&mut c, None, &limits).unwrap();
        let now = now_utc();

        assert!(matches!(
            peek(&mut c, &cookie, &limits).unwrap(),
            Some(Lookup::Active { .. })
        ));
        assert!(peek(&mut c, "no such cookie", &limits).unwrap().is_none());

        // Due to be touched: peek leaves it to lookup, which touches it.
        set(
            &mut c,
            &cookie,
            now - Duration::minutes(2),
            now - Duration::hours(1),
        );
        assert!(peek(&mut c, &cookie, &limits).unwrap().is_none());
        assert!(matches!(
            lookup(&mut c, &cookie, &limits).unwrap(),
            Lookup::Active { .. }
        ));
        assert!(peek(&mut c, &cookie, &limits).unwrap().is_some(), "touched");

        // Idle too long, or past its absolute lifetime: never answered by peek.
        for (last_seen, created_at) in [
            (now - Duration::minutes(31), now - Duration::hours(1)),
            (now, now - Duration::hours(9)),
        ] {
            set(&mut c, &cookie, last_seen, created_at);
            assert!(peek(&mut c, &cookie, &limits).unwrap().is_none());
        }
        assert!(matches!(
            lookup(&mut c, &cookie, &limits).unwrap(),
            Lookup::Expired { .. }
        ));
        assert!(matches!(
            lookup(&mut c, &cookie, &limits).unwrap(),
            Lookup::Missing
        ));
    }
}
