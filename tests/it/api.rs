//! The JSON API, one verification at a time, and who may use it: tokens, scopes,
//! offices, rates. The real service and the real issuer with the demo data.

use std::collections::BTreeSet;

use kakunin_testkit::client::{content_type, item};
use kakunin_testkit::issuer::{full_width, unknown_key};
use kakunin_testkit::process::stderr;
use kakunin_testkit::service::{ServiceProcess, OFFICE, OTHER_OFFICE};
use serde_json::{json, Value};

use super::{
    assert_chain_intact, assert_matches_demo, audited_verifications, problem, rules_with, start,
};

/// A ULID no verification has.
const NO_SUCH_ID: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

#[tokio::test]
async fn a_verification_is_created_with_a_location_that_answers_the_same() {
    let (issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let k = issuer.demo_key("W2025000001");
    let res = api
        .post(
            "/api/v1/verifications",
            &item(&k.certificate_number, &k.auth_key, "r-1"),
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
    assert_matches_demo(&v, k);
    assert_eq!(v["ref"], "r-1");
    assert_eq!(v["issuer"]["id"], "wjcs");
    assert_eq!(v["signature"]["valid"], true);
    assert_eq!(v["certificate"]["certificate_number"], "W2025000001");
    assert!(v["checked_at"].as_str().unwrap().ends_with("+09:00"), "{v}");
    let again = api.get_json(&location).await;
    assert_eq!(again, v, "GET of Location answers the same Verification");
}

#[tokio::test]
async fn typed_input_is_normalized_and_expected_values_feed_the_rules() {
    let (issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let rejected = issuer.demo_key("W2025000005");
    let body = json!({
        "certificate_number": full_width(&rejected.certificate_number),
        "auth_key": rejected.auth_key.to_lowercase().replace('-', " "),
        "expected": {"contract_amount_yen": 1, "contractor_name": null}
    });
    let v = api.verify(&body).await;
    assert_eq!(v["outcome"], "rejected");
    assert_eq!(v["ref"], Value::Null);
    let fails = rules_with(&v, "fail");
    assert!(
        fails.contains(&"expected_contract_amount".to_owned())
            && fails.contains(&rejected.expected_rules[0]),
        "{fails:?}"
    );
}

#[tokio::test]
async fn an_unknown_number_is_a_created_verification_without_a_certificate() {
    let (_issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let v = api
        .verify(&item("W2099000001", &unknown_key(1), "nf"))
        .await;
    assert_eq!(v["outcome"], "not_found");
    assert!(
        v["certificate"].is_null() && v["signature"].is_null(),
        "{v}"
    );
    assert_eq!(v["rules"], json!([]));
}

#[tokio::test]
async fn the_brute_force_guard_applies_to_the_api_too() {
    let (issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let k = issuer.demo_key("W2025000002");
    for i in 0..5 {
        let v = api
            .verify(&item(&k.certificate_number, &unknown_key(i), "x"))
            .await;
        assert_eq!(v["outcome"], "not_found", "attempt {i}");
    }
    // The sixth attempt, even with the right key, meets the service's own lock.
    let v = api
        .verify(&item(&k.certificate_number, &k.auth_key, "x"))
        .await;
    assert_eq!(v["outcome"], "locked", "{v}");
    assert!(v["detail"].as_str().unwrap().contains("ロック"), "{v}");
}

/// Concurrent single requests share commits (group commit); each still gets its own
/// stored Verification and audit row, and the chain holds.
#[tokio::test]
async fn concurrent_single_requests_are_each_stored_and_audited() {
    let (issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let auditor = service.api("kansa", "audit");
    let found = issuer.found_keys();
    let answers = futures::future::join_all((0..48).map(|i| {
        let k = &found[i % found.len()];
        let body = item(&k.certificate_number, &k.auth_key, &format!("c-{i}"));
        let api = &api;
        async move {
            let v = api.verify(&body).await;
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
    assert_chain_intact(&service);
}

#[tokio::test]
async fn bad_input_is_a_problem_naming_the_field_without_echoing_the_key() {
    let (_issuer, service) = start();
    let api = service.api("keiyaku", "verify");
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
}

#[tokio::test]
async fn broken_json_another_media_type_and_bodies_over_1_mib_are_refused() {
    let (_issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let truncated = b"{\"certificate_number\":".to_vec();
    let res = api
        .post_raw("/api/v1/verifications", "application/json", truncated)
        .await;
    let p = problem(res, 400).await;
    assert!(p["detail"].as_str().unwrap().contains("JSON"), "{p}");
    let res = api
        .post_raw("/api/v1/verifications", "text/plain", b"{}".to_vec())
        .await;
    problem(res, 415).await;
    // Just over 1 MiB: refused before it is parsed.
    let mut big = b"{\"items\":[".to_vec();
    while big.len() <= 1024 * 1024 {
        big.extend_from_slice(
            b"{\"certificate_number\":\"W2025000001\",\"auth_key\":\"WG14BT1101ZGC46F\"},",
        );
    }
    big.extend_from_slice(b"{}]}");
    let res = api
        .post_raw("/api/v1/verifications/batch", "application/json", big)
        .await;
    problem(res, 413).await;
    assert!(
        !service.log().contains("WG14BT1101ZGC46F"),
        "auth keys never appear in the log"
    );
}

// ---------------------------------------------------------------------------------
// Tokens, scopes, offices, rates

/// JSON saved by a Windows tool starts with a UTF-8 byte order mark, which RFC 8259
/// §8.1 lets a parser ignore: a single and a batch verification with one go through; a
/// mark anywhere else is still broken JSON.
#[tokio::test]
async fn a_body_that_starts_with_a_utf8_byte_order_mark_is_read() {
    let (issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let k = issuer.demo_key("W2025000001");
    let with_bom = |body: &Value| {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(serde_json::to_vec(body).unwrap());
        bytes
    };
    let one = item(&k.certificate_number, &k.auth_key, "bom-1");
    let res = api
        .post_raw("/api/v1/verifications", "application/json", with_bom(&one))
        .await;
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["ref"], "bom-1");
    assert_eq!(v["signature"]["valid"], true);
    let batch = json!({"items": [item(&k.certificate_number, &k.auth_key, "bom-2")]});
    let res = api
        .post_raw(
            "/api/v1/verifications/batch",
            "application/json",
            with_bom(&batch),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());

    // Only one mark, and only before the body: bodies that would be valid JSON
    // without their marks are still refused.
    let valid = serde_json::to_vec(&one).unwrap();
    let mut inside = b"{\xEF\xBB\xBF".to_vec();
    inside.extend_from_slice(&valid[1..]);
    let twice = [&b"\xEF\xBB\xBF"[..], &with_bom(&one)].concat();
    for body in [inside, twice] {
        let res = api
            .post_raw("/api/v1/verifications", "application/json", body)
            .await;
        problem(res, 400).await;
    }
}

#[tokio::test]
async fn requests_without_a_valid_token_get_401_with_www_authenticate() {
    let (issuer, service) = start();
    let k = issuer.demo_key("W2025000001");
    let body = item(&k.certificate_number, &k.auth_key, "t");
    let res = service
        .anonymous_api()
        .post("/api/v1/verifications", &body)
        .await;
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    problem(res, 401).await;
    let forged = kakunin_testkit::client::ApiClient::new(&service.base_url, Some("not-a-token"));
    problem(forged.post("/api/v1/verifications", &body).await, 401).await;
    let res = service.anonymous_api().get("/api/v1/audit/events").await;
    problem(res, 401).await;
}

#[tokio::test]
async fn an_audit_token_cannot_verify_and_a_verify_token_cannot_read_the_audit_log() {
    let (issuer, service) = start();
    let k = issuer.demo_key("W2025000001");
    let body = item(&k.certificate_number, &k.auth_key, "t");
    let auditor = service.api("kansa", "audit");
    let verifier = service.api("keiyaku", "verify");
    problem(auditor.post("/api/v1/verifications", &body).await, 403).await;
    let batch = json!({"items": [body]});
    let res = auditor.post("/api/v1/verifications/batch", &batch).await;
    problem(res, 403).await;
    let res = auditor
        .get(&format!("/api/v1/verifications/{NO_SUCH_ID}"))
        .await;
    problem(res, 403).await;
    problem(verifier.get("/api/v1/audit/events").await, 403).await;
    assert_eq!(auditor.get("/api/v1/audit/events").await.status(), 200);
    assert_eq!(
        verifier.post("/api/v1/verifications", &body).await.status(),
        201
    );
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once_and_listed_as_revoked_and_used() {
    let (issuer, service) = start();
    let verify = service.create_token("keiyaku", OFFICE, "verify");
    let audit = service.create_token("kansa", OFFICE, "audit");
    let verifier = kakunin_testkit::client::ApiClient::new(&service.base_url, Some(&verify));
    let k = issuer.demo_key("W2025000001");
    let body = item(&k.certificate_number, &k.auth_key, "t");
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
async fn another_offices_verification_is_not_found() {
    let (issuer, service) = start();
    let mine = service.api("oita-doboku", "verify");
    let theirs = service.api_of("beppu-doboku", OTHER_OFFICE, "verify");
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
    let res = mine
        .get(&format!("/api/v1/verifications/{NO_SUCH_ID}"))
        .await;
    problem(res, 404).await;
}

#[tokio::test]
async fn audit_tokens_read_only_their_offices_events_and_api_reads_are_audited() {
    let (issuer, service) = start();
    let mine = service.api("oita-doboku", "verify");
    let their_audit = service.api_of("beppu-kansa", OTHER_OFFICE, "audit");
    let my_audit = service.api("oita-kansa", "audit");
    let k = issuer.demo_key("W2025000003");
    let v = mine
        .verify(&item(&k.certificate_number, &k.auth_key, "mine"))
        .await;
    mine.get(&format!(
        "/api/v1/verifications/{}",
        v["id"].as_str().unwrap()
    ))
    .await;

    let theirs_page = their_audit.get_json("/api/v1/audit/events").await;
    assert!(
        theirs_page["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["office_code"] == OTHER_OFFICE),
        "{theirs_page}"
    );
    assert!(!theirs_page.to_string().contains("W2025000003"));
    let my_page = my_audit
        .get_json("/api/v1/audit/events?action=verify")
        .await;
    let events = my_page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{my_page}");
    assert_eq!(events[0]["actor"], "token:oita-doboku");
    assert_eq!(events[0]["target"], "W2025000003");
    assert_eq!(events[0]["outcome"], "verified");
    assert!(
        !my_page.to_string().contains(&k.auth_key.replace('-', "")),
        "the key is not in the audit log"
    );
    let views = my_audit
        .get_json("/api/v1/audit/events?action=verification.view")
        .await;
    assert_eq!(views["events"].as_array().unwrap().len(), 1, "{views}");
}

#[tokio::test]
async fn audit_events_filter_and_page_with_an_opaque_cursor() {
    let (issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let auditor = service.api("kansa", "audit");
    let items: Vec<Value> = issuer
        .found_keys()
        .iter()
        .take(7)
        .map(|k| item(&k.certificate_number, &k.auth_key, "p"))
        .collect();
    api.batch(&items).await;
    // A login alone names the user, as on the audit page.
    let officer = service.officer().await;
    let k = &issuer.found_keys()[0];
    officer
        .verify(&k.certificate_number, &k.auth_key, &[])
        .await;
    let page = auditor
        .get_json("/api/v1/audit/events?action=verify&actor=officer1")
        .await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page}");
    assert_eq!(events[0]["actor"], "user:officer1");

    let today = chrono::Utc::now()
        .with_timezone(&kakunin_protocol::time::jst())
        .date_naive();
    let mut seen = Vec::new();
    let mut path = format!(
        "/api/v1/audit/events?action=verify&actor=token:keiyaku&from={today}&to={today}&limit=3"
    );
    loop {
        let page = auditor.get_json(&path).await;
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
    let none = auditor
        .get_json("/api/v1/audit/events?from=2001-01-01&to=2001-01-31")
        .await;
    assert_eq!(none["events"], json!([]));
    assert_eq!(none["next_cursor"], Value::Null);
}

#[tokio::test]
async fn a_bad_audit_query_is_a_problem_naming_the_parameter() {
    let (_issuer, service) = start();
    let auditor = service.api("kansa", "audit");
    for (query, field) in [
        ("from=2025-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2025-05-02&to=2025-05-01", "to"),
        ("cursor=xyz", "cursor"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        // Not ignored: the whole log would pass for the filtered one.
        ("outcome=denied", "outcome"),
        ("action=verify&ofice=440001", "ofice"),
    ] {
        let res = auditor.get(&format!("/api/v1/audit/events?{query}")).await;
        let p = problem(res, 422).await;
        assert_eq!(p["field"], field, "{query}: {p}");
    }
}

#[tokio::test]
async fn each_token_gets_429_with_retry_after_beyond_its_rate() {
    let issuer = kakunin_testkit::issuer::IssuerProcess::start();
    let service =
        ServiceProcess::start_with(&issuer.registry_toml, Some("[api]\nrate_per_minute = 5\n"));
    let busy = service.api("busy", "verify");
    let quiet = service.api("quiet", "verify");
    let k = issuer.demo_key("W2025000001");
    let body = item(&k.certificate_number, &k.auth_key, "rate");
    // A batch counts its items: two of the five.
    busy.batch(&[body.clone(), body.clone()]).await;
    for i in 1..4 {
        let res = busy.post("/api/v1/verifications", &body).await;
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
    let res = busy
        .get(&format!("/api/v1/verifications/{NO_SUCH_ID}"))
        .await;
    problem(res, 429).await;
    assert_eq!(
        quiet.post("/api/v1/verifications", &body).await.status(),
        201,
        "other tokens are not affected"
    );
    // The health check is outside the API and its limit.
    let health = reqwest::get(format!("{}/healthz", service.base_url)).await;
    assert_eq!(health.unwrap().status(), 200);
}
