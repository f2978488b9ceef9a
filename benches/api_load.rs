//! Load bench of the JSON API (issue K5), run by `make bench-api` against release
//! binaries, with the reference issuer on loopback. It prints a Markdown table for the
//! "API" section of BENCHMARKS.md:
//!
//! - single verifications (`POST /api/v1/verifications`): requests a second, p50, p99,
//!   beside the issuer's own lookup (`POST /v1/certificates/lookup`) measured the same
//!   way in the same run;
//! - one 1000-item batch beside 1000 direct issuer lookups at the same concurrency
//!   (`api.batch_concurrency`, 16). Goal: batch ≤ 1.25 × direct.
//!
//! Runs alternate between the two sides so that a noisy neighbour on a shared machine
//! hits both alike; the ratios are what to compare across machines.
//!
//! Environment: `BENCH_REQUESTS` (single requests a side, default 3000),
//! `BENCH_ROUNDS` (batch/direct pairs, default 5), `BENCH_CONCURRENCY` (default 16),
//! `BENCH_PIN` (set: the issuer on a CPU of its own, see [`Pinning`]),
//! `BENCH_BACKEND` (`sqlite`, the default, or `postgres`: a database on the testkit's
//! private PostgreSQL cluster) and `BENCH_NODES` (1, the default, or more on
//! PostgreSQL: further `kakunin serve` processes on the same database, see [`Setup`]).
//! `make bench-pg` runs SQLite, PostgreSQL × 1 and PostgreSQL × 2 one after another.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use kakunin_testkit::issuer::IssuerProcess;
use kakunin_testkit::postgres;
use kakunin_testkit::service::{ServiceProcess, OFFICE};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One request to send: URL, bearer token, JSON body.
#[derive(Clone)]
struct Call {
    url: String,
    token: String,
    body: String,
}

