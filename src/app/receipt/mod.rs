//! The service's signed receipt of one verification (確認記録, `docs/receipt.md`): a
//! flattened JWS (RFC 7515 §7.2.2), `alg` EdDSA, `typ` `verification-receipt+json`,
//! signed with the receipt key ([`keys`]). It is written in the same transaction as the
//! verification row and its audit row, and names that audit row (seq and hash), so a
//! receipt whose row was dropped from the log is found out by the chain's checkpoints.

pub mod keys;

use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use kakunin_protocol::jws::{self, RecordError, RECEIPT_TYP};
use kakunin_protocol::registry::TrustedKey;
use kakunin_protocol::time::jst;

pub use keys::{PublicKey, ReceiptKeys};

/// The version of the payload below; a verifier refuses one it does not know.
pub const VERSION: u32 = 1;

/// What a receipt states, member by member (`docs/receipt.md` is the contract).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Always [`VERSION`].
    pub version: u32,
    /// The verification's id (ULID).
    pub verification_id: String,
    /// When the verification was made: RFC 3339, Japan time, microseconds.
    pub checked_at: String,
    /// The 発注機関 code.
    pub office: String,
    /// Who verified, as stored: `user:LOGIN` or `token:NAME`.
    pub officer: String,
    pub certificate_number: String,
    /// The issuer id of the trust registry.
    pub issuer: String,
    /// The issuer key that signed the record.
    pub kid: String,
    pub revision: i32,
    /// SHA-256 of the JWS bytes received from the issuer, lowercase hex.
    pub jws_sha256: String,
    /// `verified` or `rejected`.
    pub outcome: String,
    /// The rule results as stored (`[RuleResult]`).
    pub rules: Box<RawValue>,
    /// SHA-256 of the rule profile file the rules were checked with, lowercase hex.
    pub profile_digest: String,
    /// The verification's own audit row: its seq and hash.
    pub audit_seq: i32,
    pub audit_hash: String,
    /// The 案件 the officer typed (`{"number", "title"}`, each a string or null); absent
    /// when neither was typed, so a receipt without one reads as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<ReceiptCase>,
}

/// The 案件 of a receipt, as stored with the verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptCase {
    pub number: Option<String>,
    pub title: Option<String>,
}

/// The time as a receipt writes it.
pub fn receipt_time(at: NaiveDateTime) -> String {
    at.and_utc()
        .with_timezone(&jst())
        .to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// SHA-256 of bytes, lowercase hex: the digest of a received JWS and of a receipt.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The digest a printout carries of its receipt (`docs/receipt.md`, "Paper that can
/// be checked"): SHA-256 of the receipt's exact bytes as stored (the flattened JWS
/// text), base64url without padding, so the QR text stays short.
pub fn paper_digest(receipt: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(receipt.as_bytes()))
}

/// Signs a receipt with the key that was current at its `checked_at`
/// ([`ReceiptKeys::sign_as_of`]).
pub fn sign(receipt: &Receipt, keys: &ReceiptKeys) -> String {
    let payload = serde_json::to_vec(receipt).expect("a receipt always serializes");
    // `checked_at` is written by `receipt_time` just before: it always parses.
    let at = chrono::DateTime::parse_from_rfc3339(&receipt.checked_at)
        .unwrap_or_else(|_| chrono::Utc::now().with_timezone(&jst()));
    keys.sign_as_of(RECEIPT_TYP, &payload, at)
}

/// Why a receipt does not hold.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("確認記録の署名鍵「{0}」は公開鍵一覧にありません")]
    UnknownKid(String),
    #[error("確認記録の署名が正しくありません: {0}")]
    Jws(RecordError),
    #[error("確認記録の内容を読めません: {0}")]
    Payload(String),
    #[error("確認記録の版 {0} はこの版では読めません")]
    Version(u32),
    #[error("確認記録の署名鍵: {0}")]
    KeyValidity(RecordError),
}

/// Verifies a receipt against a public key set: the JWS checks of §3 with `typ`
/// `verification-receipt+json`, then the key's validity at the receipt's `checked_at`,
/// so a key retired since still verifies what it signed while it was current.
pub fn verify(envelope: &[u8], keys: &[PublicKey]) -> Result<Receipt, ReceiptError> {
    let trusted: Vec<TrustedKey> = keys.iter().filter_map(PublicKey::trusted).collect();
    let signed = jws::verify_signed(envelope, RECEIPT_TYP, |kid| {
        trusted
            .iter()
            .find(|k| k.kid() == kid)
            .ok_or_else(|| RecordError::UnknownKid(kid.to_owned()))
    })
    .map_err(|e| match e {
        RecordError::UnknownKid(kid) => ReceiptError::UnknownKid(kid),
        e => ReceiptError::Jws(e),
    })?;
    let receipt: Receipt = serde_json::from_slice(&signed.payload)
        .map_err(|e| ReceiptError::Payload(e.to_string()))?;
    if receipt.version != VERSION {
        return Err(ReceiptError::Version(receipt.version));
    }
    let at: DateTime<FixedOffset> = DateTime::parse_from_rfc3339(&receipt.checked_at)
        .map_err(|e| ReceiptError::Payload(format!("checked_at: {e}")))?;
    jws::check_key_validity_at(signed.key, at).map_err(ReceiptError::KeyValidity)?;
    Ok(receipt)
}
