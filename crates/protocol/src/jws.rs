//! The JWS envelope (`issuer-protocol.md` §3): flattened JSON, EdDSA over Ed25519.
//!
//! Signing is used by the issuer, verification by the service. Verification is strict
//! on purpose: every deviation from §3 is its own [`RecordError`] variant, so that an
//! officer can be told why a record is not trustworthy.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, FixedOffset};
use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::{Deserialize, Serialize};

use crate::ids::CertificateNumber;
use crate::payload::{Certificate, PayloadError};
use crate::registry::{KeyLookup, KeySource, TrustedKey};

/// Largest envelope accepted, as §2 bounds what the client reads.
pub const MAX_ENVELOPE_BYTES: usize = 1024 * 1024;
pub const ALG: &str = "EdDSA";
/// The `typ` of an issuer's certificate record (§3).
pub const TYP: &str = "surety-certificate+json";
/// The `typ` of the service's own signed receipt (確認記録, `docs/receipt.md`).
pub const RECEIPT_TYP: &str = "verification-receipt+json";

/// Header members §3 forbids outright; each is named in the error.
const FORBIDDEN_HEADER_MEMBERS: [&str; 6] = ["crit", "b64", "jku", "jwk", "x5u", "x5c"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("記録が大きすぎます（{0}バイト、上限1MiB）")]
    TooLarge(usize),
    #[error("記録がJWS（flattened JSON）の形式ではありません: {0}")]
    NotJson(String),
    #[error("記録に保護されていないヘッダー（header）があります")]
    UnprotectedHeader,
    #[error("記録に想定外のメンバー「{0}」があります")]
    UnexpectedMember(String),
    #[error("{0} が base64url（パディングなし）ではありません")]
    Base64(&'static str),
    #[error("保護ヘッダーがJSONオブジェクトではありません")]
    HeaderNotJson,
    #[error("署名アルゴリズム「{0}」は受け付けません（EdDSAのみ）")]
    UnsupportedAlg(String),
    #[error("保護ヘッダーに alg がありません")]
    MissingAlg,
    #[error("保護ヘッダーに kid がありません")]
    MissingKid,
    /// The header's `typ` is not the one this kind of JWS must carry (given).
    #[error("保護ヘッダーの typ が {0} ではありません")]
    BadTyp(&'static str),
    #[error("保護ヘッダーに禁止されたメンバー「{0}」があります")]
    ForbiddenHeaderMember(String),
    #[error("{part}に同じ名前のメンバー「{name}」が二度あります")]
    DuplicateMember { part: &'static str, name: String },
    #[error("保護ヘッダーに想定外のメンバー「{0}」があります")]
    UnexpectedHeaderMember(String),
    #[error("署名鍵「{0}」は信頼登録簿にありません")]
    UnknownKid(String),
    #[error("署名鍵「{kid}」は別の保証事業会社（{owner}）の鍵です")]
    KidOfOtherIssuer { kid: String, owner: String },
    #[error("署名鍵「{0}」は小位数の公開鍵で、使えません")]
    WeakKey(String),
    #[error("署名の長さが不正です")]
    SignatureLength,
    #[error("署名が正規形ではありません（S ≥ L、可鍛性のある署名）")]
    NonCanonicalSignature,
    #[error("署名が正しくありません（改ざん、または別の鍵による署名）")]
    BadSignature,
    #[error("署名鍵「{kid}」は発行日時 {issued_at} にはまだ有効ではありません")]
    KeyNotYetValid { kid: String, issued_at: String },
    #[error("署名鍵「{kid}」は発行日時 {issued_at} には有効期限切れです")]
    KeyExpired { kid: String, issued_at: String },
    #[error("{0}")]
    Payload(#[from] PayloadError),
    #[error("別の保証事業会社（{found}）の記録が返されました（照会先: {asked}）")]
    IssuerSubstitution { asked: String, found: String },
    #[error("別の保証契約番号（{found}）の記録が返されました（照会した番号: {asked}）")]
    NumberSubstitution { asked: String, found: String },
}

impl RecordError {
    /// A stable machine name for the API and the audit log.
    pub fn code(&self) -> &'static str {
        match self {
            RecordError::TooLarge(_) => "too_large",
            RecordError::NotJson(_) => "not_json",
            RecordError::UnprotectedHeader => "unprotected_header",
            RecordError::UnexpectedMember(_) => "unexpected_member",
            RecordError::Base64(_) => "base64",
            RecordError::HeaderNotJson => "header_not_json",
            RecordError::UnsupportedAlg(_) => "unsupported_alg",
            RecordError::MissingAlg => "missing_alg",
            RecordError::MissingKid => "missing_kid",
            RecordError::BadTyp(_) => "bad_typ",
            RecordError::ForbiddenHeaderMember(_) => "forbidden_header_member",
            RecordError::UnexpectedHeaderMember(_) => "unexpected_header_member",
            RecordError::DuplicateMember { .. } => "duplicate_member",
            RecordError::UnknownKid(_) => "unknown_kid",
            RecordError::KidOfOtherIssuer { .. } => "kid_of_other_issuer",
            RecordError::WeakKey(_) => "weak_key",
            RecordError::SignatureLength => "signature_length",
            RecordError::NonCanonicalSignature => "non_canonical_signature",
            RecordError::BadSignature => "bad_signature",
            RecordError::KeyNotYetValid { .. } => "key_not_yet_valid",
            RecordError::KeyExpired { .. } => "key_expired",
            RecordError::Payload(_) => "bad_payload",
            RecordError::IssuerSubstitution { .. } => "issuer_substitution",
            RecordError::NumberSubstitution { .. } => "number_substitution",
        }
    }
}

/// The flattened JSON serialization, as sent on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlattenedJws {
    pub protected: String,
    pub payload: String,
    pub signature: String,
}

/// The payload text of a stored envelope, without checking anything: for reading back a
/// record that [`verify`] already accepted when it arrived.
pub fn payload_text(envelope: &str) -> Option<String> {
    let jws: FlattenedJws = serde_json::from_str(envelope).ok()?;
    String::from_utf8(URL_SAFE_NO_PAD.decode(jws.payload).ok()?).ok()
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    kid: &'a str,
    typ: &'a str,
}

/// Signs a certificate record (`typ` [`TYP`]). The payload bytes are signed exactly as
/// given, so the caller decides their serialization once and the same bytes are what
/// every verifier sees.
pub fn sign(payload: &[u8], kid: &str, key: &SigningKey) -> String {
    sign_as(TYP, payload, kid, key)
}

/// Signs a payload as a JWS of the given `typ` (flattened JSON, EdDSA, protected header
/// `{"alg","kid","typ"}` in that order): [`sign`] for records, the service for receipts.
pub fn sign_as(typ: &str, payload: &[u8], kid: &str, key: &SigningKey) -> String {
    let header = serde_json::to_vec(&Header { alg: ALG, kid, typ })
        .expect("a header of three strings always serializes");
    let protected = URL_SAFE_NO_PAD.encode(header);
    let payload = URL_SAFE_NO_PAD.encode(payload);
    let signature: Signature = key.sign(format!("{protected}.{payload}").as_bytes());
    serde_json::to_string(&FlattenedJws {
        protected,
        payload,
        signature: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
    })
    .expect("three strings always serialize")
}

/// A record whose signature, key, payload and identity were all checked. Only
/// [`verify`] builds one, so holding one means the checks were done.
#[derive(Debug, Clone)]
pub struct VerifiedRecord {
    certificate: Certificate,
    kid: String,
}

impl VerifiedRecord {
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

/// What a protected header says, once it passed the member checks.
pub struct CheckedHeader {
    pub kid: String,
}

/// A JWS whose form, header and signature held: the signing key's id, the key, and the
/// payload bytes exactly as signed. Only [`verify_signed`] builds one.
#[derive(Debug)]
pub struct Signed<'k> {
    pub kid: String,
    pub key: &'k TrustedKey,
    pub payload: Vec<u8>,
}

/// The §3 checks every JWS of this workspace gets, whatever it carries: flattened JSON
/// only, no member twice, header exactly `alg` EdDSA, `kid`, and `typ` equal to `typ`,
/// the key `key_for(kid)` gives (refused when weak), a canonical signature, and
/// `verify_strict`. What the payload means, and the key's validity at its time, is the
/// caller's: [`verify`] for certificate records, the service for its receipts.
pub fn verify_signed<'k>(
    envelope: &[u8],
    typ: &'static str,
    key_for: impl FnOnce(&str) -> Result<&'k TrustedKey, RecordError>,
) -> Result<Signed<'k>, RecordError> {
    let jws = parse_envelope(envelope)?;
    let header_bytes = decode("protected", &jws.protected)?;
    let header = check_header(&header_bytes, typ)?;
    let key = key_for(&header.kid)?;
    let payload = decode("payload", &jws.payload)?;
    let sig_bytes = decode("signature", &jws.signature)?;
    let signature = Signature::from_slice(&sig_bytes).map_err(|_| RecordError::SignatureLength)?;
    // verify_strict refuses these too; checking first gives the officer the reason.
    let s_bytes: [u8; 32] = sig_bytes[32..].try_into().expect("length checked above");
    if bool::from(curve25519_dalek::Scalar::from_canonical_bytes(s_bytes).is_none()) {
        return Err(RecordError::NonCanonicalSignature);
    }
    if key.is_weak() {
        return Err(RecordError::WeakKey(header.kid));
    }
    let signing_input = format!("{}.{}", jws.protected, jws.payload);
    key.verifying_key()
        .verify_strict(signing_input.as_bytes(), &signature)
        .map_err(|_| RecordError::BadSignature)?;
    Ok(Signed {
        kid: header.kid,
        key,
        payload,
    })
}

