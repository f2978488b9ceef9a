//! Rows of `signing_keys`: the public half and validity of every signing key.

use diesel::prelude::*;

use crate::schema::signing_keys;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite))]
pub struct KeyRow {
    pub kid: String,
    pub public_x: String,
    pub not_before: String,
    pub active: bool,
    pub created_at: String,
    pub retired_at: Option<String>,
}

/// Every key, in the order they become valid (as RFC 3339 text in one offset, `not_before`
/// sorts chronologically), so registries and the JWKS list the newest last.
pub fn all(conn: &mut SqliteConnection) -> QueryResult<Vec<KeyRow>> {
    signing_keys::table
        .order(signing_keys::not_before.asc())
        .then_order_by(signing_keys::created_at.asc())
        .then_order_by(signing_keys::kid.asc())
        .select(KeyRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut SqliteConnection, kid: &str) -> QueryResult<Option<KeyRow>> {
    signing_keys::table
        .find(kid)
        .select(KeyRow::as_select())
        .first(conn)
        .optional()
}

pub fn active(conn: &mut SqliteConnection) -> QueryResult<Option<KeyRow>> {
    signing_keys::table
        .filter(signing_keys::active.eq(true))
        .select(KeyRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut SqliteConnection, row: &KeyRow) -> QueryResult<()> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Makes `kid` the one active key; the others stay listed (JWKS, old revisions) but
/// sign nothing new.
pub fn activate(conn: &mut SqliteConnection, kid: &str, now: &str) -> QueryResult<()> {
    diesel::update(
        signing_keys::table.filter(signing_keys::active.eq(true).and(signing_keys::kid.ne(kid))),
    )
    .set((
        signing_keys::active.eq(false),
        signing_keys::retired_at.eq(Some(now)),
    ))
    .execute(conn)?;
    diesel::update(signing_keys::table.find(kid))
        .set(signing_keys::active.eq(true))
        .execute(conn)
        .map(drop)
}
