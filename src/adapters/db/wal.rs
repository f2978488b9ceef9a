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
//! few pages committed meanwhile (`RESTART`: its waits for the writer and for readers
//! stay within [`RESTART_WAIT`] in all; the copy and two fsyncs add to that). In
//! `benches/single.rs` p99 went from 58–66 to 24–28 ms (BENCHMARKS.md, "Sixth
//! sitting").

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

/// The busy timeout of the thread's connection. All the waits of one `RESTART` copy
/// together stay within it: for the writer's commit to end, then, once it holds the
/// write lock, for readers on older snapshots to leave the WAL. Past it the copy goes
/// on as a `PASSIVE` one would and the WAL is not started over. New commits wait from
/// the moment the copy holds the write lock until it ends: these waits, the copy of the
/// few pages committed since the `PASSIVE` copy, and two fsyncs (the WAL, then the
/// database file).
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
        // A PASSIVE copy never waits; reading data_version may, briefly, and a RESTART
        // copy waits at most this long in all.
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
    let mut pace = Pace::new(frames);
    let mut failing = false;
    loop {
        match stopped.recv_timeout(TICK) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let version = data_version(&mut conn);
        let busy = version != seen;
        seen = version;
        if !pace.due(busy) {
            continue;
        }
        match copy(&mut conn, &pace) {
            Ok(report) => {
                if std::mem::take(&mut failing) {
                    tracing::info!("WAL checkpoint works again");
                }
                pace.copied(report, busy);
            }
            Err(e) => {
                // Once a streak: under constant commits a copy is due up to ten times a
                // second.
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(error = %e, "WAL checkpoint failed; SQLite's autocheckpoint remains");
                }
                pace.copied(Report::default(), busy);
            }
        }
    }
}

/// When to copy, from one tick to the next: after a quiet tick if anything is unsaved;
/// under constant commits, once the WAL should have grown by `frames.target` pages
/// ([`TARGET_FRAMES`]) at the rate the last copies measured, or after [`MAX_BUSY`].
/// And whether to start the WAL over after a complete copy ([`Pace::restart_due`]).
#[derive(Debug)]
struct Pace {
    frames: Frames,
    /// Commits seen since the last copy.
    unsaved: bool,
    /// Busy ticks since the last copy.
    ticks: u32,
    /// Pages the WAL gained per busy tick, as measured at the last copy under constant
    /// commits that saw it grow. Each busy stretch starts with it at `frames.target`,
    /// so that it is measured after one tick rather than guessed from a slower stretch
    /// before.
    per_tick: f64,
    /// The WAL's length in pages at the last copy, from which it grows until it is
    /// started over: 0 after a `RESTART` copy that did, or after a complete copy at a
    /// quiet tick (the next writer then finds nothing left to copy and starts over).
    base: i64,
    /// The WAL's length when a `RESTART` copy last gave up (a reader stayed, or the
    /// writer held on): no other is tried until the WAL is shorter than that (it was
    /// started over) or longer by `frames.target`.
    gave_up_at: Option<i64>,
}

/// What one due copy reported: its `PASSIVE` checkpoint (`None` when it failed or could
/// not run) and the `RESTART` one, when one followed.
#[derive(Debug, Clone, Copy, Default)]
struct Report {
    passive: Option<WalCopy>,
    restart: Option<WalCopy>,
}

