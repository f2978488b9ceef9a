//! The single verification beside a proxy hop (issue K7), run by `make bench-single`
//! against release binaries, everything on loopback. In one run, in interleaved rounds,
//! `wrk` (one generator and one script, `benches/wrk/load.lua`, for every target) loads:
//!
//! - `issuer`: the reference issuer's lookup (`POST /v1/certificates/lookup`), direct;
//! - `proxy`: the baseline, this bench binary started again as a tiny actix-web app that
//!   forwards the same JSON to the issuer with a pooled reqwest client and answers its
//!   body: what any hop must do, no checks, no database;
//! - `api`: `kakunin serve`, `POST /api/v1/verifications` with a bearer token (201);
//! - `form`: the officer's form, `POST /verify` with a signed-in session and its CSRF
//!   token (303 to the outcome page);
//! - `outcome`: the outcome page that redirect leads to (`GET /verifications/{id}`).
//!
//! After each round one 1000-item batch goes through the API, for the service's CPU
//! per batch item. It prints, per target: requests a second, p50 and p99 (the median of
//! the rounds' figures), CPU per request of every process (utime + stime from
//! `/proc/<pid>/stat`; wrk's from its parent shell's `cutime`), and the service's peak
//! RSS (`VmHWM`) and its time from start to `/readyz`; then the ratios against the
//! baseline, as Markdown for BENCHMARKS.md ("Single verification"). The RSS goal is
//! read where the issue puts it, under the single-request load: at the end of the
//! first round, before its batch. The peak after the batches is printed beside it (a
//! 1000-item batch spreads over threads, and glibc keeps what each thread's arena freed).
//!
//! Last, it times on one of its own threads (wall time, the load over) what every
//! verification that receives a record must do whatever the service around it does
//! (the record's check with its signature, and the receipt's signature), and prints
//! what that leaves of the 0.60 goal, in a model where throughput is bound by CPU (rate
//! = cores ÷ CPU per request of all processes) and the issuer and wrk cost what they
//! cost in the proxy run: the most the API could reach if a single cost the service no
//! more than the proxy's hop and that work, or no more than a batch item; and the µs a
//! single would have left at 0.60 beyond that hop and that work. The issuer costs more
//! per lookup when the service calls it, and the service's run is not CPU-bound at
//! c=16, so these are upper bounds.
//!
//! Environment: `BENCH_SECONDS` (a target's load in one round, default 3),
//! `BENCH_ROUNDS` (default 3), `BENCH_CONCURRENCY` (connections, default 16),
//! `BENCH_TARGETS` (comma-separated names of the targets to load, default all; with
//! some left out, the goal ratios that need them are not printed: for profiling one
//! path), `BENCH_BATCH=0` (no batch after each round).
//!
//! `cargo test --workspace --bench single -- --smoke` (in `make test`) runs every target for one
//! second against the debug binaries and checks only that each answered as expected.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use kakunin_testkit::issuer::IssuerProcess;
use kakunin_testkit::process::spawn_until_line;
use kakunin_testkit::service::{ServiceProcess, OFFICE, PASSWORD};

/// What the proxy child prints once it listens.
const PROXY_LISTENING: &str = "proxy listening: ";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--proxy") {
        proxy::main();
        return;
    }
    let smoke = args.iter().any(|a| a == "--smoke");
    // `cargo bench` passes `--bench`; `cargo test --benches` without `--smoke` only
    // checks that it builds.
    if !smoke && !args.iter().any(|a| a == "--bench") {
        return;
    }
    Bench::run(smoke);
}

/// CPU time (user + system, all threads) of a process so far, from `/proc/<pid>/stat`,
/// in clock ticks of 1/100 s; with `children`, that of its waited-for children instead.
fn cpu_ticks(pid: u32, children: bool) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after its ")" are fixed.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let at = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime, stime, cutime, cstime are fields 14–17 of the line, 11–14 after ")".
    if children {
        at(13) + at(14)
    } else {
        at(11) + at(12)
    }
}

