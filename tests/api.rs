//! The JSON API and the batch CLI from the outside: the real `kakunin serve` and the
//! real `kakunin-issuer` (demo data) over loopback HTTP, as an API client uses them.

use std::collections::BTreeSet;
use std::process::Output;

use kakunin_testkit::issuer::{DemoKey, IssuerProcess};
use kakunin_testkit::service::{ServiceProcess, OFFICE};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

const OTHER_OFFICE: &str = "440002";

/// An issuer with the demo data and a service trusting it.
fn start() -> (IssuerProcess, ServiceProcess) {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start(&issuer.registry_toml);
    (issuer, service)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An API client as a script would be: no cookies, no redirects.
struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    fn new(service: &ServiceProcess, token: Option<&str>) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            base: service.base_url.clone(),
            token: token.map(str::to_owned),
            http,
        }
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        let rb = self.http.post(format!("{}{path}", self.base)).json(body);
        self.auth(rb).send().await.expect("POST")
    }

    /// Posts a batch that must be accepted (200) and gives its `results`.
    async fn batch(&self, items: &[impl serde::Serialize]) -> Vec<Value> {
        let res = self
            .post("/api/v1/verifications/batch", &json!({ "items": items }))
            .await;
        assert_eq!(res.status(), 200);
        let mut body: Value = res.json().await.unwrap();
        serde_json::from_value(body["results"].take()).expect("results")
    }

    async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        self.auth(rb).send().await.expect("POST")
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        let rb = self.http.get(format!("{}{path}", self.base));
        self.auth(rb).send().await.expect("GET")
    }

    async fn request(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        let rb = self.http.request(method, format!("{}{path}", self.base));
        self.auth(rb).send().await.expect("request")
    }
}

fn content_type(h: &HeaderMap) -> &str {
    h.get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Asserts a problem+json answer with a Japanese title, and returns it.
async fn problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status, "status of {}", res.url());
    assert_eq!(content_type(res.headers()), "application/problem+json");
    let p: Value = res.json().await.expect("problem json");
    assert_eq!(p["status"], status, "{p}");
    let title = p["title"].as_str().unwrap_or_default();
    assert!(
        title.chars().any(|c| c > '\u{3000}'),
        "Japanese title in {p}"
    );
    assert!(p["type"].as_str().is_some_and(|s| !s.is_empty()), "{p}");
    assert!(p["detail"].as_str().is_some_and(|s| !s.is_empty()), "{p}");
    p
}

fn item(number: &str, key: &str, r: &str) -> Value {
    json!({"certificate_number": number, "auth_key": key, "ref": r})
}

/// The correct-key demo rows (verified or rejected).
fn found_keys(issuer: &IssuerProcess) -> Vec<DemoKey> {
    issuer
        .demo_keys
        .iter()
        .filter(|k| k.expected_outcome != "not_found")
        .cloned()
        .collect()
}

/// A well-formed key that belongs to no demo certificate.
fn other_key(i: usize) -> String {
    let alphabet = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    (0..16)
        .map(|j| alphabet[(i * 7 + j * 13) % 32] as char)
        .collect()
}

