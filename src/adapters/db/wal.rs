//! Copying the WAL into the database file off the request path.
//!
//! SQLite's own autocheckpoint runs inside the commit that passes its limit, so one
//! request pays for copying every page written since the last copy: in a profile of
//! 1000-item batches that was 9 % of the service's CPU, spent while the batch waited.
//! `kakunin serve` copies in quiet moments instead, on a thread of its own: after a tick
//! with no new commit, or, while commits never stop, once the WAL has grown by about
//! [`TARGET_FRAMES`] pages since the last copy (at most [`MAX_BUSY`] apart). The
//! autocheckpoint stays on (10000 pages, see `open`) as a backstop should this thread
//! fall behind.
//!
//! Both rules are for single verifications under load: at ≈ 2000 a second their
//! commits add ≈ 15000 pages a second. With a fixed 2 s between copies the backstop
//! fired inside a commit every ≈ 0.7 s, and every request of that group waited for the
//! copy. Copying more often is not enough on its own: a copy that runs beside the
//! writer never catches its last commits, so the WAL is never started over and still
//! reaches the backstop's limit. Once it is long ([`RESTART_FRAMES`]), a complete
//! copy is therefore followed by one that holds new commits off while it copies the
//! few pages committed meanwhile and waits for readers to leave the WAL (`RESTART`,
//! each wait bounded by [`RESTART_WAIT`]). In `benches/single.rs`
//! p99 went from 58–66 to 24–28 ms (BENCHMARKS.md, "Sixth sitting").

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
/// Under commits that never pause, the WAL is copied once it has grown by about this
/// many pages (8 MB at SQLite's 4096-byte pages): a fifth of the autocheckpoint's
/// 10000, so the backstop stays idle.
const TARGET_FRAMES: f64 = 2000.0;
/// A WAL this long (pages, 16 MB) is started over after a complete copy.
const RESTART_FRAMES: i64 = 4000;

/// The page counts the thread goes by: [`TARGET_FRAMES`] and [`RESTART_FRAMES`] in the
/// service, smaller in tests so that a test need not write tens of megabytes.
#[derive(Debug, Clone, Copy)]
struct Frames {
    target: f64,
    restart: i64,
}

const SERVICE_FRAMES: Frames = Frames {
    target: TARGET_FRAMES,
    restart: RESTART_FRAMES,
};

/// How long a `RESTART` copy waits, each time it must (this connection's
/// `busy_timeout`): first for the writer's commit to end, then, holding new commits off
/// once it has copied the pages committed meanwhile, for readers to leave the WAL. Past
/// either wait it stops as a `PASSIVE` copy would, and the WAL goes on. A reader that
/// keeps an old snapshot (an export in another process) makes the `PASSIVE` copy
/// incomplete, and no `RESTART` is tried then at all.
const RESTART_WAIT: Duration = Duration::from_millis(50);

/// The checkpointing thread; dropping this stops it (within one tick).
pub struct WalCheckpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl WalCheckpointer {
    /// Starts checkpointing the database at `url` from a connection of its own.
    pub fn start(url: &str) -> Result<Self, DbError> {
        Self::start_with(url, SERVICE_FRAMES)
    }

    fn start_with(url: &str, frames: Frames) -> Result<Self, DbError> {
        let mut conn =
            SqliteConnection::establish(url).map_err(|e| DbError::Open(format!("{url}: {e}")))?;
        // Only a RESTART copy waits; PASSIVE and data_version never do.
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {};",
            RESTART_WAIT.as_millis()
        ))?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("kakunin-wal".into())
            .spawn(move || run(conn, stopped, frames))
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

fn run(mut conn: SqliteConnection, stopped: mpsc::Receiver<()>, frames: Frames) {
    let mut seen = data_version(&mut conn);
    let mut pace = Pace::new(frames.target);
    loop {
        match stopped.recv_timeout(TICK) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let version = data_version(&mut conn);
        let busy = version != seen;
        seen = version;
        if pace.due(busy) {
            match copy(&mut conn, frames.restart) {
                Ok(copy) => pace.copied(copy, busy),
                Err(e) => {
                    tracing::warn!(error = %e, "WAL checkpoint failed; SQLite's autocheckpoint remains");
                    pace.copied(None, busy);
                }
            }
        }
    }
}

