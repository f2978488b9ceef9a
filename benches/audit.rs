//! Audit pages and exports at a million events (not a test; figures go to BENCHMARKS.md).
//!
//! Seeds a fresh database with `KAKUNIN_BENCH_EVENTS` (default 1,000,000) events that
//! form a valid hash chain with a signed checkpoint every 1,000, starts the real
//! `kakunin serve` on it, and times the supervisor pages, the exports and
//! `kakunin audit verify`.
//!
//! ```text
//! cargo bench --workspace --bench audit                            # 1,000,000 events
//! KAKUNIN_BENCH_EVENTS=20000 cargo test --workspace --bench audit  # quick check, debug build
//! ```

use std::path::Path;
use std::process::Output;
use std::time::Instant;

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use kakunin::adapters::db::Conn;

use kakunin::adapters::db::schema::audit_events;
use kakunin::app::audit::checkpoint::{self, Signer};
use kakunin::app::audit::{chain, key, Action, AuditOutcome, AuditRow, GENESIS};
use kakunin::domain::code::Code;
use kakunin_testkit::client::Browser;
use kakunin_testkit::service::ServiceProcess;

const REGISTRY: &str = r#"
[[issuer]]
id = "wjcs"
name = "西日本建設業保証株式会社"
base_url = "http://127.0.0.1:9/"
token = "bench-only"
number_pattern = "^W[0-9]{10}$"

[[issuer.key]]
kid = "wjcs-2025"
x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
not_before = "2025-01-01T00:00:00+09:00"
not_after = "2030-12-31T23:59:59+09:00"
"#;

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
struct Row<'a> {
    seq: i32,
    at: NaiveDateTime,
    actor: &'a str,
    office_code: &'a str,
    action: &'a str,
    target: &'a str,
    outcome: &'a str,
    address: &'a str,
    user_agent: &'a str,
    detail: &'a str,
    prev_hash: &'a str,
    hash: &'a str,
}

/// xorshift64*: deterministic, so every run seeds the same log.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const VERIFY_OUTCOMES: [(&str, u64); 6] = [
    ("verified", 60),
    ("rejected", 15),
    ("not_found", 19),
    ("locked", 2),
    ("invalid_record", 1),
    ("issuer_unavailable", 3),
];

fn pick_outcome(rng: &mut Rng) -> &'static str {
    let mut r = rng.below(100);
    for (o, w) in VERIFY_OUTCOMES {
        if r < w {
            return o;
        }
        r -= w;
    }
    "verified"
}

