//! Issuing and changing certificates: revision 1, amendments (変更), cancellation (解約),
//! and a new auth key for an existing certificate.
//!
//! Every revision is signed once with the active key and stored exactly as it will be
//! served; nothing is ever re-signed. The auth key exists in clear only in memory here:
//! the store gets its HMAC and a sealed copy (`crypto::seal_auth_key`, for
//! 「認証キー」の表示), the caller prints it once and puts it in the key notice.

use chrono::{DateTime, FixedOffset, NaiveDate, Timelike};

use super::app::App;
use super::crypto;
use super::error::IssuerError;
use super::input::{self, Amendment, IssueInput};
use super::keyring;
use super::notice::{self, Notice, NoticeFonts};
use super::settings::IssuerSecret;
use super::store::{self, certificates::CertificateRow, certificates::NewRevision};
use crate::db;
use kakunin_protocol::ids::{AuthKey, CertificateNumber};
use kakunin_protocol::payload::{Certificate, Change, Issuer, Status, SCHEMA};

/// A certificate and the auth key that opens it, just issued or re-keyed.
pub struct Issued {
    pub certificate: Certificate,
    pub auth_key: AuthKey,
}

/// Now in Japan time, to the second: `issued_at` values are compared with key validity
/// to the second, and a person reads them.
pub fn now() -> DateTime<FixedOffset> {
    let t = kakunin_protocol::time::now_jst();
    t.with_nanosecond(0).unwrap_or(t)
}

/// Revision 1 of a certificate from an `issue` file.
pub fn first_revision(
    input: IssueInput,
    issuer: &Issuer,
    issued_at: DateTime<FixedOffset>,
) -> Result<Certificate, IssuerError> {
    let cert = Certificate {
        schema: SCHEMA.to_owned(),
        certificate_number: input.number.as_str().to_owned(),
        revision: 1,
        status: Status::Active,
        kind: input.kind,
        issued_at,
        issuer: issuer.clone(),
        orderer: input.orderer,
        contractor: input.contractor,
        contract: input.contract,
        guarantee: input.guarantee,
        changes: vec![Change {
            revision: 1,
            date: issued_at.date_naive(),
            summary: "新規".to_owned(),
        }],
    };
    checked(cert)
}

/// The next revision after `prev` with the amendment applied.
pub fn amended(
    prev: &Certificate,
    amendment: &Amendment,
    issued_at: DateTime<FixedOffset>,
) -> Result<Certificate, IssuerError> {
    let mut value = serde_json::to_value(prev)
        .map_err(|e| IssuerError::Input(format!("現在の証書を読み取れません: {e}")))?;
    for (name, patch) in &amendment.patch {
        if let Some(target) = value.get_mut(name) {
            input::merge_patch(target, patch);
        }
    }
    // The amendment's own values were checked as it was read, so a problem found here
    // is in a value the current revision holds and the file left as it was: one signed
    // before today's checks. The file can replace it.
    if let serde_json::Value::Object(members) = &value {
        if let Err(e) = input::check_values("変更後の証書", members) {
            // Values the amendment brings pass on their own, so the fault is in one the
            // current revision holds (every one, when there are several).
            let held_before = input::check_patch("変更ファイル", &amendment.patch).is_ok();
            return Err(if held_before {
                IssuerError::Input(format!(
                    "{e} この値は今の証書（第{}版）のものです。変更ファイルにその項目の新しい値も書いてください。",
                    prev.revision
                ))
            } else {
                e
            });
        }
    }
    let mut next: Certificate = input::from_member("変更後の証書", "証書", value)?;
    let unchanged = Certificate {
        revision: prev.revision,
        issued_at: prev.issued_at,
        changes: prev.changes.clone(),
        ..next.clone()
    };
    if unchanged == *prev {
        return Err(IssuerError::Input(format!(
            "変更ファイルの値はすべて今の証書（第{}版）と同じです。変える項目の新しい値を書いてください。",
            prev.revision
        )));
    }
    next_revision(prev, &mut next, issued_at, &amendment.summary);
    checked(next)
}

