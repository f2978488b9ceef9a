//! Settings of the reference issuer, from the environment (`service.md`, "The reference
//! issuer's settings") or the matching command-line options.
//!
//! The HMAC secret is read from the environment only, never from an option: command
//! lines are visible to every user of the machine (`ps`).

use std::path::{Path, PathBuf};

use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretSlice};

/// Settings shared by every command. Each option can also be given by its variable.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// 保証事業会社のデータベース（SQLite ファイル）
    #[arg(
        long = "database-url",
        env = "KAKUNIN_ISSUER_DATABASE_URL",
        default_value = "data/issuer.db",
        global = true,
        value_name = "ファイル"
    )]
    pub database_url: String,

    /// 待ち受けるアドレス（serve）と、demo-seed が書く base_url の既定値
    #[arg(
        long,
        env = "KAKUNIN_ISSUER_BIND",
        default_value = "127.0.0.1:8081",
        global = true,
        value_name = "アドレス:ポート"
    )]
    pub bind: String,

    /// 署名用秘密鍵（{kid}.pem、PKCS#8 PEM、モード0600）を置くディレクトリ
    #[arg(
        long = "keys-dir",
        env = "KAKUNIN_ISSUER_KEYS_DIR",
        default_value = "data/issuer-keys",
        global = true,
        value_name = "ディレクトリ"
    )]
    pub keys_dir: PathBuf,

    /// 保証事業会社のID（証書の issuer.id、信頼登録簿の id）
    #[arg(
        long = "issuer-id",
        env = "KAKUNIN_ISSUER_ID",
        default_value = "wjcs",
        global = true,
        value_name = "ID"
    )]
    pub issuer_id: String,

    /// 保証事業会社の名称（証書の issuer.name）
    #[arg(
        long = "issuer-name",
        env = "KAKUNIN_ISSUER_NAME",
        default_value = "西日本建設業保証株式会社",
        global = true,
        value_name = "名称"
    )]
    pub issuer_name: String,

    /// https で待ち受けるときのサーバー証明書（PEM、中間 CA を含むチェーン）。--tls-key と両方を指定します
    #[arg(
        long = "tls-cert",
        env = "KAKUNIN_ISSUER_TLS_CERT",
        global = true,
        value_name = "ファイル"
    )]
    pub tls_cert: Option<PathBuf>,

    /// https で待ち受けるときのサーバー証明書の秘密鍵（PEM）。--tls-cert と両方を指定します
    #[arg(
        long = "tls-key",
        env = "KAKUNIN_ISSUER_TLS_KEY",
        global = true,
        value_name = "ファイル"
    )]
    pub tls_key: Option<PathBuf>,

    /// 開発・デモ用: KAKUNIN_ISSUER_SECRET がなければ固定のデモ用秘密を使います（本番では使わないでください）
    #[arg(long, global = true)]
    pub demo: bool,
}

/// Variable holding the HMAC secret for auth-key hashes (and, through HKDF, the key
/// that seals the copy of each auth key, `crypto::seal_auth_key`).
pub const SECRET_ENV: &str = "KAKUNIN_ISSUER_SECRET";
/// Variable naming a file that holds the secret instead.
pub const SECRET_FILE_ENV: &str = "KAKUNIN_ISSUER_SECRET_FILE";
/// Variable naming the PEM certificate chain for https (`service.md`, Additions).
pub const TLS_CERT_ENV: &str = "KAKUNIN_ISSUER_TLS_CERT";
/// Variable naming the PEM private key for https.
pub const TLS_KEY_ENV: &str = "KAKUNIN_ISSUER_TLS_KEY";
/// Shortest secret accepted, in bytes: an HMAC key shorter than the hash adds nothing
/// but guessability.
pub const MIN_SECRET_LEN: usize = 32;

/// The fixed secret of `--demo`. Anyone can read it here, so keys hashed under it protect
/// nothing; it exists so that a demo runs without setup. Its name says so in every log.
const DEMO_SECRET: &str = "kakunin-issuer-DEMO-ONLY-secret-not-for-production-use";

