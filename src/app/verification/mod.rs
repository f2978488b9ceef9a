//! Verifying a 保証契約番号 + 認証キー end to end: guard, ask the issuer, check the
//! record, store the attempt and its audit row in one transaction.
//!
//! The web pages and the API both call [`Verifier::verify`], so outcomes, lockouts and
//! audit are the same whichever way a request arrives.

mod group;
pub mod lockout;
pub mod store;
mod turns;
pub mod watch;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::value::RawValue;
use tokio::sync::Semaphore;

use chrono::Duration;
use serde::Serialize;

use crate::adapters::db::{self, Conn, DbError, DbPool};
use crate::adapters::issuer_client::{Answer, IssuerClient};
use crate::app::accounts::key_fingerprint;
use crate::app::audit::{self, Action, Actor, AuditOutcome, Event};
use crate::app::receipt::{self, Receipt, ReceiptKeys};
use crate::config::{Lockout, SecretKey};
use crate::domain::bounds;
use crate::domain::case::{Case, DuplicateUse};
use crate::domain::check;
use crate::domain::code::Code;
use crate::domain::intake::Scanned;
use crate::domain::outcome::Outcome;
use crate::domain::rules::{Expected, Profile};
use crate::domain::scope::OfficeScope;
use kakunin_protocol::ids::{AuthKey, CertificateNumber};
use kakunin_protocol::jws::RecordError;
use kakunin_protocol::registry::Registry;
use secrecy::ExposeSecret;

pub use group::{Coming, WriteQueue};
pub use lockout::{lock_state, LockState};
pub use store::{DamagedRow, VerificationRow};
pub use turns::NumberTurns;

/// One verification request, already parsed: only valid input gets this far.
#[derive(Debug, Clone)]
pub struct Request {
    pub number: CertificateNumber,
    pub key: AuthKey,
    pub expected: Expected,
    /// The 案件 the officer or client typed (both parts optional).
    pub case: Case,
    pub client_ref: Option<String>,
    /// Set when the number and key came from a key notice's QR text: the issuer it
    /// names must be one the registry routes the number to, and only that one is asked.
    pub scanned: Option<Scanned>,
}

