//! The context every issuer operation runs in: database, identity, keys directory and,
//! for the operations that hash auth keys, the issuer secret.

use std::path::PathBuf;

use crate::db::{self, DbPool};
use kakunin_protocol::payload::Issuer;

use super::error::IssuerError;
use super::settings::{log_secret_source, IssuerSecret, Settings, SettingsError};
use super::{store, MIGRATIONS};

#[derive(Clone, Debug)]
pub struct App {
    pub pool: DbPool,
    /// Who this issuer is: `issuer.id` and `issuer.name` of every payload it signs.
    pub issuer: Issuer,
    pub keys_dir: PathBuf,
    secret: Option<IssuerSecret>,
}

/// Whether an operation needs the HMAC secret (it hashes or checks auth keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    Needed,
    NotNeeded,
}

impl App {
    /// Opens the database (applying migrations) and, when needed, loads the secret; a
    /// missing secret stops here, before anything is changed.
    pub fn open(settings: &Settings, secret: Secret) -> Result<Self, IssuerError> {
        let secret = match secret {
            Secret::Needed => {
                let (secret, source) = settings.secret()?;
                log_secret_source(source);
                Some(secret)
            }
            Secret::NotNeeded => None,
        };
        let pool = db::open(&settings.database_url, MIGRATIONS)?;
        fold_contractor_logins(&pool)?;
        Ok(Self {
            pool,
            issuer: Issuer {
                id: settings.issuer_id.clone(),
                name: settings.issuer_name.clone(),
            },
            keys_dir: settings.keys_dir.clone(),
            secret,
        })
    }

    /// The HMAC secret; an error for an `App` opened without it.
    pub fn secret(&self) -> Result<&IssuerSecret, IssuerError> {
        self.secret
            .as_ref()
            .ok_or(IssuerError::Settings(SettingsError::Missing))
    }
}

/// Logins stored before they were folded ([`store::contractors::fold_logins`]) are
/// folded on every open, so that a database of any age signs in by one rule. The ones
/// left (their folded form is another contractor's) are named in the log.
fn fold_contractor_logins(pool: &DbPool) -> Result<(), IssuerError> {
    let mut conn = pool.get().map_err(db::DbError::from)?;
    let left = store::contractors::fold_logins(&mut conn)?;
    if !left.is_empty() {
        tracing::warn!(
            contractor_ids = ?left,
            "ログインIDを小文字の半角にそろえられない受注者があります（同じ綴りの受注者が別にいます）。どちらかのログインIDを変えてください"
        );
    }
    Ok(())
}
