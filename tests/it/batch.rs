//! `POST /api/v1/verifications/batch`: up to 1000 items in order, per-item errors, the
//! issuer calls it keeps in flight, and the audit rows and locks it leaves.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use kakunin_testkit::client::item;
use kakunin_testkit::issuer::{unknown_key, DemoKey, IssuerProcess};
use kakunin_testkit::service::ServiceProcess;
use kakunin_testkit::standin::StandIn;
use serde_json::{json, Value};

use super::{assert_chain_intact, assert_matches_demo, audited_verifications, problem, start};

/// A batch is written in several transactions while its lookups run; the guard still
/// locks a number once, from inside the batch, and the lock holds for what follows.
#[tokio::test]
async fn a_batch_locks_a_guessed_number_once() {
    let (issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let auditor = service.api("kansa", "audit");
    let k = issuer.demo_key("W2025000002");
    // Eight wrong keys for one number, spread over 400 misses of numbers nobody issued:
    // below the issuer's limit (10), above the service's (5).
    let items: Vec<Value> = (0..400)
        .map(|i| {
            if i % 50 == 7 {
                item(
                    &k.certificate_number,
                    &unknown_key(i),
                    &format!("guess-{i}"),
                )
            } else {
                item(
                    &format!("W2099{i:06}"),
                    &unknown_key(i),
                    &format!("miss-{i}"),
                )
            }
        })
        .collect();
    let results = api.batch(&items).await;
    assert_eq!(results.len(), 400);
    // Its lookups take turns: the sixth guess meets the lock the fifth set.
    let guesses: Vec<&str> = (0..400)
        .filter(|i| i % 50 == 7)
        .map(|i| results[i]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        guesses,
        [&["not_found"; 5][..], &["locked"; 3][..]].concat(),
        "{guesses:?}"
    );
    assert!(
        (0..400)
            .filter(|i| i % 50 != 7)
            .all(|i| results[i]["outcome"] == "not_found"),
        "other numbers are not locked"
    );

    let locks = auditor
        .get_json("/api/v1/audit/events?action=lockout")
        .await;
    let locks = locks["events"].as_array().unwrap();
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0]["target"], k.certificate_number.as_str());
    let v = api
        .verify(&item(&k.certificate_number, &k.auth_key, "after"))
        .await;
    assert_eq!(v["outcome"], "locked", "{v}");
    assert_chain_intact(&service);
}

/// An issuer that answers every lookup 404 after `delay` and counts the lookups it holds
/// at once. Purpose-made rather than wiremock: wiremock applies a delay after its
/// responder has returned and tells nobody when the answer leaves, so it cannot count
/// the calls in flight; a handler of our own holds each call across its delay.
struct CountingIssuer {
    base_url: String,
    peak: Arc<AtomicUsize>,
    lookups: Arc<AtomicUsize>,
    server: actix_web::dev::ServerHandle,
}

impl CountingIssuer {
    fn start(delay: Duration) -> Self {
        let (now, peak, lookups) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let counters = (now, peak.clone(), lookups.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = actix_web::HttpServer::new(move || {
                    let (now, peak, lookups) = counters.clone();
                    actix_web::App::new().default_service(actix_web::web::to(move || {
                        let (now, peak, lookups) = (now.clone(), peak.clone(), lookups.clone());
                        async move {
                            peak.fetch_max(now.fetch_add(1, SeqCst) + 1, SeqCst);
                            actix_web::rt::time::sleep(delay).await;
                            now.fetch_sub(1, SeqCst);
                            lookups.fetch_add(1, SeqCst);
                            actix_web::HttpResponse::NotFound().finish()
                        }
                    }))
                })
                .workers(1)
                .bind("127.0.0.1:0")
                .expect("bind loopback");
                let addr = server.addrs()[0];
                let server = server.run();
                tx.send((addr, server.handle()))
                    .expect("report the address");
                let _ = server.await;
            });
        });
        let (addr, handle) = rx.recv().expect("the counting issuer started");
        CountingIssuer {
            base_url: format!("http://{addr}"),
            peak,
            lookups,
            server: handle,
        }
    }
}

