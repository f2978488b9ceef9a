//! The `kakunin` command line: one module per command group.

pub mod accounts;
pub mod audit;
pub mod record;
pub mod serve;
