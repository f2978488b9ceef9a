//! The command line of both programs in Japanese: clap's `Usage:` / `Commands:` /
//! `Options:` headings, its `-h` / `-V` help texts and its error messages
//! (`error: unexpected argument …`) are English; [`localize`] gives every command of a
//! program Japanese headings and [`matches()`] parses with Japanese error messages.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, ArgMatches, Command};

/// Lets a one-shot command end as a Unix tool does when the reader of its output goes
/// away (`kakunin evidence verify … | head`): killed quietly by SIGPIPE, the shell's
/// status 141, instead of Rust's panic at the next `println!`
/// (`failed printing to stdout: Broken pipe`).
///
/// Rust starts every program with SIGPIPE ignored, so that a write to a closed pipe or
/// socket is an error to handle. Servers keep it so: TLS libraries write to sockets with
/// `writev`, which takes no `MSG_NOSIGNAL`, and a client that hangs up must not kill
/// the server. Call this only in commands that print and talk to no network while
/// they do (or after their last network call).
pub fn end_quietly_on_closed_pipe() {
    // SAFETY: setting a signal's disposition to its default touches no Rust state and
    // installs no handler; the call cannot fail for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Who runs this command, for the audit log: the operating-system account the process
/// runs as (the owner of `/proc/self`, named from `/etc/passwd`, else `uid1001`), and,
/// when that is root through `sudo`, the account that ran `sudo` (`root/sudo:taro`).
/// Not `$USER`, which any caller sets to anything and cron and systemd leave unset.
pub fn operator() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "unknown".to_owned();
    };
    let name = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| account_of(&passwd, uid))
        .unwrap_or_else(|| format!("uid{uid}"));
    match std::env::var("SUDO_USER") {
        Ok(by) if uid == 0 && !by.is_empty() => format!("{name}/sudo:{by}"),
        _ => name,
    }
}

/// The account name of `uid` in a `passwd` file's text.
fn account_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?.parse::<u32>().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

/// Why a server cannot listen on `bind`, in Japanese: the address, the setting that
/// gives it (`named`, e.g. `設定 server.bind / 環境変数 KAKUNIN_BIND`) and the system's
/// reason, said in words for the usual ones (the OS's own text is English).
pub fn listen_error(bind: &str, named: &str, e: &std::io::Error) -> std::io::Error {
    use std::io::ErrorKind;
    let why = match e.kind() {
        ErrorKind::AddrInUse => "このアドレスとポートはほかのプログラムが使っています".to_owned(),
        ErrorKind::AddrNotAvailable => {
            "この機械のアドレスではありません（この機械の IP アドレスか 127.0.0.1、0.0.0.0 を書いてください）"
                .to_owned()
        }
        ErrorKind::PermissionDenied => {
            "権限がありません（1024 未満のポートには特別な権限が要ります）".to_owned()
        }
        _ => e.to_string(),
    };
    let code = e
        .raw_os_error()
        .map(|c| format!("（OS のエラー {c}）"))
        .unwrap_or_default();
    std::io::Error::new(
        e.kind(),
        format!("{bind} で待ち受けできません（{named}）: {why}{code}"),
    )
}

/// Why a file named on the command line cannot be read, in Japanese words for the usual
/// reasons (the OS's own text is English), with the OS's error number for the rest.
pub fn read_error(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => "ファイルがありません（パスを確かめてください）".to_owned(),
        ErrorKind::PermissionDenied => "読む権限がありません".to_owned(),
        ErrorKind::IsADirectory => "フォルダーです（ファイルを指定してください）".to_owned(),
        _ => match e.raw_os_error() {
            Some(code) => format!("読めません（OS のエラー {code}: {e}）"),
            None => format!("読めません（{e}）"),
        },
    }
}

/// The UTF-8 byte order mark that Windows tools (Notepad, Excel's 「CSV UTF-8」) write
/// first in a file.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// `bytes` without one leading [`UTF8_BOM`]: files people save and hand to either
/// program (issue and amend files, records, evidence bundles, CSV) may start with one,
/// and RFC 8259 §8.1 lets a JSON reader ignore it. A second mark, or one anywhere else,
/// stays and is refused by the parser.
pub fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes)
}