impl Pace {
    fn new(frames: Frames) -> Self {
        Self {
            frames,
            unsaved: false,
            ticks: 0,
            per_tick: frames.target,
            base: 0,
            gave_up_at: None,
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
        self.ticks >= max_busy_ticks || self.per_tick * f64::from(self.ticks) >= self.frames.target
    }

    /// Whether a `PASSIVE` copy that reported `passive` should be followed by a
    /// `RESTART` one: it copied the whole WAL, the WAL is `frames.restart` pages or
    /// longer, and no `RESTART` gave up on it since (see [`Pace::gave_up_at`]).
    fn restart_due(&self, passive: &WalCopy) -> bool {
        let tried = self.gave_up_at.is_some_and(|at| {
            passive.frames >= at && ((passive.frames - at) as f64) < self.frames.target
        });
        passive.copied == passive.frames && passive.frames >= self.frames.restart && !tried
    }

    /// A copy was made, under constant commits (`busy`) or after a quiet tick, and
    /// reported `report`.
    fn copied(&mut self, report: Report, busy: bool) {
        if let Some(now) = report.restart.or(report.passive) {
            // Shorter than at the last copy: started over since, so all of it is new.
            let grown = if now.frames >= self.base {
                now.frames - self.base
            } else {
                now.frames
            };
            if busy && self.ticks > 0 && grown > 0 {
                self.per_tick = grown as f64 / f64::from(self.ticks);
            }
            self.base = match report.restart {
                Some(r) if r.started_over() => 0,
                None if !busy && now.copied == now.frames => 0,
                _ => now.frames,
            };
            if let Some(r) = report.restart {
                self.gave_up_at = (!r.started_over()).then_some(r.frames);
            }
        }
        if !busy {
            self.per_tick = self.frames.target;
        }
        self.unsaved = false;
        self.ticks = 0;
    }
}

/// What a checkpoint reported, in pages: the WAL's length and how much of it is now in
/// the database file; `busy` when it could not do all it was asked (a `RESTART` that
/// stopped waiting).
#[derive(Debug, Clone, Copy)]
struct WalCopy {
    frames: i64,
    copied: i64,
    busy: bool,
}

impl WalCopy {
    /// For a `RESTART` copy: everything copied and no reader left, so the next commit
    /// starts the WAL over.
    fn started_over(&self) -> bool {
        !self.busy && self.copied == self.frames
    }
}

/// Copies what it can without waiting for the writer or readers (`PASSIVE`); then,
/// when [`Pace::restart_due`], the pages committed meanwhile with new commits held off
/// (`RESTART`, see the module doc).
fn copy(conn: &mut SqliteConnection, pace: &Pace) -> QueryResult<Report> {
    let passive = checkpoint(conn, "PASSIVE")?;
    let restart = match passive {
        // A RESTART that could not run at all (another connection was copying) did
        // not start the WAL over.
        Some(p) if pace.restart_due(&p) => {
            Some(checkpoint(conn, "RESTART")?.unwrap_or(WalCopy { busy: true, ..p }))
        }
        _ => None,
    };
    Ok(Report { passive, restart })
}

/// `PRAGMA wal_checkpoint(mode)`. SQLite answers a row even when it could not copy
/// everything (`busy` = 1); `None` when it reports no figures (−1: no WAL, or another
/// connection holds the checkpoint lock, such as SQLite's autocheckpoint in a commit).
fn checkpoint(conn: &mut SqliteConnection, mode: &str) -> QueryResult<Option<WalCopy>> {
    #[derive(QueryableByName)]
    struct Checkpoint {
        #[diesel(sql_type = BigInt)]
        busy: i64,
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
        busy: done.busy != 0,
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
    /// into the database file once writing pauses, even when their rate alone would not
    /// make a copy due before [`MAX_BUSY`].
    #[test]
    fn copies_the_wal_once_writes_pause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let mut writer = wal_without_autocheckpoint(&path);
        let size = || std::fs::metadata(&path).unwrap().len();
        let checkpointer = WalCheckpointer::start(&path.to_string_lossy()).unwrap();
        // 50 rows of 4000 characters, about 200 KB once copied out of the WAL, in a
        // burst and then again: the first busy tick copies the first burst and measures
        // ≈ 100 pages a tick, so only the pause after the second makes it due.
        for burst in 1..=2u64 {
            let empty = size();
            for _ in 0..50 {
                insert(&mut writer, 2000);
            }
            let start = std::time::Instant::now();
            while size() < empty + 150_000 {
                assert!(
                    start.elapsed() < MAX_BUSY * 3 / 4,
                    "burst {burst}: the database file is still {} bytes: the WAL was not copied",
                    size()
                );
                std::thread::sleep(TICK / 4);
            }
        }
        drop(checkpointer);
    }

    /// A database in WAL mode with SQLite's own autocheckpoint off, and its one table.
    fn wal_without_autocheckpoint(path: &std::path::Path) -> SqliteConnection {
        let mut writer = SqliteConnection::establish(&path.to_string_lossy()).unwrap();
        writer
            .batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
                 PRAGMA busy_timeout = 5000; CREATE TABLE t (x TEXT NOT NULL);",
            )
            .unwrap();
        writer
    }

    /// Commits a row of `bytes` random bytes, as twice as many hex characters.
    fn insert(writer: &mut SqliteConnection, bytes: u32) {
        writer
            .batch_execute(&format!(
                "INSERT INTO t (x) VALUES (hex(randomblob({bytes})));"
            ))
            .unwrap();
    }

