//! Group commit: verifications that finish while another write is under way are written
//! together by the next one, in one transaction. Under load one commit then serves many
//! requests instead of each queueing for its own.
//!
//! One writer at a time per service: the request that finds no writer running starts
//! one on the blocking pool, and it writes whatever is waiting, group after group, until
//! nothing is. Every other request only queues its rows and waits for its answer, so
//! under load a request costs no trip to the blocking pool of its own and no wait on
//! the writers' lock (each was a thread wake-up and a futex convoy per request).
//!
//! Audit rows of other acts that must be committed before the act is answered (the
//! outcome page's view, [`WriteQueue::audit`]) go the same way: they share the next
//! group's commit instead of each taking a write transaction of its own.
//!
//! A writer holds a group open for a moment while single verifications are still on
//! their way to the queue ([`WriteQueue::coming`]): PostgreSQL's `commit_delay` with
//! `commit_siblings`, for the same reason. Each commit has a fixed cost (the chain's
//! head, the daily counts, the transaction's begin and its WAL write), so under load a
//! larger group costs each request less, while the cores the writer leaves idle
//! meanwhile serve the others. With nothing on its way (one officer alone, a batch)
//! nobody waits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{duplicate_uses, record_attempts, GroupPart, VerificationRow, VerifyError};
use crate::adapters::db::{self, DbError, DbPool};
use crate::app::audit::{Actor, OwnedEvent};
use crate::app::receipt::ReceiptKeys;
use crate::config::Lockout;
use crate::domain::case::DuplicateUse;

/// Rows as committed, and, when asked for, each row's duplicate use as read right
/// after the commit.
pub type Stored = (Vec<VerificationRow>, Option<Vec<DuplicateUse>>);

/// What waits for the next write: rows and other audit events with whoever made them,
/// whether the rows' duplicate use is wanted, and where to answer (`None` once answered
/// with an error while the rows stayed queued).
struct Pending {
    actor: Actor,
    rows: Vec<VerificationRow>,
    /// Audited after the rows' own audit rows.
    events: Vec<OwnedEvent>,
    with_uses: bool,
    done: Option<oneshot::Sender<Result<Stored, DbError>>>,
}

#[derive(Default)]
struct Queue {
    pending: Vec<Pending>,
    /// A writer is running and will take everything queued before it stops.
    writing: bool,
}

/// The longest a writer holds a group open for single verifications on their way
/// ([`WriteQueue::coming`]). Under `make bench-single`'s load (≈ 3,100 a second from 16
/// connections) groups grew from 2.5 requests to more than 7, and the service's CPU per
/// request fell by 5–6 % (BENCHMARKS.md); an officer's click does not feel a
/// millisecond.
const GATHER: Duration = Duration::from_millis(1);

struct Shared {
    pool: DbPool,
    lockout: Lockout,
    /// Signs each stored verification's receipt.
    receipts: Arc<ReceiptKeys>,
    queue: Mutex<Queue>,
    /// Signalled when rows are queued or a verification on its way gives up, for a
    /// writer gathering a group.
    changed: Condvar,
    /// Single verifications under way whose rows will come to the queue.
    coming: AtomicUsize,
    /// [`GATHER`], but in tests.
    gather: Duration,
}

/// The rows waiting for a write, shared by every request of one service, with what
/// its writers write them with.
#[derive(Clone)]
pub struct WriteQueue(Arc<Shared>);

/// A single verification on its way to the queue, from [`WriteQueue::coming`]: a
/// writer holds its group open a moment for it. Given to [`WriteQueue::store`] with the
/// rows; dropped without them (an error), it stops counting.
pub struct Coming(WriteQueue);

impl Drop for Coming {
    fn drop(&mut self) {
        // Under the queue's lock, so that a gathering writer sees the rows and the lower
        // count together.
        let _queue = self.0.queue();
        self.0 .0.coming.fetch_sub(1, Ordering::Relaxed);
        self.0 .0.changed.notify_one();
    }
}

/// The one writer of a queue while it runs.
struct Writer {
    queue: WriteQueue,
    /// Set when [`Writer::run`] left the queue empty and writer-less itself.
    stopped: bool,
}

