//! The service's receipt-signing keys (確認記録の署名鍵): a directory beside the audit
//! key, `receipt-keys/`, holding one private key file per key (`<kid>.key`, PKCS#8 PEM,
//! mode 0600) and the public key set `keys.json` with each key's validity.
//!
//! A dedicated key, not the audit checkpoint key: receipts leave the office (they are
//! handed to auditors, printed, attached to files) and must stay verifiable after the
//! key is replaced, so this key is rotated (`kakunin key rotate`), and every key it ever
//! had stays published (`/.well-known/jwks.json`) with its validity window. The audit
//! key signs only what stays inside, and `kakunin audit verify` checks every checkpoint
//! with one key; rotating it would break that chain of proof for no gain.
//!
//! The set lives outside the database for the audit key's reason: whoever can rewrite
//! the database cannot add a key of their own to it.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use kakunin_platform::keyfile::{self, KeyFileError};
use kakunin_protocol::registry::TrustedKey;
use kakunin_protocol::time::jst;

/// The public key set's file name inside the key directory.
const SET_FILE: &str = "keys.json";

#[derive(Debug, thiserror::Error)]
pub enum ReceiptKeyError {
    #[error("確認記録の署名鍵 {0} がありません。`kakunin key rotate` で作成してください")]
    Missing(String),
    #[error("確認記録の署名鍵: {0}")]
    File(#[from] KeyFileError),
    #[error("確認記録の公開鍵一覧 {path} を読み書きできません: {reason}")]
    Set { path: String, reason: String },
}

/// One public key of the set with its validity, as `keys.json` and the evidence bundle
/// hold it: `x` is the raw Ed25519 public key, base64url without padding (RFC 8037);
/// times are RFC 3339 in Japan time; `not_after` is `null` for the current key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKey {
    pub kid: String,
    pub x: String,
    pub not_before: String,
    pub not_after: Option<String>,
}

impl PublicKey {
    fn of(kid: &str, key: &VerifyingKey, not_before: DateTime<FixedOffset>) -> Self {
        Self {
            kid: kid.to_owned(),
            x: URL_SAFE_NO_PAD.encode(key.as_bytes()),
            not_before: not_before.to_rfc3339_opts(SecondsFormat::Micros, false),
            not_after: None,
        }
    }

    /// A trusted key as the bundle writes it.
    pub fn of_trusted(key: &TrustedKey) -> Self {
        Self {
            kid: key.kid().to_owned(),
            x: URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
            not_before: key.not_before().to_rfc3339_opts(SecondsFormat::Secs, false),
            not_after: key
                .not_after()
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, false)),
        }
    }

    /// The key as the JWS checks take it; `None` when a member is malformed.
    pub fn trusted(&self) -> Option<TrustedKey> {
        let raw: [u8; 32] = URL_SAFE_NO_PAD.decode(&self.x).ok()?.try_into().ok()?;
        let key = VerifyingKey::from_bytes(&raw).ok()?;
        let not_before = DateTime::parse_from_rfc3339(&self.not_before).ok()?;
        let not_after = match &self.not_after {
            None => None,
            Some(t) => Some(DateTime::parse_from_rfc3339(t).ok()?),
        };
        Some(TrustedKey::new(&self.kid, key, not_before, not_after))
    }

    /// The JWK of RFC 8037 for `/.well-known/jwks.json`.
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.x,
            "kid": self.kid,
            "use": "sig",
            "alg": "EdDSA",
            "not_before": self.not_before,
            "not_after": self.not_after,
        })
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeySet {
    keys: Vec<PublicKey>,
}

/// The loaded set: the current private key and every public key, current and retired.
pub struct ReceiptKeys {
    kid: String,
    key: SigningKey,
    public: Vec<PublicKey>,
}

impl std::fmt::Debug for ReceiptKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptKeys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Where the receipt keys live: `receipt-keys/` beside the audit key file.
pub fn dir_beside(audit_key_file: &Path) -> PathBuf {
    audit_key_file
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("receipt-keys")
}

fn set_path(dir: &Path) -> PathBuf {
    dir.join(SET_FILE)
}