/// Why a JSON file does not read as what was expected (`what`, e.g. 「証拠一式」), in
/// Japanese, with the place (line and column, 1-based) serde_json stopped at; serde's
/// own English sentence is left out.
pub fn json_error(e: &serde_json::Error, what: &str) -> String {
    use serde_json::error::Category;
    let at = format!("{}行目 {}文字目", e.line(), e.column());
    match e.classify() {
        Category::Syntax => format!("JSON として読めません（{at}）"),
        Category::Eof => format!("JSON が途中で終わっています（{at}）"),
        Category::Data => format!("JSON ですが{what}の形ではありません（{at}）"),
        Category::Io => "読み込みが途中で失敗しました".to_owned(),
    }
}

const HELP_TEMPLATE: &str = "{about-with-newline}\n使い方: {usage}\n\n{all-args}{after-help}";

/// The command with Japanese headings (使い方 / コマンド / 引数 / オプション) and
/// Japanese help and version flags, on it and on every subcommand, recursively. Options
/// marked global (settings shared by every command) come after a command's own.
pub fn localize(cmd: Command) -> Command {
    localize_one(cmd, true)
}

fn localize_one(cmd: Command, root: bool) -> Command {
    let mut cmd = cmd
        .help_template(HELP_TEMPLATE)
        .subcommand_help_heading("コマンド")
        .subcommand_value_name("コマンド")
        .disable_help_subcommand(true)
        .disable_help_flag(true)
        .mut_args(|a| {
            let a = japanese_notes(a);
            let a = if a.is_global_set() {
                a.display_order(100)
            } else {
                a
            };
            if a.get_help_heading().is_some() {
                a
            } else if a.is_positional() {
                a.help_heading("引数")
            } else {
                a.help_heading("オプション")
            }
        })
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("ヘルプを表示します")
                .help_heading("オプション"),
        );
    // A command without a version has no version flag to translate (clap refuses one).
    if root && cmd.get_version().is_some() {
        cmd = cmd.disable_version_flag(true).arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("バージョンを表示します")
                .help_heading("オプション"),
        );
    }
    cmd.mut_subcommands(|sub| localize_one(sub, false))
}

/// An argument without a value name gets 値 (clap would show its id in capitals), and
/// clap's English notes after an argument's help (`[default: …]`, `[possible values: …]`,
/// `[env: …]`) said in Japanese instead: 【既定: …、使える値: …、環境変数: …】.
fn japanese_notes(a: Arg) -> Arg {
    let takes_values = a.get_action().takes_values();
    // Without a value name clap shows the argument's id in capitals (`<TARGET>`).
    let a = if takes_values && a.get_value_names().is_none() {
        a.value_name("値")
    } else {
        a
    };
    let mut notes = Vec::new();
    if takes_values && !a.is_hide_default_value_set() && !a.get_default_values().is_empty() {
        let defaults: Vec<String> = a
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        notes.push(format!("既定: {}", defaults.join("、")));
    }
    if takes_values && !a.is_hide_possible_values_set() {
        let values: Vec<String> = a
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_owned())
            .collect();
        if !values.is_empty() {
            notes.push(format!("使える値: {}", values.join("、")));
        }
    }
    if !a.is_hide_env_set() {
        if let Some(env) = a.get_env() {
            notes.push(format!("環境変数: {}", env.to_string_lossy()));
        }
    }
    if notes.is_empty() {
        return a;
    }
    let notes = format!("【{}】", notes.join("、"));
    let help = a.get_help().map(ToString::to_string).unwrap_or_default();
    let long = a.get_long_help().map(ToString::to_string);
    let mut a = a
        .help(format!("{help} {notes}").trim().to_owned())
        .hide_default_value(true)
        .hide_possible_values(true)
        .hide_env(true);
    if let Some(long) = long {
        a = a.long_help(format!("{long}\n{notes}"));
    }
    a
}

/// Help text with the one English word clap's usage line keeps whatever the template:
/// `[OPTIONS]` becomes `[オプション]`.
pub fn japanese_help(rendered: &str) -> String {
    rendered.replace("[OPTIONS]", "[オプション]")
}

/// `cmd`'s help (`--help`) as the program prints it: for tests and documentation.
pub fn render_help(cmd: &mut Command) -> String {
    japanese_help(&cmd.render_long_help().to_string())
}

/// Parses the process's arguments with [`localize`]d `cmd`. `--help` and `--version`
/// print and exit 0; a usage error prints [`message_ja`] on standard error and exits 2
/// (clap's status for usage errors).
pub fn matches(cmd: Command) -> ArgMatches {
    let name = cmd.get_name().to_owned();
    match localize(cmd).try_get_matches() {
        Ok(m) => m,
        Err(e) => exit(&name, &e),
    }
}

