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
use kakunin_protocol::jws;
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

/// How long a retired key stays valid after `kakunin key rotate` (seconds). A running
/// service reads the new set within [`REFRESH_EVERY`] and signs with the new key from
/// then on; until then it still signs with the old one, so the old key's window must
/// reach past that switch, or those receipts would be signed by a key already retired.
pub const RETIRE_AFTER_SECONDS: i64 = 60;

/// How often `serve` looks at `keys.json` for a rotation (the file's size and time).
pub const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A private key this service may sign with, and its public half with its validity
/// window, as a receipt check reads it from the set.
struct SigningWindow {
    key: SigningKey,
    public: TrustedKey,
}

impl SigningWindow {
    fn kid(&self) -> &str {
        self.public.kid()
    }

    /// Whether a receipt of time `at` signed with this key verifies: the receipt check's
    /// own rule ([`jws::check_key_validity_at`]), so signing and checking cannot disagree.
    fn holds(&self, at: DateTime<FixedOffset>) -> bool {
        jws::check_key_validity_at(&self.public, at).is_ok()
    }
}

/// One reading of the key directory.
struct Loaded {
    /// Newest first: the current key, then retired keys whose window is still open (a
    /// rotation's last [`RETIRE_AFTER_SECONDS`]).
    signers: Vec<SigningWindow>,
    public: Vec<PublicKey>,
    /// `keys.json` as read: its length and modification time.
    stamp: Option<(u64, std::time::SystemTime)>,
}

/// The service's receipt keys: every public key, current and retired, and the private
/// keys it may still sign with. Shared by the whole service; [`refresh`](Self::refresh)
/// takes in a rotation made while it runs.
pub struct ReceiptKeys {
    dir: PathBuf,
    loaded: std::sync::RwLock<Loaded>,
    /// The current key of the installation as its database records it
    /// (`app::installation::sync_receipt_kid`): what every node must hold.
    installation_kid: std::sync::RwLock<Option<String>>,
}

impl std::fmt::Debug for ReceiptKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptKeys")
            .field("kid", &self.kid())
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

/// The public key set alone, as a machine without the private keys has it (an
/// auditor's copy of `keys.json`): `None` when there is no `keys.json`; an error when
/// there is one that cannot be read, which a check must not take for "no set".
pub fn read_public(dir: &Path) -> Result<Option<Vec<PublicKey>>, ReceiptKeyError> {
    Ok(read_set(dir)?.map(|set| set.keys))
}

