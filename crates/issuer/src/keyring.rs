//! Signing keys: the private halves are files in the keys directory (`{kid}.pem`, PKCS#8
//! PEM, mode 0600), the public halves and validity are rows of the store.
//!
//! One key is active and signs new revisions. Rotation activates a new key and keeps
//! the old ones listed, so that revisions they signed (never re-signed: the stored JWS
//! is what was served) stay verifiable with the registry block printed back then.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, FixedOffset};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::Serialize;

use super::app::App;
use super::error::{IssuerError, KeyError};
use super::store::{self, keys::KeyRow};
use crate::db;
use kakunin_platform::keyfile;

/// Only these characters, so that a kid is always a safe file name and TOML string.
pub fn check_kid(kid: &str) -> Result<(), KeyError> {
    let ok = (1..=64).contains(&kid.len())
        && kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !kid.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(KeyError::BadKid(kid.to_owned()))
    }
}

fn key_path(dir: &Path, kid: &str) -> PathBuf {
    dir.join(format!("{kid}.pem"))
}

/// Generates a key and writes it as `{kid}.pem` with mode 0600 (the directory 0700 if
/// created). Never overwrites a file.
pub fn write_new_key(dir: &Path, kid: &str) -> Result<SigningKey, KeyError> {
    check_kid(kid)?;
    Ok(keyfile::create(&key_path(dir, kid))?)
}

/// Reads `{kid}.pem`, refusing a file that group or others may read: a signing key
/// that leaked may have signed anything.
pub fn read_key(dir: &Path, kid: &str) -> Result<SigningKey, KeyError> {
    check_kid(kid)?;
    Ok(keyfile::read(&key_path(dir, kid))?)
}

/// The JWK `x` of a public key: base64url without padding.
pub fn public_x(key: &VerifyingKey) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// A signing key as relying parties see it.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub kid: String,
    pub key: VerifyingKey,
    pub not_before: DateTime<FixedOffset>,
    pub active: bool,
}

impl KeyInfo {
    fn from_row(row: &KeyRow) -> Result<Self, KeyError> {
        let bad = || KeyError::BadStoredKey(row.kid.clone());
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(&row.public_x)
            .map_err(|_| bad())?
            .try_into()
            .map_err(|_| bad())?;
        Ok(Self {
            kid: row.kid.clone(),
            key: VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?,
            not_before: DateTime::parse_from_rfc3339(&row.not_before).map_err(|_| bad())?,
            active: row.active,
        })
    }

    /// The `[[issuer.key]]` block for a relying party's trust registry (§5).
    pub fn registry_block(&self) -> String {
        kakunin_protocol::registry::key_block(&self.kid, &self.key, self.not_before)
    }

    pub fn jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP",
            crv: "Ed25519",
            x: public_x(&self.key),
            kid: self.kid.clone(),
            r#use: "sig",
            alg: "EdDSA",
        }
    }
}

/// One member of the JWK Set of §6.
#[derive(Debug, Clone, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub r#use: &'static str,
    pub alg: &'static str,
}

/// The key that signs new revisions, loaded from its file.
pub struct Signer {
    pub kid: String,
    pub key: SigningKey,
}

/// Parses an optional `--not-before`; without one, the key is valid from now.
pub fn parse_not_before(text: Option<&str>) -> Result<DateTime<FixedOffset>, KeyError> {
    match text {
        Some(t) => DateTime::parse_from_rfc3339(t).map_err(|_| KeyError::BadTime(t.to_owned())),
        None => {
            let now = store::now_text();
            DateTime::parse_from_rfc3339(&now).map_err(|_| KeyError::BadTime(now))
        }
    }
}

/// How a new key relates to the existing ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `keygen`: active only if no key is active yet.
    IfNoneActive,
    /// `rotate-key`: active from now on; the previous key stops signing.
    Rotate,
}

/// Creates a key file and records it; the caller prints [`KeyInfo::registry_block`].
pub async fn create(
    app: &App,
    kid: &str,
    not_before: DateTime<FixedOffset>,
    activation: Activation,
) -> Result<KeyInfo, IssuerError> {
    check_kid(kid)?;
    let k = kid.to_owned();
    let taken = db::run(&app.pool, move |conn| {
        store::keys::find(conn, &k).map_err(IssuerError::from)
    })
    .await?;
    if taken.is_some() {
        return Err(KeyError::KidExists(kid.to_owned()).into());
    }
    let key = write_new_key(&app.keys_dir, kid)?;
    let row = KeyRow {
        kid: kid.to_owned(),
        public_x: public_x(&key.verifying_key()),
        // Stored in Japan time so that the text sorts chronologically.
        not_before: store::timestamp(not_before.with_timezone(&kakunin_protocol::time::jst())),
        active: false,
        created_at: store::now_text(),
        retired_at: None,
    };
    let row = db::run(&app.pool, move |conn| {
        conn.immediate_transaction(|conn| {
            let activate = match activation {
                Activation::Rotate => true,
                Activation::IfNoneActive => store::keys::active(conn)?.is_none(),
            };
            let row = KeyRow {
                active: activate,
                ..row
            };
            store::keys::insert(conn, &row)?;
            if activate {
                store::keys::activate(conn, &row.kid, &row.created_at)?;
            }
            Ok::<_, IssuerError>(row)
        })
    })
    .await?;
    Ok(KeyInfo::from_row(&row)?)
}

/// Every key ever recorded (the JWKS and registry list them all), by `not_before`.
pub async fn all(app: &App) -> Result<Vec<KeyInfo>, IssuerError> {
    let rows = db::run(&app.pool, |conn| {
        store::keys::all(conn).map_err(IssuerError::from)
    })
    .await?;
    rows.iter()
        .map(|r| KeyInfo::from_row(r).map_err(IssuerError::from))
        .collect()
}

/// The active key, loaded from its file and checked against its stored public half.
pub fn active_signer(
    conn: &mut diesel::SqliteConnection,
    keys_dir: &Path,
) -> Result<Signer, IssuerError> {
    let row = store::keys::active(conn)?.ok_or(KeyError::NoActiveKey)?;
    let key = read_key(keys_dir, &row.kid)?;
    if public_x(&key.verifying_key()) != row.public_x {
        return Err(KeyError::Mismatch(key_path(keys_dir, &row.kid).display().to_string()).into());
    }
    Ok(Signer { kid: row.kid, key })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn key_files_are_private_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let key = write_new_key(&keys, "wjcs-2025").unwrap();
        let mode = std::fs::metadata(keys.join("wjcs-2025.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            read_key(&keys, "wjcs-2025").unwrap().to_bytes(),
            key.to_bytes()
        );
        assert!(matches!(
            write_new_key(&keys, "wjcs-2025"),
            Err(KeyError::File(keyfile::KeyFileError::Exists(_)))
        ));
    }

    #[test]
    fn readable_key_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        write_new_key(dir.path(), "k1").unwrap();
        let path = dir.path().join("k1.pem");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_key(dir.path(), "k1").unwrap_err();
        assert!(
            matches!(
                e,
                KeyError::File(keyfile::KeyFileError::Permissive { mode: 0o644, .. })
            ),
            "{e}"
        );
        assert!(e.to_string().contains("chmod 600"));
    }

    #[test]
    fn kids_that_could_escape_the_directory_are_refused() {
        for bad in ["", "../x", "a/b", ".hidden", "鍵"] {
            assert!(check_kid(bad).is_err(), "{bad}");
        }
        check_kid("wjcs-demo-2025").unwrap();
    }
}
