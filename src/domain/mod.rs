//! The domain: what a verification means, with no I/O, no HTTP and no SQL.
//!
//! - [`check`]: a received envelope in, a checked record and its rule results out.
//! - [`rules`]: the rule engine and rule profiles (`rules-oita.md`).
//! - [`outcome`]: the six outcomes and what each tells the officer.
//! - [`scope`]: which offices a reader may see.
//! - [`view`]: the certificate as labelled Japanese rows, shared by pages and CLI.
//! - [`diff`]: what changed between two revisions an office saw.

pub mod check;
pub mod diff;
pub mod outcome;
pub mod rules;
pub mod scope;
pub mod view;