/// Prints `エラー: {message}` to standard error, its control and format characters
/// other than line breaks written out as `<U+001B>`
/// ([`crate::text::escape_invisible`]). Messages quote what a person typed or a file
/// held (a login, a member name, a key id); an ESC there would otherwise drive the
/// terminal (`ESC[2J` clears it) and a U+202E would reverse the line. Every error either
/// program prints goes through here.
pub fn print_error(message: &str) {
    let shown: Vec<String> = message
        .split('\n')
        .map(|line| crate::text::escape_invisible(line).into_owned())
        .collect();
    eprintln!("エラー: {}", shown.join("\n"));
}

/// Ends the program for a clap error (also one from `FromArgMatches`): help and version
/// go to standard output, anything else to standard error in Japanese.
pub fn exit(program: &str, e: &clap::Error) -> ! {
    match e.kind() {
        ErrorKind::DisplayHelp => {
            print!("{}", japanese_help(&e.render().to_string()));
            std::process::exit(0)
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{}", japanese_help(&e.render().to_string()));
            std::process::exit(e.exit_code())
        }
        ErrorKind::DisplayVersion => e.exit(),
        _ => {
            print_error(&message_ja(e));
            eprintln!("使い方は `{program} --help` で表示できます。");
            std::process::exit(e.exit_code())
        }
    }
}

/// A clap error as one Japanese sentence naming what was typed and, where clap knows
/// it, what would have been accepted.
/// The bounds of a number range clap refused a value for: its ranged parsers say
/// `5000 is not in 0..=3650` (the one phrasing read here; anything else is `None`).
fn allowed_range(e: &clap::Error) -> Option<(String, String)> {
    let reason = std::error::Error::source(e)?.to_string();
    let (_, range) = reason.split_once(" is not in ")?;
    let (low, high) = range.split_once("..=")?;
    Some((low.trim().to_owned(), high.trim().to_owned()))
}

pub fn message_ja(e: &clap::Error) -> String {
    let ctx = |k: ContextKind| e.get(k).map(value).unwrap_or_default();
    let arg = ctx(ContextKind::InvalidArg);
    let given = ctx(ContextKind::InvalidValue);
    let mut msg = match e.kind() {
        ErrorKind::UnknownArgument => format!("「{arg}」というオプションはありません。"),
        ErrorKind::InvalidSubcommand => format!(
            "「{}」というコマンドはありません。",
            ctx(ContextKind::InvalidSubcommand)
        ),
        ErrorKind::MissingRequiredArgument => format!("{arg} を指定してください。"),
        ErrorKind::MissingSubcommand => "コマンドを指定してください。".to_owned(),
        ErrorKind::InvalidValue if given.is_empty() => {
            format!("{arg} に値を指定してください。")
        }
        ErrorKind::ValueValidation => {
            match allowed_range(e) {
                Some((low, high)) => {
                    format!("{arg} の値「{given}」は使えません。{low}～{high} の範囲で指定してください。")
                }
                None => format!("{arg} の値「{given}」は使えません。"),
            }
        }
        ErrorKind::InvalidValue => format!("{arg} の値「{given}」は使えません。"),
        ErrorKind::ArgumentConflict => format!(
            "{arg} と {} は同時に指定できません。",
            ctx(ContextKind::PriorArg)
        ),
        ErrorKind::NoEquals => format!("{arg} には = で値を付けてください。"),
        ErrorKind::TooManyValues => format!("{arg} の値「{given}」は余分です。"),
        ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            format!("{arg} の値の数が違います。")
        }
        ErrorKind::InvalidUtf8 => "引数に UTF-8 でない文字が含まれています。".to_owned(),
        _ => "コマンドラインを解釈できません。".to_owned(),
    };
    let valid = ctx(ContextKind::ValidValue);
    if !valid.is_empty() {
        msg.push_str(&format!("使える値: {valid}。"));
    }
    let suggested = [
        ContextKind::SuggestedArg,
        ContextKind::SuggestedSubcommand,
        ContextKind::SuggestedValue,
    ]
    .into_iter()
    .map(ctx)
    .find(|s| !s.is_empty());
    if let Some(s) = suggested {
        msg.push_str(&format!("「{s}」のことですか？"));
    }
    msg
}

