//! The tamper-evident audit log: every row is chained to the previous one by SHA-256.
//!
//! Rows are appended inside the caller's transaction, so an act and its audit row commit
//! or roll back together. The caller should hold the write lock (an immediate transaction
//! on SQLite) so two appends cannot read the same previous hash; called outside any
//! transaction, `append` takes one itself. When a checkpoint is due ([`checkpoint`]),
//! it is signed and written in that same transaction.

pub mod chain;
pub mod checkpoint;
pub mod detail;
pub mod export;
pub mod key;
pub mod names;
pub mod query;
pub mod stats;
pub mod vocabulary;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::adapters::db::{self, schema::audit_events, Conn};
use crate::domain::bounds::{
    audited, cut, AUDIT_ACTOR_MAX, AUDIT_DETAIL_MAX, AUDIT_TARGET_MAX, OFFICE_CODE_MAX,
    USER_AGENT_MAX,
};
use crate::domain::outcome::Outcome;

pub use chain::{verify_chain, ChainBreak};
pub use vocabulary::{Action, AuditOutcome};

/// Who did something, from where. Built by the web layer, carried into the domain.
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    /// `user:LOGIN`, `token:NAME` or `cli:USER`.
    pub name: String,
    pub office_code: String,
    pub address: String,
    pub user_agent: String,
}

impl Actor {
    pub fn new(name: String, office_code: String, address: String, user_agent: &str) -> Self {
        Self {
            name,
            office_code,
            address,
            user_agent: cut(user_agent, USER_AGENT_MAX).to_owned(),
        }
    }

    /// The operator at the command line, as the operating system knows the account
    /// ([`kakunin_platform::cli::operator`]).
    pub fn cli() -> Self {
        let who = kakunin_platform::cli::operator();
        Self::new(
            format!("cli:{who}"),
            "-".into(),
            "local".into(),
            "kakunin-cli",
        )
    }
}

/// One event to append. `detail` is free text or JSON with nothing secret in it.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub action: Action,
    pub target: &'a str,
    pub outcome: AuditOutcome,
    pub detail: String,
}

/// An [`Event`] that owns its target: one to be appended later, by another thread (the
/// verification writer's group, `app::verification::WriteQueue::audit`).
#[derive(Debug, Clone)]
pub struct OwnedEvent {
    pub action: Action,
    pub target: String,
    pub outcome: AuditOutcome,
    pub detail: String,
}

impl OwnedEvent {
    pub fn as_event(&self) -> Event<'_> {
        Event {
            action: self.action,
            target: &self.target,
            outcome: self.outcome,
            detail: self.detail.clone(),
        }
    }
}

/// One row of the log. Reading a row whose action or outcome this version does not know
/// fails the query ([`crate::domain::code::UnknownCode`]).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditRow {
    pub seq: i32,
    pub at: NaiveDateTime,
    pub actor: String,
    pub office_code: String,
    pub action: Action,
    pub target: String,
    pub outcome: AuditOutcome,
    pub address: String,
    pub user_agent: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
struct NewRow<'a> {
    #[diesel(embed)]
    hashed: chain::Hashed<'a>,
    hash: &'a str,
}

/// The hash of the empty chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Appends one event (and a checkpoint when one is due); call inside an immediate
/// transaction. Outside one, it opens its own, so a careless caller gets a busy wait,
/// never a forked chain.
pub fn append(conn: &mut Conn, actor: &Actor, event: &Event<'_>) -> QueryResult<AuditRow> {
    // diesel refuses BEGIN inside a transaction before running the closure, so this
    // tells "already in the caller's transaction" apart without touching the database.
    match conn.immediate_transaction(|c| append_locked(c, actor, event)) {
        Err(diesel::result::Error::AlreadyInTransaction) => append_locked(conn, actor, event),
        other => other,
    }
}

fn append_locked(conn: &mut Conn, actor: &Actor, event: &Event<'_>) -> QueryResult<AuditRow> {
    let mut rows = append_many_locked(conn, &[(actor, event.clone())])?;
    Ok(rows.remove(0))
}