    /// Under commits that never pause for a tick, the WAL is copied as it grows, well
    /// before [`MAX_BUSY`]: otherwise SQLite's backstop copies it inside a commit.
    #[test]
    fn copies_a_growing_wal_while_writes_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let mut writer = wal_without_autocheckpoint(&path);
        let size = || std::fs::metadata(&path).unwrap().len();
        let empty = size();
        let checkpointer = WalCheckpointer::start(&path.to_string_lossy()).unwrap();
        let start = std::time::Instant::now();
        let mut rows = 0;
        // Every commit is a page or more, far faster than a tick.
        while size() == empty {
            insert(&mut writer, 2000);
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
        let mut writer = wal_without_autocheckpoint(&path);
        let frames = Frames {
            target: 100.0,
            restart: 200,
        };
        let checkpointer = WalCheckpointer::start_with(&path.to_string_lossy(), frames).unwrap();
        // 5000 commits of two pages or so, 5 a millisecond: ≈ 1000 pages a tick and never
        // a quiet one; ≈ 10000 pages in all, which a WAL never started over would hold.
        for i in 0..5000 {
            insert(&mut writer, 1500);
            if i % 5 == 4 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        drop(checkpointer);
        let wal = std::fs::metadata(dir.path().join("k.db-wal")).map_or(0, |m| m.len());
        // Started over, it stays within a tick or two of growth (≈ 850 pages measured);
        // never started over, it held 10,000–15,000. The bound leaves room for a slow
        // machine that misses ticks.
        let pages = wal / 4096;
        assert!(
            pages < 4000,
            "the WAL file grew to {pages} pages in 5000 commits: it never started over"
        );
    }

    /// One tick of [`Pace`]: whether it copied, and if so with what the copy reported.
    fn tick(pace: &mut Pace, busy: bool, report: Report) -> bool {
        let due = pace.due(busy);
        if due {
            pace.copied(report, busy);
        }
        due
    }

    fn wal_copy(frames: i64, copied: i64) -> WalCopy {
        WalCopy {
            frames,
            copied,
            busy: false,
        }
    }

    /// A `PASSIVE` copy alone.
    fn passive(frames: i64, copied: i64) -> Report {
        Report {
            passive: Some(wal_copy(frames, copied)),
            restart: None,
        }
    }

    /// A complete `PASSIVE` copy followed by a `RESTART` one that reported `restart`.
    fn restarted(frames: i64, restart: WalCopy) -> Report {
        Report {
            passive: Some(wal_copy(frames, frames)),
            restart: Some(restart),
        }
    }

    fn ticks(pace: &mut Pace, n: usize, report: Report) -> Vec<bool> {
        (0..n).map(|_| tick(pace, true, report)).collect()
    }

    #[test]
    fn a_quiet_tick_copies_only_what_is_unsaved() {
        let mut pace = Pace::new(SERVICE_FRAMES);
        assert!(
            !tick(&mut pace, false, passive(0, 0)),
            "nothing written yet"
        );
        assert!(
            tick(&mut pace, true, passive(10, 10)),
            "a first busy tick is measured"
        );
        assert!(!tick(&mut pace, false, passive(10, 10)), "copied already");
    }

    #[test]
    fn under_constant_commits_the_copy_follows_the_measured_growth() {
        let mut pace = Pace::new(SERVICE_FRAMES);
        // 500 pages in the first busy tick: the next copy is due after four more.
        assert!(tick(&mut pace, true, passive(500, 500)));
        // 8100 more in those four, 2025 a tick; the WAL is long, and started over.
        let due = ticks(&mut pace, 4, restarted(8500, wal_copy(8600, 8600)));
        assert_eq!(due, [false, false, false, true]);
        // So every tick copies now, and 2100 pages from the start make 2100 a tick.
        assert!(tick(&mut pace, true, passive(2100, 2100)));
        assert!(tick(&mut pace, true, passive(4200, 4200)));
    }

    #[test]
    fn growth_after_an_incomplete_copy_counts_from_where_it_stopped() {
        let mut pace = Pace::new(SERVICE_FRAMES);
        // A reader kept 1000 of 3000 pages from being copied: the WAL goes on from 3000.
        assert!(tick(&mut pace, true, passive(3000, 2000)));
        assert!(
            tick(&mut pace, true, passive(3500, 3500)),
            "3000 pages a tick"
        );
        // 500 pages in that tick: four ticks to the next copy.
        assert_eq!(
            ticks(&mut pace, 4, passive(5500, 5500)),
            [false, false, false, true]
        );
    }

    #[test]
    fn a_wal_shorter_than_at_the_last_copy_grew_from_the_start() {
        let mut pace = Pace::new(SERVICE_FRAMES);
        assert!(tick(&mut pace, true, passive(3000, 2000)));
        assert!(
            tick(&mut pace, true, passive(3100, 3100)),
            "3000 pages a tick"
        );
        // 100 pages in that tick, so the next copy is 20 ticks away. Meanwhile the WAL
        // was started over elsewhere (SQLite's own checkpoint) and is 1500 pages long:
        // all of them grew since, 75 a tick, rather than a shrinking read as no growth.
        let due = ticks(&mut pace, 20, passive(1500, 1500));
        assert_eq!(due.iter().position(|d| *d), Some(19));
        assert_eq!(pace.per_tick, 75.0);
    }

    #[test]
    fn a_failed_copy_keeps_the_pace() {
        let mut pace = Pace::new(SERVICE_FRAMES);
        assert!(tick(&mut pace, true, passive(1000, 1000)));
        assert!(!tick(&mut pace, true, passive(2000, 2000)));
        assert!(
            tick(&mut pace, true, Report::default()),
            "due after two ticks"
        );
        assert_eq!(pace.per_tick, 1000.0, "no figures, no new rate");
        assert!(!tick(&mut pace, true, passive(3000, 3000)));
        assert!(tick(&mut pace, true, passive(4000, 4000)));
    }

    #[test]
    fn a_slow_wal_is_still_copied_after_max_busy_and_a_pause_starts_over() {
        let mut pace = Pace::new(SERVICE_FRAMES);
        assert!(tick(&mut pace, true, passive(1, 1)));
        let max_busy_ticks = (MAX_BUSY.as_millis() / TICK.as_millis()) as usize;
        let due = ticks(&mut pace, max_busy_ticks, passive(21, 21));
        assert_eq!(due.iter().filter(|d| **d).count(), 1);
        assert!(
            due[max_busy_ticks - 1],
            "copied after {MAX_BUSY:?} of commits"
        );
        assert!(
            !tick(&mut pace, true, passive(22, 22)),
            "still at the slow rate"
        );
        assert!(
            tick(&mut pace, false, passive(22, 22)),
            "a pause copies what is unsaved"
        );
        // After a pause a busy stretch is measured afresh, after one tick, rather than
        // paced by the slow rate before it.
        assert!(tick(&mut pace, true, passive(3000, 3000)));
    }

    #[test]
    fn a_restart_follows_only_a_complete_copy_of_a_long_wal_and_not_again_after_it_gave_up() {
        let mut pace = Pace::new(SERVICE_FRAMES);
        assert!(!pace.restart_due(&wal_copy(3999, 3999)), "short");
        assert!(
            !pace.restart_due(&wal_copy(5000, 4000)),
            "a reader kept part of it"
        );
        assert!(pace.restart_due(&wal_copy(5000, 5000)));
        // The RESTART gave up waiting: everything copied, but a reader stayed.
        assert!(tick(
            &mut pace,
            true,
            restarted(
                5000,
                WalCopy {
                    frames: 5000,
                    copied: 5000,
                    busy: true
                }
            )
        ));
        assert_eq!(pace.gave_up_at, Some(5000));
        assert!(
            !pace.restart_due(&wal_copy(6000, 6000)),
            "not at every copy after"
        );
        assert!(
            pace.restart_due(&wal_copy(7000, 7000)),
            "once the WAL grew by the target"
        );
        assert!(
            pace.restart_due(&wal_copy(4500, 4500)),
            "or was started over since"
        );
        // One that did start the WAL over: growth counts from the start again.
        pace.copied(restarted(7000, wal_copy(7100, 7100)), true);
        assert_eq!((pace.base, pace.gave_up_at), (0, None));
    }

    #[test]
    fn without_the_thread_the_rows_stay_in_the_wal() {
        // The control for the tests above: the file grows only by a checkpoint.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let mut writer = wal_without_autocheckpoint(&path);
        let empty = std::fs::metadata(&path).unwrap().len();
        for _ in 0..50 {
            insert(&mut writer, 2000);
        }
        std::thread::sleep(TICK * 3);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), empty);
    }
}
