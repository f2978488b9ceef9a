//! The domain: what a verification means, with no I/O, no HTTP and no SQL.
//!
//! - [`case`]: 案件番号 and 案件名 as typed, and a guarantee's use under other 案件.
//! - [`check`]: a received envelope in, a checked record and its rule results out.
//! - [`rules`]: the rule engine and rule profiles (`rules-oita.md`).
//! - [`outcome`]: the six outcomes and what each tells the officer.
//! - [`banner`]: the failed items with their advice and the cautions under a banner.
//! - [`access`]: staff roles and API token scopes.
//! - [`bounds`]: how long each stored value may be.
//! - [`code`]: what those closed vocabularies share: fixed texts, and an error for any
//!   other text.
//! - [`scope`]: which offices a reader may see.
//! - [`view`]: the certificate as labelled Japanese rows, shared by pages and CLI.
//! - [`intake`]: the 保証契約番号 and 認証キー fields, typed or scanned from the QR code.
//! - [`diff`]: what changed between two revisions an office saw.
//! - [`watch`]: why an accepted guarantee needs a look again (`kakunin watch`).
//! - [`paper`]: the QR text of a printed verification, and reading it back at the
//!   check page.

pub mod access;
pub mod banner;
pub mod bounds;
pub mod case;
pub mod check;
pub mod code;
pub mod diff;
pub mod intake;
pub mod outcome;
pub mod paper;
pub mod rules;
pub mod scope;
pub mod view;
pub mod watch;
