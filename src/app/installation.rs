//! What kind of installation a database is: an ordinary one, or the demo's own.
//!
//! `kakunin serve --demo` seeds accounts whose passwords are printed in the README, so
//! it may only ever run on a database it created for itself, and a database it created
//! must never be served without `--demo` (issue K6 §2).

use diesel::prelude::*;

use crate::adapters::db::schema::{api_tokens, installation, users, verifications};
use crate::adapters::db::Conn;
use crate::app::audit::{self, Action, Actor, AuditOutcome, Event};
use crate::app::receipt::keys::ReceiptKeys;

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
    if get(conn, KIND)?.as_deref() == Some(DEMO) {
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

/// The value recorded under `key`, if any.
fn get(conn: &mut Conn, key: &str) -> QueryResult<Option<String>> {
    installation::table
        .find(key)
        .select(installation::value)
        .first(conn)
        .optional()
}

/// Sets `key` to `value`, whether it was there or not.
fn put(conn: &mut Conn, key: &str, value: &str) -> QueryResult<()> {
    crate::adapters::db::per_backend!(conn, |c| diesel::insert_into(installation::table)
        .values((installation::key.eq(key), installation::value.eq(value)))
        .on_conflict(installation::key)
        .do_update()
        .set(installation::value.eq(value))
        .execute(c))?;
    Ok(())
}

/// The key under which the check value of the service's secret is recorded.
const SECRET_CHECK: &str = "secret_check";

/// A value that tells whether two nodes run with the same `KAKUNIN_SECRET_KEY` without
/// revealing it: HMAC-SHA-256 of a fixed label under the secret, hex.
fn secret_check(secret: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"kakunin/installation-secret-check/v1");
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `secret` is the installation's (recording it when none is yet): every node
/// of an installation must share the secret, since the auth keys' fingerprints in the
/// audit log and the sessions' digests are made with it. A node with another secret
/// would serve, and its fingerprints would silently fail to match the others'. The
/// first node to start records its secret; one starting beside it with another secret
/// finds that one, whichever wrote first.
pub fn secret_matches(conn: &mut Conn, secret: &[u8]) -> QueryResult<bool> {
    let check = secret_check(secret);
    crate::adapters::db::per_backend!(conn, |c| diesel::insert_into(installation::table)
        .values((
            installation::key.eq(SECRET_CHECK),
            installation::value.eq(&check)
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(get(conn, SECRET_CHECK)?.as_deref() == Some(check.as_str()))
}

/// Makes `secret` the installation's (`kakunin key adopt-secret`, after a deliberate
/// change), with its audit row, in one transaction.
pub fn adopt_secret(conn: &mut Conn, secret: &[u8], actor: &Actor) -> QueryResult<()> {
    let check = secret_check(secret);
    conn.immediate_transaction(|c| {
        put(c, SECRET_CHECK, &check)?;
        audit::append(
            c,
            actor,
            &Event {
                action: Action::SecretAdopt,
                target: "KAKUNIN_SECRET_KEY",
                outcome: AuditOutcome::Ok,
                detail: String::new(),
            },
        )?;
        Ok(())
    })
}

/// The key under which the installation's current receipt key is recorded.
const RECEIPT_KID: &str = "receipt_kid";

/// Keeps the nodes of one installation on one receipt key set. The database records
/// the current receipt key's id; each node compares it with its own set (at start and
/// every few seconds, `serve`):
/// - nothing recorded yet: this node's current key is recorded;
/// - this node's set knows the recorded key as retired: this node holds a newer set
///   (`kakunin key rotate` ran here, or its folder was copied here first), so its
///   current key is recorded, and the other nodes then learn they are behind;
/// - this node does not hold the recorded key at all: it was left behind by a rotation
///   elsewhere (or was given a set of its own), and
///   [`ReceiptKeys::missing_kid`] makes `/readyz` answer 503 until the folder arrives.
///
/// Returns the recorded key's id after the comparison.
pub fn sync_receipt_kid(conn: &mut Conn, keys: &ReceiptKeys) -> QueryResult<String> {
    let own = keys.kid();
    let kid = match get(conn, RECEIPT_KID)? {
        Some(kid) if kid == own || !keys.retired(&kid) => kid,
        _ => {
            put(conn, RECEIPT_KID, &own)?;
            own
        }
    };
    keys.note_installation_kid(&kid);
    Ok(kid)
}

/// Marks an empty database as the demo's own, in the caller's transaction.
pub fn mark_demo(conn: &mut Conn) -> QueryResult<()> {
    diesel::insert_into(installation::table)
        .values((installation::key.eq(KIND), installation::value.eq(DEMO)))
        .execute(conn)?;
    Ok(())
}
