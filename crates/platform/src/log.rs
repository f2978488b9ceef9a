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

/// An error and every `source()` below it on one line, `outer: inner: cause`, for the log
/// and for a command's last words. A source whose text the line already ends with is not
/// repeated: many errors write their source into their own message (`…: {0}`) and
/// name it as their source too.
pub fn chain(cause: &(dyn std::error::Error + 'static)) -> String {
    let mut text = cause.to_string();
    let mut next = cause.source();
    while let Some(source) = next {
        let part = source.to_string();
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = source.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug, thiserror::Error)]
    #[error("鍵ファイル {0} は既にあります")]
    struct Exists(String);

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        /// Writes its source into its message and names it as its source too.
        #[error("確認記録の署名鍵: {0}")]
        Key(#[from] Exists),
    }

    #[test]
    fn a_source_its_error_already_wrote_is_said_once() {
        let e = Outer::from(Exists("k.key".into()));
        assert_eq!(
            chain(&e),
            "確認記録の署名鍵: 鍵ファイル k.key は既にあります"
        );
        let plain = std::io::Error::other(Exists("k.key".into()));
        assert_eq!(chain(&plain), "鍵ファイル k.key は既にあります");
    }
}
