//! kakunin-testkit (dev-dependency only): one way for every test and bench to start the
//! real programs on loopback, each with its own temporary directory and database.
//!
//! - [`issuer`]: the real `kakunin-issuer`, seeded with the demo data.
//! - [`service`]: the real `kakunin serve`, and a browser-like HTTP client that signs in.
//! - [`browser`]: headless Chromium driven through chromedriver.
//! - [`bins`]: where the workspace's binaries are, built on first use.

pub mod bins;
pub mod browser;
pub mod issuer;
pub mod service;