fn value(v: &ContextValue) -> String {
    match v {
        ContextValue::String(s) => s.clone(),
        ContextValue::Strings(s) => s.join("、"),
        ContextValue::StyledStr(s) => s.to_string(),
        ContextValue::StyledStrs(s) => s
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("、"),
        ContextValue::Number(n) => n.to_string(),
        ContextValue::Bool(b) => b.to_string(),
        ContextValue::None => String::new(),
        _ => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_and_json_errors_are_said_in_japanese_with_the_place() {
        let missing = std::fs::read("/no/such/file").unwrap_err();
        assert_eq!(
            super::read_error(&missing),
            "ファイルがありません（パスを確かめてください）"
        );
        let not_json = serde_json::from_str::<serde_json::Value>("root:x:0:0").unwrap_err();
        assert_eq!(
            super::json_error(&not_json, "証拠一式"),
            "JSON として読めません（1行目 1文字目）"
        );
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Bundle {
            receipt: String,
        }
        let wrong = serde_json::from_str::<Bundle>("{\n  \"x\": 1\n}").unwrap_err();
        assert!(
            super::json_error(&wrong, "証拠一式")
                .starts_with("JSON ですが証拠一式の形ではありません（3行目"),
            "{}",
            super::json_error(&wrong, "証拠一式")
        );
    }

    use super::*;

    #[test]
    fn the_operator_is_named_from_the_passwd_file() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nkakunin:x:998:998::/var/lib/kakunin:/usr/sbin/nologin\n";
        assert_eq!(account_of(passwd, 998).as_deref(), Some("kakunin"));
        assert_eq!(account_of(passwd, 0).as_deref(), Some("root"));
        assert_eq!(account_of(passwd, 1001), None);
        assert!(!operator().is_empty());
    }

    fn sample() -> Command {
        Command::new("prog")
            .subcommand(
                Command::new("add")
                    .about("追加します")
                    .arg(Arg::new("login").long("login").required(true))
                    .arg(
                        Arg::new("scope")
                            .long("scope")
                            .value_name("範囲")
                            .help("使える操作")
                            .default_value("verify")
                            .value_parser(["verify", "read"])
                            .env("PROG_SCOPE"),
                    ),
            )
            .subcommand_required(true)
    }

    #[test]
    fn every_command_helps_with_japanese_headings() {
        let mut cmd = localize(sample());
        cmd.build();
        let top = render_help(&mut cmd);
        let add = render_help(cmd.find_subcommand_mut("add").unwrap());
        assert!(top.contains("使い方: prog <コマンド>"), "{top}");
        assert!(
            add.contains("使い方: prog add [オプション] --login <値>"),
            "{add}"
        );
        assert!(
            add.contains(
                "使える操作 【既定: verify、使える値: verify、read、環境変数: PROG_SCOPE】"
            ),
            "{add}"
        );
        for help in [top, add] {
            assert!(help.contains("使い方:"), "{help}");
            assert!(help.contains("オプション:"), "{help}");
            for english in [
                "Usage:",
                "Commands:",
                "Options:",
                "Arguments:",
                "Print help",
                "[OPTIONS]",
                "default:",
                "possible values",
                "env:",
            ] {
                assert!(!help.contains(english), "{english} in {help}");
            }
        }
    }

    #[test]
    fn usage_errors_read_in_japanese() {
        let e = localize(sample())
            .try_get_matches_from(["prog", "add"])
            .unwrap_err();
        let m = message_ja(&e);
        assert!(
            m.contains("--login") && m.ends_with("を指定してください。"),
            "{m}"
        );
        let e = localize(sample())
            .try_get_matches_from(["prog", "add", "--logn", "x"])
            .unwrap_err();
        let m = message_ja(&e);
        assert!(
            m.contains("「--logn」というオプションはありません") && m.contains("--login"),
            "{m}"
        );
    }

    #[test]
    fn a_number_out_of_range_says_the_range() {
        let cmd = Command::new("prog").arg(
            Arg::new("days")
                .long("days")
                .value_name("日数")
                .value_parser(clap::value_parser!(u32).range(0..=3650)),
        );
        let e = localize(cmd)
            .try_get_matches_from(["prog", "--days", "5000"])
            .unwrap_err();
        let m = message_ja(&e);
        assert!(
            m.contains("「5000」は使えません。0～3650 の範囲で指定してください。"),
            "{m}"
        );
    }
}