impl Drop for Writer {
    /// A writer that panicked, or was never run (the runtime shutting down), leaves the
    /// queue writer-less, and everyone waiting hears `Interrupted` rather than waiting
    /// for a writer that is gone; their rows stay queued for the next one.
    fn drop(&mut self) {
        if !self.stopped {
            let mut queue = self.queue.queue();
            for p in &mut queue.pending {
                p.done.take();
            }
            queue.writing = false;
        }
    }
}

impl WriteQueue {
    /// A queue whose writers store into `pool`, lock numbers by `lockout` and sign
    /// receipts with `receipts`.
    pub fn new(pool: DbPool, lockout: Lockout, receipts: Arc<ReceiptKeys>) -> Self {
        Self::gathering_for(pool, lockout, receipts, GATHER)
    }

    fn gathering_for(
        pool: DbPool,
        lockout: Lockout,
        receipts: Arc<ReceiptKeys>,
        gather: Duration,
    ) -> Self {
        Self(Arc::new(Shared {
            pool,
            lockout,
            receipts,
            queue: Mutex::default(),
            changed: Condvar::new(),
            coming: AtomicUsize::new(0),
            gather,
        }))
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.0
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a single verification as on its way until the returned guard is given
    /// to [`WriteQueue::store`] or dropped. Not for batches: their rows come a hundred
    /// at a time, and a group waiting for them would only wait.
    pub fn coming(&self) -> Coming {
        self.0.coming.fetch_add(1, Ordering::Relaxed);
        Coming(self.clone())
    }

    /// Stores `rows`, each with its audit row, and answers them once committed, in
    /// whichever group the running writer takes them. Should the writer find no free
    /// connection in time, every request then waiting answers that error at once
    /// ([`DbError::NoConnection`], a 503) while its rows stay queued: the next writer
    /// stores them, so the attempts are still recorded rather than lost.
    ///
    /// With `with_uses`, the rows' duplicate use ([`duplicate_uses`]) is read on the
    /// writer's connection once the commit is done: what a single verification answers
    /// with, for no trip to the blocking pool of its own.
    pub async fn store(
        &self,
        actor: &Actor,
        rows: Vec<VerificationRow>,
        with_uses: bool,
        coming: Option<Coming>,
    ) -> Result<Stored, VerifyError> {
        let pending = Pending {
            actor: actor.clone(),
            rows,
            events: Vec::new(),
            with_uses,
            done: None,
        };
        self.submit(pending, coming).await
    }

    /// Appends `events`, done by `actor`, to the audit log with the next group, and
    /// answers once they are committed: for an act that must be audited before it is
    /// answered, at the cost of a share of a commit. Errors as [`WriteQueue::store`].
    pub async fn audit(&self, actor: &Actor, events: Vec<OwnedEvent>) -> Result<(), VerifyError> {
        let pending = Pending {
            actor: actor.clone(),
            rows: Vec::new(),
            events,
            with_uses: false,
            done: None,
        };
        self.submit(pending, None).await.map(drop)
    }

    async fn submit(
        &self,
        mut pending: Pending,
        coming: Option<Coming>,
    ) -> Result<Stored, VerifyError> {
        let (done, answer) = oneshot::channel();
        pending.done = Some(done);
        let start = {
            let mut queue = self.queue();
            queue.pending.push(pending);
            !std::mem::replace(&mut queue.writing, true)
        };
        // Arrived: a writer gathering a group stops waiting for these rows.
        drop(coming);
        if start {
            let writer = Writer {
                queue: self.clone(),
                stopped: false,
            };
            // Not awaited: this request's answer comes through `answer`, like every
            // other's. Should the runtime refuse blocking work (shutting down), the
            // sender is dropped with the task and the answer is `Interrupted`.
            drop(tokio::task::spawn_blocking(move || writer.run()));
        }
        // A dropped answer means the writer panicked or the service is stopping: its
        // transaction rolled back.
        Ok(answer.await.map_err(|_| VerifyError::Interrupted)??)
    }
}

impl Writer {
    /// Writes group after group until the queue is empty, then stops.
    fn run(mut self) {
        let mut conn = match self.queue.0.pool.get() {
            Ok(conn) => conn,
            Err(e) => return self.answer_no_connection(&e),
        };
        // One connection until the queue runs dry: a fresh one per group would only
        // add the pool's lock.
        loop {
            let group = {
                let mut queue = self.queue.queue();
                if queue.pending.is_empty() {
                    queue.writing = false;
                    self.stopped = true;
                    return;
                }
                queue = self.gather(queue);
                std::mem::take(&mut queue.pending)
            };
            self.write(&mut conn, group);
        }
    }