/// The service's peak resident set, in MiB: under the single requests of the first
/// round (the goal's figure), and at the end when batches ran too.
struct Rss {
    singles: f64,
    with_batches: Option<f64>,
}

/// The peak resident set of a process (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One target's load: what wrk sends and how it must be answered.
struct Target {
    name: &'static str,
    what: &'static str,
    url: String,
    method: &'static str,
    content_type: &'static str,
    lines: tempfile::NamedTempFile,
    token: String,
    cookie: String,
    expect: u16,
}

/// What wrk's `done` printed.
#[derive(Clone, Copy, Default)]
struct WrkRun {
    requests: u64,
    seconds: f64,
    p50_us: f64,
    p99_us: f64,
}

/// CPU ticks of the processes, in the order of [`Pids::NAMES`].
type Ticks = [u64; 4];

struct Pids {
    issuer: u32,
    proxy: u32,
    service: u32,
}

impl Pids {
    const NAMES: [&'static str; 4] = ["issuer", "proxy", "kakunin", "wrk"];

    fn ticks(&self) -> [u64; 3] {
        [
            cpu_ticks(self.issuer, false),
            cpu_ticks(self.proxy, false),
            cpu_ticks(self.service, false),
        ]
    }
}

/// Every round's figures for one target.
#[derive(Default)]
struct Tally {
    runs: Vec<WrkRun>,
    cpu: Ticks,
}

impl Tally {
    fn requests(&self) -> u64 {
        self.runs.iter().map(|r| r.requests).sum()
    }

    fn rate(&self) -> f64 {
        self.requests() as f64 / self.runs.iter().map(|r| r.seconds).sum::<f64>()
    }

    fn p50_ms(&self) -> f64 {
        median(self.runs.iter().map(|r| r.p50_us / 1000.0).collect())
    }

    fn p99_ms(&self) -> f64 {
        median(self.runs.iter().map(|r| r.p99_us / 1000.0).collect())
    }

