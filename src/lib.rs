//! kakunin: verification of electronic surety certificates (電子保証) for 発注機関.
//!
//! Module map:
//! - [`audit`]: the hash-chained audit log, appended in the caller's transaction.
//! - [`auth`]: staff accounts, passwords, sessions, API tokens.
//! - [`cli`]: the `kakunin` commands that are not the web service.
//! - [`config`]: layered settings, checked at start.
//! - [`db`]: SQLite pool, migrations, and the helper that keeps diesel off async workers.
//! - [`ids`]: 保証契約番号 and 認証キー, built only through normalization.
//! - [`record`]: the signed record: JWS envelope (sign and verify) and payload types.
//! - [`registry`]: the trust registry: which issuers and keys the orderer trusts.
//! - [`rules`]: the rule engine, rule profiles, 和暦 and yen formatting.
//! - [`issuer`]: the reference issuer (`kakunin-issuer`).
//! - [`issuer_client`]: the lookup call to an issuer: timeouts, limits, answer mapping.
//! - [`keyfile`]: private Ed25519 key files: PKCS#8 PEM, mode 0600, never overwritten.
//! - [`outcome`]: the six outcomes of a verification and what they tell the officer.
//! - [`verifications`]: a whole verification: guard, lookup, check, store, audit.
//! - [`verify`]: the verification core: envelope in, checked record and rule results out.
//! - [`view`]: the certificate as labelled Japanese rows, shared by pages and CLI.
//! - [`web`]: pages, JSON API and health checks (actix-web).

pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod ids;
pub mod issuer;
pub mod issuer_client;
pub mod keyfile;
pub mod outcome;
pub mod record;
pub mod registry;
pub mod rules;
pub mod verifications;
pub mod verify;
pub mod view;
pub mod web;
