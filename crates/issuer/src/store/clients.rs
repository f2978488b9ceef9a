//! Rows of `clients`: relying parties and the SHA-256 of their bearer tokens.

use diesel::prelude::*;

use crate::schema::clients;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = clients)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite))]
pub struct ClientRow {
    pub id: i32,
    pub name: String,
    pub created_at: String,
    pub revoked: bool,
}

pub fn insert(
    conn: &mut SqliteConnection,
    name: &str,
    token_sha256: &[u8],
    now: &str,
) -> QueryResult<()> {
    diesel::insert_into(clients::table)
        .values((
            clients::name.eq(name),
            clients::token_sha256.eq(token_sha256),
            clients::created_at.eq(now),
            clients::revoked.eq(false),
        ))
        .execute(conn)
        .map(drop)
}

pub fn exists(conn: &mut SqliteConnection, name: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        clients::table.filter(clients::name.eq(name)),
    ))
    .get_result(conn)
}

/// The client holding a token, found by the token's digest (an index lookup: comparing
/// digests of 256-bit random tokens leaks nothing useful through timing).
pub fn by_token(
    conn: &mut SqliteConnection,
    token_sha256: &[u8],
) -> QueryResult<Option<ClientRow>> {
    clients::table
        .filter(clients::token_sha256.eq(token_sha256))
        .filter(clients::revoked.eq(false))
        .select(ClientRow::as_select())
        .first(conn)
        .optional()
}

pub fn all(conn: &mut SqliteConnection) -> QueryResult<Vec<ClientRow>> {
    clients::table
        .order(clients::id.asc())
        .select(ClientRow::as_select())
        .load(conn)
}

/// Marks the client revoked.
pub fn revoke(conn: &mut SqliteConnection, id: i32) -> QueryResult<()> {
    diesel::update(clients::table.find(id))
        .set(clients::revoked.eq(true))
        .execute(conn)
        .map(drop)
}