impl Drop for CountingIssuer {
    fn drop(&mut self) {
        // Sends the stop at once; nobody needs to wait for the server to finish.
        drop(self.server.stop(false));
    }
}

/// `api.batch_concurrency` bounds the issuer calls in flight, and a batch uses all of it.
#[tokio::test]
async fn a_batch_keeps_batch_concurrency_issuer_calls_in_flight() {
    let standin = StandIn::start().await;
    let counting = CountingIssuer::start(Duration::from_millis(100));
    let registry = standin
        .registry_toml()
        .replace(&standin.base_url(), &counting.base_url);
    let service = ServiceProcess::start_with(&registry, Some("[api]\nbatch_concurrency = 4\n"));
    let api = service.api("keiyaku", "verify");
    let items: Vec<Value> = (0..40)
        .map(|i| item(&format!("W2099{i:06}"), &unknown_key(i), &format!("n-{i}")))
        .collect();
    let results = api.batch(&items).await;
    assert_eq!(results.len(), 40);
    assert!(
        results.iter().all(|r| r["outcome"] == "not_found"),
        "{results:?}"
    );
    assert_eq!(counting.lookups.load(SeqCst), 40, "one call per item");
    assert_eq!(
        counting.peak.load(SeqCst),
        4,
        "never more than batch_concurrency calls at once, and no fewer while items wait"
    );
}

