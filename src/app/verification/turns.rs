//! One lookup at a time per 保証契約番号 (issue K6 item 3).
//!
//! The service's own lock (`settings.lockout`) promises that at most `not_found_limit`
//! wrong keys per window reach an issuer for one number. Reading the lock before the
//! lookups and writing it after broke that promise under concurrency: a batch holding
//! twenty keys for one number, or twenty parallel requests, all read "not locked" and
//! all went to the issuer. So every lookup of a number takes that number's *turn*: the
//! lock is read inside the turn, the issuer is asked, and a `not_found` is committed
//! (which is what counts towards the lock, and what writes it) before the turn passes to
//! the next lookup of the same number. Lookups of different numbers never wait for each
//! other.
//!
//! # Several nodes
//!
//! [`NumberTurns::take`] is the one place that decides what a turn is. In one process
//! it is an async mutex per number. The count and the lock live in the database (read
//! and written inside the turn), so several nodes on one PostgreSQL database need only
//! a turn that spans nodes: after the in-process mutex (one node's lookups of a number
//! queue in memory, not on connections), the turn takes a session advisory lock keyed on
//! the number (`pg_advisory_lock(hashtextextended(number, 0))`) on a connection of a
//! pool of its own, and unlocks it when the [`Turn`] drops. Its own pool: a turn holds
//! its connection while the issuer is asked and while its `not_found` is stored through
//! the main pool, so sharing one pool could leave every connection held by a turn
//! waiting for another. A connection that breaks releases its locks on the server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use diesel::sql_types::Text;
use diesel::RunQueryDsl;
use tokio::sync::OwnedMutexGuard;

use crate::adapters::db::{Conn, DbConn, DbError, DbPool};

type Slot = Arc<tokio::sync::Mutex<()>>;

/// The turns of every number being looked up in this process; cheap to clone.
#[derive(Clone, Default)]
pub struct NumberTurns {
    slots: Arc<Mutex<HashMap<String, Slot>>>,
    /// On PostgreSQL: the pool whose connections hold the turns across nodes.
    across: Option<DbPool>,
}

/// The turn of one number, held until dropped. Waiters are served in arrival order
/// (tokio's mutex is fair), so a number's lookups go to the issuer in the order they
/// came in.
pub struct Turn {
    number: String,
    guard: Option<OwnedMutexGuard<()>>,
    slots: Arc<Mutex<HashMap<String, Slot>>>,
    /// The connection holding the number's advisory lock (PostgreSQL).
    held: Option<DbConn>,
}

const LOCK: &str = "SELECT pg_advisory_lock(hashtextextended($1, 0))";
const UNLOCK: &str = "SELECT pg_advisory_unlock(hashtextextended($1, 0))";

fn advisory(conn: &mut Conn, sql: &str, number: &str) -> Result<(), DbError> {
    if let Conn::Pg(c) = conn {
        diesel::sql_query(sql).bind::<Text, _>(number).execute(c)?;
    }
    Ok(())
}

impl NumberTurns {
    /// Turns that span every node on the PostgreSQL database `pool` reaches (a pool of
    /// their own, see the module's text).
    pub fn across_nodes(pool: DbPool) -> Self {
        Self {
            across: Some(pool),
            ..Self::default()
        }
    }

    /// Waits for `number`'s turn (a canonical 保証契約番号) and holds it. Fails only
    /// when the turn spans nodes and no connection of its pool came free.
    pub async fn take(&self, number: &str) -> Result<Turn, DbError> {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(number.to_owned())
            .or_default()
            .clone();
        let mut turn = Turn {
            number: number.to_owned(),
            guard: Some(slot.lock_owned().await),
            slots: self.slots.clone(),
            held: None,
        };
        if let Some(pool) = &self.across {
            let (pool, key) = (pool.clone(), number.to_owned());
            let held = tokio::task::spawn_blocking(move || -> Result<DbConn, DbError> {
                let mut conn = pool.get()?;
                advisory(&mut conn, LOCK, &key)?;
                Ok(conn)
            })
            .await
            .map_err(|_| DbError::Canceled)??;
            turn.held = Some(held);
        }
        Ok(turn)
    }

    /// How many numbers have a turn held or awaited (for tests: the map does not grow).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.lock().unwrap().len()
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(conn) = self.held.take() {
            let number = self.number.clone();
            let unlock = move || {
                let mut conn = conn;
                if let Err(e) = advisory(&mut conn, UNLOCK, &number) {
                    // A broken connection has lost its locks with it (and fails the
                    // pool's check at its next checkout); a live one drops them all.
                    tracing::warn!(error = %e, "number turn: unlock failed");
                    let _ = advisory(&mut conn, "SELECT pg_advisory_unlock_all()", "");
                }
            };
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => drop(rt.spawn_blocking(unlock)),
                Err(_) => unlock(),
            }
        }
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        drop(self.guard.take());
        // Nobody holds or awaits the slot but the map: forget the number. A waiter holds
        // a clone of the slot from before it waits, so it is never removed under one.
        if slots
            .get(&self.number)
            .is_some_and(|slot| Arc::strong_count(slot) == 1)
        {
            slots.remove(&self.number);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn one_lookup_at_a_time_per_number_and_the_map_empties() {
        let turns = NumberTurns::default();
        let (inside, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (turns, inside, peak) = (turns.clone(), inside.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                let _turn = turns.take("W2025000001").await.unwrap();
                peak.fetch_max(inside.fetch_add(1, SeqCst) + 1, SeqCst);
                tokio::task::yield_now().await;
                inside.fetch_sub(1, SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(SeqCst), 1);
        assert_eq!(turns.len(), 0);
    }

    #[tokio::test]
    async fn other_numbers_do_not_wait() {
        let turns = NumberTurns::default();
        let _a = turns.take("W2025000001").await.unwrap();
        // Would hang were turns not per number.
        let _b = turns.take("W2025000002").await.unwrap();
        assert_eq!(turns.len(), 2);
    }
}