/// The cancelling revision after `prev`: `status: cancelled`, change 「解約」.
pub fn cancelled(
    prev: &Certificate,
    issued_at: DateTime<FixedOffset>,
) -> Result<Certificate, IssuerError> {
    let mut next = prev.clone();
    next.status = Status::Cancelled;
    next_revision(prev, &mut next, issued_at, "解約");
    checked(next)
}

fn next_revision(
    prev: &Certificate,
    next: &mut Certificate,
    issued_at: DateTime<FixedOffset>,
    summary: &str,
) {
    next.revision = prev.revision + 1;
    next.issued_at = issued_at;
    next.changes = prev.changes.clone();
    next.changes.push(Change {
        revision: next.revision,
        date: issued_at.date_naive(),
        summary: summary.to_owned(),
    });
}

/// The payload check of §4 plus what an issuer must not sign: a period that ends
/// before it starts.
fn checked(cert: Certificate) -> Result<Certificate, IssuerError> {
    cert.check()
        .map_err(|e| IssuerError::Input(e.to_string()))?;
    if cert.guarantee.period_end < cert.guarantee.period_start {
        return Err(IssuerError::Input(
            "保証期間の終期（guarantee.period_end）が始期（guarantee.period_start）より前です。"
                .to_owned(),
        ));
    }
    if let (Some(s), Some(e)) = (cert.contract.period_start, cert.contract.period_end) {
        if e < s {
            return Err(IssuerError::Input(
                "工期の終期（contract.period_end）が始期（contract.period_start）より前です。"
                    .to_owned(),
            ));
        }
    }
    Ok(cert)
}

/// Signs `cert` with the active key and returns `(kid, payload JSON, JWS)`.
fn sign(
    conn: &mut diesel::SqliteConnection,
    keys_dir: &std::path::Path,
    cert: &Certificate,
) -> Result<(String, String, String), IssuerError> {
    let signer = keyring::active_signer(conn, keys_dir)?;
    let payload = serde_json::to_string(cert)
        .map_err(|e| IssuerError::Input(format!("証書を JSON にできません: {e}")))?;
    let jws = kakunin_protocol::jws::sign(payload.as_bytes(), &signer.kid, &signer.key);
    // Every relying party refuses a larger answer (§2); signing one would issue a
    // certificate nobody can verify.
    if jws.len() > kakunin_protocol::jws::MAX_ENVELOPE_BYTES {
        return Err(IssuerError::Input(format!(
            "署名した証書が大きすぎます（{}バイト、上限 {}バイト: issuer-protocol §2）。照会側が受け取れないため署名しません。変更の履歴は短くできないので、長い項目を短くするか、新しい保証契約番号で発行してください。",
            jws.len(),
            kakunin_protocol::jws::MAX_ENVELOPE_BYTES
        )));
    }
    Ok((signer.kid, payload, jws))
}

fn status_text(s: Status) -> &'static str {
    match s {
        Status::Active => "active",
        Status::Cancelled => "cancelled",
    }
}

/// Within a transaction: signs revision 1 and stores it with the HMAC of `auth_key` and
/// its sealed copy.
pub fn store_new(
    conn: &mut diesel::SqliteConnection,
    keys_dir: &std::path::Path,
    secret: &IssuerSecret,
    cert: &Certificate,
    contractor_id: Option<i32>,
    auth_key: &AuthKey,
) -> Result<(), IssuerError> {
    if store::certificates::exists(conn, &cert.certificate_number)? {
        return Err(IssuerError::Duplicate(cert.certificate_number.clone()));
    }
    let (kid, payload, jws) = sign(conn, keys_dir, cert)?;
    let rev = new_revision(cert, &kid, &payload, &jws);
    store::certificates::insert(
        conn,
        &cert.certificate_number,
        contractor_id,
        &crypto::auth_key_hmac(secret, auth_key),
        &crypto::seal_auth_key(secret, &cert.certificate_number, auth_key),
        &rev.as_new(),
    )?;
    Ok(())
}