/// The issuer's HMAC secret (at least [`MIN_SECRET_LEN`] bytes). Held in a
/// [`SecretSlice`]: Debug shows `[REDACTED]`, the bytes are wiped on drop, and only
/// [`ExposeSecret::expose_secret`] gives them, to the HMACs and to the HKDF of the key
/// that seals auth keys (`crypto`).
#[derive(Clone, Debug)]
pub struct IssuerSecret(SecretSlice<u8>);

impl ExposeSecret<[u8]> for IssuerSecret {
    fn expose_secret(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

/// Where the secret came from, for the start-up log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    Env,
    File,
    Demo,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{SECRET_ENV} が設定されていません。認証キーのハッシュに使う秘密（{MIN_SECRET_LEN}文字以上、例: 64桁の16進数）を環境変数 {SECRET_ENV} か、それを書いたファイルのパスを {SECRET_FILE_ENV} に設定してください。開発・デモでは --demo を付けると固定のデモ用秘密を使います。")]
    Missing,
    #[error(
        "{SECRET_ENV} と {SECRET_FILE_ENV} の両方が設定されています。どちらか一方にしてください。"
    )]
    Both,
    #[error("{SECRET_FILE_ENV} のファイル {path} を読み込めません: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The secret file may be read by others (or cannot be looked at).
    #[error("{SECRET_FILE_ENV}: {0}")]
    Private(String),
    #[error("{TLS_CERT_ENV} と {TLS_KEY_ENV} は両方を設定してください（https で待ち受けるには、サーバー証明書のチェーンとその秘密鍵の両方が要ります。http で待ち受けるなら両方とも外してください）。")]
    TlsHalf,
    #[error("認証キーのハッシュに使う秘密が短すぎます（{found}バイト、{MIN_SECRET_LEN}バイト以上必要です）。")]
    TooShort { found: usize },
    /// `given_by` names the variable or the option the value came from.
    #[error("{given_by}: 待ち受けアドレス「{value}」は 127.0.0.1:8081 のように、アドレスと 0 以上 65535 以下のポートを : でつないで書いてください。")]
    Bind { given_by: String, value: String },
    /// The issuer's id or name, as `issuer` of every record signs it (§4).
    #[error(
        "{given_by}: {what}{why}証書に署名され、お知らせにも印刷される値です（例: {example}）。"
    )]
    Identity {
        given_by: String,
        what: String,
        why: String,
        example: String,
    },
}

