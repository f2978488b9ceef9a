//! Several `kakunin serve` nodes on one PostgreSQL database (issue K9): any node serves
//! any request, because sessions, the number lock and the audit chain live in the
//! database; and `/readyz` follows the database going away and coming back.
//!
//! These run in the suite's PostgreSQL pass (`KAKUNIN_TEST_BACKEND=postgres`, as
//! `make test` does); on the default SQLite run they say so and return.

use std::time::Duration;

use futures::future::join_all;
use kakunin_testkit::client::{item, ApiClient, Browser};
use kakunin_testkit::issuer::unknown_key;
use kakunin_testkit::postgres::{self, Cluster};
use kakunin_testkit::service::ServiceProcess;
use kakunin_testkit::standin::{ResponseTemplate, StandIn};

const LOCKED_NUMBER: &str = "W2025000888";
/// `lockout.not_found_limit` of `config/default.toml`.
const LIMIT: usize = 5;

fn postgres_run() -> bool {
    let on = postgres::enabled();
    if !on {
        eprintln!(
            "PostgreSQL only: run with {}=postgres",
            postgres::BACKEND_VAR
        );
    }
    on
}

/// The same cookies on another node: a load balancer sending the user's next request
/// elsewhere.
fn on_node(b: &Browser, node: &ServiceProcess) -> Browser {
    Browser {
        base: node.base_url.clone(),
        http: b.http.clone(),
    }
}

/// Whether `b` is signed in: the verify form answers instead of the sign-in page.
async fn signed_in(b: &Browser) -> bool {
    b.get("/").await.url().path() == "/"
}

#[tokio::test]
async fn two_nodes_share_sessions_locks_and_one_audit_chain() {
    if !postgres_run() {
        return;
    }
    let issuer = StandIn::start().await;
    let numbers: Vec<String> = (0..8).map(|i| format!("W20250010{i:02}")).collect();
    for n in &numbers {
        issuer.answer_record(n, issuer.certificate(n)).await;
    }
    issuer
        .answer_all(ResponseTemplate::new(404).set_delay(Duration::from_millis(20)))
        .await;
    let a = ServiceProcess::start(&issuer.registry_toml());
    assert!(a.on_postgres());
    let mut b = a.node_beside();
    b.serve();

    // Signed in on A, the session goes on on B; signed out on B, it is gone on A.
    a.add_user("officer1", "officer", kakunin_testkit::service::OFFICE);
    let on_a = a.sign_in("officer1").await;
    let on_b = on_node(&on_a, &b);
    assert!(
        signed_in(&on_b).await,
        "the session of node A works on node B"
    );
    let res = on_b.submit("/", "/logout", &[]).await;
    assert!(res.status().is_success(), "{}", res.status());
    assert!(
        !signed_in(&on_a).await,
        "signed out on B is signed out on A"
    );

    // A number locked through A is locked on B.
    let api_a = a.api("keiyaku-a", "verify");
    let token_b = a.create_token("keiyaku-b", kakunin_testkit::service::OFFICE, "verify");
    let api_b = ApiClient::new(&b.base_url, Some(&token_b));
    for i in 0..LIMIT {
        let v = api_a
            .verify(&item(LOCKED_NUMBER, &unknown_key(i), &format!("guess-{i}")))
            .await;
        assert_eq!(v["outcome"], "not_found", "{v}");
    }
    let v = api_b
        .verify(&item(LOCKED_NUMBER, &unknown_key(99), "on-b"))
        .await;
    assert_eq!(v["outcome"], "locked", "{v}");

    // Wrong keys for one number sent to both nodes at once: the number's turn spans the
    // nodes, so no more than the limit reach the issuer, and the rest meet the lock.
    let raced = "W2025000999";
    let guesses = join_all((0..16).map(|i| {
        let api = if i % 2 == 0 { &api_a } else { &api_b };
        let body = item(raced, &unknown_key(100 + i), &format!("race-{i}"));
        async move { api.verify(&body).await }
    }))
    .await;
    let outcomes: Vec<&str> = guesses
        .iter()
        .map(|v| v["outcome"].as_str().unwrap())
        .collect();
    super::assert_limit_then_locked(&outcomes, LIMIT);
    let asked = issuer
        .lookups()
        .await
        .iter()
        .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).expect("JSON lookup"))
        .filter(|b| b["certificate_number"] == raced)
        .count();
    assert_eq!(asked, LIMIT, "lookups of {raced} that reached the issuer");

    // Verifications on both nodes at once: each is answered, stored with its audit
    // row, and the one chain holds.
    let calls = numbers.iter().enumerate().flat_map(|(i, n)| {
        let (api_a, api_b) = (&api_a, &api_b);
        (0..3).map(move |k| {
            let api = if (i + k) % 2 == 0 { api_a } else { api_b };
            let body = item(n, "7KQ2M9XDH4T8RB3N", &format!("c-{i}-{k}"));
            async move { api.verify(&body).await }
        })
    });
    let answers = join_all(calls).await;
    assert_eq!(answers.len(), numbers.len() * 3);
    for v in &answers {
        assert_eq!(v["outcome"], "verified", "{v}");
    }
    let verifications = a.count("SELECT COUNT(*) AS n FROM verifications");
    assert_eq!(
        verifications as usize,
        LIMIT + 1 + guesses.len() + answers.len()
    );
    assert_eq!(
        a.count("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'verify'"),
        verifications,
        "every verification has its audit row"
    );
    for node in [&a, &b] {
        super::assert_chain_intact(node);
    }
}

