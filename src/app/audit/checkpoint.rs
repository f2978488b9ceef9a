//! Signed checkpoints: every `checkpoint_every` events, and at least every
//! `checkpoint_max_age_minutes` while events arrive, the service signs the event count,
//! head seq, head hash and time with its own Ed25519 key.
//!
//! The hash chain alone shows that no row was changed, removed or moved *inside* the
//! log; it cannot show that rows were cut off the end, or that the whole log was
//! rewritten and re-hashed. A signature by a key kept outside the database can.
//!
//! The checkpoint is written by [`super::append`] in the same transaction as the event
//! that makes it due, so a crash can never leave an event past due without its
//! checkpoint. The signer is process-wide ([`install`]) because `append` is called from
//! every corner of the service with only a connection in hand; a process without one
//! (a CLI run before `kakunin key init`) writes events but no checkpoints, and the next
//! process that has the key catches up at its first event.

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::Serialize;

use super::{chain, AuditRow, GENESIS};
use crate::adapters::db::schema::{audit_checkpoints, audit_events};
use crate::adapters::db::{self, Conn};

/// The service's signing key and the checkpoint schedule.
pub struct Signer {
    key: SigningKey,
    key_id: String,
    every: i32,
    max_age: Duration,
}

impl Signer {
    pub fn new(key: SigningKey, every: i32, max_age_minutes: i64) -> Self {
        let key_id = super::key::key_id(&key.verifying_key());
        Self {
            key,
            key_id,
            every: every.max(1),
            max_age: Duration::minutes(max_age_minutes.max(1)),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

static SIGNER: OnceLock<Signer> = OnceLock::new();

/// Makes `signer` sign this process's checkpoints. The first call wins.
pub fn install(signer: Signer) {
    let _ = SIGNER.set(signer);
}

pub fn installed() -> Option<&'static Signer> {
    SIGNER.get()
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = audit_checkpoints)]
pub struct Checkpoint {
    pub id: i32,
    pub at: NaiveDateTime,
    /// Events in the log up to and including `head_seq`. Seq is dense from 1 (append
    /// assigns last + 1 under the write lock), so this equals `head_seq`; it is signed
    /// separately so that a shrunken log reads as what it is.
    pub event_count: i32,
    pub head_seq: i32,
    pub head_hash: String,
    pub key_id: String,
    pub signature: String,
}

impl Checkpoint {
    /// The exact bytes signed: versioned, one field per line, times in UTC to the µs.
    fn message(&self) -> String {
        format!(
            "kakunin/audit-checkpoint/v1\n{}\n{}\n{}\n{}\n{}",
            self.key_id,
            self.event_count,
            self.head_seq,
            self.head_hash,
            super::chain::canonical_at(self.at)
        )
    }

    pub fn signature_valid(&self, key: &VerifyingKey) -> bool {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(&self.signature) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&raw) else {
            return false;
        };
        self.key_id == super::key::key_id(key)
            && key.verify(self.message().as_bytes(), &sig).is_ok()
    }
}

/// Called by `append` right after it inserted `appended`, in the same transaction:
/// writes a checkpoint at each row where one falls due, as appending the rows one at a
/// time would. The last checkpoint is read once, not once a row.
pub(crate) fn after_append(conn: &mut Conn, appended: &[AuditRow]) -> QueryResult<()> {
    let Some(signer) = installed() else {
        return Ok(());
    };
    if appended.is_empty() {
        return Ok(());
    }
    let mut last: Option<(i32, NaiveDateTime)> =
        db::per_backend!(conn, |c| audit_checkpoints::table
            .order(audit_checkpoints::id.desc())
            .select((audit_checkpoints::head_seq, audit_checkpoints::at))
            .first(c)
            .optional())?;
    for head in appended {
        let due = match last {
            None => true,
            Some((seq, at)) => head.seq - seq >= signer.every || head.at - at >= signer.max_age,
        };
        if due {
            let cp = write(conn, signer, head)?;
            last = Some((cp.head_seq, cp.at));
        }
    }
    Ok(())
}