/// When to copy, from one tick to the next: after a quiet tick if anything is unsaved;
/// under constant commits, once the WAL should have grown by `target` pages
/// ([`TARGET_FRAMES`]) at the rate the last copy measured, or after [`MAX_BUSY`].
#[derive(Debug)]
struct Pace {
    target: f64,
    /// Commits seen since the last copy.
    unsaved: bool,
    /// Busy ticks since the last copy.
    ticks: u32,
    /// Pages the WAL gained per busy tick, as the last copy under constant commits
    /// measured. Each busy stretch starts with it high, so that it is measured after
    /// one tick rather than guessed from a slower stretch before.
    per_tick: f64,
    /// The WAL's length in pages at the last copy, when that copy left part of it
    /// uncopied (a reader still needed it): the WAL then goes on growing from there.
    /// After a complete copy the writer starts the WAL over at its next commit.
    uncopied_from: Option<i64>,
}

impl Pace {
    fn new(target: f64) -> Self {
        Self {
            target,
            unsaved: false,
            ticks: 0,
            per_tick: target,
            uncopied_from: None,
        }
    }

    /// Whether to copy now, after a tick that saw commits (`busy`) or none.
    fn due(&mut self, busy: bool) -> bool {
        if !busy {
            return self.unsaved;
        }
        self.unsaved = true;
        self.ticks += 1;
        let max_busy_ticks = (MAX_BUSY.as_millis() / TICK.as_millis()) as u32;
        self.ticks >= max_busy_ticks || self.per_tick * f64::from(self.ticks) >= self.target
    }

    /// A copy was made, under constant commits (`busy`) or after a quiet tick, and
    /// reported `copy` (`None` when it failed).
    fn copied(&mut self, copy: Option<WalCopy>, busy: bool) {
        if !busy {
            self.per_tick = self.target;
        } else if let (Some(copy), true) = (copy, self.ticks > 0) {
            let grown = copy.frames - self.uncopied_from.unwrap_or(0);
            self.per_tick = grown.max(0) as f64 / f64::from(self.ticks);
        }
        self.uncopied_from = copy.filter(|c| c.copied < c.frames).map(|c| c.frames);
        self.unsaved = false;
        self.ticks = 0;
    }
}

/// What a checkpoint reported, in pages: the WAL's length and how much of it is now in
/// the database file.
#[derive(Debug, Clone, Copy)]
struct WalCopy {
    frames: i64,
    copied: i64,
}

/// Copies what it can without waiting for the writer or readers (`PASSIVE`); then, if
/// that copy was complete and the WAL has `restart` pages or more, the pages committed
/// meanwhile with the writer held off (`RESTART`, see the module doc). Answers what the
/// last copy reported.
fn copy(conn: &mut SqliteConnection, restart: i64) -> QueryResult<Option<WalCopy>> {
    match checkpoint(conn, "PASSIVE")? {
        Some(c) if c.copied == c.frames && c.frames >= restart => checkpoint(conn, "RESTART"),
        passive => Ok(passive),
    }
}

