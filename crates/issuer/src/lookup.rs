//! Answering a lookup (issuer-protocol.md §2): a certificate for a number and auth key,
//! or nothing, without telling an unknown number from a wrong key.
//!
//! Sameness is built in, not bolted on: the HMAC is computed before the database is
//! touched whether or not the number exists, it is compared in constant time with the
//! stored one or with a dummy, and both misses run the same queries — including
//! counting the miss towards the lockout. Counting misses of unknown numbers too is
//! what keeps the lockout itself from revealing which numbers exist.

use super::app::App;
use super::crypto;
use super::error::IssuerError;
use super::store::{self, lockouts};
use crate::db;
use kakunin_protocol::ids::{AuthKey, CertificateNumber};

/// What a lookup found.
#[derive(Debug)]
pub enum Outcome {
    /// The latest revision's JWS, byte for byte as stored.
    Found(String),
    /// Unknown number or wrong key; deliberately one case.
    NotFound,
    /// Locked after repeated wrong keys; retry after this many seconds.
    Locked { retry_after: u64 },
}

impl Outcome {
    /// The word logged for this outcome.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Found(_) => "found",
            Outcome::NotFound => "not_found",
            Outcome::Locked { .. } => "locked",
        }
    }
}

/// Compared with the presented key's HMAC when the number is unknown, so that the
/// comparison costs the same; no HMAC output can be all zero by chance in practice, and
/// a match is in any case ignored without a certificate.
const DUMMY_HMAC: [u8; 32] = [0u8; 32];

pub async fn lookup(
    app: &App,
    number: CertificateNumber,
    key: AuthKey,
) -> Result<Outcome, IssuerError> {
    let presented = crypto::auth_key_hmac(app.secret()?, &key);
    db::run(&app.pool, move |conn| {
        conn.immediate_transaction(|conn| {
            let now = store::unix_now();
            if let Some(until) = lockouts::locked_until(conn, number.as_str(), now)? {
                let retry_after = u64::try_from(until - now).unwrap_or(1).max(1);
                return Ok(Outcome::Locked { retry_after });
            }
            let cert = store::certificates::find(conn, number.as_str())?;
            let stored = cert
                .as_ref()
                .map_or(&DUMMY_HMAC[..], |c| &c.auth_key_hmac[..]);
            let key_matches = crypto::same(stored, &presented);
            match cert {
                Some(cert) if key_matches => {
                    let latest = store::certificates::latest(conn, &cert)?;
                    Ok(Outcome::Found(latest.jws))
                }
                _ => {
                    lockouts::record_failure(conn, number.as_str(), now)?;
                    Ok(Outcome::NotFound)
                }
            }
        })
    })
    .await
}
