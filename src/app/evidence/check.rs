//! Checking evidence again (`kakunin evidence verify`): a bundle alone, or a stored
//! verification gathered into one. Each failure names what does not hold.

use super::bundle::{Bundle, FORMAT};
use crate::app::receipt::{self, PublicKey, Receipt};
use crate::domain::rules::{self, Expected, Profile, RuleResult};
use kakunin_protocol::ids::CertificateNumber;
use kakunin_protocol::jws;
use kakunin_protocol::registry::{KeyLookup, KeySource, TrustedKey};

/// Why evidence is invalid (exit 2); each names the part that fails.
#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    #[error("証拠一式の形式 {0} はこの版では読めません")]
    Format(String),
    #[error("確認記録: {0}")]
    Receipt(#[from] receipt::ReceiptError),
    #[error("確認記録の署名鍵「{0}」が、このサービスの公開鍵一覧の鍵と一致しません（鍵の一覧が差し替えられています）")]
    ForeignReceiptKey(String),
    #[error("確認記録は照会 {found} のものです（証拠一式は照会 {expected}）")]
    OtherVerification { expected: String, found: String },
    #[error("保証事業会社の電子証書（JWS）が確認記録と一致しません（SHA-256 が異なります。電子証書が差し替えられています）")]
    JwsDigest,
    #[error("保証事業会社の電子証書: {0}")]
    Record(jws::RecordError),
    #[error("保証事業会社の電子証書の内容が確認記録と一致しません（{0}）")]
    RecordMismatch(&'static str),
    #[error("信頼登録簿の保証事業会社 {0} の鍵が読めません（鍵の一覧が壊れています）")]
    RegistryKeys(String),
    #[error("ルールプロファイルが確認記録の指すもの（{expected}）ではありません（改ざん、または別の版です）")]
    ProfileDigest { expected: String },
    #[error("ルールプロファイルを読めません: {0}")]
    Profile(String),
    #[error("照合値を読めません: {0}")]
    Expected(String),
    #[error("確認記録の確認事項が、当時のルールで確認し直した結果と一致しません（{0}）")]
    RulesThen(String),
    #[error("監査ログ: {0}")]
    Audit(String),
}

/// What a check found when the evidence holds.
#[derive(Debug)]
pub struct Verdict {
    pub receipt: Receipt,
    /// The rules whose result today's profile gives differently (id: then → now).
    pub changed: Vec<String>,
}

/// The issuer's keys the bundle or the registry gives, for the JWS check.
struct EntryKeys<'a> {
    issuer: &'a str,
    keys: &'a [TrustedKey],
}

impl KeySource for EntryKeys<'_> {
    fn key(&self, issuer: &str, kid: &str) -> KeyLookup<'_> {
        match self.keys.iter().find(|k| k.kid() == kid) {
            Some(k) if issuer == self.issuer => KeyLookup::Found(k),
            Some(_) => KeyLookup::OtherIssuer(self.issuer),
            None => KeyLookup::Unknown,
        }
    }
}