/// Signs and stores a checkpoint whose head is `head`.
pub fn write(conn: &mut Conn, signer: &Signer, head: &AuditRow) -> QueryResult<Checkpoint> {
    let mut cp = Checkpoint {
        id: 0,
        at: head.at,
        event_count: head.seq,
        head_seq: head.seq,
        head_hash: head.hash.clone(),
        key_id: signer.key_id.clone(),
        signature: String::new(),
    };
    cp.signature = URL_SAFE_NO_PAD.encode(signer.key.sign(cp.message().as_bytes()).to_bytes());
    diesel::insert_into(audit_checkpoints::table)
        .values((
            audit_checkpoints::at.eq(cp.at),
            audit_checkpoints::event_count.eq(cp.event_count),
            audit_checkpoints::head_seq.eq(cp.head_seq),
            audit_checkpoints::head_hash.eq(&cp.head_hash),
            audit_checkpoints::key_id.eq(&cp.key_id),
            audit_checkpoints::signature.eq(&cp.signature),
        ))
        .execute(conn)?;
    // RETURNING is not there for both backends at once; in the writers' transaction
    // the newest checkpoint is the one just inserted.
    cp.id = audit_checkpoints::table
        .select(diesel::dsl::max(audit_checkpoints::id))
        .first::<Option<i32>>(conn)?
        .expect("the checkpoint just inserted");
    Ok(cp)
}

/// The first checkpoint that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointBreak {
    #[error("チェックポイント {id} 番の署名が正しくありません（偽造または書き換えられています）")]
    BadSignature { id: i32 },
    #[error("チェックポイント {id} 番は別の鍵（鍵ID {key_id}）で署名されています。その公開鍵を --public-key で指定してください")]
    OtherKey { id: i32, key_id: String },
    #[error("チェックポイント {id} 番が前のチェックポイントより前を指しています（並べ替えられています）")]
    OutOfOrder { id: i32 },
    #[error("チェックポイント {id} 番が指す監査ログ {seq} 番がありません（行が削除されています）")]
    MissingHead { id: i32, seq: i32 },
    #[error("チェックポイント {id} 番に署名された監査ログ {seq} 番のハッシュが、現在の行と一致しません（行が書き換えられています）")]
    HeadChanged { id: i32, seq: i32 },
    #[error("監査ログが {found} 件しかありません。チェックポイント {id} 番の時点で {expected} 件ありました（末尾が削除されています）")]
    Truncated { id: i32, expected: i32, found: i64 },
    #[error("監査ログが {events} 件あるのに署名付きチェックポイントが1件もありません（チェックポイントが削除されたか、`kakunin key init` の前の記録です）")]
    NoCheckpoint { events: i64 },
}

/// What an intact set of checkpoints amounts to.
#[derive(Debug, Clone)]
pub struct Summary {
    pub checkpoints: i64,
    pub latest: Option<Checkpoint>,
}

/// Checks every checkpoint against `key` and the rows it signed.
pub fn verify_checkpoints(
    conn: &mut Conn,
    key: &VerifyingKey,
) -> QueryResult<Result<Summary, CheckpointBreak>> {
    let key_id = super::key::key_id(key);
    let events: i64 = audit_events::table.count().get_result(conn)?;
    let mut after = 0;
    let mut seen = 0i64;
    let mut latest: Option<Checkpoint> = None;
    loop {
        let page: Vec<Checkpoint> = audit_checkpoints::table
            .filter(audit_checkpoints::id.gt(after))
            .order(audit_checkpoints::id.asc())
            .limit(1000)
            .select(Checkpoint::as_select())
            .load(conn)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for cp in page {
            if cp.key_id != key_id {
                return Ok(Err(CheckpointBreak::OtherKey {
                    id: cp.id,
                    key_id: cp.key_id,
                }));
            }
            if !cp.signature_valid(key) {
                return Ok(Err(CheckpointBreak::BadSignature { id: cp.id }));
            }
            if latest
                .as_ref()
                .is_some_and(|p| cp.head_seq < p.head_seq || cp.event_count < p.event_count)
            {
                return Ok(Err(CheckpointBreak::OutOfOrder { id: cp.id }));
            }
            let hash: Option<String> = audit_events::table
                .find(cp.head_seq)
                .select(audit_events::hash)
                .first(conn)
                .optional()?;
            match hash {
                None => {
                    return Ok(Err(CheckpointBreak::MissingHead {
                        id: cp.id,
                        seq: cp.head_seq,
                    }))
                }
                Some(h) if h != cp.head_hash => {
                    return Ok(Err(CheckpointBreak::HeadChanged {
                        id: cp.id,
                        seq: cp.head_seq,
                    }))
                }
                Some(_) => {}
            }
            seen += 1;
            latest = Some(cp);
        }
    }
    match &latest {
        None if events > 0 => Ok(Err(CheckpointBreak::NoCheckpoint { events })),
        Some(cp) if events < i64::from(cp.event_count) => Ok(Err(CheckpointBreak::Truncated {
            id: cp.id,
            expected: cp.event_count,
            found: events,
        })),
        _ => Ok(Ok(Summary {
            checkpoints: seen,
            latest,
        })),
    }
}

