//! The evidence bundle (証拠一式) of one verification: one JSON file holding everything
//! needed to check it again on a machine that has never seen this service's database.
//!
//! One JSON file rather than a ZIP: every part is text, a reader needs no archive tool,
//! and the signed parts (the issuer's JWS, the receipt) are kept as strings holding
//! their exact bytes, so nothing is re-serialized on the way.

use serde::{Deserialize, Serialize};

use crate::app::receipt::PublicKey;
use crate::app::verification::VerificationRow;
use kakunin_protocol::registry::{Registry, TrustedKey};

/// The `format` member of every bundle this version writes.
pub const FORMAT: &str = "kakunin-evidence/1";

/// One bundle, as written and read (`docs/receipt.md`, "Evidence bundle").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always [`FORMAT`].
    pub format: String,
    /// The verification's id (ULID).
    pub verification_id: String,
    /// The issuer's JWS exactly as received (flattened JSON, as text).
    pub issuer_jws: String,
    /// The service's receipt exactly as stored (flattened JWS, as text).
    pub receipt: String,
    /// The service's receipt keys, current and retired, with their validity.
    pub receipt_keys: Vec<PublicKey>,
    /// The trust registry's entry of the issuer when the bundle was made: its keys
    /// with their validity (keys rotated since stay in the registry with theirs).
    pub registry_entry: RegistryEntry,
    /// The rule profile the verification was checked with.
    pub profile: ProfileVersion,
    /// The 照合 values the officer typed, as stored (the rules compare against them).
    pub expected: serde_json::Value,
    /// The certificate page for people (HTML, the print view).
    pub summary_html: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryEntry {
    pub issuer: String,
    pub name: String,
    pub keys: Vec<PublicKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileVersion {
    /// SHA-256 of `text`, lowercase hex.
    pub digest: String,
    /// The profile file (TOML) as the service read it.
    pub text: String,
}

impl RegistryEntry {
    /// The registry's entry of `issuer`; `None` when the registry no longer has it.
    pub fn of(registry: &Registry, issuer: &str) -> Option<Self> {
        let entry = registry.issuer(issuer)?;
        Some(Self {
            issuer: entry.id.clone(),
            name: entry.name.clone(),
            keys: entry.keys().iter().map(PublicKey::of_trusted).collect(),
        })
    }

    /// The entry's keys as the JWS check takes them; `None` when one is malformed.
    pub fn trusted(&self) -> Option<Vec<TrustedKey>> {
        self.keys.iter().map(PublicKey::trusted).collect()
    }
}

/// Why no bundle can be made for a stored verification.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("照会 {0} には電子証書がないため、証拠一式はありません")]
    NoRecord(String),
    #[error("照会 {0} には確認記録がありません（この機能より前の照会です）")]
    NoReceipt(String),
    #[error("信頼登録簿に保証事業会社 {0} がありません")]
    NoIssuer(String),
    #[error("ルールプロファイル {0} が保存されていません")]
    NoProfile(String),
}

/// Puts a stored verification's bundle together; the caller adds the summary page.
pub fn assemble(
    row: &VerificationRow,
    receipt_keys: &[PublicKey],
    registry: &Registry,
    profile_text: Option<String>,
) -> Result<Bundle, BundleError> {
    let (Some(jws), Some(issuer)) = (&row.jws, &row.issuer_id) else {
        return Err(BundleError::NoRecord(row.id.clone()));
    };
    if !row.outcome.has_certificate() {
        return Err(BundleError::NoRecord(row.id.clone()));
    }
    let receipt = row
        .receipt
        .clone()
        .ok_or_else(|| BundleError::NoReceipt(row.id.clone()))?;
    let digest = row.profile_digest.clone().unwrap_or_default();
    let text = profile_text.ok_or_else(|| BundleError::NoProfile(digest.clone()))?;
    Ok(Bundle {
        format: FORMAT.to_owned(),
        verification_id: row.id.clone(),
        issuer_jws: jws.clone(),
        receipt,
        receipt_keys: receipt_keys.to_vec(),
        registry_entry: RegistryEntry::of(registry, issuer)
            .ok_or_else(|| BundleError::NoIssuer(issuer.clone()))?,
        profile: ProfileVersion { digest, text },
        expected: serde_json::from_str(&row.expected).unwrap_or(serde_json::Value::Null),
        summary_html: String::new(),
    })
}