/// Verifies an envelope received from `asked_issuer` for `asked_number`.
pub fn verify(
    envelope: &[u8],
    asked_issuer: &str,
    asked_number: &CertificateNumber,
    keys: &(impl KeySource + ?Sized),
) -> Result<VerifiedRecord, RecordError> {
    let Signed {
        kid,
        key,
        payload: payload_bytes,
    } = verify_signed(envelope, TYP, |kid| match keys.key(asked_issuer, kid) {
        KeyLookup::Found(key) => Ok(key),
        KeyLookup::OtherIssuer(owner) => Err(RecordError::KidOfOtherIssuer {
            kid: kid.to_owned(),
            owner: owner.to_owned(),
        }),
        KeyLookup::Unknown => Err(RecordError::UnknownKid(kid.to_owned())),
    })?;
    let header = CheckedHeader { kid };

    unique_members("証書の内容（payload）", &payload_bytes)?;
    let certificate = Certificate::from_json(&payload_bytes)?;
    check_key_validity(
        &header.kid,
        key.not_before(),
        key.not_after(),
        certificate.issued_at,
    )?;
    if certificate.issuer.id != asked_issuer {
        return Err(RecordError::IssuerSubstitution {
            asked: asked_issuer.to_owned(),
            found: certificate.issuer.id.clone(),
        });
    }
    if certificate.certificate_number != asked_number.as_str() {
        return Err(RecordError::NumberSubstitution {
            asked: asked_number.to_string(),
            found: certificate.certificate_number.clone(),
        });
    }
    Ok(VerifiedRecord {
        certificate,
        kid: header.kid,
    })
}

