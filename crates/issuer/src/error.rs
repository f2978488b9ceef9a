//! The error of the issuer's operations, and the policy for showing it.
//!
//! Policy:
//! - Store, key and issuance code returns [`IssuerError`]. Its `Display` is a Japanese
//!   sentence a person can act on, naming the file, field or number concerned.
//! - Three front ends map it, each in one place: the CLI prints it and exits with status
//!   1 (`cli.rs`); the HTTP API turns it into problem+json (`problem.rs`), where anything
//!   not caused by the request is a 500 whose detail says nothing about the cause (the
//!   cause goes to the log); the contractor pages render an error page (`pages.rs`).
//! - No message ever carries a secret: not an auth key, bearer token, password, session
//!   id or the HMAC secret. Certificate numbers and client names are not secret.

use crate::db::DbError;

use super::notice::NoticeError;
use super::settings::SettingsError;
use kakunin_platform::keyfile::KeyFileError;

#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Notice(#[from] NoticeError),
    /// The content of a file or form is wrong; the message says what and where.
    #[error("{0}")]
    Input(String),
    #[error("保証契約番号 {0} の証書は既に発行されています。別の番号を指定してください。")]
    Duplicate(String),
    #[error("保証契約番号 {0} の証書はありません。")]
    UnknownCertificate(String),
    #[error("保証契約番号 {0} の証書は解約済みのため、変更・解約できません。")]
    Cancelled(String),
    #[error("受注者のログインID「{0}」は登録されていません。")]
    UnknownContractor(String),
    #[error("受注者のログインID「{0}」は既に登録されています。")]
    DuplicateContractor(String),
    #[error("照会クライアント「{0}」は既に登録されています。")]
    DuplicateClient(String),
    #[error("照会クライアント「{0}」は登録されていません。")]
    UnknownClient(String),
    #[error("{path} に書き込めません: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<diesel::result::Error> for IssuerError {
    fn from(e: diesel::result::Error) -> Self {
        IssuerError::Db(DbError::Query(e))
    }
}

impl IssuerError {
    pub fn write(path: &std::path::Path, source: std::io::Error) -> Self {
        IssuerError::Write {
            path: path.display().to_string(),
            source,
        }
    }
}

/// What can go wrong with a signing key of the keyring.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "鍵ID「{0}」は使えません。英数字と . _ - で1～64文字にしてください（例: wjcs-2025）。"
    )]
    BadKid(String),
    #[error("鍵ID「{0}」は既に登録されています。別の鍵IDを指定してください。")]
    KidExists(String),
    /// The key file itself: missing, present already, readable by others, not PKCS#8.
    #[error(transparent)]
    File(#[from] KeyFileError),
    #[error("鍵ファイル {0} の公開鍵がデータベースに登録された公開鍵と一致しません。")]
    Mismatch(String),
    #[error("有効な署名鍵がありません。`kakunin-issuer keygen --kid 鍵ID` で作成してください。")]
    NoActiveKey,
    #[error("データベースの公開鍵（鍵ID「{0}」）が壊れています。")]
    BadStoredKey(String),
    #[error("日時「{0}」は RFC 3339 形式（例: 2025-01-01T00:00:00+09:00）で指定してください。")]
    BadTime(String),
}