/// Within a transaction: signs and stores a further revision of `row`.
pub fn store_revision(
    conn: &mut diesel::SqliteConnection,
    keys_dir: &std::path::Path,
    row: &CertificateRow,
    cert: &Certificate,
) -> Result<(), IssuerError> {
    let (kid, payload, jws) = sign(conn, keys_dir, cert)?;
    let rev = new_revision(cert, &kid, &payload, &jws);
    store::certificates::add_revision(conn, row.id, &rev.as_new())?;
    Ok(())
}

struct OwnedRevision {
    revision: i32,
    status: &'static str,
    kid: String,
    payload: String,
    jws: String,
    issued_at: String,
}

impl OwnedRevision {
    fn as_new(&self) -> NewRevision<'_> {
        NewRevision {
            revision: self.revision,
            status: self.status,
            kid: &self.kid,
            payload: &self.payload,
            jws: &self.jws,
            issued_at: &self.issued_at,
        }
    }
}

fn new_revision(cert: &Certificate, kid: &str, payload: &str, jws: &str) -> OwnedRevision {
    OwnedRevision {
        revision: i32::try_from(cert.revision).unwrap_or(i32::MAX),
        status: status_text(cert.status),
        kid: kid.to_owned(),
        payload: payload.to_owned(),
        jws: jws.to_owned(),
        issued_at: store::timestamp(cert.issued_at),
    }
}

/// Within a transaction: the certificate row and its latest revision's payload.
pub fn load_latest(
    conn: &mut diesel::SqliteConnection,
    number: &CertificateNumber,
) -> Result<(CertificateRow, Certificate), IssuerError> {
    let row = store::certificates::find(conn, number.as_str())?
        .ok_or_else(|| IssuerError::UnknownCertificate(number.to_string()))?;
    let latest = store::certificates::latest(conn, &row)?;
    let cert = parse_stored(&latest.payload)?;
    Ok((row, cert))
}

/// A payload as stored; it was checked before signing, so failure means a damaged store.
pub fn parse_stored(payload: &str) -> Result<Certificate, IssuerError> {
    Certificate::from_json(payload.as_bytes())
        .map_err(|e| IssuerError::Input(format!("保存された証書が壊れています: {e}")))
}

/// `issue`: signs and stores revision 1; `contractor` is the login that will see it.
pub async fn issue(
    app: &App,
    input: IssueInput,
    contractor: Option<String>,
) -> Result<Issued, IssuerError> {
    let secret = app.secret()?.clone();
    let cert = first_revision(input, &app.issuer, now())?;
    let keys_dir = app.keys_dir.clone();
    db::run(&app.pool, move |conn| {
        conn.immediate_transaction(|conn| {
            let contractor_id = match &contractor {
                Some(login) => Some(
                    store::contractors::by_login(conn, &kakunin_platform::login::typed(login))?
                        .ok_or_else(|| IssuerError::UnknownContractor(login.clone()))?
                        .id,
                ),
                None => None,
            };
            let auth_key = AuthKey::generate();
            store_new(conn, &keys_dir, &secret, &cert, contractor_id, &auth_key)?;
            Ok(Issued {
                certificate: cert,
                auth_key,
            })
        })
    })
    .await
}

/// What a new revision does to the latest one.
pub enum Revise {
    Amend(Amendment),
    Cancel,
}

/// `amend` and `cancel`: a new revision of an active certificate.
pub async fn revise(
    app: &App,
    number: CertificateNumber,
    change: Revise,
) -> Result<Certificate, IssuerError> {
    let keys_dir = app.keys_dir.clone();
    db::run(&app.pool, move |conn| {
        conn.immediate_transaction(|conn| {
            let (row, prev) = load_latest(conn, &number)?;
            if prev.status == Status::Cancelled {
                return Err(IssuerError::Cancelled(number.to_string()));
            }
            let next = match &change {
                Revise::Amend(a) => amended(&prev, a, now())?,
                Revise::Cancel => cancelled(&prev, now())?,
            };
            store_revision(conn, &keys_dir, &row, &next)?;
            Ok(next)
        })
    })
    .await
}