fn parse_envelope(envelope: &[u8]) -> Result<FlattenedJws, RecordError> {
    if envelope.len() > MAX_ENVELOPE_BYTES {
        return Err(RecordError::TooLarge(envelope.len()));
    }
    unique_members("記録（JWS）", envelope)?;
    let value: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(envelope).map_err(|e| RecordError::NotJson(e.to_string()))?;
    if value.contains_key("header") {
        return Err(RecordError::UnprotectedHeader);
    }
    if let Some(extra) = value
        .keys()
        .find(|k| !matches!(k.as_str(), "protected" | "payload" | "signature"))
    {
        return Err(RecordError::UnexpectedMember(extra.clone()));
    }
    serde_json::from_value(serde_json::Value::Object(value))
        .map_err(|e| RecordError::NotJson(e.to_string()))
}

/// §3 reads each part one way only: a name given twice (in any spelling) is refused.
/// Text that is not JSON is left to the part's own parser, which says what is wrong.
fn unique_members(part: &'static str, bytes: &[u8]) -> Result<(), RecordError> {
    match crate::strict_json::check_no_duplicate_members(bytes) {
        Err(crate::strict_json::DuplicateError::Duplicate(name)) => {
            Err(RecordError::DuplicateMember { part, name })
        }
        _ => Ok(()),
    }
}