    /// Microseconds of CPU per request, per process.
    fn cpu_us(&self) -> [f64; 4] {
        let n = self.requests().max(1) as f64;
        self.cpu.map(|t| t as f64 * 10_000.0 / n)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

fn lines_file(lines: &[String]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temporary file");
    for l in lines {
        writeln!(f, "{l}").expect("write lines");
    }
    f.flush().expect("flush lines");
    f
}

/// `name=value` of every `Set-Cookie`, as one `Cookie` header.
fn cookie_header(res: &reqwest::Response) -> String {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

struct Bench {
    seconds: u64,
    rounds: u64,
    concurrency: u64,
    smoke: bool,
}

impl Bench {
    fn run(smoke: bool) {
        let bench = Bench {
            seconds: if smoke { 1 } else { env_or("BENCH_SECONDS", 3) },
            rounds: if smoke { 1 } else { env_or("BENCH_ROUNDS", 3) },
            concurrency: env_or("BENCH_CONCURRENCY", 16),
            smoke,
        };
        assert!(
            Command::new("wrk").arg("--version").output().is_ok(),
            "wrk is missing: `apt-get install wrk` (make bench-single installs it)"
        );
        bench.measure();
    }

    fn measure(&self) {
        let issuer = IssuerProcess::start();
        let proxy = proxy::start(&issuer.lookup_url(), &issuer.token);
        let (proxy_child, proxy_url) = proxy;
        // The rate limit would otherwise be what is measured.
        let extra = "[api]\nrate_per_minute = 100000000\n";
        let mut service = ServiceProcess::prepare(&issuer.registry_toml, Some(extra));
        let token = service.create_token("bench", OFFICE, "verify");
        service.add_user("officer1", "officer", OFFICE);
        let started = Instant::now();
        service.serve();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        // No idle connections kept: between batches a kept one outlives the server's
        // keep-alive and the next request on it fails.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        let ready = runtime.block_on(async {
            loop {
                let res = http
                    .get(format!("{}/readyz", service.base_url))
                    .send()
                    .await;
                if res.is_ok_and(|r| r.status() == 200) {
                    return started.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });

        let keys: Vec<(String, String)> = issuer
            .demo_keys
            .iter()
            .filter(|k| k.expected_outcome == "verified")
            .map(|k| (k.certificate_number.clone(), k.auth_key.replace('-', "")))
            .collect();
        let bodies: Vec<String> = keys
            .iter()
            .map(|(n, k)| json!({"certificate_number": n, "auth_key": k}).to_string())
            .collect();

        // The officer's session, as a browser holds it, and the form's CSRF token.
        let (cookie, csrf, outcome_paths, receipt_payload) = runtime.block_on(async {
            let browser = kakunin_testkit::client::Browser::without_redirects(&service.base_url);
            let res = browser.sign_in("officer1", PASSWORD).await;
            assert_eq!(res.status(), 303, "the officer signs in");
            let cookie = cookie_header(&res);
            let csrf = browser.csrf("/").await;
            // Outcome pages to show: verifications made through the API.
            let mut paths = Vec::new();
            let mut receipt_payload = Vec::new();
            for body in &bodies {
                let res = http
                    .post(format!("{}/api/v1/verifications", service.base_url))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("API verification");
                assert_eq!(res.status(), 201);
                let id: Value = res.json().await.expect("verification");
                paths.push(format!(
                    "/verifications/{}",
                    id["id"].as_str().expect("id of the verification")
                ));
                if receipt_payload.is_empty() {
                    let payload = id["receipt"]["payload"].as_str().expect("a receipt");
                    receipt_payload = URL_SAFE_NO_PAD.decode(payload).expect("base64url");
                }
            }
            (cookie, csrf, paths, receipt_payload)
        });
        let form_bodies: Vec<String> = keys
            .iter()
            .map(|(n, k)| {
                serde_urlencoded::to_string([
                    ("certificate_number", n.as_str()),
                    ("auth_key", k.as_str()),
                    ("csrf", csrf.as_str()),
                ])
                .expect("form")
            })
            .collect();

        let targets = vec![
            Target {
                name: "issuer",
                what: "issuer direct, `POST /v1/certificates/lookup`",
                url: issuer.lookup_url(),
                method: "POST",
                content_type: "application/json",
                lines: lines_file(&bodies),
                token: issuer.token.clone(),
                cookie: String::new(),
                expect: 200,
            },
            Target {
                name: "proxy",
                what: "baseline proxy hop (actix-web + pooled reqwest)",
                url: format!("{proxy_url}/lookup"),
                method: "POST",
                content_type: "application/json",
                lines: lines_file(&bodies),
                token: String::new(),
                cookie: String::new(),
                expect: 200,
            },
            Target {
                name: "api",
                what: "kakunin `POST /api/v1/verifications`",
                url: format!("{}/api/v1/verifications", service.base_url),
                method: "POST",
                content_type: "application/json",
                lines: lines_file(&bodies),
                token: token.clone(),
                cookie: String::new(),
                expect: 201,
            },
            Target {
                name: "form",
                what: "kakunin officer form `POST /verify` (→ 303)",
                url: format!("{}/verify", service.base_url),
                method: "POST",
                content_type: "application/x-www-form-urlencoded",
                lines: lines_file(&form_bodies),
                token: String::new(),
                cookie: cookie.clone(),
                expect: 303,
            },
            Target {
                name: "outcome",
                what: "kakunin outcome page `GET /verifications/{id}`",
                url: service.base_url.clone(),
                method: "GET",
                content_type: "",
                lines: lines_file(&outcome_paths),
                token: String::new(),
                cookie,
                expect: 200,
            },
        ];

        let only = std::env::var("BENCH_TARGETS").unwrap_or_default();
        let targets: Vec<Target> = targets
            .into_iter()
            .filter(|t| only.is_empty() || only.split(',').any(|n| n.trim() == t.name))
            .collect();
        let with_batch = env_or("BENCH_BATCH", 1) != 0;

        let pids = Pids {
            issuer: issuer.pid().expect("issuer running"),
            proxy: proxy_child.id(),
            service: service.pid().expect("service running"),
        };
        let batch_body = {
            let items: Vec<Value> = (0..if self.smoke { 10 } else { 1000 })
                .map(|i| serde_json::from_str(&bodies[i % bodies.len()]).expect("json"))
                .collect();
            json!({ "items": items }).to_string()
        };
        let batch_items = serde_json::from_str::<Value>(&batch_body).expect("json")["items"]
            .as_array()
            .map_or(0, Vec::len) as u64;

        // Warm every target: connections, caches, SQLite pages.
        for t in &targets {
            self.wrk(t, 1);
        }
        let mut tallies: Vec<Tally> = targets.iter().map(|_| Tally::default()).collect();
        let mut batch_cpu = [0u64; 3];
        let mut batch_count = 0u64;
        let mut singles_rss_mib = None;
        for _ in 0..self.rounds {
            for (t, tally) in targets.iter().zip(&mut tallies) {
                std::thread::sleep(Duration::from_millis(300));
                let before = pids.ticks();
                let (run, wrk_ticks) = self.wrk(t, self.seconds);
                let after = pids.ticks();
                tally.runs.push(run);
                for i in 0..3 {
                    tally.cpu[i] += after[i] - before[i];
                }
                tally.cpu[3] += wrk_ticks;
            }
            singles_rss_mib.get_or_insert_with(|| peak_rss_kib(pids.service) as f64 / 1024.0);
            if !with_batch {
                continue;
            }
            std::thread::sleep(Duration::from_millis(300));
            let before = pids.ticks();
            runtime.block_on(async {
                let res = http
                    .post(format!("{}/api/v1/verifications/batch", service.base_url))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(batch_body.clone())
                    .send()
                    .await
                    .expect("batch");
                assert_eq!(res.status(), 200, "the batch is answered");
                let _ = res.bytes().await.expect("batch answer");
            });
            let after = pids.ticks();
            for i in 0..3 {
                batch_cpu[i] += after[i] - before[i];
            }
            batch_count += batch_items;
        }
        let rss = Rss {
            singles: singles_rss_mib.unwrap_or_default(),
            with_batches: with_batch.then(|| peak_rss_kib(pids.service) as f64 / 1024.0),
        };
        drop(proxy_child_guard(proxy_child));

        // What no verification can skip, timed here on the same host once the load is
        // over: the check of a record as the issuer answers it, and the receipt's
        // signature over a payload as the service signed one.
        let (number, _) = &keys[0];
        let envelope = runtime.block_on(async {
            let res = http
                .post(issuer.lookup_url())
                .bearer_auth(&issuer.token)
                .header("content-type", "application/json")
                .body(bodies[0].clone())
                .send()
                .await
                .expect("issuer lookup");
            assert_eq!(res.status(), 200, "the issuer answers the record");
            res.bytes().await.expect("the record")
        });
        let required = RequiredWork::measure(
            &issuer.registry_toml,
            number,
            &envelope,
            &receipt_payload,
            if self.smoke { 10 } else { 2000 },
        );

        if self.smoke {
            for (t, tally) in targets.iter().zip(&tallies) {
                println!("smoke: {} answered {} requests", t.name, tally.requests());
            }
            println!(
                "smoke: check {:.0} µs, receipt signature {:.0} µs",
                required.check_us, required.sign_us
            );
            return;
        }
        self.report(
            &targets,
            &tallies,
            batch_cpu[2] as f64 * 10_000.0 / batch_count.max(1) as f64,
            rss,
            ready,
            required,
        );
        drop(service);
        drop(issuer);
    }

    /// Runs wrk on `t` for `seconds`; gives what it measured and the CPU ticks wrk used.
    /// Panics if any answer had another status than expected, or a socket failed.
    fn wrk(&self, t: &Target, seconds: u64) -> (WrkRun, u64) {
        let script = kakunin_testkit::bins::workspace_root().join("benches/wrk/load.lua");
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(self.concurrency as usize);
        // Through a shell, so that wrk's CPU time can be read as its parent's `cutime`
        // once it has exited.
        let out = Command::new("bash")
            .arg("-c")
            .arg(r#""$@" >&2; status=$?; read -r stat < /proc/$$/stat; echo "STAT $stat"; exit $status"#)
            .arg("bash")
            .arg("wrk")
            .arg(format!("-t{threads}"))
            .arg(format!("-c{}", self.concurrency))
            .arg(format!("-d{seconds}s"))
            .arg("--timeout=10s")
            .arg("-s")
            .arg(&script)
            .arg(&t.url)
            .env("BENCH_LINES", t.lines.path())
            .env("BENCH_METHOD", t.method)
            .env("BENCH_TYPE", t.content_type)
            .env("BENCH_TOKEN", &t.token)
            .env("BENCH_COOKIE", &t.cookie)
            .env("BENCH_EXPECT", t.expect.to_string())
            .stdin(Stdio::null())
            .output()
            .expect("run wrk");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "wrk on {} failed:\n{stderr}", t.name);
        let line = stderr
            .lines()
            .find_map(|l| l.strip_prefix("BENCH "))
            .unwrap_or_else(|| panic!("wrk printed no figures for {}:\n{stderr}", t.name));
        let v: Value = serde_json::from_str(line).expect("wrk figures");
        let n = |k: &str| v[k].as_f64().unwrap_or(0.0);
        assert!(
            n("wrong_status") == 0.0 && n("socket_errors") == 0.0 && n("requests") > 0.0,
            "{}: {} requests, {} answered with another status than {} (e.g. {}), {} socket errors",
            t.name,
            n("requests"),
            n("wrong_status"),
            t.expect,
            n("a_wrong_status"),
            n("socket_errors")
        );
        let stat = stdout
            .lines()
            .find_map(|l| l.strip_prefix("STAT "))
            .expect("the shell's stat line");
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let at = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        (
            WrkRun {
                requests: n("requests") as u64,
                seconds: n("duration_us") / 1e6,
                p50_us: n("p50_us"),
                p99_us: n("p99_us"),
            },
            at(13) + at(14),
        )
    }

    fn report(
        &self,
        targets: &[Target],
        tallies: &[Tally],
        batch_item_us: f64,
        rss: Rss,
        ready: Duration,
        required: RequiredWork,
    ) {
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!(
            "wrk -c{} for {} s a target, {} interleaved rounds; load average at the end: {}",
            self.concurrency,
            self.seconds,
            self.rounds,
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
        println!();
        println!(
            "| target | req/s | p50 | p99 | CPU µs/req: {} |",
            Pids::NAMES.join(" / ")
        );
        println!("|---|---|---|---|---|");
        for (t, tally) in targets.iter().zip(tallies) {
            let cpu = tally.cpu_us().map(|c| format!("{c:.0}")).join(" / ");
            println!(
                "| {} | {:.0} | {:.2} ms | {:.2} ms | {cpu} |",
                t.what,
                tally.rate(),
                tally.p50_ms(),
                tally.p99_ms()
            );
        }
        let by = |name: &str| {
            targets
                .iter()
                .position(|t| t.name == name)
                .map(|i| &tallies[i])
        };
        let met = |ok: bool| if ok { "met" } else { "**not met**" };
        println!();
        println!("| figure | this run | goal |");
        println!("|---|---|---|");
        if let (Some(proxy), Some(api)) = (by("proxy"), by("api")) {
            let r = api.rate() / proxy.rate();
            println!(
                "| API single ÷ proxy baseline, req/s | {r:.2} | ≥ 0.60: {} |",
                met(r >= 0.60)
            );
            let d = api.p50_ms() - proxy.p50_ms();
            println!(
                "| p50 API − p50 baseline | {d:.2} ms | ≤ 1 ms: {} |",
                met(d <= 1.0)
            );
        }
        if let (Some(api), true) = (by("api"), batch_item_us > 0.0) {
            let api_cpu = api.cpu_us()[2];
            let c = api_cpu / batch_item_us;
            println!(
                "| service CPU per single ({api_cpu:.0} µs) ÷ per batch item ({batch_item_us:.0} µs) | {c:.2} | ≤ 1.5: {} |",
                met(c <= 1.5)
            );
        }
        if let (Some(proxy), Some(form), Some(outcome)) = (by("proxy"), by("form"), by("outcome")) {
            let form_p50 = form.p50_ms() + outcome.p50_ms();
            let f = form_p50 - proxy.p50_ms();
            println!(
                "| form `POST /verify` + outcome page, p50 sum ({form_p50:.2} ms) − baseline p50 | {f:.2} ms | ≤ 3 ms: {} |",
                met(f <= 3.0)
            );
        }
        println!(
            "| peak RSS of `kakunin serve` under single requests | {:.1} MiB | ≤ 64 MiB: {} |",
            rss.singles,
            met(rss.singles <= 64.0)
        );
        if let Some(peak) = rss.with_batches {
            println!("| peak RSS after the 1000-item batches too | {peak:.1} MiB | (not a goal) |");
        }
        let ms = ready.as_secs_f64() * 1000.0;
        println!(
            "| start to `/readyz` | {ms:.0} ms | ≤ 300 ms: {} |",
            met(ms <= 300.0)
        );
        if let Some(proxy) = by("proxy") {
            required.report(proxy.cpu_us(), batch_item_us);
        }
    }
}

/// What every verification that receives a record does, whatever the service around it
/// does: the record's check (`domain::check`: the JWS of issuer-protocol §3 with its
/// Ed25519 signature, the payload, the rules) and the receipt's Ed25519 signature
/// (service.md: the answer carries the signed receipt). Timed on one thread of this
/// bench, in µs per call, with the release build's code.
struct RequiredWork {
    check_us: f64,
    sign_us: f64,
}

impl RequiredWork {
    /// Checks `envelope` (the issuer's answer for `number`) against the registry the
    /// service was given, with the rule profile it uses, and signs `receipt` (a receipt's
    /// payload bytes) as `ReceiptKeys::sign_as_of` does; `iterations` calls of each
    /// ([`per_call_us`]). Panics if the record does not verify.
    fn measure(
        registry_toml: &str,
        number: &str,
        envelope: &[u8],
        receipt: &[u8],
        iterations: u32,
    ) -> Self {
        use kakunin::domain::check::check;
        use kakunin::domain::outcome::Outcome;
        use kakunin::domain::rules::{Expected, Profile};
        use kakunin_protocol::ids::CertificateNumber;
        use kakunin_protocol::jws::{sign_as, RECEIPT_TYP};
        use kakunin_protocol::registry::Registry;

        let registry = Registry::from_toml_str(registry_toml, "issuers.toml", |_| None)
            .expect("the demo registry");
        let profile = Profile::load(
            &kakunin_testkit::bins::workspace_root().join("config/profiles/oita.toml"),
        )
        .expect("the rule profile");
        let number = CertificateNumber::parse(number).expect("a demo number");
        let issuer = registry.route(&number)[0].id.clone();
        let expected = Expected::default();
        let check_us = per_call_us(iterations, || {
            let checked = check(
                std::hint::black_box(envelope),
                &issuer,
                &number,
                &registry,
                &profile,
                &expected,
            )
            .expect("the demo record checks");
            assert_eq!(checked.outcome(), Outcome::Verified);
        });
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let sign_us = per_call_us(iterations, || {
            std::hint::black_box(sign_as(
                RECEIPT_TYP,
                std::hint::black_box(receipt),
                "bench",
                &key,
            ));
        });
        Self { check_us, sign_us }
    }

    /// Where the goal of ≥ 0.60 of the proxy's rate stands against this work, from the
    /// proxy run's CPU per request (`proxy`: issuer, proxy, service, wrk, µs). Under a
    /// load that keeps every core busy, rate is cores ÷ CPU per request, so a single
    /// verification reaches at most proxy CPU ÷ (issuer + wrk + what the service spends),
    /// with the issuer and wrk at their cost in the proxy run: both cost more in the
    /// service's, so the figures are upper bounds.
    fn report(&self, proxy: [f64; 4], batch_item_us: f64) {
        let [issuer, hop, _, wrk] = proxy;
        let whole = issuer + hop + wrk;
        let work = self.check_us + self.sign_us;
        println!();
        println!(
            "| the work every verification does, and what it leaves (issuer and wrk at their proxy-run CPU; rate bound by CPU) | this run |"
        );
        println!("|---|---|");
        println!(
            "| the record's check (signature included) + the receipt's signature, µs (wall time, one idle thread) | {:.0} + {:.0} = {work:.0} |",
            self.check_us, self.sign_us
        );
        println!(
            "| API ÷ proxy at most, if a single cost the service the proxy's hop ({hop:.0} µs) and that work, nothing else | {:.2} |",
            whole / (whole + work)
        );
        if batch_item_us > 0.0 {
            println!(
                "| API ÷ proxy at most, if a single cost the service what a batch item costs ({batch_item_us:.0} µs) | {:.2} |",
                whole / (issuer + wrk + batch_item_us)
            );
        }
        println!(
            "| left at 0.60 beyond the proxy's hop and that work (for storing the row and its audit row, the token, the lock check), µs | {:.0} |",
            whole / 0.60 - whole - work
        );
    }
}

/// µs per call of `f`: the least of five timings of `iterations` calls, on this thread
/// once the load is over, the others being the ones another process got in the way of.
/// Wall time: the thread's CPU clock in `/proc` moves only at the scheduler's ticks.
fn per_call_us(iterations: u32, mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
        })
        .fold(f64::INFINITY, f64::min)
}

/// Kills the proxy child when dropped.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn proxy_child_guard(child: Child) -> ChildGuard {
    ChildGuard(child)
}

/// The baseline hop: forwards the lookup JSON to the issuer and answers its body.
mod proxy {
    use super::*;
    use actix_web::{web, App, HttpResponse, HttpServer};

