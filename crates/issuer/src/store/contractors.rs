//! Rows of `contractors`: the companies that sign in to see their certificates.

use diesel::prelude::*;

use crate::schema::contractors;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = contractors)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite))]
pub struct ContractorRow {
    pub id: i32,
    pub login: String,
    pub name: String,
    pub password_hash: String,
}

pub fn insert(
    conn: &mut SqliteConnection,
    login: &str,
    name: &str,
    password_hash: &str,
    now: &str,
) -> QueryResult<i32> {
    diesel::insert_into(contractors::table)
        .values((
            contractors::login.eq(login),
            contractors::name.eq(name),
            contractors::password_hash.eq(password_hash),
            contractors::created_at.eq(now),
        ))
        .returning(contractors::id)
        .get_result(conn)
}

pub fn by_login(conn: &mut SqliteConnection, login: &str) -> QueryResult<Option<ContractorRow>> {
    contractors::table
        .filter(contractors::login.eq(login))
        .select(ContractorRow::as_select())
        .first(conn)
        .optional()
}

pub fn by_id(conn: &mut SqliteConnection, id: i32) -> QueryResult<Option<ContractorRow>> {
    contractors::table
        .find(id)
        .select(ContractorRow::as_select())
        .first(conn)
        .optional()
}
