//! Verifying a 保証契約番号 + 認証キー end to end: guard, ask the issuer, check the
//! record, store the attempt and its audit row in one transaction.
//!
//! The web pages and the API both call [`Verifier::verify`], so outcomes, lockouts and
//! audit are the same whichever way a request arrives.

pub mod diff;
pub mod store;

use std::sync::Arc;

use chrono::{Duration, NaiveDateTime};
use serde::Serialize;

use crate::audit::{self, Actor, Event};
use crate::auth::key_fingerprint;
use crate::config::{Lockout, SecretKey};
use crate::db::{self, DbError, DbPool};
use crate::ids::{AuthKey, CertificateNumber};
use crate::issuer_client::{Answer, IssuerClient};
use crate::outcome::Outcome;
use crate::record::RecordError;
use crate::registry::Registry;
use crate::rules::{Expected, Profile};
use crate::verify;

pub use store::{OfficeScope, VerificationRow};

/// One verification request, already parsed: only valid input gets this far.
#[derive(Debug, Clone)]
pub struct Request {
    pub number: CertificateNumber,
    pub key: AuthKey,
    pub expected: Expected,
    pub client_ref: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Input that routes to no trusted issuer: rejected without any request (§5).
    #[error("保証契約番号「{0}」に対応する保証事業会社が登録されていません。番号を確認してください（例: W2025000123）")]
    NoIssuer(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for VerifyError {
    fn from(e: diesel::result::Error) -> Self {
        VerifyError::Db(DbError::Query(e))
    }
}

/// Everything one verification needs; cheap to clone into each request.
#[derive(Clone)]
pub struct Verifier {
    pub registry: Arc<Registry>,
    pub profile: Arc<Profile>,
    pub client: IssuerClient,
    pub pool: DbPool,
    pub secret: SecretKey,
    pub lockout: Lockout,
}

/// What asking the issuers produced, before it is stored.
struct Asked {
    outcome: Outcome,
    issuer_id: Option<String>,
    checked: Option<verify::Checked>,
    jws: Option<String>,
    detail: Option<String>,
}

impl Asked {
    fn bare(outcome: Outcome, issuer_id: Option<String>, detail: Option<String>) -> Self {
        Self {
            outcome,
            issuer_id,
            checked: None,
            jws: None,
            detail,
        }
    }
}

impl Verifier {
    pub async fn verify(
        &self,
        actor: &Actor,
        req: Request,
    ) -> Result<VerificationRow, VerifyError> {
        let row = self.prepare(actor, req).await?;
        let mut stored = self.store(actor, vec![row]).await?;
        Ok(stored.remove(0))
    }

    /// Everything of a verification but storing it: guard, lookup, check. The row is
    /// not recorded until [`Verifier::store`] commits it with its audit row.
    pub async fn prepare(
        &self,
        actor: &Actor,
        req: Request,
    ) -> Result<VerificationRow, VerifyError> {
        let issuers = self.registry.route(&req.number);
        if issuers.is_empty() {
            return Err(VerifyError::NoIssuer(req.number.to_string()));
        }
        let number = req.number.to_string();
        let locked = db::run(&self.pool, {
            let number = number.clone();
            move |c| store::is_locked(c, &number, now()).map_err(DbError::from)
        })
        .await?;
        let asked = if locked {
            Asked::bare(
                Outcome::Locked,
                None,
                Some("照会の失敗が続いたため、この番号は本サービスでロックされています".into()),
            )
        } else {
            self.ask(&issuers, &req).await
        };
        Ok(self.row(actor, &req, asked))
    }

    /// Records prepared verifications, each with its audit row (and a lock when the guard
    /// trips), in one transaction. A batch stores its items together: one commit instead
    /// of a thousand is what keeps a batch close to the issuer's own lookup rate.
    pub async fn store(
        &self,
        actor: &Actor,
        rows: Vec<VerificationRow>,
    ) -> Result<Vec<VerificationRow>, VerifyError> {
        let actor = actor.clone();
        let lockout = self.lockout.clone();
        db::write(&self.pool, move |c| {
            record_attempts(c, &actor, &rows, &lockout)?;
            Ok(rows)
        })
        .await
    }

    /// Asks each issuer the number routes to, in registry order, until one knows it.
    async fn ask(&self, issuers: &[&crate::registry::TrustedIssuer], req: &Request) -> Asked {
        let mut unavailable = None;
        for issuer in issuers {
            match self.client.lookup(issuer, &req.number, &req.key).await {
                Answer::Record(bytes) => {
                    let jws = String::from_utf8_lossy(&bytes).into_owned();
                    let result = verify::check(
                        &bytes,
                        &issuer.id,
                        &req.number,
                        &self.registry,
                        &self.profile,
                        &req.expected,
                    );
                    return match result {
                        Ok(checked) => Asked {
                            outcome: checked.outcome(),
                            issuer_id: Some(issuer.id.clone()),
                            checked: Some(checked),
                            jws: Some(jws),
                            detail: None,
                        },
                        Err(e) => Asked {
                            outcome: Outcome::InvalidRecord,
                            issuer_id: Some(issuer.id.clone()),
                            checked: None,
                            jws: Some(jws),
                            detail: Some(format!("{} [{}]", e, e.code())),
                        },
                    };
                }
                Answer::Oversized => {
                    let e = RecordError::TooLarge(crate::record::envelope::MAX_ENVELOPE_BYTES + 1);
                    return Asked::bare(
                        Outcome::InvalidRecord,
                        Some(issuer.id.clone()),
                        Some(format!("{} [{}]", e, e.code())),
                    );
                }
                Answer::Locked { retry_after } => {
                    let detail = match retry_after {
                        Some(s) => format!(
                            "保証事業会社がこの番号の照会をロックしています（約{}分後に解除）",
                            s.div_ceil(60)
                        ),
                        None => "保証事業会社がこの番号の照会をロックしています".to_owned(),
                    };
                    return Asked::bare(Outcome::Locked, Some(issuer.id.clone()), Some(detail));
                }
                Answer::NotFound => continue,
                Answer::Unavailable(reason) => {
                    tracing::warn!(issuer = %issuer.id, %reason, "issuer unavailable");
                    unavailable = Some((issuer.id.clone(), format!("{}: {reason}", issuer.name)));
                }
            }
        }
        match unavailable {
            Some((id, reason)) => Asked::bare(Outcome::IssuerUnavailable, Some(id), Some(reason)),
            None => Asked::bare(
                Outcome::NotFound,
                issuers.first().map(|i| i.id.clone()),
                None,
            ),
        }
    }

    fn row(&self, actor: &Actor, req: &Request, asked: Asked) -> VerificationRow {
        let (kid, revision, payload, rules) = match &asked.checked {
            Some(c) => (
                Some(c.record.kid().to_owned()),
                Some(c.record.certificate().revision as i32),
                Some(c.record.payload().to_string()),
                serde_json::to_string(&c.rules).unwrap_or_else(|_| "[]".into()),
            ),
            None => (None, None, None, "[]".to_owned()),
        };
        VerificationRow {
            id: ulid::Ulid::new().to_string(),
            office_code: actor.office_code.clone(),
            actor: actor.name.clone(),
            client_ref: req.client_ref.clone(),
            certificate_number: req.number.to_string(),
            key_fingerprint: key_fingerprint(self.secret.expose(), req.number.as_str(), &req.key),
            issuer_id: asked.issuer_id,
            outcome: asked.outcome.as_str().to_owned(),
            checked_at: now(),
            kid,
            revision,
            jws: asked.jws,
            payload,
            rules,
            expected: serde_json::to_string(&req.expected).unwrap_or_else(|_| "{}".into()),
            detail: asked.detail,
        }
    }

    pub fn issuer_name(&self, id: Option<&str>) -> Option<String> {
        id.and_then(|id| self.registry.issuer(id))
            .map(|i| i.name.clone())
    }
}

fn now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// Reads a stored verification within `scope` and records, in the caller's write
/// transaction, that `actor` looked at it (`verification.view` or `.print`): every view
/// of a stored verification is audited, whether a page or the API asked.
pub fn open_audited(
    c: &mut diesel::SqliteConnection,
    actor: &Actor,
    id: &str,
    scope: &OfficeScope,
    action: &'static str,
) -> diesel::QueryResult<Option<VerificationRow>> {
    let Some(row) = store::find(c, id, scope)? else {
        return Ok(None);
    };
    audit::append(
        c,
        actor,
        &Event {
            action,
            target: &row.certificate_number,
            outcome: &row.outcome,
            detail: format!("verification={}", row.id),
        },
    )?;
    Ok(Some(row))
}

/// Stores the attempts and their audit rows and, where the guard trips, the lock and its
/// row. The caller holds the write transaction.
fn record_attempts(
    c: &mut diesel::SqliteConnection,
    actor: &Actor,
    rows: &[VerificationRow],
    lockout: &Lockout,
) -> diesel::QueryResult<()> {
    store::insert(c, rows)?;
    let details: Vec<String> = rows
        .iter()
        .map(|row| {
            serde_json::json!({
                "verification": row.id,
                "issuer": row.issuer_id,
                "key_fingerprint": row.key_fingerprint,
                "kid": row.kid,
                "revision": row.revision,
                "ref": row.client_ref,
            })
            .to_string()
        })
        .collect();
    let events: Vec<Event<'_>> = rows
        .iter()
        .zip(details)
        .map(|(row, detail)| Event {
            action: "verify",
            target: &row.certificate_number,
            outcome: &row.outcome,
            detail,
        })
        .collect();
    audit::append_many(c, actor, &events)?;
    // Each number is locked at most once per call, however many of its misses it holds.
    let mut locked = std::collections::HashSet::new();
    for row in rows.iter().filter(|r| r.outcome() == Outcome::NotFound) {
        if locked.contains(&row.certificate_number) {
            continue;
        }
        let since = row.checked_at - Duration::minutes(lockout.window_minutes);
        if store::recent_not_found(c, &row.certificate_number, since)? >= lockout.not_found_limit {
            let until = row.checked_at + Duration::minutes(lockout.lock_minutes);
            store::lock(c, &row.certificate_number, until)?;
            audit::append(
                c,
                actor,
                &Event {
                    action: "lockout",
                    target: &row.certificate_number,
                    outcome: "locked",
                    detail: format!(
                        "not_found {}回/{}分 → {}分ロック",
                        lockout.not_found_limit, lockout.window_minutes, lockout.lock_minutes
                    ),
                },
            )?;
            locked.insert(row.certificate_number.clone());
        }
    }
    Ok(())
}

/// The API's view of a stored verification (`service.md` "A Verification").
#[derive(Debug, Clone, Serialize)]
pub struct VerificationView {
    pub id: String,
    #[serde(rename = "ref")]
    pub client_ref: Option<String>,
    pub outcome: Outcome,
    pub checked_at: String,
    pub certificate_number: String,
    pub issuer: Option<IssuerRef>,
    pub signature: Option<SignatureRef>,
    pub certificate: Option<serde_json::Value>,
    pub rules: Vec<crate::rules::RuleResult>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IssuerRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SignatureRef {
    pub kid: String,
    pub valid: bool,
}

impl VerificationView {
    pub fn new(row: &VerificationRow, registry: &Registry) -> Self {
        let checked_at = row
            .checked_at
            .and_utc()
            .with_timezone(&db::jst())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        Self {
            id: row.id.clone(),
            client_ref: row.client_ref.clone(),
            outcome: row.outcome(),
            checked_at,
            certificate_number: row.certificate_number.clone(),
            issuer: row.issuer_id.as_ref().map(|id| IssuerRef {
                id: id.clone(),
                name: registry
                    .issuer(id)
                    .map(|i| i.name.clone())
                    .unwrap_or_default(),
            }),
            signature: row.kid.as_ref().map(|kid| SignatureRef {
                kid: kid.clone(),
                valid: true,
            }),
            certificate: row.payload_json(),
            rules: row.rule_results(),
            detail: row.detail.clone(),
        }
    }
}