fn decode(part: &'static str, text: &str) -> Result<Vec<u8>, RecordError> {
    // URL_SAFE_NO_PAD refuses padding and the `+` `/` alphabet, as §3 demands.
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| RecordError::Base64(part))
}

/// Checks the protected header's members: exactly `alg`, `kid`, and `typ` equal to `typ`.
pub fn check_header(bytes: &[u8], typ: &'static str) -> Result<CheckedHeader, RecordError> {
    unique_members("保護ヘッダー", bytes)?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes).map_err(|_| RecordError::HeaderNotJson)?;
    if let Some(name) = FORBIDDEN_HEADER_MEMBERS
        .iter()
        .find(|m| header.contains_key(**m))
    {
        return Err(RecordError::ForbiddenHeaderMember((*name).to_owned()));
    }
    match header.get("alg") {
        None => return Err(RecordError::MissingAlg),
        Some(serde_json::Value::String(alg)) if alg == ALG => {}
        Some(other) => {
            return Err(RecordError::UnsupportedAlg(match other {
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            }))
        }
    }
    let kid = match header.get("kid") {
        Some(serde_json::Value::String(kid)) if !kid.is_empty() => kid.clone(),
        _ => return Err(RecordError::MissingKid),
    };
    if header.get("typ").and_then(|t| t.as_str()) != Some(typ) {
        return Err(RecordError::BadTyp(typ));
    }
    if let Some(extra) = header
        .keys()
        .find(|k| !matches!(k.as_str(), "alg" | "kid" | "typ"))
    {
        return Err(RecordError::UnexpectedHeaderMember(extra.clone()));
    }
    Ok(CheckedHeader { kid })
}

/// Whether `key` was valid at `at` (its `not_before` ≤ `at` ≤ `not_after`).
pub fn check_key_validity_at(
    key: &TrustedKey,
    at: DateTime<FixedOffset>,
) -> Result<(), RecordError> {
    check_key_validity(key.kid(), key.not_before(), key.not_after(), at)
}

fn check_key_validity(
    kid: &str,
    not_before: DateTime<FixedOffset>,
    not_after: Option<DateTime<FixedOffset>>,
    issued_at: DateTime<FixedOffset>,
) -> Result<(), RecordError> {
    if issued_at < not_before {
        return Err(RecordError::KeyNotYetValid {
            kid: kid.to_owned(),
            issued_at: issued_at.to_rfc3339(),
        });
    }
    if not_after.is_some_and(|end| issued_at > end) {
        return Err(RecordError::KeyExpired {
            kid: kid.to_owned(),
            issued_at: issued_at.to_rfc3339(),
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "jws_tests.rs"]
mod tests;
