//! Logging for both programs: text lines on standard error, coloured only on a terminal.
//! `make run`, systemd and the tests send standard error to a file or a pipe, where
//! colour codes would be bytes in the way of `grep` and of whoever reads the file.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: `filter` (EnvFilter syntax, already parsed), lines on
/// standard error, ANSI colours only when standard error is a terminal.
pub fn init(filter: EnvFilter) {
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