/// Latencies of `n` calls made `concurrency` at a time, and the wall time of all.
async fn run_calls(
    http: &reqwest::Client,
    calls: Vec<Call>,
    concurrency: usize,
    expect: u16,
) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let latencies: Vec<Duration> = futures::stream::iter(calls)
        .map(|c| async move {
            let t = Instant::now();
            let res = http
                .post(&c.url)
                .bearer_auth(&c.token)
                .header("content-type", "application/json")
                .body(c.body)
                .send()
                .await
                .expect("request");
            let status = res.status().as_u16();
            let _ = res.bytes().await.expect("body");
            assert_eq!(status, expect, "{}", c.url);
            t.elapsed()
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    (latencies, start.elapsed())
}

struct Stats {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

fn stats(mut latencies: Vec<Duration>, wall: Duration) -> Stats {
    latencies.sort();
    let at = |q: f64| {
        latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    Stats {
        rate: latencies.len() as f64 / wall.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// CPU time (user + system, all threads) a process has used so far, from `/proc`.
/// Ticks are 1/100 s on Linux (`getconf CLK_TCK`); summed over many runs that is enough.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after its ")" are fixed.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after ")" and state.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// The PostgreSQL server's CPU time: its postmaster (first line of `postmaster.pid`)
/// and every process it started (the connections' backends, the WAL writer, …), found
/// by their parent in `/proc`. A backend that ended in between takes its time with it;
/// the service's pool keeps its connections, so that is rare.
fn postgres_cpu_time(data_dir: &std::path::Path) -> Duration {
    let Some(postmaster) = std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
    else {
        return Duration::ZERO;
    };
    let parent = |pid: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // After ")": state, then the parent's pid.
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let children = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| parent(pid) == Some(postmaster));
    std::iter::once(postmaster)
        .chain(children)
        .map(cpu_time)
        .sum()
}

/// CPU used by the service (all its nodes), its PostgreSQL server (zero on SQLite), the
/// issuer and this load generator.
#[derive(Default, Clone, Copy)]
struct Cpu {
    service: Duration,
    database: Duration,
    issuer: Duration,
    client: Duration,
}

impl Cpu {
    fn now(setup: &Setup, issuer: u32) -> Self {
        Cpu {
            service: setup.pids.iter().copied().map(cpu_time).sum(),
            database: setup
                .pg_data
                .as_deref()
                .map_or(Duration::ZERO, postgres_cpu_time),
            issuer: cpu_time(issuer),
            client: cpu_time(std::process::id()),
        }
    }

    fn since(self, start: Cpu) -> Cpu {
        Cpu {
            service: self.service - start.service,
            database: self.database.saturating_sub(start.database),
            issuer: self.issuer - start.issuer,
            client: self.client - start.client,
        }
    }

    fn add(&mut self, other: Cpu) {
        self.service += other.service;
        self.database += other.database;
        self.issuer += other.issuer;
        self.client += other.client;
    }

    /// Milliseconds of CPU per 1000 lookups when `n` lookups were made: service,
    /// database, issuer, load generator.
    fn per_thousand(self, n: usize) -> [f64; 4] {
        let f = |d: Duration| d.as_secs_f64() * 1000.0 * 1000.0 / n as f64;
        [
            f(self.service),
            f(self.database),
            f(self.issuer),
            f(self.client),
        ]
    }
}

/// The service under test: on SQLite one node on a file of its own; on PostgreSQL a
/// fresh database on the testkit's private cluster and `BENCH_NODES` nodes on it (the
/// second and later started by [`ServiceProcess::node_beside`], as in production: same
/// keys, same database). Single requests go to the nodes in turn, and so do batches.
struct Setup {
    nodes: Vec<ServiceProcess>,
    pids: Vec<u32>,
    /// The cluster's data directory, for its CPU time; `None` on SQLite.
    pg_data: Option<std::path::PathBuf>,
    label: String,
}

impl Setup {
    fn start(registry_toml: &str, extra: &str) -> Self {
        let backend = std::env::var("BENCH_BACKEND").unwrap_or_else(|_| "sqlite".to_owned());
        let count = env_or("BENCH_NODES", 1).max(1);
        let (url, pg_data) = match backend.as_str() {
            "sqlite" => {
                assert_eq!(count, 1, "BENCH_NODES > 1 needs BENCH_BACKEND=postgres");
                (None, None)
            }
            "postgres" => {
                let cluster = postgres::shared();
                (
                    Some(cluster.create_database()),
                    Some(cluster.dir().join("data")),
                )
            }
            other => panic!("BENCH_BACKEND={other}: sqlite or postgres"),
        };
        let mut first = ServiceProcess::prepare_on(registry_toml, Some(extra), url);
        first.serve();
        let mut nodes = vec![first];
        while nodes.len() < count {
            let mut node = nodes[0].node_beside();
            node.serve();
            nodes.push(node);
        }
        let pids = nodes
            .iter()
            .map(|n| n.pid().expect("service running"))
            .collect();
        let label = match count {
            1 => backend,
            n => format!("{backend} × {n} nodes"),
        };
        Setup {
            nodes,
            pids,
            pg_data,
            label,
        }
    }

    /// The base URL of the node that takes call `i`.
    fn base_url(&self, i: usize) -> &str {
        &self.nodes[i % self.nodes.len()].base_url
    }
}

/// The first load average of `/proc/loadavg` (one minute), for the table's heading.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// Which CPUs each side gets under `BENCH_PIN`: the issuer the last one to itself, the
/// service and this load generator the others, as when the issuer is another company's
/// server.
struct Pinning {
    issuer: String,
    rest: String,
}

impl Pinning {
    fn from_env() -> Option<Self> {
        std::env::var_os("BENCH_PIN")?;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!(cpus >= 2, "BENCH_PIN needs at least two CPUs");
        let last = cpus - 1;
        Some(Pinning {
            issuer: last.to_string(),
            rest: if last == 1 {
                "0".to_owned()
            } else {
                format!("0-{}", last - 1)
            },
        })
    }
}

/// Moves this process (and so every process it starts from now on) to `cpus`. Children
/// are pinned by inheritance, before they start: a process sizes its thread pools by the
/// CPUs it may use, so the service then runs one actix worker and one lookup thread on
/// its one core, as it would on a one-core machine. (Pinning a running process instead
/// leaves it two of each, taking turns on one core.)
fn pin_self(cpus: &str) {
    let status = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &std::process::id().to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("taskset (util-linux)");
    assert!(status.success(), "taskset failed for the load generator");
}

/// A pause before each measured phase, so that neither side's deferred work (the
/// service copies its WAL after 100 ms without commits, see `db::wal`) lands in the
/// other's phase. Without it the copy of a batch's pages ran during the direct lookups,
/// on the core the load generator shares with the service (`BENCH_PIN`), and slowed them.
const SETTLE: Duration = Duration::from_millis(300);

/// Of durations and of ratios alike; neither is ever NaN.
fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (e.g. `cargo test --benches`) only checks it builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let requests = env_or("BENCH_REQUESTS", 3000);
    let rounds = env_or("BENCH_ROUNDS", 5);
    let concurrency = env_or("BENCH_CONCURRENCY", 16);

    let pinning = Pinning::from_env();
    if let Some(p) = &pinning {
        pin_self(&p.issuer);
    }
    let issuer = IssuerProcess::start();
    if let Some(p) = &pinning {
        pin_self(&p.rest);
    }
    // The rate limit would otherwise be what is measured.
    let extra = format!("[api]\nrate_per_minute = 100000000\nbatch_concurrency = {concurrency}\n");
    let setup = Setup::start(&issuer.registry_toml, &extra);
    let token = setup.nodes[0].create_token("bench", OFFICE, "verify");
    let keys: Vec<(String, String)> = issuer
        .demo_keys
        .iter()
        .filter(|k| k.expected_outcome == "verified")
        .map(|k| (k.certificate_number.clone(), k.auth_key.replace('-', "")))
        .collect();
    let body = |i: usize| {
        let (n, k) = &keys[i % keys.len()];
        json!({"certificate_number": n, "auth_key": k}).to_string()
    };
    let api_calls = |n: usize| -> Vec<Call> {
        (0..n)
            .map(|i| Call {
                url: format!("{}/api/v1/verifications", setup.base_url(i)),
                token: token.clone(),
                body: body(i),
            })
            .collect()
    };
    let issuer_calls = |n: usize| -> Vec<Call> {
        (0..n)
            .map(|i| Call {
                url: issuer.lookup_url(),
                token: issuer.token.clone(),
                body: body(i),
            })
            .collect()
    };
    let batch_body = {
        let items: Vec<Value> = (0..1000)
            .map(|i| serde_json::from_str(&body(i)).expect("json"))
            .collect();
        json!({ "items": items }).to_string()
    };

    let issuer_pid = issuer.pid().expect("issuer running");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let http = reqwest::Client::builder().pool_max_idle_per_host(256).build().expect("client");
        let load_before = load_average();
        // Warm both sides: connections, caches, database pages (every node).
        run_calls(&http, api_calls(200 * setup.nodes.len()), concurrency, 201).await;
        run_calls(&http, issuer_calls(200), concurrency, 200).await;

        // Single requests, in alternating halves.
        let (mut api_lat, mut api_wall, mut iss_lat, mut iss_wall) = (Vec::new(), Duration::ZERO, Vec::new(), Duration::ZERO);
        for _ in 0..2 {
            let (l, w) = run_calls(&http, api_calls(requests / 2), concurrency, 201).await;
            api_lat.extend(l);
            api_wall += w;
            let (l, w) = run_calls(&http, issuer_calls(requests / 2), concurrency, 200).await;
            iss_lat.extend(l);
            iss_wall += w;
        }
        let api = stats(api_lat, api_wall);
        let iss = stats(iss_lat, iss_wall);

        // One batch of 1000 against 1000 direct lookups at the batch's concurrency.
        let (mut batch_times, mut direct_times) = (Vec::new(), Vec::new());
        let (mut batch_cpu, mut direct_cpu) = (Cpu::default(), Cpu::default());
        for round in 0..rounds {
            let call = Call { url: format!("{}/api/v1/verifications/batch", setup.base_url(round)), token: token.clone(), body: batch_body.clone() };
            tokio::time::sleep(SETTLE).await;
            let before = Cpu::now(&setup, issuer_pid);
            let (_, w) = run_calls(&http, vec![call], 1, 200).await;
            batch_cpu.add(Cpu::now(&setup, issuer_pid).since(before));
            batch_times.push(w);
            tokio::time::sleep(SETTLE).await;
            let before = Cpu::now(&setup, issuer_pid);
            let (_, w) = run_calls(&http, issuer_calls(1000), concurrency, 200).await;
            direct_cpu.add(Cpu::now(&setup, issuer_pid).since(before));
            direct_times.push(w);
        }
        // Each batch beside the direct run right after it: the host's speed drifts over
        // a run, and a pair shares its moment.
        let pair_ratio = median(
            batch_times
                .iter()
                .zip(&direct_times)
                .map(|(b, d)| b.as_secs_f64() / d.as_secs_f64())
                .collect(),
        );
        let batch = median(batch_times);
        let direct = median(direct_times);

        println!("Service on {}; load average (1 min) {load_before} before, {} after.", setup.label, load_average());
        println!();
        println!("| measure (concurrency {concurrency}) | kakunin API | issuer lookup direct | ratio |");
        println!("|---|---|---|---|");
        println!("| single requests/s ({requests} each) | {:.0} | {:.0} | {:.2} of direct |", api.rate, iss.rate, api.rate / iss.rate);
        println!("| single p50 | {} | {} | {:.2}× |", ms(api.p50), ms(iss.p50), api.p50.as_secs_f64() / iss.p50.as_secs_f64());
        println!("| single p99 | {} | {} | {:.2}× |", ms(api.p99), ms(iss.p99), api.p99.as_secs_f64() / iss.p99.as_secs_f64());
        println!(
            "| 1000 lookups (median of {rounds}) | batch {} | direct {} | **{:.2}×** (goal ≤ 1.25×) |",
            ms(batch),
            ms(direct),
            batch.as_secs_f64() / direct.as_secs_f64()
        );
        println!("| batch / direct, median of the {rounds} pairs | | | **{pair_ratio:.2}×** |");
        let [bs, bd, bi, bc] = batch_cpu.per_thousand(rounds * 1000);
        let [ds, dd, di, dc] = direct_cpu.per_thousand(rounds * 1000);
        println!();
        println!("| CPU ms per 1000 lookups | service | PostgreSQL | issuer | load generator |");
        println!("|---|---|---|---|---|");
        println!("| batch | {bs:.0} | {bd:.0} | {bi:.0} | {bc:.0} |");
        println!("| direct | {ds:.0} | {dd:.0} | {di:.0} | {dc:.0} |");
    });
    drop(setup);
    drop(issuer);
}
