//! kakunin: verification of electronic surety certificates (電子保証) for 発注機関.
//!
//! Layers, from the outside in (`ARCHITECTURE.md` says what each may import):
//! - [`web`], [`cli`]: delivery: pages, the JSON API, health checks; the commands.
//! - [`app`]: use cases: one verification, the audit log, accounts.
//! - [`adapters`]: the database and the issuer client.
//! - [`domain`]: the checks, rules, outcomes and access scope; no I/O.
//! - [`config`]: layered settings, checked at start.
//!
//! The protocol both sides share (identifiers, JWS, payload, trust registry, 和暦) is
//! the crate `kakunin-protocol`; what the service shares with the reference issuer
//! beyond it (problem+json, passwords, the SQLite pool, key files) is `kakunin-platform`.

pub mod adapters;
pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod web;
