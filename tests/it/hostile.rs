//! A hostile issuer: one that hangs, trickles its body, sends 5 MiB, redirects, fails,
//! answers HTML, invalid UTF-8, JSON nested 10 000 deep, a well-signed record of another
//! number or a deeply nested one, or bytes that are not HTTP. Each lookup ends with its
//! outcome of `service.md` within the configured timeout, while a verification of a
//! good record, sent at the same time, still verifies.

use std::time::{Duration, Instant};

use kakunin_testkit::client::{item, ApiClient};
use kakunin_testkit::raw::{Misbehaviour, RawIssuer};
use kakunin_testkit::service::ServiceProcess;
use kakunin_testkit::standin::{ResponseTemplate, StandIn};
use serde_json::{json, Value};

/// The lookup timeout the service is given here (milliseconds).
const TIMEOUT_MS: u64 = 1500;

/// A JSON text nested `depth` arrays deep.
fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// Posts one verification and gives its status and body.
async fn verify(api: &ApiClient, number: &str) -> (u16, Value) {
    let res = api
        .post(
            "/api/v1/verifications",
            &item(number, "7KQ2-M9XD-H4T8-RB3N", "hostile"),
        )
        .await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_hostile_answer_ends_as_its_outcome_while_a_good_one_still_verifies() {
    let issuer = StandIn::start().await;
    // Where a redirect points: it must never see the auth key.
    let elsewhere = StandIn::start().await;
    elsewhere.answer_all(ResponseTemplate::new(200)).await;
    let trickle = RawIssuer::start(Misbehaviour::Trickle {
        every: Duration::from_millis(100),
    })
    .await;
    let not_http = RawIssuer::start(Misbehaviour::NotHttp).await;

    let good = "W2025000123";
    issuer.answer_record(good, issuer.certificate(good)).await;
    let mut other = issuer.certificate("W2025000999");
    other["issuer"]["id"] = json!(kakunin_testkit::standin::ISSUER_ID);
    // A valid signature over a payload whose text nests 10 000 deep.
    let deep_text = format!(
        "{{\"certificate_number\":\"W2025000108\",\"x\":{}}}",
        nested(10_000)
    );
    let hostile: Vec<(&str, ResponseTemplate, &str)> = vec![
        (
            "W2025000101",
            ResponseTemplate::new(404).set_delay(Duration::from_secs(60)),
            "issuer_unavailable",
        ),
        (
            "W2025000102",
            ResponseTemplate::new(200)
                .set_body_raw(vec![b'a'; 5 * 1024 * 1024], "application/jose+json"),
            "invalid_record",
        ),
        (
            "W2025000103",
            ResponseTemplate::new(307).insert_header(
                "location",
                format!("{}/v1/certificates/lookup", elsewhere.base_url()).as_str(),
            ),
            "issuer_unavailable",
        ),
        (
            "W2025000104",
            ResponseTemplate::new(500).set_body_string("Internal Server Error"),
            "issuer_unavailable",
        ),
        (
            "W2025000105",
            ResponseTemplate::new(200)
                .set_body_raw("<html><body>メンテナンス中</body></html>", "text/html"),
            "invalid_record",
        ),
        (
            "W2025000106",
            ResponseTemplate::new(200).set_body_raw(
                b"\xff\xfe\xc3\x28{\"payload\":\"\xa0\xa1\"}".to_vec(),
                "application/jose+json",
            ),
            "invalid_record",
        ),
        (
            "W2025000107",
            ResponseTemplate::new(200).set_body_raw(nested(10_000), "application/jose+json"),
            "invalid_record",
        ),
        (
            "W2025000108",
            ResponseTemplate::new(200).set_body_raw(
                kakunin_protocol::jws::sign(
                    deep_text.as_bytes(),
                    kakunin_testkit::standin::KID,
                    issuer.signing_key(),
                ),
                "application/jose+json",
            ),
            "invalid_record",
        ),
        (
            "W2025000109",
            issuer.record_response(&other),
            "invalid_record",
        ),
    ];
    let mut expected = Vec::new();
    for (number, response, outcome) in hostile {
        issuer.answer_number(number, response).await;
        expected.push((number.to_owned(), outcome));
    }
    expected.push(("S2025000001".into(), "issuer_unavailable"));
    expected.push(("N2025000001".into(), "issuer_unavailable"));

    let registry = format!(
        "{}\n{}\n{}",
        issuer.registry_toml(),
        issuer.issuer_block("trickle", &trickle.base_url(), "^S[0-9]{10}$"),
        issuer.issuer_block("nothttp", &not_http.base_url(), "^N[0-9]{10}$"),
    );
    let service = ServiceProcess::start_with(
        &registry,
        Some(format!("[issuers]\nconnect_timeout_ms = 500\ntimeout_ms = {TIMEOUT_MS}\n").as_str()),
    );
    let api = service.api("keiyaku", "verify");

    let started = Instant::now();
    let hostile = futures::future::join_all(expected.iter().map(|(n, _)| verify(&api, n)));
    // The good verification starts once the hostile ones hold their issuer calls.
    let healthy = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        verify(&api, good).await
    };
    let (answers, (status, healthy)) = tokio::join!(hostile, healthy);
    let took = started.elapsed();

    assert_eq!(status, 201, "{healthy}");
    assert_eq!(healthy["outcome"], "verified", "{healthy}");
    for ((number, outcome), (status, v)) in expected.iter().zip(&answers) {
        assert_eq!(*status, 201, "{number}: {v}");
        assert_eq!(v["outcome"], *outcome, "{number}: {v}");
        assert!(v["certificate"].is_null(), "{number}: no content shown");
    }
    // Every lookup ended by the service's own timeout, not by the issuer (which would
    // have held on for a minute or, trickling, for 10 000 seconds): a bound far above
    // the 1.5 s timeout, far below what the issuers would have taken.
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(
        elsewhere.lookups().await.is_empty(),
        "the redirect was not followed, so the key went nowhere else"
    );
    assert_eq!(trickle.accepted(), 1);
    assert_eq!(not_http.accepted(), 1);
    super::assert_chain_intact(&service);
}

/// An issuer that answers with an older revision than the office saw before (a restore
/// from backup, or a replay): the record is the issuer's own and signed, so it is judged
/// on its merits, but the outcome page puts the step back in front of the officer.
#[tokio::test]
async fn an_older_revision_than_the_office_saw_is_shown_as_a_step_back() {
    let issuer = StandIn::start().await;
    let number = "W2025000110";
    let mut newer = issuer.certificate(number);
    newer["revision"] = json!(2);
    issuer.answer_record(number, newer).await;
    let service = ServiceProcess::start(&issuer.registry_toml());
    let officer = service.officer().await;
    let (_, first) = officer.verify_page(number, "7KQ2-M9XD-H4T8-RB3N").await;
    assert_eq!(super::banner(&first), "確認済み", "{first}");

    issuer.server().reset().await;
    issuer
        .answer_record(number, issuer.certificate(number))
        .await;
    let (_, page) = officer.verify_page(number, "7KQ2-M9XD-H4T8-RB3N").await;
    let row = page
        .all("table.diff tbody tr")
        .into_iter()
        .map(kakunin_testkit::html::text_of)
        .find(|r| r.starts_with('版'))
        .unwrap_or_else(|| panic!("a 版 row in the changes: {page}"));
    assert!(
        row.contains("第2版") && row.contains("第1版"),
        "the step back from 第2版 to 第1版: {row}"
    );
}