fn read_set(dir: &Path) -> Result<Option<KeySet>, ReceiptKeyError> {
    let path = set_path(dir);
    let shown = path.display().to_string();
    match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ReceiptKeyError::Set {
            path: shown,
            reason: e.to_string(),
        }),
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ReceiptKeyError::Set {
                path: shown,
                reason: e.to_string(),
            }),
    }
}

fn write_set(dir: &Path, set: &KeySet) -> Result<(), ReceiptKeyError> {
    let path = set_path(dir);
    let err = |e: std::io::Error| ReceiptKeyError::Set {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    // Written beside and renamed, so a crash never leaves half a key set.
    let tmp = dir.join(format!("{SET_FILE}.tmp"));
    let text = serde_json::to_string_pretty(set).expect("strings serialize");
    std::fs::write(&tmp, text + "\n").map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)
}

impl ReceiptKeys {
    /// Loads the set; the current key is the one without `not_after`.
    pub fn load(dir: &Path) -> Result<Self, ReceiptKeyError> {
        let missing = || ReceiptKeyError::Missing(set_path(dir).display().to_string());
        let set = read_set(dir)?.ok_or_else(missing)?;
        let current = set
            .keys
            .iter()
            .rfind(|k| k.not_after.is_none())
            .ok_or_else(missing)?;
        let key = keyfile::read(&dir.join(format!("{}.key", current.kid)))?;
        if URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()) != current.x {
            return Err(ReceiptKeyError::Set {
                path: set_path(dir).display().to_string(),
                reason: format!("鍵 {} の公開鍵が秘密鍵と一致しません", current.kid),
            });
        }
        Ok(Self {
            kid: current.kid.clone(),
            key,
            public: set.keys,
        })
    }

    /// Makes a new current key; the one before (if any) is retired as of `now` and
    /// stays in the set, so receipts it signed still verify. Returns the new set.
    pub fn rotate(dir: &Path, now: DateTime<Utc>) -> Result<Self, ReceiptKeyError> {
        let mut set = read_set(dir)?.unwrap_or_default();
        let now = now.with_timezone(&jst());
        // Microseconds, as receipts write `checked_at`: a retirement rounded down to the
        // second would fall before receipts signed in that same second.
        let stamp = now.to_rfc3339_opts(SecondsFormat::Micros, false);
        // The kid names the key and when it began, so two keys never share one.
        let kid_base = format!("kakunin-{}", now.format("%Y%m%dT%H%M%S"));
        let mut kid = kid_base.clone();
        let mut n = 1;
        while set.keys.iter().any(|k| k.kid == kid) {
            n += 1;
            kid = format!("{kid_base}-{n}");
        }
        let key = keyfile::create(&dir.join(format!("{kid}.key")))?;
        for old in set.keys.iter_mut().filter(|k| k.not_after.is_none()) {
            old.not_after = Some(stamp.clone());
        }
        set.keys
            .push(PublicKey::of(&kid, &key.verifying_key(), now));
        write_set(dir, &set)?;
        Self::load(dir)
    }

    /// Loads the set, or makes its first key when there is none yet.
    pub fn load_or_create(dir: &Path) -> Result<Self, ReceiptKeyError> {
        match Self::load(dir) {
            Err(ReceiptKeyError::Missing(_)) => Self::rotate(dir, Utc::now()),
            other => other,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// Every public key, current and retired, oldest first.
    pub fn public(&self) -> &[PublicKey] {
        &self.public
    }

    /// The JWK Set of RFC 7517 §5.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.public.iter().map(PublicKey::jwk).collect::<Vec<_>>() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_retires_the_old_key_and_keeps_it_published() {
        let dir = tempfile::tempdir().unwrap();
        let first = ReceiptKeys::load_or_create(dir.path()).unwrap();
        let second = ReceiptKeys::rotate(dir.path(), Utc::now()).unwrap();
        assert_ne!(first.kid(), second.kid());
        let keys = second.public();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].kid, first.kid());
        assert!(keys[0].not_after.is_some(), "the old key is retired");
        assert_eq!(keys[1].not_after, None, "the new key is current");
        assert_eq!(ReceiptKeys::load(dir.path()).unwrap().kid(), second.kid());
        assert!(keys.iter().all(|k| k.trusted().is_some()));
    }
}
