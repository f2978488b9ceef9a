//! What one client can make the service do, and what slow clients can hold: the token
//! rate counts lookups (a batch counts its items) and refuses before anything is sent;
//! each issuer has a bound on calls in flight across the service; exports nobody reads
//! hold no database connection; a pool with no connection free answers 503 with
//! `Retry-After`.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use futures::stream::{FuturesUnordered, StreamExt};
use kakunin_testkit::client::item;
use kakunin_testkit::service::ServiceProcess;
use kakunin_testkit::standin::StandIn;
use serde_json::{json, Value};

use super::problem;

const KEY: &str = "7KQ2-M9XD-H4T8-RB3N";

#[tokio::test]
async fn a_batch_takes_one_unit_per_item_and_a_client_over_its_quota_sends_nothing() {
    let issuer = StandIn::start().await;
    let number = "W2025000123";
    issuer
        .answer_record(number, issuer.certificate(number))
        .await;
    let service = ServiceProcess::start_with(
        &issuer.registry_toml(),
        Some("[api]\nrate_per_minute = 5\n"),
    );
    let api = service.api("busy", "verify");
    let one = item(number, KEY, "r");
    let batch = |n: usize| json!({ "items": vec![one.clone(); n] });

    // Six items can never fit a quota of five a minute: refused as such, not "retry".
    let res = api.post("/api/v1/verifications/batch", &batch(6)).await;
    assert!(res.headers().get("retry-after").is_none());
    let p = problem(res, 422).await;
    assert_eq!(p["field"], "items", "{p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("5件") && detail.contains("6件"), "{detail}");
    assert!(issuer.lookups().await.is_empty(), "nothing was sent");

    // That request took one unit; four items take the four left.
    let res = api.post("/api/v1/verifications/batch", &batch(4)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(issuer.lookups().await.len(), 4);

    // Over the quota: 429 with Retry-After, and no issuer hears of it.
    let res = api.post("/api/v1/verifications/batch", &batch(2)).await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
    let p = problem(res, 429).await;
    assert!(
        p["detail"].as_str().unwrap().contains("1分あたり5件"),
        "{p}"
    );
    assert_eq!(
        issuer.lookups().await.len(),
        4,
        "the refused batch sent nothing"
    );
}

/// Verifies each number at once, from one token each, and gives the answers.
async fn all_at_once(service: &ServiceProcess, round: &str, numbers: &[&str]) -> Vec<Value> {
    let clients: Vec<_> = (0..numbers.len())
        .map(|i| service.api(&format!("{round}{i}"), "verify"))
        .collect();
    futures::future::join_all(numbers.iter().zip(&clients).map(|(n, api)| async move {
        let res = api.post("/api/v1/verifications", &item(n, KEY, "r")).await;
        assert_eq!(res.status(), 201);
        res.json::<Value>().await.unwrap()
    }))
    .await
}

#[tokio::test]
async fn calls_in_flight_to_one_issuer_are_bounded_across_the_service() {
    let issuer = StandIn::start().await;
    let numbers = ["W2025000201", "W2025000202", "W2025000203"];
    for n in numbers {
        // Each answer takes long enough that every request arrives while the others
        // hold their calls.
        issuer
            .answer_number(
                n,
                issuer
                    .record_response(&issuer.certificate(n))
                    .set_delay(Duration::from_secs(3)),
            )
            .await;
    }
    // The service-wide bound is 1, this issuer's own 2; a third call waits 0.3 s at
    // most for a free one.
    let service = ServiceProcess::start_with(
        &issuer.registry_toml(),
        Some(
            "[issuers]\nmax_in_flight = 1\nslot_wait_ms = 300\n\
             [issuers.max_in_flight_by_issuer]\nwjcs = 2\n",
        ),
    );
    let answers = all_at_once(&service, "first", &numbers).await;
    let outcomes: Vec<&str> = answers
        .iter()
        .map(|v| v["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "verified").count(),
        2,
        "{answers:?}"
    );
    let waited = answers
        .iter()
        .find(|v| v["outcome"] == "issuer_unavailable")
        .unwrap_or_else(|| panic!("one beyond the bound: {answers:?}"));
    let detail = waited["detail"].as_str().unwrap();
    assert!(
        detail.contains("同時照会") && detail.contains("上限（2件）"),
        "{detail}"
    );
    assert_eq!(
        issuer.lookups().await.len(),
        2,
        "the third call was never sent"
    );

    // Once the calls are done, the bound frees: the same number verifies.
    let refused = waited["certificate_number"].as_str().unwrap().to_owned();
    let again = all_at_once(&service, "again", &[&refused]).await;
    assert_eq!(again[0]["outcome"], "verified", "{again:?}");
}

#[tokio::test]
async fn a_per_issuer_bound_for_an_issuer_the_registry_lacks_stops_the_service() {
    let issuer = StandIn::start().await;
    let service = ServiceProcess::prepare(
        &issuer.registry_toml(),
        Some("[issuers.max_in_flight_by_issuer]\nwjsc = 2\n"),
    );
    let out = service
        .command()
        .arg("serve")
        .output()
        .expect("kakunin serve runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("issuers.max_in_flight_by_issuer.wjsc") && err.contains("信頼登録簿にない"),
        "{err}"
    );
    // A settings error, at the file and line of the key, not a TLS failure.
    assert!(
        err.contains("設定ファイル") && err.contains("extra.toml:2:") && !err.contains("TLS"),
        "{err}"
    );
}

#[tokio::test]
async fn exports_nobody_reads_hold_no_connection_and_verifications_go_on() {
    let issuer = StandIn::start().await;
    let number = "W2025000123";
    issuer
        .answer_record(number, issuer.certificate(number))
        .await;
    // Two connections; a request waits at most 2 s for one.
    let service = ServiceProcess::start_with(
        &issuer.registry_toml(),
        Some("[database]\npool_size = 2\npool_timeout_ms = 2000\n"),
    );
    let supervisor = service.user("kansa", "supervisor").await;
    // About 12 MB of log: far more than the socket buffers and channels between the
    // service and a client that does not read.
    let padded = if service.on_postgres() {
        "lpad(CAST(n.i AS TEXT), 600, '0')"
    } else {
        "printf('%0600d', n.i)"
    };
    service
        .db()
        .batch_execute(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
             INSERT INTO audit_events (seq, at, actor, office_code, action, target, outcome,
                                       address, user_agent, detail, prev_hash, hash)
             SELECT e.seq + n.i, e.at, e.actor, e.office_code, e.action, e.target, e.outcome,
                    e.address, e.user_agent, {padded}, e.prev_hash, e.hash
             FROM n, (SELECT * FROM audit_events WHERE actor = 'user:kansa'
                      ORDER BY seq DESC LIMIT 1) AS e;"
        ))
        .unwrap();
    // Four exports, twice the pool, each started and never read.
    let mut held = Vec::new();
    for _ in 0..4 {
        let res = supervisor
            .submit("/audit", "/audit/export", &[("format", "csv")])
            .await;
        assert_eq!(res.status(), 200);
        held.push(res);
    }
    let api = service.api("keiyaku", "verify");
    let res = api
        .post("/api/v1/verifications", &item(number, KEY, "r"))
        .await;
    assert_eq!(res.status(), 201, "a verification still gets a connection");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["outcome"], "verified", "{v}");
    // And the exports are whole once read.
    let text = held.pop().unwrap().text().await.unwrap();
    assert!(
        text.lines().count() > 20_000,
        "{} lines",
        text.lines().count()
    );
}

#[tokio::test]
async fn no_connection_free_in_time_is_503_with_retry_after_for_pages_and_the_api() {
    let issuer = StandIn::start().await;
    // One connection, waited for a tenth of a second.
    let service = ServiceProcess::start_with(
        &issuer.registry_toml(),
        Some("[database]\npool_size = 1\npool_timeout_ms = 100\n"),
    );
    service.add_user("officer1", "officer", kakunin_testkit::service::OFFICE);
    let api = service.api("keiyaku", "verify");
    let browsers: Vec<_> = (0..3).map(|_| service.browser()).collect();
    let mut csrfs = Vec::new();
    for b in &browsers {
        csrfs.push(b.csrf("/login").await);
    }
    // The test holds the writers' lock (SQLite's write lock, or the service's advisory
    // lock on PostgreSQL): the first request to write waits for it holding the only
    // connection, and every other one finds none.
    let mut lock = service.db();
    if service.on_postgres() {
        lock.batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({});",
            kakunin::adapters::db::WRITE_LOCK
        ))
        .unwrap();
    } else {
        lock.batch_execute("BEGIN IMMEDIATE;").unwrap();
    }
    let mut pending = FuturesUnordered::new();
    for _ in 0..3 {
        let api = &api;
        pending.push(Box::pin(async move {
            let res = api
                .get("/api/v1/verifications/01ARZ3NDEKTSV4RRFFQ69G5FAV")
                .await;
            ("api", res)
        })
            as std::pin::Pin<Box<dyn std::future::Future<Output = _>>>);
    }
    for (b, csrf) in browsers.iter().zip(&csrfs) {
        pending.push(Box::pin(async move {
            let res = b
                .post(
                    "/login",
                    &[
                        ("login", "officer1"),
                        ("password", "wrong password"),
                        ("csrf", csrf),
                    ],
                )
                .await;
            ("page", res)
        }));
    }
    let total = pending.len();
    let mut busy = Vec::new();
    while busy.len() < total - 1 {
        let (kind, res) = pending.next().await.unwrap();
        assert_eq!(res.status(), 503, "{kind}: only one holds the connection");
        let retry = res.headers()["retry-after"].to_str().unwrap().to_owned();
        assert!(retry.parse::<u64>().unwrap() >= 1);
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        let body = res.text().await.unwrap();
        match kind {
            "api" => {
                assert!(ct.starts_with("application/problem+json"), "{ct}");
                assert!(body.contains("混み合っています"), "{body}");
            }
            _ => {
                assert!(ct.starts_with("text/html"), "{ct}");
                assert!(body.contains("混み合っています"), "{body}");
            }
        }
        busy.push(kind);
    }
    assert!(busy.contains(&"api") && busy.contains(&"page"), "{busy:?}");
    // The lock goes. The last request finishes: normally if it held the connection, or
    // busy if it waited for the writer's commit (a page view's audit row goes with the
    // verifications' writer) longer than a connection is waited for. Then the service
    // answers as usual again.
    lock.batch_execute("ROLLBACK;").unwrap();
    let (kind, res) = pending.next().await.unwrap();
    assert!(
        matches!(res.status().as_u16(), 404 | 401 | 503),
        "{kind}: {}",
        res.status()
    );
    let again = api
        .get("/api/v1/verifications/01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .await;
    assert_eq!(again.status(), 404, "answered again once the lock is gone");
}
