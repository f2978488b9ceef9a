//! Group commit: verifications that finish while another write is under way are written
//! together by the next one, in one transaction. Under load one commit then serves many
//! requests instead of each queueing for its own.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::{duplicate_uses, record_attempts, VerificationRow, VerifyError};
use crate::adapters::db::{self, DbError, DbPool};
use crate::app::audit::Actor;
use crate::app::receipt::ReceiptKeys;
use crate::config::Lockout;
use crate::domain::case::DuplicateUse;

/// Rows as committed, and, when asked for, each row's duplicate use as read right
/// after the commit.
pub type Stored = (Vec<VerificationRow>, Option<Vec<DuplicateUse>>);

/// What waits for the next write: rows with whoever made them, whether their duplicate
/// use is wanted, and where to answer.
struct Pending {
    actor: Actor,
    rows: Vec<VerificationRow>,
    with_uses: bool,
    done: oneshot::Sender<Result<Stored, String>>,
}

/// The rows waiting for a write, shared by every request of one service.
#[derive(Clone, Default)]
pub struct WriteQueue(Arc<Mutex<Vec<Pending>>>);

impl WriteQueue {
    fn waiting(&self) -> MutexGuard<'_, Vec<Pending>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores `rows`, each with its audit row, and answers them once committed. Whoever
    /// gets the writer's turn first writes everything waiting, so a request may find
    /// its rows already written by another's transaction. A request that cannot even
    /// get a connection answers that error at once; its rows stay queued and the next
    /// writer stores them, so the attempt is still recorded rather than lost.
    ///
    /// With `with_uses`, the rows' duplicate use ([`duplicate_uses`]) is read on the
    /// writer's connection once the commit is done: what a single verification answers
    /// with, for no second trip to the blocking pool.
    pub async fn store(
        &self,
        pool: &DbPool,
        lockout: &Lockout,
        receipts: &Arc<ReceiptKeys>,
        actor: &Actor,
        rows: Vec<VerificationRow>,
        with_uses: bool,
    ) -> Result<Stored, VerifyError> {
        let (done, answer) = oneshot::channel();
        self.waiting().push(Pending {
            actor: actor.clone(),
            rows,
            with_uses,
            done,
        });
        let (queue, lockout, receipts) = (self.clone(), lockout.clone(), receipts.clone());
        db::run(pool, move |c| {
            let turn = db::writer_turn();
            let mut group = std::mem::take(&mut *queue.waiting());
            // Empty: an earlier turn took ours along.
            if !group.is_empty() {
                let written = c.immediate_transaction(|c| {
                    group.iter_mut().try_for_each(|p| {
                        record_attempts(c, &p.actor, &mut p.rows, &lockout, &receipts)
                    })
                });
                // Reading the uses needs no writer's turn: let the next group commit.
                drop(turn);
                let failure = written.err().map(|e: diesel::result::Error| e.to_string());
                for p in group {
                    let _ = p.done.send(match &failure {
                        None if p.with_uses => {
                            match duplicate_uses(c, &p.rows.iter().collect::<Vec<_>>()) {
                                Ok(uses) => Ok((p.rows, Some(uses))),
                                Err(e) => Err(e.to_string()),
                            }
                        }
                        None => Ok((p.rows, None)),
                        Some(e) => Err(e.clone()),
                    });
                }
            }
            Ok::<_, DbError>(())
        })
        .await?;
        // A dropped answer means the writer panicked: its transaction rolled back.
        answer
            .await
            .map_err(|_| VerifyError::Interrupted)?
            .map_err(|e| VerifyError::Db(DbError::Write(e)))
    }
}
