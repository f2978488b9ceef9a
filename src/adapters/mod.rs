//! Adapters to the outside the application needs: the database and the issuers.
//!
//! - [`db`]: the pool, migrations, schema and the WAL thread.
//! - [`issuer_client`]: the lookup call of `issuer-protocol.md` §2.
//! - [`notice_file`]: uploaded key notices (PDF, PNG, JPEG) read into number and key.

pub mod db;
pub mod issuer_client;
pub mod notice_file;