impl Settings {
    /// The issuer secret: from `KAKUNIN_ISSUER_SECRET`, or the file named by
    /// `KAKUNIN_ISSUER_SECRET_FILE` (one of them, not both), or with `--demo` only, the
    /// fixed demo secret.
    pub fn secret(&self) -> Result<(IssuerSecret, SecretSource), SettingsError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match (var(SECRET_ENV).map(Zeroizing::new), var(SECRET_FILE_ENV)) {
            (Some(_), Some(_)) => Err(SettingsError::Both),
            (Some(value), None) => Ok((checked(value.as_bytes())?, SecretSource::Env)),
            (None, Some(path)) => {
                // A secret others can read is no secret (the service's group may).
                kakunin_platform::keyfile::check_not_public(std::path::Path::new(&path))
                    .map_err(|e| SettingsError::Private(e.to_string()))?;
                let text = Zeroizing::new(
                    std::fs::read_to_string(&path)
                        .map_err(|source| SettingsError::File { path, source })?,
                );
                // A trailing newline is how editors and `echo` end a file, not part of the secret.
                let value = text.trim_end_matches(['\n', '\r']).as_bytes();
                Ok((checked(value)?, SecretSource::File))
            }
            (None, None) if self.demo => Ok((
                IssuerSecret(DEMO_SECRET.as_bytes().to_vec().into()),
                SecretSource::Demo,
            )),
            (None, None) => Err(SettingsError::Missing),
        }
    }

    /// The files `serve` takes its https certificate chain and key from: both or
    /// neither (`None`: plain http). One alone is an error rather than a silent
    /// fallback to http, which would leave relying parties unable to connect.
    pub fn tls(&self) -> Result<Option<(&Path, &Path)>, SettingsError> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some((cert, key))),
            (None, None) => Ok(None),
            _ => Err(SettingsError::TlsHalf),
        }
    }

    /// Checks what the options' types do not: the listen address has a port in range.
    /// Run for every command, so that a bad address stops `registry` and `demo-seed`
    /// (which write it into a base URL) as it stops `serve`. `matches` tells whether
    /// the value came from the variable or the option, so the message names that one.
    pub fn check(&self, matches: &clap::ArgMatches) -> Result<(), SettingsError> {
        let given_by = |id: &str, env: &str, flag: &str| match matches.value_source(id) {
            Some(clap::parser::ValueSource::EnvVariable) => format!("環境変数 {env}"),
            Some(clap::parser::ValueSource::CommandLine) => format!("オプション {flag}"),
            _ => "既定値".to_owned(),
        };
        // Both are signed into every record (§4 `issuer`) and printed on every notice.
        let identity = [
            (
                "issuer_id",
                "KAKUNIN_ISSUER_ID",
                "--issuer-id",
                &self.issuer_id,
                "保証事業会社のID",
                "wjcs",
            ),
            (
                "issuer_name",
                "KAKUNIN_ISSUER_NAME",
                "--issuer-name",
                &self.issuer_name,
                "保証事業会社の名称",
                "西日本建設業保証株式会社",
            ),
        ];
        for (id, env, flag, value, what, example) in identity {
            // As an issue file's texts are: refused, never dropped from what is signed.
            let spaced = id == "issuer_id" && value.chars().any(char::is_whitespace);
            let why = kakunin_platform::text::verbatim_problem(value, true).or_else(|| {
                spaced.then(|| "に空白があります。空白のない英数字で書いてください。".to_owned())
            });
            if let Some(why) = why {
                return Err(SettingsError::Identity {
                    given_by: given_by(id, env, flag),
                    what: what.to_owned(),
                    why,
                    example: example.to_owned(),
                });
            }
        }
        if bind_is_valid(&self.bind) {
            return Ok(());
        }
        Err(SettingsError::Bind {
            given_by: given_by("bind", "KAKUNIN_ISSUER_BIND", "--bind"),
            value: self.bind.clone(),
        })
    }

    /// The base URL relying parties reach this issuer at, when nothing else is given:
    /// `https://` when the server serves TLS.
    pub fn default_base_url(&self) -> String {
        let scheme = match self.tls() {
            Ok(Some(_)) => "https",
            _ => "http",
        };
        format!("{scheme}://{}", self.bind)
    }
}

fn checked(value: &[u8]) -> Result<IssuerSecret, SettingsError> {
    if value.len() < MIN_SECRET_LEN {
        return Err(SettingsError::TooShort { found: value.len() });
    }
    Ok(IssuerSecret(value.to_vec().into()))
}

/// `KAKUNIN_ISSUER_BIND` / `--bind`: a host (IP address or name) and a port from 0 to
/// 65535, as `actix-web` binds it.
fn bind_is_valid(value: &str) -> bool {
    if value.parse::<std::net::SocketAddr>().is_ok() {
        return true;
    }
    matches!(value.rsplit_once(':'), Some((host, port))
        if !host.is_empty()
            && !host.contains(':')
            && !host.contains(char::is_whitespace)
            && port.parse::<u16>().is_ok())
}

/// Logs where the secret came from; for the demo secret, a warning that says plainly
/// that the hashes and sealed keys it makes protect nothing.
pub fn log_secret_source(source: SecretSource) {
    match source {
        SecretSource::Env => tracing::info!("認証キーのハッシュ用秘密: 環境変数 {SECRET_ENV}"),
        SecretSource::File => {
            tracing::info!("認証キーのハッシュ用秘密: {SECRET_FILE_ENV} のファイル")
        }
        SecretSource::Demo => tracing::warn!(
            "デモ用の固定秘密で動作しています（--demo）。本番では {SECRET_ENV} を設定してください。 \
             DEMO SECRET IN USE: auth-key hashes and sealed keys are not protected"
        ),
    }
}

/// A valid secret for unit tests of other modules.
#[cfg(test)]
pub(crate) fn tests_secret() -> IssuerSecret {
    IssuerSecret(vec![7u8; MIN_SECRET_LEN].into())
}

