//! The application: the use cases, each a unit of work in one transaction.
//!
//! - [`verification`]: one verification or a batch: guard, lookup, check, store and
//!   audit, with group commit.
//! - [`audit`]: the hash-chained audit log, its checkpoints, queries and exports.
//! - [`accounts`]: staff accounts, sessions, sign-in throttles and API tokens.
//! - [`installation`]: whether a database is the demo's own.
//!
//! Each module owns the queries of its tables (as the models of the Rust package
//! registry do); the pool, schema and migrations are the adapters'.

pub mod accounts;
pub mod audit;
pub mod evidence;
pub mod installation;
pub mod receipt;
pub mod verification;