/// A new auth key for a certificate the contractor owns; the previous key stops working.
/// Returns `None` when the number is unknown or owned by someone else (the pages answer
/// both the same way).
pub async fn rekey(
    app: &App,
    number: CertificateNumber,
    contractor_id: i32,
) -> Result<Option<Issued>, IssuerError> {
    let secret = app.secret()?.clone();
    db::run(&app.pool, move |conn| {
        conn.immediate_transaction(|conn| {
            let Some(row) = store::certificates::find(conn, number.as_str())? else {
                return Ok(None);
            };
            if row.contractor_id != Some(contractor_id) {
                return Ok(None);
            }
            let latest = store::certificates::latest(conn, &row)?;
            let certificate = parse_stored(&latest.payload)?;
            let auth_key = AuthKey::generate();
            store::certificates::set_auth_key(
                conn,
                row.id,
                &crypto::auth_key_hmac(&secret, &auth_key),
                &crypto::seal_auth_key(&secret, &row.certificate_number, &auth_key),
                &store::now_text(),
            )?;
            Ok(Some(Issued {
                certificate,
                auth_key,
            }))
        })
    })
    .await
}

/// The latest revision of a certificate the contractor owns and its key in force, when
/// the issuer kept it sealed (keys issued before it did, or sealed by the construction
/// migration `2026-12-03-000000_auth_key_sealed_aead` erased, give `None`). `Ok(None)` when
/// the number is unknown or owned by someone else.
pub async fn current_key(
    app: &App,
    number: CertificateNumber,
    contractor_id: i32,
) -> Result<Option<(Certificate, Option<AuthKey>)>, IssuerError> {
    let secret = app.secret()?.clone();
    db::run(&app.pool, move |conn| {
        let Some(row) = store::certificates::find(conn, number.as_str())? else {
            return Ok(None);
        };
        if row.contractor_id != Some(contractor_id) {
            return Ok(None);
        }
        let latest = store::certificates::latest(conn, &row)?;
        let certificate = parse_stored(&latest.payload)?;
        let key = row.auth_key_sealed.as_deref().and_then(|sealed| {
            crypto::open_auth_key(&secret, &row.certificate_number, sealed, &row.auth_key_hmac)
        });
        Ok(Some((certificate, key)))
    })
    .await
}

