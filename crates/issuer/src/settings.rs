//! Settings of the reference issuer, from the environment (`service.md`, "The reference
//! issuer's settings") or the matching command-line options.
//!
//! The HMAC secret is read from the environment only, never from an option: command
//! lines are visible to every user of the machine (`ps`).

use std::fmt;
use std::path::PathBuf;

/// Settings shared by every command. Each option can also be given by its variable.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// 発行者のデータベース（SQLite ファイル）
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

    /// 発行者ID（証書の issuer.id、信頼登録簿の id）
    #[arg(
        long = "issuer-id",
        env = "KAKUNIN_ISSUER_ID",
        default_value = "wjcs",
        global = true,
        value_name = "ID"
    )]
    pub issuer_id: String,

    /// 発行者の名称（証書の issuer.name）
    #[arg(
        long = "issuer-name",
        env = "KAKUNIN_ISSUER_NAME",
        default_value = "西日本建設業保証株式会社",
        global = true,
        value_name = "名称"
    )]
    pub issuer_name: String,

    /// 開発・デモ用: KAKUNIN_ISSUER_SECRET がなければ固定のデモ用秘密を使います（本番では使わないでください）
    #[arg(long, global = true)]
    pub demo: bool,
}

/// Variable holding the HMAC secret for auth-key hashes.
pub const SECRET_ENV: &str = "KAKUNIN_ISSUER_SECRET";
/// Variable naming a file that holds the secret instead.
pub const SECRET_FILE_ENV: &str = "KAKUNIN_ISSUER_SECRET_FILE";
/// Shortest secret accepted, in bytes: an HMAC key shorter than the hash adds nothing
/// but guessability.
pub const MIN_SECRET_LEN: usize = 32;

/// The fixed secret of `--demo`. Anyone can read it here, so keys hashed under it protect
/// nothing; it exists so that a demo runs without setup. Its name says so in every log.
const DEMO_SECRET: &str = "kakunin-issuer-DEMO-ONLY-secret-not-for-production-use";

/// The issuer's HMAC secret. Debug hides it.
#[derive(Clone)]
pub struct IssuerSecret(Vec<u8>);

impl IssuerSecret {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for IssuerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IssuerSecret(****)")
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
    #[error("認証キーのハッシュに使う秘密が短すぎます（{found}バイト、{MIN_SECRET_LEN}バイト以上必要です）。")]
    TooShort { found: usize },
}

impl Settings {
    /// The issuer secret: from `KAKUNIN_ISSUER_SECRET`, or the file named by
    /// `KAKUNIN_ISSUER_SECRET_FILE` (one of them, not both), or with `--demo` only, the
    /// fixed demo secret.
    pub fn secret(&self) -> Result<(IssuerSecret, SecretSource), SettingsError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match (var(SECRET_ENV), var(SECRET_FILE_ENV)) {
            (Some(_), Some(_)) => Err(SettingsError::Both),
            (Some(value), None) => Ok((checked(value.into_bytes())?, SecretSource::Env)),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| SettingsError::File { path, source })?;
                // A trailing newline is how editors and `echo` end a file, not part of the secret.
                let value = text.trim_end_matches(['\n', '\r']).as_bytes().to_vec();
                Ok((checked(value)?, SecretSource::File))
            }
            (None, None) if self.demo => Ok((
                IssuerSecret(DEMO_SECRET.as_bytes().to_vec()),
                SecretSource::Demo,
            )),
            (None, None) => Err(SettingsError::Missing),
        }
    }

    /// The base URL relying parties reach this issuer at, when nothing else is given.
    pub fn default_base_url(&self) -> String {
        format!("http://{}", self.bind)
    }
}

fn checked(value: Vec<u8>) -> Result<IssuerSecret, SettingsError> {
    if value.len() < MIN_SECRET_LEN {
        return Err(SettingsError::TooShort { found: value.len() });
    }
    Ok(IssuerSecret(value))
}

/// Logs where the secret came from; for the demo secret, a warning that says plainly
/// that the hashes it makes protect nothing.
pub fn log_secret_source(source: SecretSource) {
    match source {
        SecretSource::Env => tracing::info!("認証キーのハッシュ用秘密: 環境変数 {SECRET_ENV}"),
        SecretSource::File => {
            tracing::info!("認証キーのハッシュ用秘密: {SECRET_FILE_ENV} のファイル")
        }
        SecretSource::Demo => tracing::warn!(
            "デモ用の固定秘密で動作しています（--demo）。本番では {SECRET_ENV} を設定してください。 \
             DEMO SECRET IN USE: auth-key hashes are not protected"
        ),
    }
}

/// A valid secret for unit tests of other modules.
#[cfg(test)]
pub(crate) fn tests_secret() -> IssuerSecret {
    IssuerSecret(vec![7u8; MIN_SECRET_LEN])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_are_refused_and_debug_hides_the_secret() {
        assert!(matches!(
            checked(b"short".to_vec()),
            Err(SettingsError::TooShort { found: 5 })
        ));
        let s = checked(vec![b'a'; 40]).unwrap();
        assert!(!format!("{s:?}").contains("aaaa"));
    }
}