/// Checks a bundle: the receipt against the bundle's keys (and against `trusted_keys`,
/// the service's own key set, when this machine has it), the issuer's JWS against the
/// receipt's digest and the registry's keys (the bundle's entry, or `issuer_keys` when
/// the operator names a registry) valid at its `issued_at`, the profile against the
/// receipt's digest, the rules again under that profile, and finally under `today`.
pub fn check_bundle(
    bundle: &Bundle,
    trusted_keys: Option<&[PublicKey]>,
    issuer_keys: Option<Vec<TrustedKey>>,
    today: Option<&Profile>,
) -> Result<Verdict, Invalid> {
    if bundle.format != FORMAT {
        return Err(Invalid::Format(bundle.format.clone()));
    }
    // The service's own set, when this machine has it, is the authority on its keys: a
    // bundle must name one of them (the same `kid` and `x`), and that key's window is
    // the one in force now. The bundle's copy of the window is only what it was at
    // download: a key current then has been retired by a rotation since, which changes
    // its `not_after` and nothing the receipt relies on.
    let keys = match trusted_keys {
        Some(trusted) => {
            let used = receipt_kid(&bundle.receipt);
            let key = |set: &[PublicKey]| {
                set.iter()
                    .find(|k| k.kid == used)
                    .map(|k| (k.kid.clone(), k.x.clone()))
            };
            if key(&bundle.receipt_keys) != key(trusted) {
                return Err(Invalid::ForeignReceiptKey(used));
            }
            trusted
        }
        None => &bundle.receipt_keys,
    };
    let receipt = receipt::verify(bundle.receipt.as_bytes(), keys)?;
    if receipt.verification_id != bundle.verification_id {
        return Err(Invalid::OtherVerification {
            expected: bundle.verification_id.clone(),
            found: receipt.verification_id,
        });
    }
    if receipt::sha256_hex(bundle.issuer_jws.as_bytes()) != receipt.jws_sha256 {
        return Err(Invalid::JwsDigest);
    }
    let keys = match issuer_keys {
        Some(k) => k,
        None => bundle
            .registry_entry
            .trusted()
            .ok_or_else(|| Invalid::RegistryKeys(bundle.registry_entry.issuer.clone()))?,
    };
    let number = CertificateNumber::parse(&receipt.certificate_number)
        .map_err(|_| Invalid::RecordMismatch("保証契約番号"))?;
    let record = jws::verify(
        bundle.issuer_jws.as_bytes(),
        &receipt.issuer,
        &number,
        &EntryKeys {
            issuer: &receipt.issuer,
            keys: &keys,
        },
    )
    .map_err(Invalid::Record)?;
    if record.kid() != receipt.kid {
        return Err(Invalid::RecordMismatch("署名鍵"));
    }
    if i64::from(record.certificate().revision) != i64::from(receipt.revision) {
        return Err(Invalid::RecordMismatch("版"));
    }
    if receipt::sha256_hex(bundle.profile.text.as_bytes()) != receipt.profile_digest {
        return Err(Invalid::ProfileDigest {
            expected: receipt.profile_digest.clone(),
        });
    }
    let then = Profile::from_toml_str(&bundle.profile.text, "証拠一式のプロファイル")
        .map_err(|e| Invalid::Profile(e.to_string()))?;
    let expected: Expected = serde_json::from_value(bundle.expected.clone())
        .map_err(|e| Invalid::Expected(e.to_string()))?;
    let stated: Vec<RuleResult> =
        serde_json::from_str(receipt.rules.get()).map_err(|e| Invalid::Profile(e.to_string()))?;
    let again = rules::evaluate(&then, record.certificate(), &expected);
    let differ = differences(&stated, &again);
    if !differ.is_empty() {
        return Err(Invalid::RulesThen(differ.join("、")));
    }
    let changed = match today {
        Some(now) if now.digest != then.digest => differences(
            &stated,
            &rules::evaluate(now, record.certificate(), &expected),
        ),
        _ => Vec::new(),
    };
    Ok(Verdict { receipt, changed })
}

/// The `kid` of a receipt's protected header (already verified by then).
fn receipt_kid(receipt: &str) -> String {
    serde_json::from_str::<jws::FlattenedJws>(receipt)
        .ok()
        .and_then(|j| {
            base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                j.protected,
            )
            .ok()
        })
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
        .and_then(|h| h["kid"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The rules whose status differs between two evaluations, each named as a person
/// reads it and by its id: `発注者（orderer）: 適合 → 不適合`.
fn differences(then: &[RuleResult], now: &[RuleResult]) -> Vec<String> {
    let mut out = Vec::new();
    let name = |r: &RuleResult| format!("{}（{}）", r.label(), r.id);
    for n in now {
        match then.iter().find(|t| t.id == n.id) {
            Some(t) if t.status == n.status => {}
            Some(t) => out.push(format!(
                "{}: {} → {}",
                name(n),
                t.status.label(),
                n.status.label()
            )),
            None => out.push(format!("{}: なし → {}", name(n), n.status.label())),
        }
    }
    for t in then.iter().filter(|t| !now.iter().any(|n| n.id == t.id)) {
        out.push(format!("{}: {} → なし", name(t), t.status.label()));
    }
    out
}