/// The key notice PDF (§7) for a certificate and its auth key, dated `issued_on`.
pub fn render_notice(
    issued: &Issued,
    fonts: &NoticeFonts,
    issued_on: NaiveDate,
) -> Result<Vec<u8>, IssuerError> {
    let cert = &issued.certificate;
    Ok(notice::render(
        &Notice {
            issuer_id: &cert.issuer.id,
            issuer_name: &cert.issuer.name,
            certificate_number: &cert.certificate_number,
            auth_key: &issued.auth_key,
            kind_label: cert.kind.label(),
            title: &cert.contract.title,
            orderer_name: &cert.orderer.name,
            contractor_name: &cert.contractor.name,
            issued_on,
        },
        fonts,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kakunin_protocol::payload::Kind;

    fn input() -> IssueInput {
        input::parse_issue(
            "t.json",
            serde_json::json!({
                "certificate_number": "W2025000001",
                "kind": "performance",
                "orderer": {"name": "大分県"},
                "contractor": {"name": "株式会社豊後建設"},
                "contract": {"category": "construction", "title": "県道改良工事",
                             "contract_date": "2025-04-01", "amount_yen": 1000,
                             "period_start": "2025-04-02", "period_end": "2025-12-01"},
                "guarantee": {"amount_yen": 100, "period_start": "2025-04-02", "period_end": "2025-12-31"}
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    }

    fn issuer() -> Issuer {
        Issuer {
            id: "wjcs".into(),
            name: "西日本建設業保証株式会社".into(),
        }
    }

    #[test]
    fn first_revision_is_filled_in_by_the_issuer() {
        let c = first_revision(input(), &issuer(), now()).unwrap();
        assert_eq!(
            (c.schema.as_str(), c.revision, c.status),
            (SCHEMA, 1, Status::Active)
        );
        assert_eq!(c.changes.len(), 1);
        assert_eq!(c.changes[0].summary, "新規");
        assert_eq!(c.issuer.id, "wjcs");
    }

    #[test]
    fn amendments_and_cancellation_append_to_changes() {
        let c1 = first_revision(input(), &issuer(), now()).unwrap();
        let a = input::parse_amendment(
            "a.json",
            r#"{"guarantee": {"amount_yen": 150}, "kind": "advance_payment", "summary": "保証金額の変更"}"#
                .as_bytes(),
        )
        .unwrap();
        let c2 = amended(&c1, &a, now()).unwrap();
        assert_eq!(
            (c2.revision, c2.guarantee.amount_yen, c2.kind),
            (2, 150, Kind::AdvancePayment)
        );
        assert_eq!(c2.guarantee.period_end, c1.guarantee.period_end);
        let c3 = cancelled(&c2, now()).unwrap();
        assert_eq!(c3.status, Status::Cancelled);
        let summaries: Vec<_> = c3.changes.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(summaries, ["新規", "保証金額の変更", "解約"]);
    }

    #[test]
    fn an_amendment_that_breaks_the_payload_is_refused_naming_the_member() {
        let c1 = first_revision(input(), &issuer(), now()).unwrap();
        // Read from a file, the amendment is refused as it is read (see `input`); built
        // by hand, the merged certificate is checked the same way.
        let refused = |patch: serde_json::Value| {
            let a = Amendment {
                patch: patch.as_object().unwrap().clone(),
                summary: "変更".into(),
            };
            amended(&c1, &a, now()).unwrap_err().to_string()
        };
        let e = refused(serde_json::json!({"guarantee": {"amount_yen": -1}}));
        assert!(
            e.contains("「guarantee.amount_yen」") && e.contains("0以上"),
            "{e}"
        );
        let e = refused(serde_json::json!({"contract": {"title": null}}));
        assert!(e.contains("必須の項目「contract.title」"), "{e}");
        let e = refused(serde_json::json!({"guarantee": {"period_end": "2026-02-30"}}));
        assert!(e.contains("存在しない日付"), "{e}");
        assert!(!e.contains("今の証書"), "the fault is the amendment's: {e}");
    }

    /// An amendment that changes nothing would sign a new revision saying so; one that
    /// leaves a text signed before today's checks (a line break in 工事場所) says where
    /// the fault is and what the file must hold.
    #[test]
    fn an_amendment_says_when_it_changes_nothing_or_the_current_revision_is_at_fault() {
        let c1 = first_revision(input(), &issuer(), now()).unwrap();
        for file in [
            r#"{"contractor": {}}"#,
            r#"{"guarantee": {"amount_yen": 100}, "summary": "保証金額の変更"}"#,
        ] {
            let a = input::parse_amendment("a.json", file.as_bytes()).unwrap();
            let e = amended(&c1, &a, now()).unwrap_err().to_string();
            assert!(
                e.contains("すべて今の証書（第1版）と同じです"),
                "{file}: {e}"
            );
        }

        let mut old = c1.clone();
        old.contract.location = Some("大分市\n府内町".into());
        let raise =
            input::parse_amendment("a.json", br#"{"guarantee": {"amount_yen": 150}}"#).unwrap();
        let e = amended(&old, &raise, now()).unwrap_err().to_string();
        assert!(
            e.contains("「contract.location」") && e.contains("今の証書（第1版）のものです"),
            "{e}"
        );
        let fixed = input::parse_amendment(
            "a.json",
            r#"{"guarantee": {"amount_yen": 150}, "contract": {"location": "大分市府内町"}}"#
                .as_bytes(),
        )
        .unwrap();
        assert!(amended(&old, &fixed, now()).is_ok());
        // Two such texts: the file mends one, and the other is still named as the
        // revision's, not the file's.
        old.contract.terms = Some("約款\u{200B}".into());
        let e = amended(&old, &fixed, now()).unwrap_err().to_string();
        assert!(
            e.contains("「contract.terms」") && e.contains("今の証書（第1版）のものです"),
            "{e}"
        );
    }
}
