//! Rows of `sessions`: signed-in contractors, keyed by the SHA-256 of the cookie's id.

use diesel::prelude::*;

use crate::schema::{contractors, sessions};

/// A live session with the contractor it belongs to.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub contractor_id: i32,
    pub login: String,
    pub name: String,
    pub csrf_token: String,
}

pub fn insert(
    conn: &mut SqliteConnection,
    id_sha256: &[u8],
    contractor_id: i32,
    csrf_token: &str,
    expires_at: i64,
) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id_sha256.eq(id_sha256),
            sessions::contractor_id.eq(contractor_id),
            sessions::csrf_token.eq(csrf_token),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(drop)
}

/// The session for a cookie digest, unless it expired (expired rows are removed).
pub fn find(
    conn: &mut SqliteConnection,
    id_sha256: &[u8],
    now: i64,
) -> QueryResult<Option<SessionRow>> {
    diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)?;
    let row: Option<(i32, String, String, String)> = sessions::table
        .inner_join(contractors::table)
        .filter(sessions::id_sha256.eq(id_sha256))
        .select((
            sessions::contractor_id,
            contractors::login,
            contractors::name,
            sessions::csrf_token,
        ))
        .first(conn)
        .optional()?;
    Ok(
        row.map(|(contractor_id, login, name, csrf_token)| SessionRow {
            contractor_id,
            login,
            name,
            csrf_token,
        }),
    )
}

pub fn delete(conn: &mut SqliteConnection, id_sha256: &[u8]) -> QueryResult<()> {
    diesel::delete(sessions::table.find(id_sha256))
        .execute(conn)
        .map(drop)
}
