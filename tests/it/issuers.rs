//! What the officer sees when the issuer does not simply answer with a good record: its
//! own lockout, a record the registry's key did not sign or that is not the one asked
//! for, an issuer that is down, slow or failing.

use std::time::Duration;

use kakunin_testkit::html::Html;
use kakunin_testkit::service::ServiceProcess;
use kakunin_testkit::standin::ResponseTemplate;
use kakunin_testkit::standin::StandIn;
use serde_json::json;

use super::{banner, officer};

/// The outcome page of verifying `number` with some well-formed key through a service
/// that trusts `registry`, with short issuer timeouts.
async fn verify_through(registry: &str, number: &str) -> Html {
    let service = ServiceProcess::start_with(
        registry,
        Some("[issuers]\nconnect_timeout_ms = 500\ntimeout_ms = 1500\n"),
    );
    let officer = service.officer().await;
    let (_, page) = officer.verify_page(number, "7KQ2-M9XD-H4T8-RB3N").await;
    page
}

#[tokio::test]
async fn the_issuers_own_lockout_shows_as_locked() {
    let (issuer, _service, browser) = officer().await;
    let k = issuer.demo_key("W2025000003");
    let http = reqwest::Client::new();
    for _ in 0..10 {
        http.post(issuer.lookup_url())
            .bearer_auth(&issuer.token)
            .json(&json!({"certificate_number": k.certificate_number, "auth_key": "0000000000000000"}))
            .send()
            .await
            .unwrap();
    }
    let (_, page) = browser
        .verify_page(&k.certificate_number, &k.auth_key)
        .await;
    assert_eq!(banner(&page), "ロック中", "{page}");
    assert!(page
        .text("section.banner p.detail")
        .contains("保証事業会社がこの番号の照会をロックしています"));
}

#[tokio::test]
async fn a_record_signed_with_a_key_we_do_not_trust_is_an_invalid_record() {
    let issuer = kakunin_testkit::issuer::IssuerProcess::start();
    let registry: toml::Table = issuer.registry_toml.parse().unwrap();
    let x = registry["issuer"][0]["key"][0]["x"]
        .as_str()
        .unwrap()
        .to_owned();
    // The RFC 8037 test key: valid, but not the issuer's.
    let wrong = issuer
        .registry_toml
        .replace(&x, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    let service = ServiceProcess::start(&wrong);
    let browser = service.officer().await;
    let k = issuer.demo_key("W2025000001");
    let (_, page) = browser
        .verify_page(&k.certificate_number, &k.auth_key)
        .await;
    assert_eq!(banner(&page), "不正な記録", "{page}");
    assert!(page
        .text("section.banner p.detail")
        .contains("[bad_signature]"));
    assert!(
        !page.texts("h2").iter().any(|h| h == "電子証書の内容"),
        "an invalid record's content is not shown"
    );
    assert!(!page.has("table.certificate"));
}

#[tokio::test]
async fn a_good_record_of_another_certificate_is_an_invalid_record() {
    let issuer = StandIn::start().await;
    let asked = "W2025000123";
    issuer
        .answer_record(asked, issuer.certificate("W2025000999"))
        .await;
    let page = verify_through(&issuer.registry_toml(), asked).await;
    assert_eq!(banner(&page), "不正な記録", "{page}");
    assert!(page
        .text("section.banner p.detail")
        .contains("[number_substitution]"));
    assert!(!page.has("table.certificate"));
    assert_eq!(issuer.lookups().await.len(), 1);
}

#[tokio::test]
async fn a_hanging_a_failing_or_a_stopped_issuer_is_unavailable() {
    // Accepts the lookup and answers after the total timeout has ended the wait.
    let hanging = StandIn::start().await;
    hanging.answer_all_after(404, Duration::from_secs(30)).await;
    let failing = StandIn::start().await;
    failing.answer_all(ResponseTemplate::new(503)).await;
    let stopped = StandIn::start().await;
    let stopped_registry = stopped.registry_toml();
    drop(stopped);
    for (what, registry) in [
        ("hanging", hanging.registry_toml()),
        ("failing", failing.registry_toml()),
        ("stopped", stopped_registry),
    ] {
        let page = verify_through(&registry, "W2025000001").await;
        assert_eq!(
            banner(&page),
            "保証事業会社に接続できません",
            "{what}: {page}"
        );
    }
    assert_eq!(hanging.lookups().await.len(), 1, "the service did ask");
}
