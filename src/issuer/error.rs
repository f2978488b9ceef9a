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

use super::keyring::KeyError;
use super::notice::NoticeError;
use super::settings::SettingsError;

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
    #[error("パスワードのハッシュを作成できません: {0}")]
    Password(String),
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
