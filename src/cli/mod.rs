//! The `kakunin` command line: one module per command group.

pub mod accounts;
pub mod audit;
pub mod batch;
pub mod db;
pub mod demo;
pub mod evidence;
pub mod issuer;
pub mod key;
pub mod record;
pub mod serve;
pub mod watch;