/// 10 offices, 20 officers each, spread evenly over the last 100 days.
fn seed(db: &Path, key_file: &Path, n: i32) -> anyhow::Result<()> {
    let mut conn = Conn::Sqlite(SqliteConnection::establish(
        db.to_str().unwrap_or_default(),
    )?);
    conn.batch_execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -200000;",
    )?;
    let signer = Signer::new(key::load(key_file)?, 1000, 60);
    // The log already holds `key init`'s event (seq 1) and its checkpoint.
    let (first_seq, mut prev) = audit_events::table
        .order(audit_events::seq.desc())
        .select((audit_events::seq, audit_events::hash))
        .first::<(i32, String)>(&mut conn)
        .map(|(s, h)| (s + 1, h))
        .unwrap_or((1, GENESIS.to_owned()));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start = chrono::Utc::now().naive_utc() - chrono::Duration::days(100);
    let step_us = 100 * 86_400 * 1_000_000 / i64::from(n.max(1));
    let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
    let t = Instant::now();
    conn.immediate_transaction(|c| {
        let mut batch: Vec<AuditRow> = Vec::with_capacity(2000);
        for seq in first_seq..first_seq + n {
            let officer = rng.below(200);
            let office = format!("4400{:02}", officer / 20 + 1);
            let actor = format!("user:officer{officer:03}");
            let number = format!("W2025{:06}", rng.below(100_000));
            let kind = rng.below(100);
            let (action, target, outcome, detail) = match kind {
                0..70 => {
                    let outcome = pick_outcome(&mut rng);
                    let detail = format!(
                        "{{\"verification\":\"01JC{:022}\",\"issuer\":\"wjcs\",\"key_fingerprint\":\"{:032x}\"}}",
                        seq,
                        u128::from(rng.next())
                    );
                    ("verify", number, outcome, detail)
                }
                70..80 => ("verification.view", number, "verified", format!("verification=01JC{seq:022}")),
                80..90 => ("signin", format!("officer{officer:03}"), if kind < 88 { "ok" } else { "failure" }, String::new()),
                90..95 => ("signout", format!("officer{officer:03}"), "ok", String::new()),
                _ => ("session.expire", format!("officer{officer:03}"), "ok", String::new()),
            };
            let mut row = AuditRow {
                seq,
                at: start + chrono::Duration::microseconds(step_us * i64::from(seq)),
                actor,
                office_code: office,
                action: Action::parse(action).expect("a known action"),
                target,
                outcome: AuditOutcome::parse(outcome).expect("a known outcome"),
                address: format!("10.0.{}.{}", officer / 20, officer % 250),
                user_agent: ua.to_owned(),
                detail,
                prev_hash: std::mem::take(&mut prev),
                hash: String::new(),
            };
            row.hash = chain::row_hash(&row);
            prev = row.hash.clone();
            batch.push(row);
            if batch.len() == 2000 || seq == first_seq + n - 1 {
                let rows: Vec<Row> = batch
                    .iter()
                    .map(|r| Row {
                        seq: r.seq,
                        at: r.at,
                        actor: &r.actor,
                        office_code: &r.office_code,
                        action: r.action.as_str(),
                        target: &r.target,
                        outcome: r.outcome.as_str(),
                        address: &r.address,
                        user_agent: &r.user_agent,
                        detail: &r.detail,
                        prev_hash: &r.prev_hash,
                        hash: &r.hash,
                    })
                    .collect();
                // 12 columns × 2000 rows stays under SQLite's 32,766 bound parameters.
                // A multi-row insert is said per backend (diesel's multi-backend
                // connection has no batch insert).
                let insert = diesel::insert_into(audit_events::table).values(&rows);
                match c {
                    Conn::Sqlite(c) => insert.execute(c)?,
                    Conn::Pg(c) => insert.execute(c)?,
                };
                for r in batch.iter().filter(|r| r.seq % 1000 == 0) {
                    checkpoint::write(c, &signer, r)?;
                }
                batch.clear();
            }
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    kakunin::app::audit::stats::rebuild_daily(&mut conn)?;
    conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")?;
    println!(
        "| seed {n} events (chain + checkpoints, one transaction) | {:.1} s |",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Fails the bench on a usage or start-up error (exit 2) of a `kakunin` command.
fn checked(out: Output) -> anyhow::Result<Output> {
    anyhow::ensure!(
        out.status.code() != Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out)
}

/// Median and 95th percentile of `n` loads of `path` (after two warm-ups).
async fn time_page(browser: &Browser, label: &str, path: &str, n: usize) -> anyhow::Result<()> {
    let mut ms = Vec::with_capacity(n);
    let mut rows = 0;
    for i in 0..n + 2 {
        let t = Instant::now();
        let res = browser.get(path).await;
        anyhow::ensure!(res.status() == 200, "{path}: {}", res.status());
        let body = res.text().await?;
        if i >= 2 {
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        rows = body.matches("data-seq=").count();
    }
    ms.sort_by(f64::total_cmp);
    let p95 = ms[((ms.len() as f64 * 0.95).ceil() as usize)
        .saturating_sub(1)
        .min(ms.len() - 1)];
    println!(
        "| {label} (`{path}`, {rows} rows) | {:.1} ms | {:.1} ms |",
        ms[ms.len() / 2],
        p95
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let n: i32 = std::env::var("KAKUNIN_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    // `key init` (the log's first event and checkpoint) and the accounts, then the log.
    let mut service = ServiceProcess::prepare(REGISTRY, None);
    service.add_user("admin1", "admin", "440001");
    service.add_user("super1", "supervisor", "440001");
    let dir = service.dir().to_owned();
    println!("| step | median | p95 |\n|---|---|---|");
    seed(&service.db_path(), &service.audit_key_path(), n)?;
    let db_size = std::fs::metadata(service.db_path())?.len();
    println!("| database file | {:.0} MB | |", db_size as f64 / 1e6);

    let t = Instant::now();
    let out = checked(service.cli(&["audit", "verify"]))?;
    anyhow::ensure!(
        out.status.success(),
        "verify: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    println!(
        "| `kakunin audit verify` (chain + {} checkpoints) | {:.1} s | |",
        n / 1000,
        t.elapsed().as_secs_f64()
    );

    service.serve();
    let admin = service.sign_in("admin1").await;
    let supervisor = service.sign_in("super1").await;
    let today = (chrono::Utc::now() + chrono::Duration::hours(9)).date_naive();
    let (old_from, old_to) = (
        today - chrono::Duration::days(60),
        today - chrono::Duration::days(50),
    );
    let deep = kakunin::app::audit::query::Cursor(n / 2).encode();
    let reps = 20;
    time_page(&admin, "admin, first page, all offices", "/audit", reps).await?;
    time_page(
        &admin,
        "admin, page at the middle of the log",
        &format!("/audit?cursor={deep}"),
        reps,
    )
    .await?;
    time_page(&supervisor, "supervisor, own office", "/audit", reps).await?;
    time_page(
        &supervisor,
        "supervisor, one officer",
        "/audit?actor=officer007",
        reps,
    )
    .await?;
    time_page(
        &supervisor,
        "supervisor, one certificate number",
        "/audit?number=W2025012345",
        reps,
    )
    .await?;
    time_page(
        &admin,
        "admin, rare outcome",
        "/audit?action=verify&outcome=invalid_record",
        reps,
    )
    .await?;
    time_page(
        &admin,
        "admin, 10 days two months ago",
        &format!("/audit?from={old_from}&to={old_to}"),
        reps,
    )
    .await?;
    time_page(
        &supervisor,
        "supervisor, officer + action + outcome + dates",
        &format!(
            "/audit?actor=officer003&action=verify&outcome=rejected&from={old_from}&to={today}"
        ),
        reps,
    )
    .await?;
    time_page(
        &admin,
        "event detail (chain walk to its checkpoint)",
        &format!("/audit/events/{}", n / 2 + 1),
        reps,
    )
    .await?;

    for (who, browser, label) in [
        (&"admin", &admin, "all offices"),
        (&"supervisor", &supervisor, "one office"),
    ] {
        let csrf = browser.csrf("/audit").await;
        let t = Instant::now();
        let res = browser
            .post(
                "/audit/export",
                &[("csrf", csrf.as_str()), ("format", "csv")],
            )
            .await;
        anyhow::ensure!(res.status() == 200, "export: {}", res.status());
        let bytes = res.bytes().await?.len();
        let secs = t.elapsed().as_secs_f64();
        let lines = if *who == "admin" {
            n as f64
        } else {
            n as f64 / 10.0
        };
        println!(
            "| CSV export over HTTP, {who} ({label}, {:.0} MB) | {secs:.1} s | ≈{:.0} rows/s |",
            bytes as f64 / 1e6,
            lines / secs
        );
    }
    let t = Instant::now();
    let out_file = dir.join("export.jsonl");
    let from = (today - chrono::Duration::days(101)).to_string();
    checked(service.cli(&[
        "audit",
        "export",
        "--from",
        &from,
        "--to",
        &today.to_string(),
        "--format",
        "jsonl",
        "--output",
        out_file.to_str().unwrap_or_default(),
    ]))?;
    println!(
        "| `kakunin audit export --format jsonl --output` (all, {:.0} MB) | {:.1} s | |",
        std::fs::metadata(&out_file)?.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
