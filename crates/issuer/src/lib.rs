//! The reference issuer (`kakunin-issuer`): the surety company's side of
//! `issuer-protocol.md`, for demos, tests and as a model for real issuers.
//!
//! Module map, from the outside in:
//! - [`cli`]: the commands (`keygen`, `client`, `issue`, `amend`, `cancel`, `rotate-key`,
//!   `demo-seed`, `serve`) and how their errors are printed.
//! - [`server`], [`api`], [`problem`]: the HTTP API of §2 and §6, errors as problem+json.
//! - [`pages`], [`session`], [`templates`]: the contractor's pages (sign in, list,
//!   the printable 保証証書, the key notice download).
//! - [`app`]: the shared context (database, identity, secret, keys directory).
//! - [`issuance`], [`lookup`], [`keyring`]: what the issuer does: issue and change
//!   certificates, answer lookups with lockouts, keep signing keys.
//! - [`input`]: reading the JSON files given to `issue` and `amend`.
//! - [`store`], [`schema`]: the SQLite tables and their queries.
//! - [`settings`], [`crypto`], [`error`]: settings from the environment, hashing, errors.
//! - [`seed`]: the demo data set.
//! - [`notice`]: the key notice PDF (§7).
//!
//! Settings (`service.md`, "The reference issuer's settings"), each also an option:
//! `KAKUNIN_ISSUER_DATABASE_URL` (`data/issuer.db`), `KAKUNIN_ISSUER_BIND`
//! (`127.0.0.1:8081`), `KAKUNIN_ISSUER_KEYS_DIR` (`data/issuer-keys`), `KAKUNIN_ISSUER_ID`
//! (`wjcs`), `KAKUNIN_ISSUER_NAME` (`西日本建設業保証株式会社`); the HMAC secret only from
//! `KAKUNIN_ISSUER_SECRET` or `KAKUNIN_ISSUER_SECRET_FILE` (required by `serve`, `issue`
//! and `demo-seed` unless `--demo`); `KAKUNIN_ISSUER_LOG` filters the log.
//!
//! What is stored where: auth keys as HMAC-SHA-256 for lookups and a copy sealed with
//! AES-256-GCM-SIV for 「認証キー」の表示 (never in clear; [`crypto::seal_auth_key`],
//! a departure from issuer-protocol.md §2 explained in README), bearer tokens and
//! session ids as SHA-256, passwords as argon2id, private signing keys only as files.

/// The SQLite pool, shared with the service ([`kakunin_platform::sqlite`]).
pub use kakunin_platform::sqlite as db;

pub mod api;
pub mod app;
pub mod cli;
pub mod commands;
pub mod crypto;
pub mod error;
pub mod input;
pub mod issuance;
pub mod keyring;
pub mod lookup;
pub mod notice;
pub mod pages;
pub mod problem;
pub mod schema;
pub mod seed;
pub mod server;
pub mod session;
pub mod settings;
pub mod store;
pub mod templates;

/// The issuer's migrations, applied by every command that opens the database.
pub const MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations");