#[tokio::test]
async fn readyz_follows_the_database_away_and_back() {
    if !postgres_run() {
        return;
    }
    // A cluster of its own: stopping the shared one would fail every other test.
    let cluster = Cluster::start();
    let url = cluster.create_database();
    let service = ServiceProcess::start_on("", Some(url));
    let http = reqwest::Client::new();
    let ready = || async {
        http.get(format!("{}/readyz", service.base_url))
            .send()
            .await
            .expect("GET /readyz")
            .status()
            .as_u16()
    };
    assert_eq!(ready().await, 200);
    cluster.stop_server();
    assert_eq!(ready().await, 503, "not ready while the database is down");
    // Liveness is the process's, not the database's.
    let live = http
        .get(format!("{}/healthz", service.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    cluster.start_server();
    assert_eq!(ready().await, 200, "ready again without a restart");
}

#[tokio::test]
async fn db_copy_moves_a_sqlite_installation_to_postgres_with_its_chain() {
    if !postgres_run() {
        return;
    }
    let issuer = StandIn::start().await;
    let number = "W2025002000";
    issuer
        .answer_record(number, issuer.certificate(number))
        .await;
    issuer.answer_all(ResponseTemplate::new(404)).await;
    let sqlite = ServiceProcess::start_on(&issuer.registry_toml(), None);
    sqlite.add_user("officer1", "officer", kakunin_testkit::service::OFFICE);
    let api = sqlite.api("keiyaku", "verify");
    for i in 0..30 {
        let key = if i % 3 == 0 {
            "7KQ2M9XDH4T8RB3N".to_owned()
        } else {
            unknown_key(i)
        };
        api.verify(&item(number, &key, &format!("r-{i}"))).await;
    }
    let target = postgres::shared().create_database();
    let from = format!("sqlite://{}", sqlite.db_path().display());
    let copy_from = |from: &str, to: &str| {
        sqlite
            .command()
            .args(["db", "copy", "--from", from, "--to", to])
            .output()
            .expect("run kakunin db copy")
    };
    let copy = |to: &str| copy_from(&from, to);
    let out = copy(&target);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        kakunin_testkit::process::stderr(&out)
    );
    let on = |url: &str, args: &[&str]| {
        sqlite
            .command()
            .env("KAKUNIN_DATABASE_URL", url)
            .args(args)
            .output()
            .expect("run kakunin")
    };
    let on_target = |args: &[&str]| on(&target, args);
    // The chain verifies on a copy, and every table arrived whole.
    let same_as_source = |url: &str, copy: &mut kakunin_testkit::sql::Db| {
        let verified = on(url, &["audit", "verify"]);
        assert_eq!(
            verified.status.code(),
            Some(0),
            "audit verify on the copy at {url}: {}{}",
            kakunin_testkit::process::stdout(&verified),
            kakunin_testkit::process::stderr(&verified)
        );
        for table in [
            "verifications",
            "certificate_uses",
            "audit_events",
            "audit_checkpoints",
            "users",
            "api_tokens",
        ] {
            let sql = format!("SELECT COUNT(*) AS n FROM {table}");
            assert_eq!(
                kakunin_testkit::sql::count(copy, &sql),
                sqlite.count(&sql),
                "{table} at {url}"
            );
        }
    };
    same_as_source(&target, &mut kakunin_testkit::sql::open_postgres(&target));
    // And back, with PostgreSQL as the source (read row by row) into a new SQLite file.
    let back_dir = tempfile::tempdir().unwrap();
    let back_path = back_dir.path().join("back.db");
    let back = format!("sqlite://{}", back_path.display());
    let out = copy_from(&target, &back);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        kakunin_testkit::process::stderr(&out)
    );
    same_as_source(&back, &mut kakunin_testkit::sql::open(&back_path));
    // A mistyped scheme is refused by name, not made a new SQLite file of that name.
    let typo = target.replacen("postgres://", "postgre://", 1);
    let refused = copy(&typo);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        kakunin_testkit::process::stderr(&refused)
            .contains("--to: データベースの URL「postgre:…」は使えません"),
        "{}",
        kakunin_testkit::process::stderr(&refused)
    );
    assert!(!std::path::Path::new(&typo).exists() && !std::path::Path::new("postgre:").exists());
    // A second copy into the now non-empty target is refused and changes nothing.
    let again = copy(&target);
    assert_ne!(again.status.code(), Some(0));
    assert!(
        kakunin_testkit::process::stderr(&again).contains("空ではありません"),
        "{}",
        kakunin_testkit::process::stderr(&again)
    );
    // The copy takes new rows: ids go on after the copied ones, the chain after its head.
    let office = kakunin_testkit::service::OFFICE;
    let made = on_target(&[
        "token",
        "create",
        "--name",
        "after-copy",
        "--office",
        office,
        "--scope",
        "verify",
    ]);
    assert_eq!(
        made.status.code(),
        Some(0),
        "{}",
        kakunin_testkit::process::stderr(&made)
    );
    let after = on_target(&["audit", "verify"]);
    assert_eq!(
        after.status.code(),
        Some(0),
        "{}",
        kakunin_testkit::process::stderr(&after)
    );
}