    /// Starts this binary again with `--proxy`; gives the child and its base URL.
    pub fn start(lookup_url: &str, token: &str) -> (Child, String) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut cmd = Command::new(std::env::current_exe().expect("this bench's path"));
        cmd.arg("--proxy")
            .env("BENCH_PROXY_UPSTREAM", lookup_url)
            .env("BENCH_PROXY_TOKEN", token)
            .stdin(Stdio::null());
        let (child, url) = spawn_until_line(cmd, &dir.path().join("proxy.log"), |line| {
            line.strip_prefix(PROXY_LISTENING)
                .map(|u| u.trim().to_owned())
        });
        // The log directory may go: the child keeps its open file.
        (child, url)
    }

    struct Upstream {
        http: reqwest::Client,
        url: String,
        token: String,
    }

    async fn forward(up: web::Data<Upstream>, body: web::Bytes) -> HttpResponse {
        let sent = up
            .http
            .post(&up.url)
            .bearer_auth(&up.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        match sent {
            Ok(res) => {
                let status = actix_web::http::StatusCode::from_u16(res.status().as_u16())
                    .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
                match res.bytes().await {
                    Ok(bytes) => HttpResponse::build(status)
                        .content_type("application/jose+json")
                        .body(bytes),
                    Err(_) => HttpResponse::BadGateway().finish(),
                }
            }
            Err(_) => HttpResponse::BadGateway().finish(),
        }
    }

    pub fn main() {
        let url = std::env::var("BENCH_PROXY_UPSTREAM").expect("BENCH_PROXY_UPSTREAM");
        let token = std::env::var("BENCH_PROXY_TOKEN").expect("BENCH_PROXY_TOKEN");
        actix_web::rt::System::new().block_on(async move {
            // One pooled client per worker, made in the worker: what a plain proxy keeps.
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(Upstream {
                        http: reqwest::Client::builder()
                            .pool_max_idle_per_host(64)
                            .build()
                            .expect("client"),
                        url: url.clone(),
                        token: token.clone(),
                    }))
                    .route("/lookup", web::post().to(forward))
            })
            .bind(("127.0.0.1", 0))
            .expect("bind the proxy");
            let addr = server.addrs()[0];
            println!("{PROXY_LISTENING}http://{addr}");
            server.run().await.expect("proxy serves");
        });
    }
}