/// Every issuer call is recorded: a client that gives up while the issuer is still
/// answering does not take the attempt's audit row with it.
#[tokio::test]
async fn an_attempt_is_audited_even_when_the_client_goes_away() {
    let issuer = StandIn::start().await;
    issuer
        .answer_all_after(404, Duration::from_millis(600))
        .await;
    let service = ServiceProcess::start(&issuer.registry_toml());
    let token = service.create_token("keiyaku", kakunin_testkit::service::OFFICE, "verify");
    let auditor = service.api("kansa", "audit");
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let sent = impatient
        .post(format!("{}/api/v1/verifications", service.base_url))
        .bearer_auth(&token)
        .json(&item("W2099000001", &unknown_key(1), "gave-up"))
        .send()
        .await;
    assert!(
        sent.unwrap_err().is_timeout(),
        "the client left before the answer"
    );
    for _ in 0..100 {
        if !audited_verifications(&auditor, 10).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(issuer.lookups().await.len(), 1);
    assert_eq!(
        audited_verifications(&auditor, 10).await.len(),
        1,
        "the call the client caused is in the audit log"
    );
}

/// What one batch item should produce.
pub(crate) enum Expect {
    Demo(DemoKey),
    Outcome(&'static str),
    Error { field: &'static str, has_ref: bool },
}

/// 1000 items: demo keys (verified and rejected), unknown numbers, wrong keys for
/// known numbers (at most 4 a number, below the service's lock at 5), and malformed
/// items of every kind, interleaved.
pub(crate) fn mixed_batch(issuer: &IssuerProcess) -> Vec<(Value, Expect)> {
    let found = issuer.found_keys();
    let mut wrong_per_number = HashMap::<String, usize>::new();
    let mut out = Vec::with_capacity(1000);
    for i in 0..1000 {
        let r = format!("item-{i}");
        let entry = match i % 10 {
            0..=3 => {
                let k = &found[i % found.len()];
                (
                    item(&k.certificate_number, &k.auth_key, &r),
                    Expect::Demo(k.clone()),
                )
            }
            4 | 5 => (
                item(&format!("W2099{i:06}"), &unknown_key(i), &r),
                Expect::Outcome("not_found"),
            ),
            6 => {
                let k = &found[(i / 10) % found.len()];
                let n = wrong_per_number
                    .entry(k.certificate_number.clone())
                    .or_default();
                *n += 1;
                let number = if *n <= 4 {
                    k.certificate_number.clone()
                } else {
                    format!("W2098{i:06}")
                };
                (
                    item(&number, &unknown_key(i), &r),
                    Expect::Outcome("not_found"),
                )
            }
            _ => malformed(i, &r),
        };
        out.push(entry);
    }
    out
}

fn malformed(i: usize, r: &str) -> (Value, Expect) {
    let key = unknown_key(i);
    let err = |field, has_ref| Expect::Error { field, has_ref };
    match (i / 10) % 10 {
        0 => (item("W2025000001", &key[..15], r), err("auth_key", true)),
        1 => (
            item("W20250000#1", &key, r),
            err("certificate_number", true),
        ),
        2 => (
            json!({"certificate_number": "W2025000001", "ref": r}),
            err("auth_key", true),
        ),
        3 => (
            item("E2025000001", &key, r),
            err("certificate_number", true),
        ),
        4 => (
            json!({"certificate_number": 2025000001, "auth_key": key, "ref": r}),
            err("certificate_number", true),
        ),
        5 => (
            json!({"certificate_number": "W2025000001", "auth_key": key, "ref": 17}),
            err("ref", false),
        ),
        6 => (
            json!({"certificate_number": "W2025000001", "auth_key": key, "ref": r, "extra": 1}),
            err("extra", true),
        ),
        7 => (
            json!({"certificate_number": "W2025000001", "auth_key": key, "ref": r, "expected": {"contract_amount_yen": -5}}),
            err("expected.contract_amount_yen", true),
        ),
        8 => (json!("W2025000001"), err("", false)),
        _ => (Value::Null, err("", false)),
    }
}

/// Checks one answered batch item against what it should be; the id of a looked-up one.
fn check_item(i: usize, expect: &Expect, got: &Value) -> Option<String> {
    let r = format!("item-{i}");
    match expect {
        Expect::Error { field, has_ref } => {
            assert_eq!(got["error"]["status"], 422, "item {i}: {got}");
            assert_eq!(
                got["error"]["field"].as_str().unwrap_or(""),
                *field,
                "item {i}: {got}"
            );
            assert!(
                got["error"]["title"].as_str().unwrap().contains("入力"),
                "{got}"
            );
            let want = if *has_ref { json!(r) } else { Value::Null };
            assert_eq!(got["ref"], want, "item {i}");
            assert!(
                got.get("id").is_none(),
                "an item error is not a Verification: {got}"
            );
            return None;
        }
        Expect::Demo(k) => assert_matches_demo(got, k),
        Expect::Outcome(o) => assert_eq!(got["outcome"], *o, "item {i}: {got}"),
    }
    assert_eq!(got["ref"], json!(r), "item {i}");
    Some(got["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_batch_of_1000_mixed_items_answers_in_order_with_per_item_errors() {
    let (issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let auditor = service.api("kansa", "audit");
    let batch = mixed_batch(&issuer);
    let items: Vec<&Value> = batch.iter().map(|(v, _)| v).collect();
    let results = api.batch(&items).await;
    assert_eq!(results.len(), 1000);
    let mut ids = BTreeSet::new();
    for (i, ((_, expect), got)) in batch.iter().zip(&results).enumerate() {
        if let Some(id) = check_item(i, expect, got) {
            assert!(ids.insert(id), "ids are unique");
        }
    }
    assert_eq!(ids.len(), 700);

    // Every item that was looked up is stored and audited, as the web form's are.
    assert_eq!(audited_verifications(&auditor, 1000).await, ids);
    // No number reached the lock: wrong keys were spread out.
    let locks = auditor
        .get_json("/api/v1/audit/events?action=lockout")
        .await;
    assert_eq!(locks["events"], json!([]));
    // The batch's audit rows were appended together; the chain must still hold.
    assert_chain_intact(&service);
}

#[tokio::test]
async fn a_batch_needs_1_to_1000_items_under_items() {
    let (_issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    for (bad, field) in [
        (json!({"items": []}), "items"),
        (json!({"items": vec![json!({}); 1001]}), "items"),
        (json!({"items": {}}), "items"),
        (json!({}), "items"),
        (json!({"item": []}), "item"),
    ] {
        let p = problem(api.post("/api/v1/verifications/batch", &bad).await, 422).await;
        assert_eq!(p["field"], field, "{p}");
    }
}