/// [`VerifyError::NoIssuer`]'s message: the number quoted, so the officer sees the typo,
/// unless it also reads as an auth key (16 symbols of its alphabet), which may be the
/// key typed into 保証契約番号 and is never shown again.
fn no_issuer_message(number: &str) -> String {
    if crate::domain::intake::could_be_key(number) {
        "入力された保証契約番号に対応する保証事業会社が登録されていません。保証契約番号の欄に認証キーを入力していないか、番号を確認してください（例: W2025000123）".to_owned()
    } else {
        format!("保証契約番号「{number}」に対応する保証事業会社が登録されていません。番号を確認してください（例: W2025000123）")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Input that routes to no trusted issuer: rejected without any request (§5). The
    /// number is quoted, unless it could be an auth key typed into the wrong field.
    #[error("{}", no_issuer_message(.0))]
    NoIssuer(String),
    /// Scanned QR text names an issuer the registry does not route its number to: a
    /// forged or foreign notice, rejected without any request.
    #[error("読み取ったQRコードの保証事業会社は、この保証契約番号の保証事業会社として登録されていません。お知らせを確認し、保証契約番号と認証キーを手で入力してください。")]
    NoticeIssuer(kakunin_protocol::ids::Field),
    #[error(transparent)]
    Db(#[from] DbError),
    /// The lookup's task ended without an answer: the service is shutting down.
    #[error("照会の処理が中断されました。もう一度お試しください")]
    Interrupted,
}

impl From<diesel::result::Error> for VerifyError {
    fn from(e: diesel::result::Error) -> Self {
        VerifyError::Db(DbError::Query(e))
    }
}

/// A batch's writer waits for this many finished rows before it writes (or for the
/// last lookup). Each commit has a fixed cost, so writing every row as it comes would
/// cost more than it hides; a hundred keeps the write left after the last lookup short.
const MIN_ROWS_PER_WRITE: usize = 100;
/// Most rows one write of a batch takes; a batch holds at most 1000 items anyway.
const MAX_ROWS_PER_WRITE: usize = 1000;

/// Everything one verification needs; cheap to clone into each request.
#[derive(Clone)]
pub struct Verifier {
    pub registry: Arc<Registry>,
    pub profile: Arc<Profile>,
    pub client: IssuerClient,
    pub pool: DbPool,
    pub secret: SecretKey,
    pub lockout: Lockout,
    /// Where lookups and checks run. An actix worker is one thread, so a batch run on
    /// the worker that received it would check 1000 signatures on one core; spawned
    /// here, they spread over all cores while the worker only waits.
    pub workers: tokio::runtime::Handle,
    /// Rows waiting to be written; concurrent requests share a commit. Built with the
    /// same pool, lockout and receipt keys as the fields beside it.
    pub writes: WriteQueue,
    /// The receipt keys, as `writes` signs with them: for the JWKS and readiness.
    pub receipts: Arc<ReceiptKeys>,
    /// One lookup at a time per number, so the service's lock holds under concurrency.
    pub turns: NumberTurns,
}

/// A verification looked up and checked: stored already (a `not_found`, committed inside
/// its number's turn so that the next lookup of the number counts it), or to be stored
/// with others.
enum Prepared {
    /// With its duplicate use when that was asked for.
    Stored(VerificationRow, Option<DuplicateUse>),
    /// With the writer's count of it as on its way, for a single verification.
    ToStore(VerificationRow, Option<Coming>),
}

/// What asking the issuers produced, before it is stored.
struct Asked {
    outcome: Outcome,
    issuer_id: Option<String>,
    checked: Option<check::Checked>,
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
        Ok(self.verify_one(actor, req, false).await?.0)
    }

    /// [`Verifier::verify`], answering also the guarantee's duplicate use as read right
    /// after the row was stored, on the connection that stored it: what the API answers
    /// a single verification with.
    pub async fn verify_with_use(
        &self,
        actor: &Actor,
        req: Request,
    ) -> Result<(VerificationRow, DuplicateUse), VerifyError> {
        let (row, uses) = self.verify_one(actor, req, true).await?;
        Ok((row, uses.expect("a store asked for uses answers them")))
    }

    async fn verify_one(
        &self,
        actor: &Actor,
        req: Request,
        with_uses: bool,
    ) -> Result<(VerificationRow, Option<DuplicateUse>), VerifyError> {
        // One task from guard to commit, on `workers`: should the client go away
        // mid-lookup, the issuer call it caused is still stored and audited.
        let (this, actor) = (self.clone(), actor.clone());
        let task = self.workers.spawn(async move {
            match this.prepare(&actor, req, None, with_uses).await? {
                Prepared::Stored(row, uses) => Ok((row, uses)),
                Prepared::ToStore(row, coming) => this.store(&actor, row, with_uses, coming).await,
            }
        });
        joined(task.await)?
    }

    /// Verifies many requests, at most `concurrency` issuer calls at a time, and stores
    /// each with its audit row. The answer keeps the order of `requests`; an item that
    /// routes to no issuer gets its own error.
    ///
    /// Rows are stored while later lookups still run: each write takes every row that
    /// finished since the last one (at least `MIN_ROWS_PER_WRITE`, 100), in one
    /// transaction (group commit). Storing a whole batch at the end would add its write
    /// to the batch's time instead of hiding it.
    /// Should the database fail, the batch fails, the rows written before stay
    /// recorded, each with its audit row, and items not yet sent to an issuer are
    /// cancelled. The batch runs in a task of its own, so a client that goes away does
    /// not stop it half-recorded.
    pub async fn verify_batch(
        &self,
        actor: &Actor,
        requests: Vec<Request>,
        concurrency: usize,
    ) -> Result<Vec<Result<VerificationRow, VerifyError>>, VerifyError> {
        // The batch is driven from a task of `workers` too, so that an item's task
        // finishing wakes a driver on the same runtime, often the same thread, instead of
        // crossing to the actix worker 1000 times.
        let (this, actor) = (self.clone(), actor.clone());
        let driver = self
            .workers
            .spawn(async move { this.run_batch(&actor, requests, concurrency).await });
        joined(driver.await)?
    }

    async fn run_batch(
        &self,
        actor: &Actor,
        requests: Vec<Request>,
        concurrency: usize,
    ) -> Result<Vec<Result<VerificationRow, VerifyError>>, VerifyError> {
        let count = requests.len();
        let (rows, finished) = tokio::sync::mpsc::unbounded_channel();
        let writer = self
            .workers
            .spawn(self.clone().store_as_they_come(actor.clone(), finished));
        let mut results: Vec<Option<Result<VerificationRow, VerifyError>>> =
            (0..count).map(|_| None).collect();
        // The bound is on issuer calls (service.md), so an item holds a permit only while
        // it waits for its issuer: the next call starts as soon as an answer arrives, not
        // once that answer's signature and rules are checked. Bounding whole items instead
        // left the issuer idle whenever answers queued for checking held the permits.
        // Every number is under way at once; results come unordered and are put back in
        // place.
        let calls = Arc::new(Semaphore::new(concurrency.max(1)));
        // A `JoinSet`, so that items not yet asked are cancelled, not asked unrecorded,
        // should the writer fail and the batch end early.
        let mut items = tokio::task::JoinSet::new();
        // Items of one number go in one chain, in batch order: they would wait for each
        // other's turn anyway, and so a right key after many wrong ones meets the lock
        // they set rather than overtaking them.
        let mut chains: Vec<Vec<(usize, Request)>> = Vec::new();
        let mut chain_of: HashMap<String, usize> = HashMap::new();
        for (i, r) in requests.into_iter().enumerate() {
            let next = chains.len();
            let c = *chain_of.entry(r.number.to_string()).or_insert(next);
            if c == next {
                chains.push(Vec::new());
            }
            chains[c].push((i, r));
        }
        for chain in chains {
            let (this, actor, calls, rows) =
                (self.clone(), actor.clone(), calls.clone(), rows.clone());
            items.spawn_on(
                async move {
                    let mut done = Vec::new();
                    for (i, r) in chain {
                        match this.prepare(&actor, r, Some(&calls), false).await {
                            Ok(Prepared::Stored(row, _)) => done.push((i, Ok(row))),
                            // A closed channel means the writer failed; its error ends
                            // the batch.
                            Ok(Prepared::ToStore(row, _)) => {
                                if rows.send((i, row)).is_err() {
                                    break;
                                }
                            }
                            Err(e) => done.push((i, Err(e))),
                        }
                    }
                    done
                },
                &self.workers,
            );
        }
        while let Some(chain) = items.join_next().await {
            for (i, result) in joined(chain)? {
                results[i] = Some(result);
            }
            if rows.is_closed() {
                break;
            }
        }
        drop(items);
        drop(rows);
        for (i, row) in joined(writer.await)?? {
            results[i] = Some(Ok(row));
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every item is looked up and stored, or has its error"))
            .collect())
    }

    /// The batch writer: stores whatever rows arrived since its last write, until the
    /// lookups are done. Answers each row with the item's place in the batch.
    async fn store_as_they_come(
        self,
        actor: Actor,
        mut finished: tokio::sync::mpsc::UnboundedReceiver<(usize, VerificationRow)>,
    ) -> Result<Vec<(usize, VerificationRow)>, VerifyError> {
        let mut stored = Vec::new();
        let mut waiting = Vec::new();
        loop {
            let done = finished.recv_many(&mut waiting, MAX_ROWS_PER_WRITE).await == 0;
            if waiting.len() >= MIN_ROWS_PER_WRITE || (done && !waiting.is_empty()) {
                let (places, rows): (Vec<usize>, Vec<VerificationRow>) = waiting.drain(..).unzip();
                let (rows, _) = self.store_all(&actor, rows, false, None).await?;
                stored.extend(places.into_iter().zip(rows));
            }
            if done {
                return Ok(stored);
            }
        }
    }

    /// Whether this service has locked `number` (too many `not_found` lately). One
    /// number with `=`, not `IN (…)`: diesel caches the prepared statement of a query
    /// of fixed shape, while an `IN` list is new SQL that SQLite parses on every call.
    async fn locked(&self, number: String) -> Result<bool, VerifyError> {
        Ok(db::read(&self.pool, move |c| {
            store::locked_until(c, &number, db::now_utc())
                .map(|until| until.is_some())
                .map_err(DbError::from)
        })
        .await?)
    }

    /// Guard, lookup and check, in the number's turn (see [`turns`]): the lock is read
    /// inside it, and a `not_found` is committed with its audit row (and the lock, should
    /// it trip) before the turn passes on, so at most `not_found_limit` wrong keys a
    /// window reach an issuer however requests and batches mix. Any other outcome is
    /// left for [`Verifier::store`] to commit with others. With `calls`, each issuer
    /// call first takes a permit; with `with_uses`, a row stored here comes with its
    /// duplicate use.
    async fn prepare(
        &self,
        actor: &Actor,
        req: Request,
        calls: Option<&Semaphore>,
        with_uses: bool,
    ) -> Result<Prepared, VerifyError> {
        let mut issuers = self.registry.route(&req.number);
        if issuers.is_empty() {
            return Err(VerifyError::NoIssuer(req.number.to_string()));
        }
        if let Some(scanned) = &req.scanned {
            issuers.retain(|i| i.id.eq_ignore_ascii_case(&scanned.issuer_id));
            if issuers.is_empty() {
                return Err(VerifyError::NoticeIssuer(scanned.field));
            }
        }
        let _turn = self.turns.take(req.number.as_str()).await?;
        // A single verification's row will come to the writer soon; a batch's come a
        // hundred at a time, and nobody waits for them.
        let coming = calls.is_none().then(|| self.writes.coming());
        let is_locked = self.locked(req.number.to_string()).await?;
        let asked = if is_locked {
            Asked::bare(
                Outcome::Locked,
                None,
                Some("照会の失敗が続いたため、この番号は本サービスでロックされています".into()),
            )
        } else {
            self.ask(&issuers, &req, calls).await
        };
        let row = self.row(actor, &req, asked);
        if row.outcome == Outcome::NotFound {
            let (row, uses) = self.store(actor, row, with_uses, coming).await?;
            Ok(Prepared::Stored(row, uses))
        } else {
            Ok(Prepared::ToStore(row, coming))
        }
    }

    /// Records prepared verifications, each with its audit row (and a lock when the guard
    /// trips), in one transaction, possibly shared with other requests' (group commit);
    /// with `with_uses`, answers their duplicate use as read after the commit. `coming`
    /// is the writer's count of a single verification as on its way.
    async fn store_all(
        &self,
        actor: &Actor,
        rows: Vec<VerificationRow>,
        with_uses: bool,
        coming: Option<Coming>,
    ) -> Result<group::Stored, VerifyError> {
        self.writes.store(actor, rows, with_uses, coming).await
    }

    /// [`Verifier::store_all`] for one row.
    async fn store(
        &self,
        actor: &Actor,
        row: VerificationRow,
        with_uses: bool,
        coming: Option<Coming>,
    ) -> Result<(VerificationRow, Option<DuplicateUse>), VerifyError> {
        let (mut rows, uses) = self.store_all(actor, vec![row], with_uses, coming).await?;
        Ok((rows.remove(0), uses.map(|mut u| u.remove(0))))
    }

    /// Asks each issuer the number routes to, in registry order, until one knows it.
    async fn ask(
        &self,
        issuers: &[&kakunin_protocol::registry::TrustedIssuer],
        req: &Request,
        calls: Option<&Semaphore>,
    ) -> Asked {
        let mut unavailable = None;
        for issuer in issuers {
            let answer = {
                // Never closed, so acquiring only waits.
                let _permit = match calls {
                    Some(calls) => Some(calls.acquire().await.expect("semaphore is never closed")),
                    None => None,
                };
                self.client.lookup(issuer, &req.number, &req.key).await
            };
            if calls.is_some() {
                // Let the item that got our permit send its call before we check ours.
                tokio::task::yield_now().await;
            }
            match answer {
                Answer::Record(bytes) => {
                    let result = check::check(
                        &bytes,
                        &issuer.id,
                        &req.number,
                        &self.registry,
                        &self.profile,
                        &req.expected,
                    );
                    // A valid record is JSON, so UTF-8; anything else is kept as evidence.
                    let jws = String::from_utf8(bytes)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
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
                    let e = RecordError::TooLarge(kakunin_protocol::jws::MAX_ENVELOPE_BYTES + 1);
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
        let (kid, revision, rules) = match &asked.checked {
            Some(c) => (
                Some(c.record.kid().to_owned()),
                Some(c.record.certificate().revision as i32),
                serde_json::to_string(&c.rules).unwrap_or_else(|_| "[]".into()),
            ),
            None => (None, None, "[]".to_owned()),
        };
        VerificationRow {
            id: ulid::Ulid::new().to_string(),
            office_code: actor.office_code.clone(),
            actor: actor.name.clone(),
            client_ref: req.client_ref.clone(),
            certificate_number: req.number.to_string(),
            key_fingerprint: key_fingerprint(
                self.secret.expose_secret(),
                req.number.as_str(),
                &req.key,
            ),
            issuer_id: asked.issuer_id,
            outcome: asked.outcome,
            checked_at: db::now_utc(),
            kid,
            revision,
            jws: asked.jws,
            rules,
            expected: serde_json::to_string(&req.expected).unwrap_or_else(|_| "{}".into()),
            detail: asked.detail,
            receipt: None,
            profile_digest: Some(self.profile.digest.clone()),
            case_number: req.case.number.clone(),
            case_title: req.case.title.clone(),
        }
    }

    pub fn issuer_name(&self, id: Option<&str>) -> Option<String> {
        id.and_then(|id| self.registry.issuer(id))
            .map(|i| i.name.clone())
    }
}

/// The receipt of a stored attempt, for the outcomes that carry a record.
fn receipt_for(row: &VerificationRow, audit_row: &audit::AuditRow) -> Option<Receipt> {
    if !row.outcome.has_certificate() {
        return None;
    }
    let rules = RawValue::from_string(row.rules.clone()).ok()?;
    Some(Receipt {
        version: receipt::VERSION,
        verification_id: row.id.clone(),
        checked_at: receipt::receipt_time(row.checked_at),
        office: row.office_code.clone(),
        officer: row.actor.clone(),
        certificate_number: row.certificate_number.clone(),
        issuer: row.issuer_id.clone()?,
        kid: row.kid.clone()?,
        revision: row.revision?,
        jws_sha256: receipt::sha256_hex(row.jws.as_deref()?.as_bytes()),
        outcome: row.outcome.as_str().to_owned(),
        rules,
        profile_digest: row.profile_digest.clone()?,
        audit_seq: audit_row.seq,
        audit_hash: audit_row.hash.clone(),
        case: row.case().map(|c| receipt::ReceiptCase {
            number: c.number,
            title: c.title,
        }),
    })
}

/// A task's result; a panic goes on as a panic, and a task cancelled at shutdown is
/// [`VerifyError::Interrupted`].
fn joined<T>(result: Result<T, tokio::task::JoinError>) -> Result<T, VerifyError> {
    match result {
        Ok(value) => Ok(value),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(VerifyError::Interrupted),
    }
}

/// Reads a stored verification within `scope` and records, in the caller's write
/// transaction, that `actor` looked at it (`verification.view` or `.print`): every view
/// of a stored verification is audited, whether a page or the API asked. So is every
/// miss: an id outside `scope` leaves a `denied` row whose detail says whether the id
/// is another office's (`other_office`) or nobody's (`no_such_id`), so a supervisor
/// sees an officer or a token probing other offices' verifications.
pub fn open_audited(
    c: &mut Conn,
    actor: &Actor,
    id: &str,
    scope: &OfficeScope,
    action: Action,
) -> diesel::QueryResult<Option<VerificationRow>> {
    open_audited_noting(c, actor, id, scope, action, |_| None)
}

/// [`open_audited`], with what the act found of the row (`note`, say `paper=mismatch`)
/// added to the audit row's detail after the verification's id.
pub fn open_audited_noting(
    c: &mut Conn,
    actor: &Actor,
    id: &str,
    scope: &OfficeScope,
    action: Action,
    note: impl FnOnce(&VerificationRow) -> Option<String>,
) -> diesel::QueryResult<Option<VerificationRow>> {
    let found = find_or_where(c, id, scope)?;
    let event = view_event(action, id, found.as_ref(), note);
    audit::append(c, actor, &event.as_event())?;
    Ok(found.ok())
}

/// Verification `id` within `scope`, or (`Err`) whether the id exists in another
/// office: what the audit row of a look at it says ([`view_event`]).
fn find_or_where(
    c: &mut Conn,
    id: &str,
    scope: &OfficeScope,
) -> diesel::QueryResult<Result<VerificationRow, bool>> {
    Ok(match store::find(c, id, scope)? {
        Some(row) => Ok(row),
        None => Err(store::find(c, id, &OfficeScope::All)?.is_some()),
    })
}

/// The audit row of a look at verification `id`: the row found, or (`Err`) whether
/// the id exists in another office (see [`open_audited`]).
fn view_event(
    action: Action,
    id: &str,
    found: Result<&VerificationRow, &bool>,
    note: impl FnOnce(&VerificationRow) -> Option<String>,
) -> audit::OwnedEvent {
    match found {
        Ok(row) => audit::OwnedEvent {
            action,
            target: row.certificate_number.clone(),
            outcome: row.outcome.into(),
            detail: match note(row) {
                Some(n) => format!("verification={} {n}", row.id),
                None => format!("verification={}", row.id),
            },
        },
        Err(elsewhere) => audit::OwnedEvent {
            action,
            target: bounds::cut(id, bounds::ID_MAX).to_owned(),
            outcome: AuditOutcome::Denied,
            detail: if *elsewhere {
                "other_office"
            } else {
                "no_such_id"
            }
            .into(),
        },
    }
}

impl Verifier {
    /// [`open_audited`] for a page that shows what it read: the verification within
    /// `scope`, and whatever `also` reads beside it, are read first (in place on
    /// SQLite, [`db::read`]); then the view's audit row, or the `denied` row of a miss,
    /// is appended with the writer's next group ([`WriteQueue::audit`]) and committed
    /// before this answers. A page view so costs a share of a commit, not a write
    /// transaction of its own beside the verifications'.
    ///
    /// The wait for that commit is bounded like the wait for a connection
    /// (`database.pool_timeout_ms`): past it the database counts as busy
    /// ([`DbError::NoConnection`], a 503 with `Retry-After`) and nothing is shown,
    /// while the audit row stays queued and is written once the writer gets through,
    /// as a verification's rows are when no connection comes free.
    pub async fn open<T, F>(
        &self,
        actor: &Actor,
        id: String,
        scope: OfficeScope,
        action: Action,
        also: F,
    ) -> Result<Option<(VerificationRow, T)>, VerifyError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn, &VerificationRow) -> diesel::QueryResult<T> + Send + 'static,
    {
        let (id, found) = db::read(&self.pool, move |c| {
            let found = match find_or_where(c, &id, &scope)? {
                Ok(row) => {
                    let more = also(c, &row)?;
                    Ok((row, more))
                }
                Err(elsewhere) => Err(elsewhere),
            };
            Ok::<_, DbError>((id, found))
        })
        .await?;
        let event = view_event(action, &id, found.as_ref().map(|(row, _)| row), |_| None);
        let wait = self.pool.connection_timeout();
        let audited = self.writes.audit(actor, vec![event]);
        match tokio::time::timeout(wait, audited).await {
            Ok(done) => done?,
            Err(_) => {
                return Err(VerifyError::Db(DbError::NoConnection(format!(
                    "監査記録の書き込みが {} ms 以内に終わりませんでした",
                    wait.as_millis()
                ))))
            }
        }
        Ok(found.ok())
    }
}

/// The audit detail of one attempt. Members in alphabetical order, as the `json!` map
/// that wrote the first rows had them, so old and new details read alike.
#[derive(Serialize)]
struct AttemptDetail<'a> {
    issuer: Option<&'a str>,
    key_fingerprint: &'a str,
    kid: Option<&'a str>,
    #[serde(rename = "ref")]
    client_ref: Option<&'a str>,
    revision: Option<i32>,
    verification: &'a str,
}

impl<'a> AttemptDetail<'a> {
    fn of(row: &'a VerificationRow) -> Self {
        Self {
            issuer: row.issuer_id.as_deref(),
            key_fingerprint: &row.key_fingerprint,
            kid: row.kid.as_deref(),
            client_ref: row.client_ref.as_deref(),
            revision: row.revision,
            verification: &row.id,
        }
    }
}

/// One request's share of a writer group: who made it, its attempts, and other audit
/// events to append after the attempts' own.
pub(crate) struct GroupPart<'a> {
    pub actor: &'a Actor,
    pub rows: &'a mut [VerificationRow],
    pub events: &'a [audit::OwnedEvent],
}

/// Stores the attempts of a group of requests (each with the actor who made it), their
/// audit rows and, for each attempt that carries a record, its signed receipt naming
/// that audit row; the group's other audit events; and where the guard trips, the lock
/// and its row. The caller holds the write transaction. The whole group's audit rows
/// are appended at once ([`audit::append_many`]): one read of the chain head and one
/// count per office and outcome for the group, not for each request in it.
fn record_attempts(
    c: &mut Conn,
    group: &mut [GroupPart<'_>],
    lockout: &Lockout,
    keys: &ReceiptKeys,
) -> diesel::QueryResult<()> {
    let audited = {
        let events: Vec<(&Actor, Event<'_>)> = group
            .iter()
            .flat_map(|part| {
                let attempts = part.rows.iter().map(|row| Event {
                    action: Action::Verify,
                    target: &row.certificate_number,
                    outcome: row.outcome.into(),
                    detail: serde_json::to_string(&AttemptDetail::of(row))
                        .expect("strings and numbers serialize"),
                });
                let others = part.events.iter().map(audit::OwnedEvent::as_event);
                attempts.chain(others).map(|e| (part.actor, e))
            })
            .collect();
        audit::append_many(c, &events)?
    };
    let mut audited = audited.iter();
    for part in group.iter_mut() {
        for (row, audit_row) in part.rows.iter_mut().zip(audited.by_ref()) {
            row.receipt = receipt_for(row, audit_row).map(|r| receipt::sign(&r, keys));
        }
        audited.by_ref().take(part.events.len()).for_each(drop);
    }
    // A number is locked once, however many of its misses this call holds, and not
    // again while a lock stands (a batch's later writes see the lock its earlier wrote).
    // Each request's rows are stored before the next request's, and its misses counted
    // then: the miss that trips the guard locks the number, under its own actor.
    let mut locked = HashSet::new();
    for part in group.iter() {
        store::insert(c, part.rows)?;
        store::note_uses(c, part.rows)?;
        let misses = part.rows.iter().filter(|r| r.outcome == Outcome::NotFound);
        lock_where_tripped(c, part.actor, misses, lockout, &mut locked)?;
    }
    Ok(())
}

/// Locks the number of each of `misses` whose `not_found` count in the guard's window
/// reached the limit, with its `lockout` audit row, unless a lock stands already or
/// this group locked it (`locked`).
fn lock_where_tripped<'r>(
    c: &mut Conn,
    actor: &Actor,
    misses: impl Iterator<Item = &'r VerificationRow>,
    lockout: &Lockout,
    locked: &mut HashSet<String>,
) -> diesel::QueryResult<()> {
    for row in misses {
        if locked.contains(&row.certificate_number)
            || !store::locked_among(
                c,
                std::slice::from_ref(&row.certificate_number),
                row.checked_at,
            )?
            .is_empty()
        {
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
                    action: Action::Lockout,
                    target: &row.certificate_number,
                    outcome: AuditOutcome::Verification(Outcome::Locked),
                    detail: format!(
                        "該当なし {}回/{}分 → {}分ロック",
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
    /// The payload as signed, embedded as stored.
    pub certificate: Option<Box<RawValue>>,
    /// The rule results as stored (`[RuleResult]`).
    pub rules: Box<RawValue>,
    pub detail: Option<String>,
    /// The signed receipt as stored (a flattened JWS object), for `verified` and
    /// `rejected`.
    pub receipt: Option<Box<RawValue>>,
    /// The 案件 typed with the verification; `None` when neither part was.
    pub case: Option<Case>,
    /// The guarantee's use under the office's other 案件 and by other offices, as of
    /// reading ([`duplicate_uses`]).
    pub duplicate_use: DuplicateUse,
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
    /// The view of a stored row with its duplicate use ([`duplicate_uses`]); a row whose
    /// stored record or rules cannot be read back is an error.
    pub fn new(
        row: &VerificationRow,
        registry: &Registry,
        duplicate_use: DuplicateUse,
    ) -> Result<Self, DamagedRow> {
        let checked_at = row
            .checked_at
            .and_utc()
            .with_timezone(&kakunin_protocol::time::jst())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        Ok(Self {
            id: row.id.clone(),
            client_ref: row.client_ref.clone(),
            outcome: row.outcome,
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
            certificate: row.payload_raw()?,
            rules: row.rules_raw()?,
            detail: row.detail.clone(),
            receipt: row.receipt_raw()?,
            case: row.case(),
            duplicate_use,
        })
    }
}

/// The duplicate use of each row's guarantee (`service.md`, "A Verification"), in the
/// order of `rows`: the other 案件番号 of the row's own office under which its number was
/// verified, and whether another office verified it. Counted: every verification whose
/// outcome carried a record (`verified` or `rejected`, so a guarantee shown to the
/// office under another 案件 counts even when a rule failed there), before or after the
/// row, as of now. A row whose own outcome carried no record (`not_found`, `locked`, …)
/// has none: no guarantee was shown, so there is nothing to have been used twice. One
/// query for all rows (a batch's 1000 included).
pub fn duplicate_uses(
    c: &mut Conn,
    rows: &[&VerificationRow],
) -> diesel::QueryResult<Vec<DuplicateUse>> {
    let mut numbers: Vec<String> = rows
        .iter()
        .filter(|r| r.outcome.has_certificate())
        .map(|r| r.certificate_number.clone())
        .collect();
    numbers.sort();
    numbers.dedup();
    let uses = store::uses_of(c, &numbers)?;
    Ok(rows
        .iter()
        .map(|r| {
            if !r.outcome.has_certificate() {
                return DuplicateUse::default();
            }
            DuplicateUse::of(
                &r.office_code,
                r.case_number.as_deref(),
                uses.get(&r.certificate_number)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            )
        })
        .collect())
}
