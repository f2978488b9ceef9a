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
//! # The seam for several nodes
//!
//! [`NumberTurns::take`] is the one place that decides what a turn is. Here it is an
//! in-process async mutex per number, which serializes one `kakunin serve`. The count
//! and the lock already live in the database (read and written inside the turn), so
//! several nodes on one PostgreSQL database need only a turn that spans nodes: take a
//! transaction-scoped advisory lock keyed on the number
//! (`pg_advisory_xact_lock(hashtextextended(number, 0))`) on a connection held for the
//! turn, and release it by ending that transaction when the [`Turn`] drops. Keep the
//! in-process mutex in front of it, so that one node's lookups of a number queue in
//! memory rather than each holding a pooled connection while it waits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

type Slot = Arc<tokio::sync::Mutex<()>>;

/// The turns of every number being looked up in this process; cheap to clone.
#[derive(Clone, Default)]
pub struct NumberTurns {
    slots: Arc<Mutex<HashMap<String, Slot>>>,
}

/// The turn of one number, held until dropped. Waiters are served in arrival order
/// (tokio's mutex is fair), so a number's lookups go to the issuer in the order they
/// came in.
pub struct Turn {
    number: String,
    guard: Option<OwnedMutexGuard<()>>,
    slots: Arc<Mutex<HashMap<String, Slot>>>,
}

impl NumberTurns {
    /// Waits for `number`'s turn (a canonical 保証契約番号) and holds it.
    pub async fn take(&self, number: &str) -> Turn {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(number.to_owned())
            .or_default()
            .clone();
        Turn {
            number: number.to_owned(),
            guard: Some(slot.lock_owned().await),
            slots: self.slots.clone(),
        }
    }

    /// How many numbers have a turn held or awaited (for tests: the map does not grow).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.lock().unwrap().len()
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
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
                let _turn = turns.take("W2025000001").await;
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
        let _a = turns.take("W2025000001").await;
        // Would hang were turns not per number.
        let _b = turns.take("W2025000002").await;
        assert_eq!(turns.len(), 2);
    }
}