#[tokio::test]
async fn a_tokens_rate_limit_holds_across_nodes() {
    if !postgres_run() {
        return;
    }
    let a = ServiceProcess::start_with("", Some("[api]\nrate_per_minute = 4\n"));
    let mut b = a.node_beside();
    b.serve();
    let token = a.create_token("keiyaku", kakunin_testkit::service::OFFICE, "verify");
    let (on_a, on_b) = (
        ApiClient::new(&a.base_url, Some(&token)),
        ApiClient::new(&b.base_url, Some(&token)),
    );
    let unknown = "/api/v1/verifications/01ARZ3NDEKTSV4RRFFQ69G5FAV";
    // Four a minute in all: two on each node pass, the next is refused on either.
    for api in [&on_a, &on_b, &on_a, &on_b] {
        assert_eq!(api.get(unknown).await.status(), 404);
    }
    for api in [&on_a, &on_b] {
        let res = api.get(unknown).await;
        assert_eq!(res.status(), 429, "the fifth in a minute, on either node");
        let retry: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
    }
}

/// `GET /readyz` of `service`, as a status code.
async fn readyz(service: &ServiceProcess) -> u16 {
    reqwest::get(format!("{}/readyz", service.base_url))
        .await
        .expect("GET /readyz")
        .status()
        .as_u16()
}

/// Polls `/readyz` of `service` until it answers `status` (the nodes compare their
/// receipt keys with the installation's every few seconds); false after 30 s.
async fn becomes(service: &ServiceProcess, status: u16) -> bool {
    for _ in 0..150 {
        if readyz(service).await == status {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// `kakunin key rotate` on one node: that node records its new key for the
/// installation, and a node that did not get the new folder stops being ready (its
/// receipts would be signed by a key the installation retired) until the folder is
/// copied to it.
#[tokio::test]
async fn a_node_left_behind_by_a_receipt_key_rotation_is_not_ready() {
    if !postgres_run() {
        return;
    }
    let a = ServiceProcess::start("");
    let mut b = a.node_beside();
    b.serve();
    assert_eq!((readyz(&a).await, readyz(&b).await), (200, 200));
    let out = a.cli(&["key", "rotate"]);
    kakunin_testkit::process::assert_exit(&out, 0);
    assert!(becomes(&b, 503).await, "the node left behind is not ready");
    assert_eq!(readyz(&a).await, 200, "the node that rotated is");
    let said = reqwest::get(format!("{}/readyz", b.base_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(said.contains("is not held by this node"), "{said}");
    // The folder copied over: ready again, without a restart.
    let (from, to) = (a.dir().join("receipt-keys"), b.dir().join("receipt-keys"));
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    assert!(becomes(&b, 200).await, "ready once the new set arrived");
}