/// How one event stands, for its detail page: computed from that row and the rows up
/// to the checkpoint that covers it (at most `checkpoint_every`), never the whole log.
#[derive(Debug, Clone, Serialize)]
pub struct EventStatus {
    /// The row still hashes to its stored hash.
    pub hash_ok: bool,
    /// Its prev_hash is the previous row's hash (or the genesis hash for row 1).
    pub linked: bool,
    pub checkpoint: Option<Coverage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub id: i32,
    pub at: NaiveDateTime,
    pub head_seq: i32,
    /// The signature verifies under this service's key.
    pub signature_ok: bool,
    /// Every row from this one to the head links and hashes to the signed head hash.
    pub chain_ok: bool,
}

impl EventStatus {
    pub fn intact(&self) -> bool {
        self.hash_ok
            && self.linked
            && self
                .checkpoint
                .as_ref()
                .is_none_or(|c| c.signature_ok && c.chain_ok)
    }
}

/// Longest stretch walked for one detail page; checkpoints are closer than this.
const MAX_WALK: i64 = 20_000;

pub fn event_status(
    conn: &mut Conn,
    row: &AuditRow,
    key: Option<&VerifyingKey>,
) -> QueryResult<EventStatus> {
    let hash_ok = chain::row_hash(row) == row.hash;
    let prev: Option<String> = if row.seq == 1 {
        Some(GENESIS.to_owned())
    } else {
        audit_events::table
            .find(row.seq - 1)
            .select(audit_events::hash)
            .first(conn)
            .optional()?
    };
    let linked = prev.as_deref() == Some(row.prev_hash.as_str());
    let cp: Option<Checkpoint> = audit_checkpoints::table
        .filter(audit_checkpoints::head_seq.ge(row.seq))
        .order(audit_checkpoints::head_seq.asc())
        .select(Checkpoint::as_select())
        .first(conn)
        .optional()?;
    let checkpoint = match cp {
        None => None,
        Some(cp) => {
            let signature_ok = key.is_some_and(|k| cp.signature_valid(k));
            let rows: Vec<AuditRow> = audit_events::table
                .filter(audit_events::seq.gt(row.seq))
                .filter(audit_events::seq.le(cp.head_seq))
                .order(audit_events::seq.asc())
                .limit(MAX_WALK)
                .select(AuditRow::as_select())
                .load(conn)?;
            let mut prev = row.hash.clone();
            let mut expected = row.seq + 1;
            let mut chain_ok = hash_ok;
            for r in &rows {
                if r.seq != expected || r.prev_hash != prev || chain::row_hash(r) != r.hash {
                    chain_ok = false;
                    break;
                }
                prev = r.hash.clone();
                expected += 1;
            }
            chain_ok = chain_ok && expected == cp.head_seq + 1 && prev == cp.head_hash;
            Some(Coverage {
                id: cp.id,
                at: cp.at,
                head_seq: cp.head_seq,
                signature_ok,
                chain_ok,
            })
        }
    };
    Ok(EventStatus {
        hash_ok,
        linked,
        checkpoint,
    })
}

/// The newest checkpoints, for the supervisor's overview.
pub fn latest(conn: &mut Conn) -> QueryResult<Option<Checkpoint>> {
    audit_checkpoints::table
        .order(audit_checkpoints::id.desc())
        .select(Checkpoint::as_select())
        .first(conn)
        .optional()
}
