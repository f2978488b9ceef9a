//! The issuer's tables and their queries. Each submodule owns one concern's rows.
//!
//! Functions here take a connection and return diesel's `QueryResult`: they are called
//! inside `db::run`, usually inside one transaction that a caller in `issuance`,
//! `lookup` or `keyring` opens for its whole unit of work.

pub mod certificates;
pub mod clients;
pub mod contractors;
pub mod keys;
pub mod lockouts;
pub mod sessions;
pub mod signin;

use chrono::{DateTime, FixedOffset, SecondsFormat};

/// How timestamps are stored: RFC 3339 in Japan time, to the second.
pub fn timestamp(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Now, as stored.
pub fn now_text() -> String {
    timestamp(kakunin_protocol::time::now_jst())
}

/// Now in Unix seconds, for lockouts and session expiry.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}
