//! `POST /v1/certificates/lookup` (issuer-protocol.md §2) as a relying party uses it.

use std::collections::BTreeMap;

use kakunin_protocol::jws as record;
use kakunin_testkit::client::{content_type, problem};
use kakunin_testkit::issuer::IssuerProcess;
use reqwest::header::HeaderMap;
use serde_json::json;

use super::{lookup, lookup_record, lookup_status, lookup_with, number, registry, WRONG_KEY};

#[tokio::test]
async fn the_right_number_and_key_get_the_stored_jws_as_jose_json() {
    let iss = IssuerProcess::start();
    let k = iss.demo_key("W2025000001");
    let res = lookup(&iss, &k.certificate_number, &k.auth_key).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(content_type(res.headers()), "application/jose+json");
    let body = res.bytes().await.unwrap();
    let stored = std::fs::read(iss.demo_dir().join("records/W2025000001.jws")).unwrap();
    assert_eq!(body.as_ref(), stored.as_slice(), "served exactly as stored");
    let rec = record::verify(
        &body,
        "wjcs",
        &number("W2025000001"),
        &registry(&iss.registry_toml),
    )
    .unwrap();
    assert_eq!(rec.kid(), "wjcs-demo-2025");
}

#[tokio::test]
async fn full_width_and_hyphenated_input_is_normalized_before_lookup() {
    let iss = IssuerProcess::start();
    let k = iss.demo_key("W2025000002");
    // As a Japanese keyboard in full-width mode types it: the hyphen as ー.
    let wide = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                '-' => 'ー',
                '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap(),
                c => c,
            })
            .collect()
    };
    let status = lookup_status(
        &iss,
        &wide("w2025-000002"),
        &wide(&k.auth_key.to_lowercase()),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn malformed_lookups_get_400_problem_json_naming_the_field() {
    let iss = IssuerProcess::start();
    let p = problem(
        lookup_with(&iss, Some(&iss.token), "not json".into()).await,
        400,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("JSON"));
    let no_key = json!({"certificate_number": "W2025000001"}).to_string();
    let p = problem(lookup_with(&iss, Some(&iss.token), no_key).await, 400).await;
    assert!(p["detail"].as_str().unwrap().contains("auth_key"));
    let p = problem(
        lookup(&iss, "W2025000001", "7KQ2-M9XD-H4T8-RB3U").await,
        400,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("認証キー"));
    assert!(
        !p["detail"].as_str().unwrap().contains("RB3U"),
        "the key is not echoed"
    );
    problem(lookup(&iss, "W1", "7KQ2-M9XD-H4T8-RB3N").await, 400).await;
}

#[tokio::test]
async fn a_missing_wrong_or_revoked_bearer_token_gets_401_with_www_authenticate() {
    let iss = IssuerProcess::start();
    let k = iss.demo_key("W2025000001");
    let body =
        json!({"certificate_number": k.certificate_number, "auth_key": k.auth_key}).to_string();
    for token in [None, Some("wrong-token"), Some("")] {
        let res = lookup_with(&iss, token, body.clone()).await;
        assert_eq!(res.headers().get("www-authenticate").unwrap(), "Bearer");
        problem(res, 401).await;
    }
    let revoked = iss.cli(&["client", "revoke", "--name", "demo"]);
    assert!(revoked.status.success(), "{}", super::stderr(&revoked));
    problem(lookup(&iss, &k.certificate_number, &k.auth_key).await, 401).await;
}

fn header_set(h: &HeaderMap) -> BTreeMap<String, String> {
    h.iter()
        .filter(|(name, _)| name.as_str() != "date")
        .map(|(name, v)| (name.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect()
}

#[tokio::test]
async fn an_unknown_number_and_a_wrong_key_get_identical_404s() {
    let iss = IssuerProcess::start();
    let unknown = lookup(&iss, "W2025999998", WRONG_KEY).await;
    let wrong = lookup(&iss, "W2025000003", WRONG_KEY).await;
    assert_eq!(
        (unknown.status().as_u16(), wrong.status().as_u16()),
        (404, 404)
    );
    assert_eq!(header_set(unknown.headers()), header_set(wrong.headers()));
    assert_eq!(content_type(wrong.headers()), "application/problem+json");
    let (a, b) = (unknown.bytes().await.unwrap(), wrong.bytes().await.unwrap());
    assert_eq!(a, b, "byte-identical bodies");
}

#[tokio::test]
async fn ten_wrong_keys_lock_a_number_for_an_hour_even_against_the_right_key() {
    let mut iss = IssuerProcess::start();
    let k = iss.demo_key("W2025000020").clone();
    for _ in 0..10 {
        assert_eq!(
            lookup_status(&iss, &k.certificate_number, WRONG_KEY).await,
            404
        );
    }
    for key in [WRONG_KEY, k.auth_key.as_str()] {
        let res = lookup(&iss, &k.certificate_number, key).await;
        let retry: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((3500..=3600).contains(&retry), "Retry-After {retry}");
        problem(res, 429).await;
    }
    let other = iss.demo_key("W2025000019").clone();
    assert_eq!(
        lookup_status(&iss, &other.certificate_number, &other.auth_key).await,
        200,
        "other numbers are not affected"
    );

    iss.restart();
    let res = lookup(&iss, &k.certificate_number, &k.auth_key).await;
    problem(res, 429).await;
}

#[tokio::test]
async fn unknown_numbers_lock_the_same_way_so_a_lockout_reveals_nothing() {
    let iss = IssuerProcess::start();
    for _ in 0..10 {
        assert_eq!(lookup_status(&iss, "W2025999997", WRONG_KEY).await, 404);
    }
    problem(lookup(&iss, "W2025999997", WRONG_KEY).await, 429).await;
}

/// §2 defines the request as `Content-Type: application/json`: any other type, or none,
/// is 415 problem+json, however JSON-like the body; parameters and letter case of
/// `application/json` do not matter.
#[tokio::test]
async fn lookups_not_sent_as_application_json_get_415_problem_json() {
    let iss = IssuerProcess::start();
    let k = iss.demo_key("W2025000001");
    let body =
        json!({"certificate_number": k.certificate_number, "auth_key": k.auth_key}).to_string();
    let send = |content_type: Option<&'static str>| {
        let mut req = super::http()
            .post(iss.lookup_url())
            .bearer_auth(&iss.token)
            .body(body.clone());
        if let Some(t) = content_type {
            req = req.header("content-type", t);
        }
        req.send()
    };
    for refused in [
        Some("text/plain"),
        Some("text/plain; charset=utf-8"),
        Some("application/x-www-form-urlencoded"),
        Some("application/problem+json"),
        Some("application/jsonx"),
        Some("not a media type"),
        None,
    ] {
        let p = problem(send(refused).await.unwrap(), 415).await;
        assert!(
            p["detail"].as_str().unwrap().contains("application/json"),
            "{refused:?}: {p}"
        );
    }
    for accepted in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
    ] {
        let res = send(Some(accepted)).await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{accepted}");
    }
    // The token is checked first: a stranger learns nothing about the body's rules.
    let res = super::http()
        .post(iss.lookup_url())
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    problem(res, 401).await;
}

#[tokio::test]
async fn bodies_over_64_kib_get_413_problem_json() {
    let iss = IssuerProcess::start();
    let filler = "x".repeat(70 * 1024);
    let body = json!({"certificate_number": "W2025000001", "auth_key": WRONG_KEY, "pad": filler})
        .to_string();
    problem(lookup_with(&iss, Some(&iss.token), body).await, 413).await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_problem_json() {
    let iss = IssuerProcess::start();
    let res = super::http()
        .get(format!("{}/v2/nothing", iss.base_url))
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    let res = super::http().get(iss.lookup_url()).send().await.unwrap();
    problem(res, 405).await;
}

/// RFC 9110 §15.5.6: a 405 says in `Allow` what the resource does serve; every method
/// it lists really is served (no 405), so the list cannot drift from the routes.
#[tokio::test]
async fn wrong_methods_on_api_routes_get_405_problem_json_with_allow() {
    let iss = IssuerProcess::start();
    for (method, path, allow) in [
        ("GET", "/v1/certificates/lookup", "POST"),
        ("PUT", "/v1/certificates/lookup", "POST"),
        ("DELETE", "/v1/certificates/lookup", "POST"),
        ("POST", "/v1/jwks", "GET, HEAD"),
        ("POST", "/healthz", "GET, HEAD"),
    ] {
        let url = format!("{}{path}", iss.base_url);
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let res = super::http().request(m, &url).send().await.unwrap();
        assert_eq!(
            res.headers().get("allow").map(|v| v.to_str().unwrap()),
            Some(allow),
            "{method} {path}"
        );
        let p = problem(res, 405).await;
        assert!(p["detail"].as_str().unwrap().contains(allow), "{p}");
        for served in allow.split(", ") {
            let m = reqwest::Method::from_bytes(served.as_bytes()).unwrap();
            let res = super::http().request(m, &url).send().await.unwrap();
            assert_ne!(res.status().as_u16(), 405, "{served} {path} is served");
        }
    }
}

#[tokio::test]
async fn every_demo_key_answers_as_demo_keys_csv_declares() {
    let iss = IssuerProcess::start();
    assert_eq!(iss.demo_keys.len(), 22);
    let reg = registry(&iss.registry_toml);
    for k in &iss.demo_keys {
        let res = lookup(&iss, &k.certificate_number, &k.auth_key).await;
        match k.expected_outcome.as_str() {
            "verified" | "rejected" => {
                assert_eq!(res.status().as_u16(), 200, "{}", k.certificate_number);
                let body = res.bytes().await.unwrap();
                record::verify(&body, "wjcs", &number(&k.certificate_number), &reg).unwrap();
            }
            "not_found" => assert_eq!(res.status().as_u16(), 404, "{}", k.certificate_number),
            other => panic!("unexpected outcome {other}"),
        }
    }
    let amended = iss.demo_key("W2025000015");
    let body = lookup_record(&iss, &amended.certificate_number, &amended.auth_key).await;
    let rec = record::verify(&body, "wjcs", &number("W2025000015"), &reg).unwrap();
    assert_eq!(rec.certificate().revision, 3);
    for n in ["W2025000001", "W2025000020"] {
        assert!(iss.demo_dir().join(format!("notices/{n}.pdf")).is_file());
    }
}
