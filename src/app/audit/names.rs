//! How pages, exports and summaries name who acted: the stored actor (`user:officer`,
//! `token:batch`, `cli:root`; hashed by the chain, never changed) as a person reads it.

use std::collections::HashMap;

use diesel::prelude::*;

use super::{Action, AuditOutcome, AuditRow};
use crate::adapters::db::schema::users;
use crate::adapters::db::Conn;

/// `大分 一郎（officer）` for an account that exists, its login alone for one since
/// removed, `API: NAME` for a token, `コマンド（USER）` for the command line, and any
/// other text as it is.
pub fn actor_label(conn: &mut Conn, actor: &str) -> QueryResult<String> {
    if let Some(login) = actor.strip_prefix("user:") {
        let name: Option<String> = users::table
            .filter(users::login.eq(login))
            .select(users::name)
            .first(conn)
            .optional()?;
        return Ok(match name {
            Some(name) => format!("{name}（{login}）"),
            None => login.to_owned(),
        });
    }
    if let Some(who) = actor.strip_prefix("cli:") {
        return Ok(format!("コマンド（{who}）"));
    }
    Ok(match actor.strip_prefix("token:") {
        Some(name) => format!("API: {name}"),
        None => actor.to_owned(),
    })
}

/// [`actor_label`] for many rows: a page or an export holds few distinct people, so
/// each is looked up once, not once a row.
#[derive(Debug, Default)]
pub struct ActorNames(HashMap<String, String>);

impl ActorNames {
    /// How audit row `row` names who acted: as [`actor_label`], except for a sign-in
    /// that did not succeed, whose actor is only the login someone typed (anyone may
    /// type anyone's): `ログイン名 officer1（本人とは限りません）`, never the holder's name.
    pub fn of_row(&mut self, conn: &mut Conn, row: &AuditRow) -> QueryResult<String> {
        if row.action == Action::Signin && row.outcome != AuditOutcome::Ok {
            if let Some(login) = row.actor.strip_prefix("user:") {
                return Ok(format!("ログイン名 {login}（本人とは限りません）"));
            }
        }
        self.label(conn, &row.actor).map(str::to_owned)
    }

    pub fn label(&mut self, conn: &mut Conn, actor: &str) -> QueryResult<&str> {
        if !self.0.contains_key(actor) {
            let label = actor_label(conn, actor)?;
            self.0.insert(actor.to_owned(), label);
        }
        Ok(&self.0[actor])
    }
}