/// Another valid secret, for tests that a value made under one does not open under
/// the other.
#[cfg(test)]
pub(crate) fn tests_other_secret() -> IssuerSecret {
    IssuerSecret(vec![9u8; MIN_SECRET_LEN].into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_are_refused_and_debug_hides_the_secret() {
        assert!(matches!(
            checked(b"short"),
            Err(SettingsError::TooShort { found: 5 })
        ));
        let s = checked(&[b'a'; 40]).unwrap();
        assert_eq!(s.expose_secret(), &[b'a'; 40]);
        assert!(!format!("{s:?}").contains("aaaa"));
        assert!(!format!("{s:#?}").contains("aaaa"));
        assert!(format!("{s:?}").contains("REDACTED"));
    }

    #[test]
    fn bind_takes_an_address_and_a_port_in_range() {
        for good in ["127.0.0.1:8081", "[::1]:0", "localhost:65535", "0.0.0.0:80"] {
            assert!(bind_is_valid(good), "{good}");
        }
        for bad in [
            "127.0.0.1",
            "127.0.0.1:65536",
            "127.0.0.1:-1",
            ":8081",
            "::1:8081",
            "host:port",
            "",
        ] {
            assert!(!bind_is_valid(bad), "{bad}");
        }
    }

    /// [`Settings::check`] on a command line as the program reads it.
    fn check(args: &[&str]) -> Result<(), SettingsError> {
        let matches = crate::cli::command().try_get_matches_from(args).unwrap();
        let cli = <crate::cli::Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap();
        cli.settings.check(&matches)
    }

    /// The one test that sets `KAKUNIN_ISSUER_BIND`; the others name `--bind`, which
    /// wins over the variable, so they cannot see it.
    #[test]
    fn a_bad_bind_names_the_option_or_the_variable() {
        let e = check(&["kakunin-issuer", "--bind", "127.0.0.1:99999", "registry"]).unwrap_err();
        assert!(e.to_string().starts_with("オプション --bind: "), "{e}");
        assert!(
            e.to_string().contains("「127.0.0.1:99999」") && e.to_string().contains("65535"),
            "{e}"
        );
        assert!(check(&["kakunin-issuer", "registry", "--bind", "[::1]:8081"]).is_ok());

        std::env::set_var("KAKUNIN_ISSUER_BIND", "issuer.example:http");
        let from_env = check(&["kakunin-issuer", "registry"]);
        std::env::remove_var("KAKUNIN_ISSUER_BIND");
        let e = from_env.unwrap_err();
        assert!(
            e.to_string().starts_with("環境変数 KAKUNIN_ISSUER_BIND: "),
            "{e}"
        );
    }

    /// The id and name are signed into every record: blank, multi-line or carrying an
    /// invisible character, they are refused at start, naming the option.
    #[test]
    fn an_issuer_id_or_name_that_cannot_be_read_is_refused() {
        let check = |args: &[&str]| check(args).map_err(|e| e.to_string());
        for (flag, value, says) in [
            ("--issuer-name", "\u{3000}", "保証事業会社の名称が空です"),
            ("--issuer-name", "西日本\n建設業保証", "制御文字"),
            ("--issuer-name", "西日本\u{202E}社会式株", "見えない文字"),
            ("--issuer-id", "wj cs", "保証事業会社のIDに空白"),
            ("--issuer-id", "wjcs\u{200B}", "見えない文字"),
            ("--issuer-id", "\u{301}", "保証事業会社のIDが空です"),
        ] {
            let args = [
                "kakunin-issuer",
                flag,
                value,
                "registry",
                "--bind",
                "127.0.0.1:8081",
            ];
            let e = check(&args).unwrap_err();
            assert!(
                e.starts_with(&format!("オプション {flag}: ")),
                "{value:?}: {e}"
            );
            assert!(e.contains(says), "{value:?}: {e}");
        }
        assert!(check(&[
            "kakunin-issuer",
            "--issuer-name",
            "九州建設保証 株式会社",
            "registry",
            "--bind",
            "127.0.0.1:8081"
        ])
        .is_ok());
    }
}