/// The verification ids named by the office's `verify` audit events, read in one page
/// of up to `limit` that must hold them all.
async fn audited_verifications(auditor: &Client, limit: usize) -> BTreeSet<String> {
    let page: Value = auditor
        .get(&format!("/api/v1/audit/events?action=verify&limit={limit}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["next_cursor"], Value::Null, "all events fit the page");
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(e["detail"].as_str().unwrap()).unwrap()["verification"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The rule ids of a Verification with the given status, in order.
fn rules_with(v: &Value, status: &str) -> Vec<String> {
    v["rules"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter(|r| r["status"] == status)
                .filter_map(|r| r["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A demo row's expected outcome and rules, checked against an answer.
fn assert_matches_demo(v: &Value, k: &DemoKey) {
    assert_eq!(
        v["outcome"],
        k.expected_outcome.as_str(),
        "{} ({}): {v}",
        k.certificate_number,
        k.note
    );
    assert_eq!(v["certificate_number"], k.certificate_number.as_str());
    match k.expected_outcome.as_str() {
        "verified" => assert_eq!(rules_with(v, "warn"), k.expected_rules, "{}", k.note),
        "rejected" => assert_eq!(rules_with(v, "fail"), k.expected_rules, "{}", k.note),
        _ => assert!(v["certificate"].is_null()),
    }
}

// ---------------------------------------------------------------------------------
// Single verification

#[tokio::test]
async fn single_verification_answers_201_with_location_for_every_outcome() {
    let (issuer, service) = start();
    let api = Client::new(
        &service,
        Some(&service.create_token("keiyaku", OFFICE, "verify")),
    );
    let verified = issuer.demo_key("W2025000001");
    let rejected = issuer.demo_key("W2025000005");

    let res = api
        .post(
            "/api/v1/verifications",
            &item(&verified.certificate_number, &verified.auth_key, "r-1"),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(content_type(res.headers()), "application/json");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/verifications/{}", v["id"].as_str().unwrap())
    );
    assert_matches_demo(&v, verified);
    assert_eq!(v["ref"], "r-1");
    assert_eq!(v["issuer"]["id"], "wjcs");
    assert_eq!(v["signature"]["valid"], true);
    assert_eq!(v["certificate"]["certificate_number"], "W2025000001");
    assert!(v["checked_at"].as_str().unwrap().ends_with("+09:00"), "{v}");
    let again: Value = api.get(&location).await.json().await.unwrap();
    assert_eq!(again, v, "GET of Location answers the same Verification");

    // Full-width, lower-case and spaced input is the same lookup; 照合 values feed the rules.
    let full_width: String = rejected
        .certificate_number
        .chars()
        .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
        .collect();
    let body = json!({
        "certificate_number": full_width,
        "auth_key": rejected.auth_key.to_lowercase().replace('-', " "),
        "expected": {"contract_amount_yen": 1, "contractor_name": null}
    });
    let res = api.post("/api/v1/verifications", &body).await;
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["outcome"], "rejected");
    assert_eq!(v["ref"], Value::Null);
    let fails = rules_with(&v, "fail");
    assert!(
        fails.contains(&"expected_contract_amount".to_owned())
            && fails.contains(&rejected.expected_rules[0]),
        "{fails:?}"
    );

    // An unknown number is still a created Verification, with no certificate.
    let res = api
        .post(
            "/api/v1/verifications",
            &item("W2099000001", &other_key(1), "nf"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["outcome"], "not_found");
    assert!(
        v["certificate"].is_null() && v["signature"].is_null(),
        "{v}"
    );
    assert_eq!(v["rules"], json!([]));
    drop(issuer);
}

#[tokio::test]
async fn the_brute_force_guard_applies_to_the_api_too() {
    let (issuer, service) = start();
    let api = Client::new(
        &service,
        Some(&service.create_token("keiyaku", OFFICE, "verify")),
    );
    let k = issuer.demo_key("W2025000002");
    for i in 0..5 {
        let v: Value = api
            .post(
                "/api/v1/verifications",
                &item(&k.certificate_number, &other_key(i), "x"),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["outcome"], "not_found", "attempt {i}");
    }
    // The sixth attempt, even with the right key, meets the service's own lock.
    let res = api
        .post(
            "/api/v1/verifications",
            &item(&k.certificate_number, &k.auth_key, "x"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["outcome"], "locked", "{v}");
    assert!(v["detail"].as_str().unwrap().contains("ロック"), "{v}");
}

/// Concurrent single requests share commits (group commit); each still gets its own
/// stored Verification and audit row, and the chain holds.
#[tokio::test]
async fn concurrent_single_requests_are_each_stored_and_audited() {
    let (issuer, service) = start();
    let api = Client::new(
        &service,
        Some(&service.create_token("keiyaku", OFFICE, "verify")),
    );
    let auditor = Client::new(
        &service,
        Some(&service.create_token("kansa", OFFICE, "audit")),
    );
    let found = found_keys(&issuer);
    let answers = futures::future::join_all((0..48).map(|i| {
        let k = &found[i % found.len()];
        let body = item(&k.certificate_number, &k.auth_key, &format!("c-{i}"));
        let api = &api;
        async move {
            let res = api.post("/api/v1/verifications", &body).await;
            assert_eq!(res.status(), 201);
            let v: Value = res.json().await.unwrap();
            assert_matches_demo(&v, k);
            assert_eq!(v["ref"], format!("c-{i}"));
            v["id"].as_str().unwrap().to_owned()
        }
    }))
    .await;
    let ids: BTreeSet<String> = answers.into_iter().collect();
    assert_eq!(ids.len(), 48, "each request has its own verification");
    for id in &ids {
        let res = api.get(&format!("/api/v1/verifications/{id}")).await;
        assert_eq!(res.status(), 200, "{id} is stored");
    }
    assert_eq!(audited_verifications(&auditor, 100).await, ids);
    let out = service.cli(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A batch is written in several transactions while its lookups run; the guard still
/// locks a number once, and the lock holds for what follows.
#[tokio::test]
async fn a_batch_locks_a_guessed_number_once() {
    let (issuer, service) = start();
    let api = Client::new(
        &service,
        Some(&service.create_token("keiyaku", OFFICE, "verify")),
    );
    let auditor = Client::new(
        &service,
        Some(&service.create_token("kansa", OFFICE, "audit")),
    );
    let k = issuer.demo_key("W2025000002");
    // Eight wrong keys for one number, spread over 400 misses of numbers nobody issued:
    // below the issuer's limit (10), above the service's (5).
    let items: Vec<Value> = (0..400)
        .map(|i| {
            if i % 50 == 7 {
                item(&k.certificate_number, &other_key(i), &format!("guess-{i}"))
            } else {
                item(&format!("W2099{i:06}"), &other_key(i), &format!("miss-{i}"))
            }
        })
        .collect();
    let results = api.batch(&items).await;
    assert_eq!(results.len(), 400);
    assert!(
        results.iter().all(|r| r["outcome"] == "not_found"),
        "every item was asked: the lock applies from the next request"
    );

    let locks: Value = auditor
        .get("/api/v1/audit/events?action=lockout")
        .await
        .json()
        .await
        .unwrap();
    let locks = locks["events"].as_array().unwrap();
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0]["target"], k.certificate_number.as_str());
    let v: Value = api
        .post(
            "/api/v1/verifications",
            &item(&k.certificate_number, &k.auth_key, "after"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["outcome"], "locked", "{v}");
    let out = service.cli(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A stand-in issuer that answers every lookup 404 after `delay`, and counts how many
/// lookups it held at once. Plain HTTP/1.1 with keep-alive, one thread a connection.
struct SlowIssuer {
    base_url: String,
    peak: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    lookups: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl SlowIssuer {
    fn start(delay: std::time::Duration) -> Self {
        use std::io::{BufRead, BufReader, Read, Write};
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let (now, peak, lookups) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let counters = (peak.clone(), lookups.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (now, peak, lookups) = (now.clone(), counters.0.clone(), counters.1.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut writer = stream;
                    loop {
                        let mut length = 0;
                        loop {
                            let mut line = String::new();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return; // the service closed the connection
                            }
                            if line == "\r\n" {
                                break;
                            }
                            if let Some((name, value)) = line.split_once(':') {
                                if name.eq_ignore_ascii_case("content-length") {
                                    length = value.trim().parse().expect("length");
                                }
                            }
                        }
                        let mut body = vec![0; length];
                        reader.read_exact(&mut body).expect("body");
                        let in_flight = now.fetch_add(1, SeqCst) + 1;
                        peak.fetch_max(in_flight, SeqCst);
                        std::thread::sleep(delay);
                        now.fetch_sub(1, SeqCst);
                        lookups.fetch_add(1, SeqCst);
                        let answer = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
                        if writer.write_all(answer.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        SlowIssuer {
            base_url,
            peak,
            lookups,
        }
    }
}

/// `api.batch_concurrency` bounds the issuer calls in flight, and a batch uses all of it.
#[tokio::test]
async fn a_batch_keeps_batch_concurrency_issuer_calls_in_flight() {
    use std::sync::atomic::Ordering::SeqCst;
    let issuer = IssuerProcess::start();
    let slow = SlowIssuer::start(std::time::Duration::from_millis(100));
    let registry = issuer
        .registry_toml
        .replace(&issuer.base_url, &slow.base_url);
    let service = ServiceProcess::start_with(&registry, Some("[api]\nbatch_concurrency = 4\n"));
    let api = Client::new(
        &service,
        Some(&service.create_token("keiyaku", OFFICE, "verify")),
    );
    let items: Vec<Value> = (0..40)
        .map(|i| item(&format!("W2099{i:06}"), &other_key(i), &format!("n-{i}")))
        .collect();
    let results = api.batch(&items).await;
    assert_eq!(results.len(), 40);
    assert!(
        results.iter().all(|r| r["outcome"] == "not_found"),
        "{results:?}"
    );
    assert_eq!(slow.lookups.load(SeqCst), 40, "one call per item");
    assert_eq!(
        slow.peak.load(SeqCst),
        4,
        "never more than batch_concurrency calls at once, and no fewer while items wait"
    );
}

/// Every issuer call is recorded: a client that gives up while the issuer is still
/// answering does not take the attempt's audit row with it.
#[tokio::test]
async fn an_attempt_is_audited_even_when_the_client_goes_away() {
    let issuer = IssuerProcess::start();
    let slow = SlowIssuer::start(std::time::Duration::from_millis(600));
    let registry = issuer
        .registry_toml
        .replace(&issuer.base_url, &slow.base_url);
    let service = ServiceProcess::start(&registry);
    let token = service.create_token("keiyaku", OFFICE, "verify");
    let auditor = Client::new(
        &service,
        Some(&service.create_token("kansa", OFFICE, "audit")),
    );
    let impatient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(150))
        .build()
        .unwrap();
    let sent = impatient
        .post(format!("{}/api/v1/verifications", service.base_url))
        .bearer_auth(&token)
        .json(&item("W2099000001", &other_key(1), "gave-up"))
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
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(slow.lookups.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(
        audited_verifications(&auditor, 10).await.len(),
        1,
        "the call the client caused is in the audit log"
    );
}

#[tokio::test]
async fn bad_input_is_a_problem_naming_the_field() {
    let (_issuer, service) = start();
    let api = Client::new(
        &service,
        Some(&service.create_token("keiyaku", OFFICE, "verify")),
    );
    let cases = [
        (
            json!({"auth_key": "WG14-BT11-01ZG-C46F"}),
            "certificate_number",
            "保証契約番号",
        ),
        (
            json!({"certificate_number": "W2025-0000-01!", "auth_key": "WG14-BT11-01ZG-C46F"}),
            "certificate_number",
            "W2025000123",
        ),
        (
            json!({"certificate_number": "W2025000001", "auth_key": "WG14-BT11-01ZG"}),
            "auth_key",
            "XXXX-XXXX-XXXX-XXXX",
        ),
        (
            json!({"certificate_number": "W2025000001", "auth_key": 12}),
            "auth_key",
            "文字列",
        ),
        (
            json!({"certificate_number": "E2025000001", "auth_key": "WG14-BT11-01ZG-C46F"}),
            "certificate_number",
            "保証事業会社",
        ),
        (
            json!({"certificate_number": "W2025000001", "auth_key": "WG14-BT11-01ZG-C46F", "expected": {"contract_amount_yen": "1億"}}),
            "expected.contract_amount_yen",
            "整数",
        ),
        (
            json!({"certificate_number": "W2025000001", "auth_key": "WG14-BT11-01ZG-C46F", "expect": {}}),
            "expect",
            "expected",
        ),
        (json!(["W2025000001"]), "", "JSON オブジェクト"),
    ];
    for (body, field, hint) in cases {
        let p = problem(api.post("/api/v1/verifications", &body).await, 422).await;
        assert_eq!(p["field"].as_str().unwrap_or(""), field, "{body}: {p}");
        assert!(p["detail"].as_str().unwrap().contains(hint), "{body}: {p}");
        assert!(
            !p["detail"].as_str().unwrap().contains("WG14"),
            "the key is never echoed: {p}"
        );
    }
    let p = problem(
        api.post_raw(
            "/api/v1/verifications",
            "application/json",
            b"{\"certificate_number\":".to_vec(),
        )
        .await,
        400,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("JSON"), "{p}");
    problem(
        api.post_raw("/api/v1/verifications", "text/plain", b"{}".to_vec())
            .await,
        415,
    )
    .await;
    // Just over 1 MiB: refused before it is parsed.
    let mut big = b"{\"items\":[".to_vec();
    while big.len() <= 1024 * 1024 {
        big.extend_from_slice(
            b"{\"certificate_number\":\"W2025000001\",\"auth_key\":\"WG14BT1101ZGC46F\"},",
        );
    }
    big.extend_from_slice(b"{}]}");
    problem(
        api.post_raw("/api/v1/verifications/batch", "application/json", big)
            .await,
        413,
    )
    .await;
    // Nothing of the refused requests reached the issuer or the store.
    assert!(
        !service.log().contains("WG14BT1101ZGC46F"),
        "auth keys never appear in the log"
    );
}

// ---------------------------------------------------------------------------------
// Tokens, scopes, offices, rates

#[tokio::test]
async fn tokens_are_checked_on_every_request_and_revocation_is_immediate() {
    let (issuer, service) = start();
    let verify = service.create_token("keiyaku", OFFICE, "verify");
    let audit = service.create_token("kansa", OFFICE, "audit");
    let k = issuer.demo_key("W2025000001");
    let body = item(&k.certificate_number, &k.auth_key, "t");

    let res = Client::new(&service, None)
        .post("/api/v1/verifications", &body)
        .await;
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    problem(res, 401).await;
    problem(
        Client::new(&service, Some("not-a-token"))
            .post("/api/v1/verifications", &body)
            .await,
        401,
    )
    .await;
    problem(
        Client::new(&service, None)
            .get("/api/v1/audit/events")
            .await,
        401,
    )
    .await;

    // Scope: an audit token cannot verify, a verify token cannot read the audit log.
    let auditor = Client::new(&service, Some(&audit));
    problem(auditor.post("/api/v1/verifications", &body).await, 403).await;
    problem(
        auditor
            .post("/api/v1/verifications/batch", &json!({"items": [body]}))
            .await,
        403,
    )
    .await;
    problem(
        auditor
            .get("/api/v1/verifications/01ARZ3NDEKTSV4RRFFQ69G5FAV")
            .await,
        403,
    )
    .await;
    let verifier = Client::new(&service, Some(&verify));
    problem(verifier.get("/api/v1/audit/events").await, 403).await;
    assert_eq!(auditor.get("/api/v1/audit/events").await.status(), 200);

    assert_eq!(
        verifier.post("/api/v1/verifications", &body).await.status(),
        201
    );
    let out = service.cli(&["token", "revoke", "--name", "keiyaku"]);
    assert!(out.status.success(), "{}", stderr(&out));
    problem(verifier.post("/api/v1/verifications", &body).await, 401).await;

    // The token list shows use without showing the token.
    let list = String::from_utf8(service.cli(&["token", "list"]).stdout).unwrap();
    assert!(!list.contains(&verify) && !list.contains(&audit));
    assert!(
        list.lines()
            .any(|l| l.starts_with("keiyaku\t") && l.contains("失効") && !l.ends_with("\t-")),
        "{list}"
    );
    assert!(
        !service.log().contains(&verify),
        "tokens never appear in the log"
    );
}

#[tokio::test]
async fn another_offices_verifications_and_audit_events_stay_hidden() {
    let (issuer, service) = start();
    let mine = Client::new(
        &service,
        Some(&service.create_token("oita-doboku", OFFICE, "verify")),
    );
    let theirs = Client::new(
        &service,
        Some(&service.create_token("beppu-doboku", OTHER_OFFICE, "verify")),
    );
    let their_audit = Client::new(
        &service,
        Some(&service.create_token("beppu-kansa", OTHER_OFFICE, "audit")),
    );
    let my_audit = Client::new(
        &service,
        Some(&service.create_token("oita-kansa", OFFICE, "audit")),
    );
    let k = issuer.demo_key("W2025000003");

    let res = mine
        .post(
            "/api/v1/verifications",
            &item(&k.certificate_number, &k.auth_key, "mine"),
        )
        .await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(mine.get(&location).await.status(), 200);
    let p = problem(theirs.get(&location).await, 404).await;
    assert_eq!(p["type"], "https://kakunin.invalid/problems/not-found");
    problem(
        mine.get("/api/v1/verifications/01ARZ3NDEKTSV4RRFFQ69G5FAV")
            .await,
        404,
    )
    .await;

    let theirs_page: Value = their_audit
        .get("/api/v1/audit/events")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        theirs_page["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["office_code"] == OTHER_OFFICE),
        "{theirs_page}"
    );
    assert!(!theirs_page.to_string().contains("W2025000003"));
    let my_page: Value = my_audit
        .get("/api/v1/audit/events?action=verify")
        .await
        .json()
        .await
        .unwrap();
    let events = my_page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{my_page}");
    assert_eq!(events[0]["actor"], "token:oita-doboku");
    assert_eq!(events[0]["target"], "W2025000003");
    assert_eq!(events[0]["outcome"], "verified");
    assert!(
        !my_page.to_string().contains(&k.auth_key.replace('-', "")),
        "the key is not in the audit log"
    );
    // The API read of the verification is audited too.
    let views: Value = my_audit
        .get("/api/v1/audit/events?action=verification.view")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(views["events"].as_array().unwrap().len(), 1, "{views}");
}

#[tokio::test]
async fn audit_events_filter_and_page_with_an_opaque_cursor() {
    let (issuer, service) = start();
    let api = Client::new(
        &service,
        Some(&service.create_token("keiyaku", OFFICE, "verify")),
    );
    let auditor = Client::new(
        &service,
        Some(&service.create_token("kansa", OFFICE, "audit")),
    );
    let items: Vec<Value> = found_keys(&issuer)
        .iter()
        .take(7)
        .map(|k| item(&k.certificate_number, &k.auth_key, "p"))
        .collect();
    let res = api
        .post("/api/v1/verifications/batch", &json!({"items": items}))
        .await;
    assert_eq!(res.status(), 200);

    let today = chrono::Utc::now()
        .with_timezone(&kakunin_protocol::time::jst())
        .date_naive();
    let mut seen = Vec::new();
    let mut path = format!(
        "/api/v1/audit/events?action=verify&actor=token:keiyaku&from={today}&to={today}&limit=3"
    );
    loop {
        let page: Value = auditor.get(&path).await.json().await.unwrap();
        let events = page["events"].as_array().unwrap();
        assert!(events.len() <= 3);
        seen.extend(events.iter().map(|e| e["seq"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => {
                path = format!(
                    "/api/v1/audit/events?action=verify&actor=token:keiyaku&limit=3&cursor={c}"
                )
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats: {seen:?}"
    );
    let none: Value = auditor
        .get("/api/v1/audit/events?from=2001-01-01&to=2001-01-31")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["events"], json!([]));
    assert_eq!(none["next_cursor"], Value::Null);

    for (query, field) in [
        ("from=2025-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2025-05-02&to=2025-05-01", "to"),
        ("cursor=xyz", "cursor"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
    ] {
        let p = problem(
            auditor.get(&format!("/api/v1/audit/events?{query}")).await,
            422,
        )
        .await;
        assert_eq!(p["field"], field, "{query}: {p}");
    }
}

#[tokio::test]
async fn each_token_gets_429_with_retry_after_beyond_its_rate() {
    let issuer = IssuerProcess::start();
    let service =
        ServiceProcess::start_with(&issuer.registry_toml, Some("[api]\nrate_per_minute = 5\n"));
    let busy = Client::new(
        &service,
        Some(&service.create_token("busy", OFFICE, "verify")),
    );
    let quiet = Client::new(
        &service,
        Some(&service.create_token("quiet", OFFICE, "verify")),
    );
    let k = issuer.demo_key("W2025000001");
    let body = item(&k.certificate_number, &k.auth_key, "rate");
    for i in 0..5 {
        // A batch counts as one request, like any other.
        let res = if i == 0 {
            busy.post(
                "/api/v1/verifications/batch",
                &json!({"items": [body.clone(), body.clone()]}),
            )
            .await
        } else {
            busy.post("/api/v1/verifications", &body).await
        };
        assert!(res.status().is_success(), "request {i}: {}", res.status());
    }
    let res = busy.post("/api/v1/verifications", &body).await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=12).contains(&retry), "one request every 12 s: {retry}");
    problem(res, 429).await;
    problem(
        busy.get("/api/v1/verifications/01ARZ3NDEKTSV4RRFFQ69G5FAV")
            .await,
        429,
    )
    .await;
    assert_eq!(
        quiet.post("/api/v1/verifications", &body).await.status(),
        201,
        "other tokens are not affected"
    );
    // The health check is outside the API and its limit.
    assert_eq!(
        reqwest::get(format!("{}/healthz", service.base_url))
            .await
            .unwrap()
            .status(),
        200
    );
}

// ---------------------------------------------------------------------------------
// Batch

/// What one batch item should produce.
enum Expect {
    Demo(DemoKey),
    Outcome(&'static str),
    Error { field: &'static str, has_ref: bool },
}

/// 1000 items: demo keys (verified and rejected), unknown numbers, wrong keys for
/// known numbers (at most 4 a number, below the service's lock at 5), and malformed
/// items of every kind, interleaved.
fn mixed_batch(issuer: &IssuerProcess) -> Vec<(Value, Expect)> {
    let found = found_keys(issuer);
    let mut wrong_per_number = std::collections::HashMap::<String, usize>::new();
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
                item(&format!("W2099{i:06}"), &other_key(i), &r),
                Expect::Outcome("not_found"),
            ),
            6 => {
                let k = &found[(i / 10) % found.len()];
                let n = wrong_per_number
                    .entry(k.certificate_number.clone())
                    .or_default();
                *n += 1;
                if *n <= 4 {
                    (
                        item(&k.certificate_number, &other_key(i), &r),
                        Expect::Outcome("not_found"),
                    )
                } else {
                    (
                        item(&format!("W2098{i:06}"), &other_key(i), &r),
                        Expect::Outcome("not_found"),
                    )
                }
            }
            _ => malformed(i, &r),
        };
        out.push(entry);
    }
    out
}

fn malformed(i: usize, r: &str) -> (Value, Expect) {
    let key = other_key(i);
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

#[tokio::test]
async fn a_batch_of_1000_mixed_items_answers_in_order_with_per_item_errors() {
    let (issuer, service) = start();
    let api = Client::new(
        &service,
        Some(&service.create_token("keiyaku", OFFICE, "verify")),
    );
    let auditor = Client::new(
        &service,
        Some(&service.create_token("kansa", OFFICE, "audit")),
    );
    let batch = mixed_batch(&issuer);
    let items: Vec<&Value> = batch.iter().map(|(v, _)| v).collect();
    let results = api.batch(&items).await;
    assert_eq!(results.len(), 1000);
    let mut ids = BTreeSet::new();
    let mut looked_up = 0;
    for (i, ((_, expect), got)) in batch.iter().zip(&results).enumerate() {
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
                continue;
            }
            Expect::Demo(k) => assert_matches_demo(got, k),
            Expect::Outcome(o) => assert_eq!(got["outcome"], *o, "item {i}: {got}"),
        }
        assert_eq!(got["ref"], json!(r), "item {i}");
        assert!(
            ids.insert(got["id"].as_str().unwrap().to_owned()),
            "ids are unique"
        );
        looked_up += 1;
    }
    assert_eq!(looked_up, 700);

    // Every item that was looked up is stored and audited, as the web form's are.
    assert_eq!(audited_verifications(&auditor, 1000).await, ids);
    // No number reached the lock: wrong keys were spread out.
    let locks: Value = auditor
        .get("/api/v1/audit/events?action=lockout")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(locks["events"], json!([]));
    // The batch's audit rows were appended together; the chain must still hold.
    let out = service.cli(&["audit", "verify"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

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

// ---------------------------------------------------------------------------------
// OpenAPI

/// A JSON Schema for one response of the document, its `$ref`s resolved against the
/// document's own components.
fn response_schema(
    doc: &Value,
    path: &str,
    method: &str,
    status: &str,
    media: &str,
) -> jsonschema::Validator {
    let schema = &doc["paths"][path][method]["responses"][status]["content"][media]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status} {media} has a schema"
    );
    let mut root = schema.clone();
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["components"] = doc["components"].clone();
    jsonschema::validator_for(&root)
        .unwrap_or_else(|e| panic!("schema of {method} {path} {status}: {e}"))
}

fn assert_valid(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the OpenAPI schema: {errors:#?}\n{instance}"
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_the_real_responses() {
    let (issuer, service) = start();
    let anonymous = Client::new(&service, None);
    let res = anonymous.get("/api/openapi.json").await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "description": doc["components"]["securitySchemes"]["bearer"]["description"]})
    );

    // Every route of service.md, and nothing else.
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), p.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("get", "/api/openapi.json"),
        ("post", "/api/v1/verifications"),
        ("post", "/api/v1/verifications/batch"),
        ("get", "/api/v1/verifications/{id}"),
        ("get", "/api/v1/audit/events"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(documented, expected);
    for (method, path) in &documented {
        let op = &doc["paths"][path][method];
        assert!(
            op["responses"].as_object().unwrap().len() >= if path.contains("/v1/") { 4 } else { 1 },
            "{method} {path} documents its errors"
        );
        if path.contains("/v1/") {
            assert_eq!(op["security"], json!([{"bearer": []}]), "{method} {path}");
            for status in ["401", "403", "429"] {
                assert!(
                    op["responses"][status]["content"]["application/problem+json"].is_object(),
                    "{method} {path} {status}"
                );
            }
        }
    }
    for name in [
        "Verification",
        "VerificationInput",
        "BatchInput",
        "BatchOutput",
        "Problem",
        "AuditPage",
    ] {
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "schema {name}"
        );
    }

    // Every documented route is served: with a token, none answers "no such route".
    let verify = Client::new(
        &service,
        Some(&service.create_token("keiyaku", OFFICE, "verify")),
    );
    let audit = Client::new(
        &service,
        Some(&service.create_token("kansa", OFFICE, "audit")),
    );
    for (method, path) in &documented {
        let path = path.replace("{id}", "01ARZ3NDEKTSV4RRFFQ69G5FAV");
        let client = if path.contains("audit") {
            &audit
        } else {
            &verify
        };
        let res = client
            .request(method.to_uppercase().parse().unwrap(), &path)
            .await;
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_ne!(
            body["type"], "https://kakunin.invalid/problems/no-such-route",
            "{method} {path}"
        );
    }
    // What is not documented is not served, and says so as a problem.
    for path in [
        "/api/v1/tokens",
        "/api/v2/verifications",
        "/api/openapi.yaml",
        "/api",
    ] {
        let p = problem(verify.get(path).await, 404).await;
        assert_eq!(
            p["type"], "https://kakunin.invalid/problems/no-such-route",
            "{path}"
        );
    }
    let res = verify
        .request(
            reqwest::Method::DELETE,
            "/api/v1/verifications/01ARZ3NDEKTSV4RRFFQ69G5FAV",
        )
        .await;
    assert_eq!(res.headers()["allow"], "GET");
    problem(res, 405).await;
    let res = verify.get("/api/v1/verifications").await;
    assert_eq!(res.headers()["allow"], "POST");
    problem(res, 405).await;

    // Real answers validate against the document's schemas.
    let created = response_schema(
        &doc,
        "/api/v1/verifications",
        "post",
        "201",
        "application/json",
    );
    let k = issuer.demo_key("W2025000005");
    let v: Value = verify
        .post(
            "/api/v1/verifications",
            &item(&k.certificate_number, &k.auth_key, "s"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_valid(&created, &v, "a rejected Verification");
    let nf: Value = verify
        .post(
            "/api/v1/verifications",
            &item("W2099000009", &other_key(9), "s"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_valid(&created, &nf, "a not_found Verification");
    let shown = response_schema(
        &doc,
        "/api/v1/verifications/{id}",
        "get",
        "200",
        "application/json",
    );
    let again: Value = verify
        .get(&format!(
            "/api/v1/verifications/{}",
            v["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_valid(&shown, &again, "a read Verification");

    let batch_schema = response_schema(
        &doc,
        "/api/v1/verifications/batch",
        "post",
        "200",
        "application/json",
    );
    let items: Vec<Value> = mixed_batch(&issuer)
        .into_iter()
        .take(40)
        .map(|(v, _)| v)
        .collect();
    let out: Value = verify
        .post("/api/v1/verifications/batch", &json!({"items": items}))
        .await
        .json()
        .await
        .unwrap();
    assert!(out["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r.get("error").is_some()));
    assert_valid(&batch_schema, &out, "a batch result");

    let problem_schema = response_schema(
        &doc,
        "/api/v1/verifications",
        "post",
        "422",
        "application/problem+json",
    );
    let p: Value = verify
        .post("/api/v1/verifications", &json!({"certificate_number": "x"}))
        .await
        .json()
        .await
        .unwrap();
    assert_valid(&problem_schema, &p, "a 422 problem");
    let unauthorized = response_schema(
        &doc,
        "/api/v1/audit/events",
        "get",
        "401",
        "application/problem+json",
    );
    let p: Value = anonymous
        .get("/api/v1/audit/events")
        .await
        .json()
        .await
        .unwrap();
    assert_valid(&unauthorized, &p, "a 401 problem");

    let events = response_schema(
        &doc,
        "/api/v1/audit/events",
        "get",
        "200",
        "application/json",
    );
    let page: Value = audit
        .get("/api/v1/audit/events?limit=50")
        .await
        .json()
        .await
        .unwrap();
    assert!(!page["events"].as_array().unwrap().is_empty());
    assert_valid(&events, &page, "an audit page");

    // And the schemas are strict enough to catch a wrong answer.
    let mut wrong = v.clone();
    wrong["outcome"] = json!("probably_fine");
    assert!(
        !created.is_valid(&wrong),
        "an unknown outcome is refused by the schema"
    );
    let mut wrong = v.clone();
    wrong.as_object_mut().unwrap().remove("checked_at");
    assert!(
        !created.is_valid(&wrong),
        "a missing member is refused by the schema"
    );
}

// ---------------------------------------------------------------------------------
// Batch CLI

/// Reads the CLI's output: UTF-8 with BOM and CRLF line ends.
fn read_output(path: &std::path::Path) -> Vec<csv::StringRecord> {
    let bytes = std::fs::read(path).expect("output written");
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "output starts with a BOM"
    );
    let text = std::str::from_utf8(&bytes[3..]).expect("UTF-8");
    assert!(text.contains("\r\n"), "CRLF line ends");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "row");
    for c in [
        "ref",
        "certificate_number",
        "outcome",
        "issuer_id",
        "revision",
        "failed_rules",
        "failed_messages",
        "warned_rules",
        "warned_messages",
        "verification_id",
    ] {
        assert!(headers.iter().any(|h| h == c), "column {c} in {headers:?}");
    }
    let mut rows = vec![headers];
    rows.extend(reader.records().map(|r| r.unwrap()));
    rows
}

fn column<'a>(rows: &'a [csv::StringRecord], row: usize, name: &str) -> &'a str {
    let i = rows[0].iter().position(|h| h == name).unwrap();
    &rows[row][i]
}

#[tokio::test]
async fn the_batch_cli_on_demo_keys_gives_exactly_the_expected_outcomes() {
    let (issuer, service) = start();
    let token = service.create_token("batch-cli", OFFICE, "verify");
    let out_dir = tempfile::tempdir().unwrap();
    let input = issuer.demo_dir().join("demo-keys.csv");
    let output = out_dir.path().join("results.csv");
    let run = |input: &std::path::Path, output: &std::path::Path, env: Option<&str>| {
        let mut cmd = service.command();
        cmd.args([
            "batch",
            "--url",
            &service.base_url,
            "--token-env",
            "K5_TEST_TOKEN",
        ])
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output);
        if let Some(t) = env {
            cmd.env("K5_TEST_TOKEN", t);
        }
        cmd.output().expect("run kakunin batch")
    };

    let out = run(&input, &output, Some(&token));
    assert_eq!(
        out.status.code(),
        Some(1),
        "some demo rows are not verified: {}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("確認済み") && err.contains("不適合") && err.contains("該当なし"),
        "plain summary: {err}"
    );
    assert!(!err.contains(&token));
    let rows = read_output(&output);
    assert_eq!(rows.len() - 1, issuer.demo_keys.len());
    for (i, k) in issuer.demo_keys.iter().enumerate() {
        let row = i + 1;
        assert_eq!(
            column(&rows, row, "outcome"),
            k.expected_outcome,
            "{} ({})",
            k.certificate_number,
            k.note
        );
        assert_eq!(
            column(&rows, row, "certificate_number"),
            k.certificate_number
        );
        assert_eq!(
            column(&rows, row, "row"),
            (i + 2).to_string(),
            "the input's line number"
        );
        let rules = if k.expected_outcome == "verified" {
            "warned_rules"
        } else {
            "failed_rules"
        };
        assert_eq!(
            column(&rows, row, rules),
            k.expected_rules.join("|"),
            "{}",
            k.note
        );
        for id in &k.expected_rules {
            let messages = if k.expected_outcome == "verified" {
                "warned_messages"
            } else {
                "failed_messages"
            };
            assert!(
                column(&rows, row, messages).contains(&format!("{id}: ")),
                "{}",
                k.note
            );
        }
        if k.expected_outcome == "not_found" {
            assert_eq!(column(&rows, row, "revision"), "");
        } else {
            assert_eq!(column(&rows, row, "issuer_id"), "wjcs");
            assert!(!column(&rows, row, "revision").is_empty());
        }
        assert_eq!(column(&rows, row, "verification_id").len(), 26);
    }

    // A file of verified keys only, full-width and with a BOM as Excel writes it: exit 0.
    let verified: Vec<&DemoKey> = issuer
        .demo_keys
        .iter()
        .filter(|k| k.expected_outcome == "verified")
        .collect();
    let mut text = String::from("\u{feff}ref,certificate_number,auth_key,contract_amount_yen\r\n");
    for (i, k) in verified.iter().enumerate() {
        let wide: String = k
            .certificate_number
            .chars()
            .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
            .collect();
        text.push_str(&format!(
            "案件{i},{wide},{},\r\n",
            k.auth_key.replace('-', "－")
        ));
    }
    let all_verified = out_dir.path().join("verified.csv");
    std::fs::write(&all_verified, text).unwrap();
    let output2 = out_dir.path().join("verified-results.csv");
    let out = run(&all_verified, &output2, Some(&token));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = read_output(&output2);
    assert_eq!(rows.len() - 1, verified.len());
    assert_eq!(column(&rows, 1, "ref"), "案件0");
    assert_eq!(column(&rows, 1, "outcome_label"), "確認済み");

    // Errors exit 2: no token in the environment, a revoked token, a missing file.
    let out = run(&input, &output2, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("K5_TEST_TOKEN"), "{}", stderr(&out));
    let out = run(&out_dir.path().join("missing.csv"), &output2, Some(&token));
    assert_eq!(out.status.code(), Some(2));
    assert!(service
        .cli(&["token", "revoke", "--name", "batch-cli"])
        .status
        .success());
    let out = run(&input, &output2, Some(&token));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
}