/// Appends several events in order, each with the actor who did it, in the caller's
/// transaction (which must hold the write lock). One read of the chain head, one count
/// per day, office and outcome and one checkpoint check for all of them instead of
/// one each; the rows, the per-day counts and the checkpoints are exactly what
/// appending them one at a time would write.
pub fn append_many(conn: &mut Conn, events: &[(&Actor, Event<'_>)]) -> QueryResult<Vec<AuditRow>> {
    match conn.immediate_transaction(|c| append_many_locked(c, events)) {
        Err(diesel::result::Error::AlreadyInTransaction) => append_many_locked(conn, events),
        other => other,
    }
}

fn append_many_locked(
    conn: &mut Conn,
    events: &[(&Actor, Event<'_>)],
) -> QueryResult<Vec<AuditRow>> {
    // Hot statements run on the backend's own connection, so diesel finds them in its
    // statement cache by type instead of building their SQL on every call.
    let last: Option<(i32, String, NaiveDateTime)> =
        db::per_backend!(conn, |c| audit_events::table
            .select((audit_events::seq, audit_events::hash, audit_events::at))
            .order(audit_events::seq.desc())
            .first(c)
            .optional())?;
    // Microsecond precision: SQLite keeps what we give, and the hash must match the
    // value read back.
    let now = chrono::DateTime::from_timestamp_micros(chrono::Utc::now().timestamp_micros())
        .expect("now is representable")
        .naive_utc();
    // Time never runs backwards along the log: if the clock was stepped back, the row
    // takes its predecessor's time. That keeps "a range of days" equal to "a range of
    // seq" (see `query`), and the order of the log is its seq anyway.
    let (mut seq, mut prev_hash, at) = match last {
        Some((seq, hash, last_at)) => (seq, hash, now.max(last_at)),
        None => (0, GENESIS.to_owned(), now),
    };
    let mut rows = Vec::with_capacity(events.len());
    for (actor, event) in events {
        seq += 1;
        let mut row = AuditRow {
            seq,
            at,
            // Cut to the bounds of `domain::bounds`: parsers refuse longer input, and
            // this keeps any value one of them missed from growing a log that cannot
            // be trimmed. What a request brought as it came (a URL's id, its user
            // agent) shows its invisible characters escaped (`bounds::audited`).
            // `detail` is JSON or text the service wrote, with its strings escaped.
            actor: audited(&actor.name, AUDIT_ACTOR_MAX),
            office_code: audited(&actor.office_code, OFFICE_CODE_MAX),
            action: event.action,
            target: audited(event.target, AUDIT_TARGET_MAX),
            outcome: event.outcome,
            address: audited(&actor.address, 64),
            user_agent: audited(&actor.user_agent, USER_AGENT_MAX),
            detail: cut(&event.detail, AUDIT_DETAIL_MAX).to_owned(),
            prev_hash: std::mem::take(&mut prev_hash),
            hash: String::new(),
        };
        row.hash = chain::row_hash(&row);
        prev_hash = row.hash.clone();
        rows.push(row);
    }
    // One row a statement: diesel keeps a single-row insert prepared, while a
    // multi-row one is built, parsed and planned anew for every size.
    for row in &rows {
        // The seq is given, not left to SQLite: the hash covers it, so a row must
        // never be stored under another number than the one it was hashed with.
        let values = NewRow {
            hashed: chain::hashed(row),
            hash: &row.hash,
        };
        db::per_backend!(conn, |c| diesel::insert_into(audit_events::table)
            .values(&values)
            .execute(c))?;
    }
    let mut daily: std::collections::BTreeMap<(&str, Outcome), i64> = Default::default();
    for row in &rows {
        if let (Action::Verify, AuditOutcome::Verification(outcome)) = (row.action, row.outcome) {
            *daily.entry((&row.office_code, outcome)).or_default() += 1;
        }
    }
    for ((office, outcome), n) in daily {
        stats::count_verifications(conn, at, office, outcome, n)?;
    }
    checkpoint::after_append(conn, &rows)?;
    Ok(rows)
}
