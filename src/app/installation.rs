//! What kind of installation a database is: an ordinary one, or the demo's own.
//!
//! `kakunin serve --demo` seeds accounts whose passwords are printed in the README, so
//! it may only ever run on a database it created for itself, and a database it created
//! must never be served without `--demo` (issue K6 §2).

use diesel::prelude::*;

use crate::adapters::db::schema::{api_tokens, installation, users, verifications};
use crate::adapters::db::Conn;

/// The marker of a demo database.
const KIND: &str = "kind";
const DEMO: &str = "demo";

/// What a database holds, as far as the demo is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installation {
    /// Nothing yet: no account, API token or verification. (Audit events alone do not
    /// count: `serve --demo` makes its audit key, and audits that, before it looks.)
    Empty,
    /// Created by `serve --demo`: its accounts have the published demo passwords.
    Demo,
    /// Anything else: real accounts or data.
    Ordinary,
}

/// Reads what the database is.
pub fn inspect(conn: &mut Conn) -> QueryResult<Installation> {
    let kind: Option<String> = installation::table
        .find(KIND)
        .select(installation::value)
        .first(conn)
        .optional()?;
    if kind.as_deref() == Some(DEMO) {
        return Ok(Installation::Demo);
    }
    let holds_data = diesel::select(diesel::dsl::exists(users::table.select(users::id)))
        .get_result::<bool>(conn)?
        || diesel::select(diesel::dsl::exists(
            api_tokens::table.select(api_tokens::id),
        ))
        .get_result::<bool>(conn)?
        || diesel::select(diesel::dsl::exists(
            verifications::table.select(verifications::id),
        ))
        .get_result::<bool>(conn)?;
    Ok(if holds_data {
        Installation::Ordinary
    } else {
        Installation::Empty
    })
}

/// Marks an empty database as the demo's own, in the caller's transaction.
pub fn mark_demo(conn: &mut Conn) -> QueryResult<()> {
    diesel::insert_into(installation::table)
        .values((installation::key.eq(KIND), installation::value.eq(DEMO)))
        .execute(conn)?;
    Ok(())
}