/// `PRAGMA wal_checkpoint(mode)`; `None` when SQLite reports no WAL (−1).
fn checkpoint(conn: &mut SqliteConnection, mode: &str) -> QueryResult<Option<WalCopy>> {
    #[derive(QueryableByName)]
    struct Checkpoint {
        #[diesel(sql_type = BigInt)]
        log: i64,
        #[diesel(sql_type = BigInt)]
        checkpointed: i64,
    }
    let done = diesel::sql_query(format!("PRAGMA wal_checkpoint({mode})"))
        .get_result::<Checkpoint>(conn)?;
    Ok((done.log >= 0).then_some(WalCopy {
        frames: done.log,
        copied: done.checkpointed,
    }))
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

    /// Under commits that never pause for a tick, the WAL is copied as it grows, well
    /// before [`MAX_BUSY`]: otherwise SQLite's backstop copies it inside a commit.
    #[test]
    fn copies_a_growing_wal_while_writes_go_on() {
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
        let start = std::time::Instant::now();
        let mut rows = 0;
        // Every commit is a page or more, far faster than a tick.
        while size() == empty {
            writer
                .batch_execute("INSERT INTO t (x) VALUES (hex(randomblob(2000)));")
                .unwrap();
            rows += 1;
            assert!(
                start.elapsed() < MAX_BUSY * 3 / 4,
                "{rows} commits in {:?} and the WAL is not copied yet",
                start.elapsed()
            );
        }
        drop(checkpointer);
    }

    /// Under commits that never pause, the WAL is started over once it is long, rather
    /// than growing until SQLite's backstop copies it inside a commit: a copy beside
    /// the writer never catches its last commits, so only the `RESTART` copy lets the
    /// WAL start over. (With the autocheckpoint off here, a WAL that never started over
    /// would hold every page written.)
    #[test]
    fn a_long_wal_starts_over_while_writes_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let url = path.to_string_lossy().into_owned();
        let mut writer = SqliteConnection::establish(&url).unwrap();
        writer
            .batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
                 PRAGMA busy_timeout = 5000; CREATE TABLE t (x TEXT NOT NULL);",
            )
            .unwrap();
        let frames = Frames {
            target: 100.0,
            restart: 200,
        };
        let checkpointer = WalCheckpointer::start_with(&url, frames).unwrap();
        let wal = || std::fs::metadata(dir.path().join("k.db-wal")).map_or(0, |m| m.len());
        // 5000 commits of two pages or so, 5 a millisecond: ≈ 1000 pages a tick and never
        // a quiet one; ≈ 10000 pages in all, which a WAL never started over would hold.
        for i in 0..5000 {
            writer
                .batch_execute("INSERT INTO t (x) VALUES (hex(randomblob(1500)));")
                .unwrap();
            if i % 5 == 4 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        drop(checkpointer);
        let written: i64 = diesel::sql_query("SELECT count(*) AS n FROM t")
            .get_result::<Count>(&mut writer)
            .unwrap()
            .n;
        assert_eq!(written, 5000);
        let pages = wal() / 4096;
        assert!(
            pages < 2500,
            "the WAL file grew to {pages} pages in 5000 commits: it never started over"
        );
    }

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    /// One tick of [`Pace`]: whether it copied, and if so with what the copy reported.
    fn tick(pace: &mut Pace, busy: bool, copy: Option<WalCopy>) -> bool {
        let due = pace.due(busy);
        if due {
            pace.copied(copy, busy);
        }
        due
    }

    fn wal(frames: i64, copied: i64) -> Option<WalCopy> {
        Some(WalCopy { frames, copied })
    }

    #[test]
    fn a_quiet_tick_copies_only_what_is_unsaved() {
        let mut pace = Pace::new(TARGET_FRAMES);
        assert!(!tick(&mut pace, false, wal(0, 0)), "nothing written yet");
        assert!(
            tick(&mut pace, true, wal(10, 10)),
            "a first busy tick is measured"
        );
        assert!(!tick(&mut pace, false, wal(10, 10)), "copied already");
    }

    #[test]
    fn under_constant_commits_the_copy_follows_the_measured_growth() {
        let mut pace = Pace::new(TARGET_FRAMES);
        // 500 pages in the first busy tick: the next copy is due after four more.
        assert!(tick(&mut pace, true, wal(500, 500)));
        let due: Vec<bool> = (0..4)
            .map(|_| tick(&mut pace, true, wal(8000, 8000)))
            .collect();
        assert_eq!(due, [false, false, false, true]);
        // 8000 pages in those four: 2000 a tick, so every tick copies now (the WAL
        // starts over after each complete copy).
        assert!(tick(&mut pace, true, wal(2000, 2000)));
        assert!(tick(&mut pace, true, wal(2000, 2000)));
    }

    #[test]
    fn growth_after_an_incomplete_copy_counts_from_where_it_stopped() {
        let mut pace = Pace::new(TARGET_FRAMES);
        // A reader kept 1000 of 3000 pages from being copied: the WAL goes on from 3000.
        assert!(tick(&mut pace, true, wal(3000, 2000)));
        assert!(
            tick(&mut pace, true, wal(3500, 3500)),
            "the first busy tick after a copy is due at 3000 pages a tick"
        );
        // 500 pages in that tick: four ticks to the next copy.
        let due: Vec<bool> = (0..4)
            .map(|_| tick(&mut pace, true, wal(2000, 2000)))
            .collect();
        assert_eq!(due, [false, false, false, true]);
    }

    #[test]
    fn a_slow_wal_is_still_copied_after_max_busy_and_a_pause_starts_over() {
        let mut pace = Pace::new(TARGET_FRAMES);
        assert!(tick(&mut pace, true, wal(1, 1)));
        let max_busy_ticks = (MAX_BUSY.as_millis() / TICK.as_millis()) as usize;
        let due: Vec<bool> = (0..max_busy_ticks)
            .map(|_| tick(&mut pace, true, wal(20, 20)))
            .collect();
        assert_eq!(due.iter().filter(|d| **d).count(), 1);
        assert!(
            due[max_busy_ticks - 1],
            "copied after {MAX_BUSY:?} of commits"
        );
        assert!(!tick(&mut pace, true, wal(1, 1)), "still at the slow rate");
        assert!(
            tick(&mut pace, false, wal(1, 1)),
            "a pause copies what is unsaved"
        );
        // After a pause a busy stretch is measured afresh, after one tick, rather than
        // paced by the slow rate before it.
        assert!(tick(&mut pace, true, wal(3000, 3000)));
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