    /// Holds the group open while single verifications are on their way, until they
    /// have all arrived or [`GATHER`] has passed.
    fn gather<'q>(&self, mut queue: MutexGuard<'q, Queue>) -> MutexGuard<'q, Queue> {
        let shared = &self.queue.0;
        let until = Instant::now() + shared.gather;
        while shared.coming.load(Ordering::Relaxed) > 0 {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            queue = shared
                .changed
                .wait_timeout(queue, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        queue
    }

    /// One transaction for the whole group, then the answers.
    fn write(&self, c: &mut db::Conn, mut group: Vec<Pending>) {
        let written = {
            let _turn = db::writer_turn();
            let mut parts: Vec<GroupPart<'_>> = group
                .iter_mut()
                .map(|p| GroupPart {
                    actor: &p.actor,
                    rows: p.rows.as_mut_slice(),
                    events: &p.events,
                })
                .collect();
            c.immediate_transaction(|c| {
                let shared = &self.queue.0;
                record_attempts(c, &mut parts, &shared.lockout, &shared.receipts)
            })
        };
        let failure = written.err().map(|e: diesel::result::Error| e.to_string());
        for p in group {
            let Some(done) = p.done else {
                // Answered already (no connection, earlier); stored now all the same.
                continue;
            };
            let _ = done.send(match &failure {
                None if p.with_uses => {
                    match duplicate_uses(c, &p.rows.iter().collect::<Vec<_>>()) {
                        Ok(uses) => Ok((p.rows, Some(uses))),
                        Err(e) => Err(DbError::Query(e)),
                    }
                }
                None => Ok((p.rows, None)),
                Some(e) => Err(DbError::Write(e.clone())),
            });
        }
    }

    /// No connection came free: everyone waiting hears so now; their rows stay queued.
    fn answer_no_connection(&mut self, e: &diesel::r2d2::PoolError) {
        let mut queue = self.queue.queue();
        for p in &mut queue.pending {
            if let Some(done) = p.done.take() {
                let _ = done.send(Err(DbError::NoConnection(e.to_string())));
            }
        }
        queue.writing = false;
        self.stopped = true;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use diesel::prelude::*;

    use super::*;
    use crate::adapters::db::schema::verifications;
    use crate::adapters::db::{PoolLimits, SERVICE_MIGRATIONS};
    use crate::app::verification::store::tests::row;
    use crate::domain::outcome::Outcome;

    struct Setup {
        _dir: tempfile::TempDir,
        pool: DbPool,
        lockout: Lockout,
        receipts: Arc<ReceiptKeys>,
        actor: Actor,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("kakunin.db").display().to_string();
        let limits = PoolLimits {
            size: 1,
            timeout: Duration::from_millis(50),
        };
        Setup {
            pool: db::open_with(&url, SERVICE_MIGRATIONS, limits).unwrap(),
            receipts: Arc::new(ReceiptKeys::load_or_create(&dir.path().join("keys")).unwrap()),
            _dir: dir,
            lockout: Lockout {
                not_found_limit: 5,
                window_minutes: 15,
                lock_minutes: 60,
            },
            actor: Actor::new("officer1".into(), "4400".into(), "127.0.0.1".into(), "test"),
        }
    }

    impl Setup {
        fn queue(&self) -> WriteQueue {
            WriteQueue::new(
                self.pool.clone(),
                self.lockout.clone(),
                self.receipts.clone(),
            )
        }

        /// A queue whose writer holds a group open for as long as a test needs.
        fn gathering_for(&self, gather: Duration) -> WriteQueue {
            WriteQueue::gathering_for(
                self.pool.clone(),
                self.lockout.clone(),
                self.receipts.clone(),
                gather,
            )
        }
    }

    fn stored(pool: &DbPool) -> i64 {
        verifications::table
            .count()
            .get_result(&mut pool.get().unwrap())
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_stores_are_each_answered_with_their_own_rows() {
        let s = setup();
        let queue = s.queue();
        let stores = (0..20).map(|i| {
            let (queue, s) = (queue.clone(), &s);
            async move {
                let id = format!("{i:02}");
                let verified = row(&id, "4400", Outcome::Verified, Some(&format!("案件{i}")));
                let (rows, uses) = queue
                    .store(&s.actor, vec![verified], i % 2 == 0, None)
                    .await
                    .unwrap();
                assert_eq!(rows.len(), 1);
                assert_eq!(rows[0].id, id, "each request gets its own row back");
                assert_eq!(uses.is_some(), i % 2 == 0, "uses only when asked for");
            }
        });
        futures::future::join_all(stores).await;
        assert_eq!(stored(&s.pool), 20);
    }

    /// A queue that gathers for ten minutes, one verification counted on its way, and a
    /// first row stored meanwhile: its writer is still holding the group open 200 ms on.
    async fn waiting_for_one_on_its_way() -> (
        Setup,
        WriteQueue,
        Coming,
        tokio::task::JoinHandle<Result<Stored, VerifyError>>,
    ) {
        let s = setup();
        let queue = s.gathering_for(Duration::from_secs(600));
        let on_its_way = queue.coming();
        let first = {
            let (queue, actor) = (queue.clone(), s.actor.clone());
            tokio::spawn(async move {
                let rows = vec![row("01", "4400", Outcome::Verified, None)];
                queue.store(&actor, rows, false, None).await
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !first.is_finished(),
            "the group waits for the row on its way"
        );
        (s, queue, on_its_way, first)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_holds_the_group_open_for_a_verification_on_its_way() {
        let (s, queue, on_its_way, first) = waiting_for_one_on_its_way().await;
        // Bounded well below the gather: a writer the arrival does not wake would sleep
        // out its ten minutes, and the test would pass only late.
        let second = queue.store(
            &s.actor,
            vec![row("02", "4400", Outcome::Verified, None)],
            false,
            Some(on_its_way),
        );
        let (second, _) = tokio::time::timeout(Duration::from_secs(60), second)
            .await
            .expect("the arrival wakes the gathering writer")
            .unwrap();
        let (first, _) = tokio::time::timeout(Duration::from_secs(60), first)
            .await
            .expect("the first row is written once the second arrived")
            .unwrap()
            .unwrap();
        assert_eq!((first[0].id.as_str(), second[0].id.as_str()), ("01", "02"));
        assert_eq!(stored(&s.pool), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_verification_that_gives_up_on_its_way_holds_no_group() {
        let (s, _queue, on_its_way, first) = waiting_for_one_on_its_way().await;
        // Its lookup failed, say: no rows will come.
        drop(on_its_way);
        tokio::time::timeout(Duration::from_secs(60), first)
            .await
            .expect("the group is written once nothing is on its way")
            .unwrap()
            .unwrap();
        assert_eq!(stored(&s.pool), 1);
    }

    /// An API client of another office, beside the setup's officer.
    fn client() -> Actor {
        Actor::new(
            "token:batch".into(),
            "4500".into(),
            "10.0.0.9".into(),
            "curl",
        )
    }

    /// A request's share of a group, written directly (no one waits for its answer).
    fn pending(actor: &Actor, rows: Vec<VerificationRow>, events: Vec<OwnedEvent>) -> Pending {
        Pending {
            actor: actor.clone(),
            rows,
            events,
            with_uses: false,
            done: None,
        }
    }

    fn writer(s: &Setup) -> Writer {
        Writer {
            queue: s.queue(),
            stopped: true,
        }
    }

    /// A row with a record, so that it gets a receipt.
    fn with_record(id: &str, office: &str) -> VerificationRow {
        VerificationRow {
            kid: Some("k1".into()),
            revision: Some(1),
            jws: Some(format!("jws-{id}")),
            profile_digest: Some("digest".into()),
            ..row(id, office, Outcome::Verified, None)
        }
    }

    #[test]
    fn a_group_audits_each_request_under_its_own_actor_and_each_receipt_names_its_row() {
        use crate::adapters::db::schema::audit_events;
        use crate::app::{audit, receipt};

        let s = setup();
        let client = client();
        let group = vec![
            pending(
                &s.actor,
                vec![
                    with_record("01", "4400"),
                    row("02", "4400", Outcome::NotFound, None),
                ],
                Vec::new(),
            ),
            pending(&client, vec![with_record("03", "4500")], Vec::new()),
        ];
        let mut c = s.pool.get().unwrap();
        writer(&s).write(&mut c, group);

        let audited: Vec<(i32, String, String, String)> = audit_events::table
            .order(audit_events::seq.asc())
            .select((
                audit_events::seq,
                audit_events::actor,
                audit_events::office_code,
                audit_events::detail,
            ))
            .load(&mut c)
            .unwrap();
        let who: Vec<(&str, &str)> = audited
            .iter()
            .map(|(_, actor, office, _)| (actor.as_str(), office.as_str()))
            .collect();
        assert_eq!(
            who,
            [
                ("officer1", "4400"),
                ("officer1", "4400"),
                ("token:batch", "4500")
            ]
        );
        for ((_, _, _, detail), id) in audited.iter().zip(["01", "02", "03"]) {
            assert!(
                detail.contains(&format!("\"verification\":\"{id}\"")),
                "{detail}"
            );
        }
        assert!(audit::chain::verify_chain(&mut c).unwrap().is_ok());
        for (id, seq) in [("01", 1), ("03", 3)] {
            let signed: Option<String> = verifications::table
                .find(id)
                .select(verifications::receipt)
                .first(&mut c)
                .unwrap();
            let r = receipt::verify(signed.unwrap().as_bytes(), &s.receipts.public()).unwrap();
            assert_eq!((r.verification_id.as_str(), r.audit_seq), (id, seq));
        }
    }

    #[test]
    fn in_a_group_the_miss_that_trips_the_guard_locks_the_number_under_its_own_actor() {
        use crate::adapters::db::schema::audit_events;
        use crate::app::audit::{Action, AuditOutcome};

        let s = setup();
        let client = client();
        let misses = |ids: &[&str], office| {
            ids.iter()
                .map(|id| row(id, office, Outcome::NotFound, None))
                .collect::<Vec<_>>()
        };
        let view = OwnedEvent {
            action: Action::VerificationView,
            target: "W2025000123".into(),
            outcome: AuditOutcome::Denied,
            detail: "no_such_id".into(),
        };
        // The limit is five: the officer's four misses do not reach it, the client's
        // fifth does. A view between them takes its place in the chain.
        let group = vec![
            pending(
                &s.actor,
                misses(&["01", "02", "03", "04"], "4400"),
                vec![view],
            ),
            pending(&client, misses(&["05"], "4500"), Vec::new()),
        ];
        let mut c = s.pool.get().unwrap();
        writer(&s).write(&mut c, group);

        let log: Vec<(String, String)> = audit_events::table
            .order(audit_events::seq.asc())
            .select((audit_events::action, audit_events::actor))
            .load(&mut c)
            .unwrap();
        let log: Vec<(&str, &str)> = log.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(
            log,
            [
                ("verify", "officer1"),
                ("verify", "officer1"),
                ("verify", "officer1"),
                ("verify", "officer1"),
                ("verification.view", "officer1"),
                ("verify", "token:batch"),
                ("lockout", "token:batch"),
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_free_connection_answers_at_once_and_the_next_writer_stores_the_rows() {
        let s = setup();
        let queue = s.queue();
        let held = s.pool.get().unwrap();
        let first = row("01", "4400", Outcome::Verified, None);
        let refused = queue
            .store(&s.actor, vec![first], false, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, VerifyError::Db(e) if e.is_busy()),
            "a 503, not a 500: {refused:?}"
        );
        drop(held);
        let second = row("02", "4400", Outcome::Verified, None);
        let (rows, _) = queue
            .store(&s.actor, vec![second], false, None)
            .await
            .unwrap();
        assert_eq!(rows[0].id, "02");
        assert_eq!(stored(&s.pool), 2, "the refused attempt is recorded too");
    }
}
