//! Wrong passwords, counted per login and per address: at sign-in and on the own-password
//! form alike, so a stolen session cannot guess its owner's password any faster than a
//! stranger at the sign-in page.
//!
//! What a flood of refused attempts can write is bounded:
//!
//! - `signin_failures` gains a row per *counted* wrong password only; once a login or an
//!   address is over its limit, attempts are refused before any password is checked and
//!   add no row. Rows older than the window are deleted whenever a failure is recorded.
//! - Refused (throttled) attempts collapse in the audit log: one is audited only when no
//!   throttled attempt of the same kind was audited within the last
//!   `signin.window_minutes` for the same login from the same address, or, when the
//!   address itself is over its limit, from that address for any login. So one client
//!   adds at most one `throttled` row per login (or one per address) per window,
//!   however many attempts it makes.

use chrono::Duration;
use diesel::prelude::*;

use crate::adapters::db::schema::{audit_events, signin_failures};
use crate::adapters::db::{now_utc, Conn};
use crate::app::audit::{self, Action, Actor, AuditOutcome, Event};
use crate::config::Signin;
use crate::domain::code::Code;

/// Which limit refused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    /// The login failed `max_failures` times within the window.
    Login,
    /// The address failed four times as often (an office may sit behind one address).
    Address,
}

/// Whether `login` (or `address`, with a looser limit) has failed too often within the
/// window, and which.
pub fn refuses(
    conn: &mut Conn,
    limits: &Signin,
    login: &str,
    address: &str,
) -> QueryResult<Option<Throttled>> {
    let since = now_utc() - Duration::minutes(limits.window_minutes);
    let by_address: i64 = signin_failures::table
        .filter(signin_failures::address.eq(address))
        .filter(signin_failures::at.ge(since))
        .count()
        .get_result(conn)?;
    if by_address >= limits.max_failures * 4 {
        return Ok(Some(Throttled::Address));
    }
    let by_login: i64 = signin_failures::table
        .filter(signin_failures::login.eq(login))
        .filter(signin_failures::at.ge(since))
        .count()
        .get_result(conn)?;
    Ok((by_login >= limits.max_failures).then_some(Throttled::Login))
}

/// Counts one wrong password for `login` from `address`, and deletes the failures that
/// no longer count (older than the window).
pub fn record_failure(
    conn: &mut Conn,
    limits: &Signin,
    login: &str,
    address: &str,
) -> QueryResult<()> {
    let now = now_utc();
    diesel::delete(
        signin_failures::table
            .filter(signin_failures::at.lt(now - Duration::minutes(limits.window_minutes))),
    )
    .execute(conn)?;
    diesel::insert_into(signin_failures::table)
        .values((
            signin_failures::login.eq(login),
            signin_failures::address.eq(address),
            signin_failures::at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Audits a throttled attempt at `action` (`signin`, `user.passwd`) unless one like it
/// is already in the log for this window (see the module's rule). Returns whether a row
/// was written.
pub fn audit_refusal(
    conn: &mut Conn,
    limits: &Signin,
    actor: &Actor,
    action: Action,
    login: &str,
    why: Throttled,
) -> QueryResult<bool> {
    conn.immediate_transaction(|c| {
        let since = now_utc() - Duration::minutes(limits.window_minutes);
        let mut earlier = audit_events::table
            .filter(audit_events::at.ge(since))
            .filter(audit_events::action.eq(action.as_str()))
            .filter(audit_events::outcome.eq(AuditOutcome::Throttled.as_str()))
            .filter(audit_events::address.eq(&actor.address))
            .select(audit_events::seq)
            .into_boxed();
        if why == Throttled::Login {
            earlier = earlier.filter(audit_events::target.eq(login));
        }
        if earlier.first::<i32>(c).optional()?.is_some() {
            return Ok(false);
        }
        audit::append(
            c,
            actor,
            &Event {
                action,
                target: login,
                outcome: AuditOutcome::Throttled,
                detail: match why {
                    Throttled::Login => "limit=login".into(),
                    Throttled::Address => "limit=address".into(),
                },
            },
        )?;
        Ok(true)
    })
}
