//! kakunin-testkit (dev-dependency only): the one way for every test and bench to start
//! the real programs on loopback, each with its own temporary directory and database,
//! and to use them as their users do.
//!
//! - [`service`]: the real `kakunin serve`; accounts, tokens, signed-in clients.
//! - [`issuer`]: the real `kakunin-issuer serve`, seeded with the demo data.
//! - [`standin`]: a stand-in issuer on `wiremock`, answering lookups as a test scripts it.
//! - [`raw`]: a raw TCP issuer that trickles its body or does not speak HTTP.
//! - [`client`]: a browser-like client (cookies, CSRF) and an API client (bearer token).
//! - [`html`]: pages parsed with `scraper`, queried with CSS selectors.
//! - [`chrome`]: headless Chromium driven through chromedriver.
//! - [`process`]: how a `serve` is started: it binds port 0 and prints
//!   `待ち受けています: http://127.0.0.1:{port}/`, which the kit reads.
//! - [`sql`]: plain SQL on a program's database (SQLite or PostgreSQL).
//! - [`postgres`]: a private PostgreSQL cluster for the suite's PostgreSQL run.
//! - [`bins`]: where the workspace's binaries are, built on first use.
//! - [`tls`]: a private CA and server certificates of the test's own.

pub mod bins;
pub mod chrome;
pub mod client;
pub mod html;
pub mod issuer;
pub mod postgres;
pub mod process;
pub mod raw;
pub mod service;
pub mod sql;
pub mod standin;
pub mod tls;
