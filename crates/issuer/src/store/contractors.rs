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

/// Folds every stored login to the form sign-in reads ([`kakunin_platform::login::typed`]:
/// `ＢＵＮＧＯ`, `BUNGO ` → `bungo`), as `contractor add` has stored them since logins were
/// folded; earlier ones could be stored in any width or case and would no longer be
/// reachable. Done in Rust, not SQL, so the fold is the very function sign-in uses
/// (SQLite's `lower` knows ASCII only). A login whose folded form another contractor
/// has is left as it is: the ids of those are returned, for the operator to rename one
/// of each pair. Idempotent; one read of the table when nothing is left to fold.
pub fn fold_logins(conn: &mut SqliteConnection) -> QueryResult<Vec<i32>> {
    conn.immediate_transaction(|conn| {
        let rows: Vec<(i32, String)> = contractors::table
            .select((contractors::id, contractors::login))
            .load(conn)?;
        let mut taken: std::collections::HashSet<String> =
            rows.iter().map(|(_, l)| l.clone()).collect();
        let mut left = Vec::new();
        for (id, login) in rows {
            let folded = kakunin_platform::login::typed(&login);
            if folded == login {
                continue;
            }
            if taken.contains(&folded) {
                left.push(id);
                continue;
            }
            diesel::update(contractors::table.find(id))
                .set(contractors::login.eq(&folded))
                .execute(conn)?;
            taken.remove(&login);
            taken.insert(folded);
        }
        Ok(left)
    })
}

pub fn by_id(conn: &mut SqliteConnection, id: i32) -> QueryResult<Option<ContractorRow>> {
    contractors::table
        .find(id)
        .select(ContractorRow::as_select())
        .first(conn)
        .optional()
}