fn stamp_of(dir: &Path) -> Option<(u64, std::time::SystemTime)> {
    let meta = std::fs::metadata(set_path(dir)).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// Reads the set and the private keys that may still sign at `now`.
fn read_loaded(dir: &Path, now: DateTime<Utc>) -> Result<Loaded, ReceiptKeyError> {
    let missing = || ReceiptKeyError::Missing(set_path(dir).display().to_string());
    let stamp = stamp_of(dir);
    let set = read_set(dir)?.ok_or_else(missing)?;
    let current = set
        .keys
        .iter()
        .rposition(|k| k.not_after.is_none())
        .ok_or_else(missing)?;
    let bad = |reason: String| ReceiptKeyError::Set {
        path: set_path(dir).display().to_string(),
        reason,
    };
    let mut signers = Vec::new();
    for (i, k) in set.keys.iter().enumerate().rev() {
        let public = k.trusted().ok_or_else(|| {
            bad(format!(
                "鍵 {} の公開鍵（x）または有効期間（not_before・not_after）が読めません",
                k.kid
            ))
        })?;
        let open = public.not_after().is_none_or(|end| end >= now);
        if i != current && !open {
            continue;
        }
        let file = dir.join(format!("{}.key", k.kid));
        let key = match keyfile::read(&file) {
            Ok(key) => key,
            // A retired key's file may have been moved away: it only signs nothing more.
            Err(_) if i != current => continue,
            Err(e) => return Err(e.into()),
        };
        if key.verifying_key() != *public.verifying_key() {
            return Err(bad(format!("鍵 {} の公開鍵が秘密鍵と一致しません", k.kid)));
        }
        let window = SigningWindow { key, public };
        // The current key first, whatever its place in the file.
        if i == current {
            signers.insert(0, window);
        } else {
            signers.push(window);
        }
    }
    Ok(Loaded {
        signers,
        public: set.keys,
        stamp,
    })
}

impl ReceiptKeys {
    /// Loads the set; the current key is the last one without `not_after`.
    pub fn load(dir: &Path) -> Result<Self, ReceiptKeyError> {
        Ok(Self {
            dir: dir.to_path_buf(),
            loaded: std::sync::RwLock::new(read_loaded(dir, Utc::now())?),
            installation_kid: std::sync::RwLock::new(None),
        })
    }

    /// Makes a new current key, valid from `now`; the one before (if any) is retired
    /// [`RETIRE_AFTER_SECONDS`] after `now` and stays in the set, so receipts it signed
    /// still verify. Returns the new set.
    pub fn rotate(dir: &Path, now: DateTime<Utc>) -> Result<Self, ReceiptKeyError> {
        let mut set = read_set(dir)?.unwrap_or_default();
        let now = now.with_timezone(&jst());
        // Microseconds, as receipts write `checked_at`: a retirement rounded down to the
        // second would fall before receipts signed in that same second.
        let retired = (now + chrono::Duration::seconds(RETIRE_AFTER_SECONDS))
            .to_rfc3339_opts(SecondsFormat::Micros, false);
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
            old.not_after = Some(retired.clone());
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

    /// Reads the set again when `keys.json` changed since it was read (a rotation by
    /// `kakunin key rotate` while the service runs). `Ok(true)`: the new set is in use.
    /// On an error the set in use stays, and the caller says so.
    ///
    /// A set whose new private key cannot be read (copied without it, or a file this
    /// user may not read) is still taken in for what it says of the keys in use: their
    /// windows, so that a key retired there stops signing here when its window closes
    /// (then [`can_sign_at`](Self::can_sign_at) says no, and `/readyz` with it), and the
    /// published set. It is read again every call until the private key can be read.
    pub fn refresh(&self) -> Result<bool, ReceiptKeyError> {
        let stamp = stamp_of(&self.dir);
        if stamp == self.read().stamp {
            return Ok(false);
        }
        match read_loaded(&self.dir, Utc::now()) {
            Ok(fresh) => {
                *self.write() = fresh;
                Ok(true)
            }
            Err(e) => {
                if let Ok(Some(set)) = read_set(&self.dir) {
                    let mut loaded = self.write();
                    for signer in &mut loaded.signers {
                        let said = set.keys.iter().find(|k| k.kid == signer.kid());
                        // The window as the set now says, for the same key only.
                        if let Some(public) = said
                            .and_then(PublicKey::trusted)
                            .filter(|p| p.verifying_key() == signer.public.verifying_key())
                        {
                            signer.public = public;
                        }
                    }
                    loaded.public = set.keys;
                }
                Err(e)
            }
        }
    }

    /// Whether this node's set has key `kid`, current or retired.
    pub fn holds(&self, kid: &str) -> bool {
        self.read().public.iter().any(|k| k.kid == kid)
    }

    /// Whether this node's set has key `kid` and says it has retired: the set knows a
    /// newer key than `kid`.
    pub fn retired(&self, kid: &str) -> bool {
        self.read()
            .public
            .iter()
            .any(|k| k.kid == kid && k.not_after.is_some())
    }

    /// Takes note of the installation's current key (`kid`, as its database records it).
    pub fn note_installation_kid(&self, kid: &str) {
        *self
            .installation_kid
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(kid.to_owned());
    }

    /// The installation's current key when this node does not hold it: another node
    /// rotated the keys and this one did not get the new set, so its receipts would be
    /// signed by a key the installation has retired. `/readyz` says so.
    pub fn missing_kid(&self) -> Option<String> {
        let noted = self
            .installation_kid
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()?;
        (!self.holds(&noted)).then_some(noted)
    }

    /// Whether a key this service holds may sign at `at`: false once every key it could
    /// read has retired, when a receipt it signed would not verify.
    pub fn can_sign_at(&self, at: DateTime<FixedOffset>) -> bool {
        self.read().signers.iter().any(|s| s.holds(at))
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Loaded> {
        self.loaded
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        // A panic while swapping in a set leaves a whole set behind: nothing to repair.
        self.loaded
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current key's id.
    pub fn kid(&self) -> String {
        self.read().signers[0].kid().to_owned()
    }

    /// Signs `payload` (a JWS of `typ`) with the key whose window holds `at` (a receipt's
    /// `checked_at`), the newest such key: a verification made just before a rotation is
    /// signed by the key that was current when it was made, one made after by the new
    /// key. With no key for `at` (a clock set back before every key) the current key
    /// signs, and the receipt will not verify: that is logged.
    pub fn sign_as_of(&self, typ: &str, payload: &[u8], at: DateTime<FixedOffset>) -> String {
        let loaded = self.read();
        let signer = loaded
            .signers
            .iter()
            .find(|s| s.holds(at))
            .unwrap_or_else(|| {
                tracing::error!(%at, "no receipt key is valid at this time; signing with the current key");
                &loaded.signers[0]
            });
        jws::sign_as(typ, payload, signer.kid(), &signer.key)
    }

    /// Every public key, current and retired, oldest first.
    pub fn public(&self) -> Vec<PublicKey> {
        self.read().public.clone()
    }

    /// The JWK Set of RFC 7517 §5.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.read().public.iter().map(PublicKey::jwk).collect::<Vec<_>>() })
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

    fn signed_kid(keys: &ReceiptKeys, at: DateTime<Utc>) -> String {
        let jws = keys.sign_as_of("t", b"{}", at.with_timezone(&jst()));
        let v: serde_json::Value = serde_json::from_str(&jws).unwrap();
        let header = URL_SAFE_NO_PAD
            .decode(v["protected"].as_str().unwrap())
            .unwrap();
        let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
        header["kid"].as_str().unwrap().to_owned()
    }

    /// A running service's set takes in a rotation made by another process, and signs
    /// each receipt with the key whose window holds its time: the old key keeps a
    /// minute past the rotation, for the receipts signed before the service saw it.
    #[test]
    fn a_running_set_takes_in_a_rotation_and_signs_by_the_receipts_time() {
        let dir = tempfile::tempdir().unwrap();
        let running = ReceiptKeys::load_or_create(dir.path()).unwrap();
        let old = running.kid();
        assert!(!running.refresh().unwrap(), "nothing changed yet");
        let at = Utc::now() + chrono::Duration::seconds(5);
        let rotated = ReceiptKeys::rotate(dir.path(), at).unwrap();
        let new = rotated.kid();
        assert_eq!(
            signed_kid(&running, at + chrono::Duration::seconds(1)),
            old,
            "before it refreshes, the service still signs with the old key"
        );
        assert!(running.refresh().unwrap());
        assert!(!running.refresh().unwrap(), "once per change");
        assert_eq!(running.kid(), new);
        assert_eq!(running.public().len(), 2);
        assert_eq!(signed_kid(&running, at - chrono::Duration::seconds(1)), old);
        assert_eq!(signed_kid(&running, at + chrono::Duration::seconds(1)), new);

        let public = running.public();
        let end = DateTime::parse_from_rfc3339(public[0].not_after.as_deref().unwrap()).unwrap();
        assert_eq!(
            end.timestamp_micros(),
            (at + chrono::Duration::seconds(RETIRE_AFTER_SECONDS)).timestamp_micros()
        );
        // Every one of those signatures verifies against the published set.
        let trusted: Vec<TrustedKey> = public.iter().filter_map(PublicKey::trusted).collect();
        for when in [-1, 1, RETIRE_AFTER_SECONDS - 1] {
            let t = (at + chrono::Duration::seconds(when)).with_timezone(&jst());
            for signer in [&rotated, &running] {
                let jws = signer.sign_as_of("t", b"{}", t);
                let signed = jws::verify_signed(jws.as_bytes(), "t", |kid| {
                    trusted.iter().find(|k| k.kid() == kid).ok_or(
                        kakunin_protocol::jws::RecordError::UnknownKid(kid.to_owned()),
                    )
                })
                .unwrap();
                assert!(
                    jws::check_key_validity_at(signed.key, t).is_ok(),
                    "{} at {t}",
                    signed.kid
                );
            }
        }
    }

    /// A rotated set copied without its new private key: the old key still signs for
    /// its last minute, the set says it retires, and then this service can sign no more
    /// (it must not sign receipts that would not verify).
    #[test]
    fn a_rotation_whose_new_key_cannot_be_read_retires_the_old_key_on_time() {
        let dir = tempfile::tempdir().unwrap();
        let running = ReceiptKeys::load_or_create(dir.path()).unwrap();
        let old = running.kid();
        let at = Utc::now();
        let rotated = ReceiptKeys::rotate(dir.path(), at).unwrap();
        std::fs::remove_file(dir.path().join(format!("{}.key", rotated.kid()))).unwrap();
        assert!(running.refresh().is_err());
        assert_eq!(running.kid(), old);
        assert_eq!(running.public().len(), 2, "the set as published follows");
        let t = |s: i64| (at + chrono::Duration::seconds(s)).with_timezone(&jst());
        assert!(running.can_sign_at(t(RETIRE_AFTER_SECONDS - 1)));
        assert!(!running.can_sign_at(t(RETIRE_AFTER_SECONDS + 1)));
    }

    #[test]
    fn an_unreadable_set_leaves_the_keys_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let running = ReceiptKeys::load_or_create(dir.path()).unwrap();
        let kid = running.kid();
        std::fs::write(set_path(dir.path()), "not json").unwrap();
        assert!(running.refresh().is_err());
        assert_eq!(running.kid(), kid);
        assert_eq!(running.public().len(), 1);
    }
}
