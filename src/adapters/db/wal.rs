//! Copying the WAL into the database file off the request path.
//!
//! SQLite's own autocheckpoint runs inside the commit that passes its limit, so one
//! request pays for copying every page written since the last copy: in a profile of
//! 1000-item batches that was 9 % of the service's CPU, spent while the batch waited.
//! `kakunin serve` copies in quiet moments instead, on a thread of its own: after a tick
//! with no new commit, or every [`MAX_BUSY`] while commits never stop. The
//! autocheckpoint stays on (10000 pages, see `open`) as a backstop should this thread
//! fall behind.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel::sqlite::SqliteConnection;

use super::DbError;

/// How often the thread looks for new commits.
const TICK: Duration = Duration::from_millis(100);
/// Under commits that never pause, the WAL is still copied this often.
const MAX_BUSY: Duration = Duration::from_secs(2);

/// The checkpointing thread; dropping this stops it (within one tick).
pub struct WalCheckpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl WalCheckpointer {
    /// Starts checkpointing the database at `url` from a connection of its own.
    pub fn start(url: &str) -> Result<Self, DbError> {
        let mut conn =
            SqliteConnection::establish(url).map_err(|e| DbError::Open(format!("{url}: {e}")))?;
        conn.batch_execute("PRAGMA busy_timeout = 5000;")?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("kakunin-wal".into())
            .spawn(move || run(conn, stopped))
            .map_err(|e| DbError::Open(format!("WAL の書き戻しスレッドを起動できません: {e}")))?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for WalCheckpointer {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread's wait at once.
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(mut conn: SqliteConnection, stopped: mpsc::Receiver<()>) {
    let max_busy_ticks = (MAX_BUSY.as_millis() / TICK.as_millis()) as u32;
    let mut seen = data_version(&mut conn);
    let (mut unsaved, mut busy_ticks) = (false, 0u32);
    loop {
        match stopped.recv_timeout(TICK) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let version = data_version(&mut conn);
        if version != seen {
            seen = version;
            unsaved = true;
            busy_ticks += 1;
            if busy_ticks < max_busy_ticks {
                continue;
            }
        }
        if unsaved {
            // PASSIVE: copies what it can without waiting for readers or the writer.
            if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                tracing::warn!(error = %e, "WAL checkpoint failed; SQLite's autocheckpoint remains");
            }
            unsaved = false;
            busy_ticks = 0;
        }
    }
}

/// Changes whenever another connection commits (SQLite's `PRAGMA data_version`).
fn data_version(conn: &mut SqliteConnection) -> Option<i64> {
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = BigInt)]
        data_version: i64,
    }
    diesel::sql_query("PRAGMA data_version")
        .get_result::<Version>(conn)
        .map(|v| v.data_version)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commits with the autocheckpoint off stay in the WAL until the thread copies them
    /// into the database file, once writing pauses.
    #[test]
    fn copies_the_wal_once_writes_pause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let url = path.to_string_lossy().into_owned();
        let mut writer = SqliteConnection::establish(&url).unwrap();
        writer
            .batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE t (x TEXT NOT NULL);",
            )
            .unwrap();
        let size = || std::fs::metadata(&path).unwrap().len();
        let empty = size();
        let checkpointer = WalCheckpointer::start(&url).unwrap();
        for _ in 0..50 {
            writer
                .batch_execute("INSERT INTO t (x) VALUES (hex(randomblob(2000)));")
                .unwrap();
        }
        // 50 rows of 4000 characters: about 200 KB once copied out of the WAL.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while size() < empty + 150_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "the database file is still {} bytes: the WAL was not copied",
                size()
            );
            std::thread::sleep(TICK);
        }
        drop(checkpointer);
    }

    #[test]
    fn without_the_thread_the_rows_stay_in_the_wal() {
        // The control for the test above: the file grows only by a checkpoint.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let mut writer = SqliteConnection::establish(&path.to_string_lossy()).unwrap();
        writer
            .batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE t (x TEXT NOT NULL);",
            )
            .unwrap();
        let empty = std::fs::metadata(&path).unwrap().len();
        for _ in 0..50 {
            writer
                .batch_execute("INSERT INTO t (x) VALUES (hex(randomblob(2000)));")
                .unwrap();
        }
        std::thread::sleep(TICK * 3);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), empty);
    }
}
