//! Adapters to the outside the application needs: the database and the issuers.
//!
//! - [`db`]: the pool, migrations, schema and the WAL thread.
//! - [`issuer_client`]: the lookup call of `issuer-protocol.md` §2.

pub mod db;
pub mod issuer_client;
