//! The service's own lock on a 保証契約番号 (`settings.lockout`) holds under concurrency:
//! whatever the mix of batch items and parallel requests, at most `not_found_limit`
//! wrong keys a window reach the issuer, and a right key that comes after the lock is
//! refused as locked.

use std::time::Duration;

use kakunin_testkit::client::item;
use kakunin_testkit::issuer::unknown_key;
use kakunin_testkit::service::ServiceProcess;
use kakunin_testkit::standin::wiremock::matchers::{body_partial_json, method, path};
use kakunin_testkit::standin::wiremock::Mock;
use kakunin_testkit::standin::{ResponseTemplate, StandIn, LOOKUP};
use serde_json::{json, Value};

const NUMBER: &str = "W2025000777";
const RIGHT_KEY: &str = "7KQ2M9XDH4T8RB3N";
/// `lockout.not_found_limit` of `config/default.toml`.
const LIMIT: usize = 5;

/// A stand-in that knows `NUMBER` under `RIGHT_KEY` and answers every other lookup
/// `not_found` after a pause, so that lookups of one number overlap unless the service
/// keeps them apart.
async fn issuer() -> StandIn {
    let issuer = StandIn::start().await;
    Mock::given(method("POST"))
        .and(path(LOOKUP))
        .and(body_partial_json(
            json!({ "certificate_number": NUMBER, "auth_key": RIGHT_KEY }),
        ))
        .respond_with(issuer.record_response(&issuer.certificate(NUMBER)))
        .with_priority(1)
        .mount(issuer.server())
        .await;
    issuer
        .answer_all(ResponseTemplate::new(404).set_delay(Duration::from_millis(50)))
        .await;
    issuer
}

/// The lookups of `NUMBER` the issuer received with a wrong key.
async fn wrong_keys_asked(issuer: &StandIn) -> usize {
    issuer
        .lookups()
        .await
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).expect("JSON lookup"))
        .filter(|b| b["certificate_number"] == NUMBER && b["auth_key"] != RIGHT_KEY)
        .count()
}

#[tokio::test]
async fn one_batch_of_many_wrong_keys_sends_at_most_the_limit() {
    let issuer = issuer().await;
    let service = ServiceProcess::start(&issuer.registry_toml());
    let api = service.api("keiyaku", "verify");
    let mut items: Vec<Value> = (0..20)
        .map(|i| item(NUMBER, &unknown_key(i), &format!("guess-{i}")))
        .collect();
    items.push(item(NUMBER, RIGHT_KEY, "right"));
    let results = api.batch(&items).await;

    assert_eq!(wrong_keys_asked(&issuer).await, LIMIT);
    let outcomes: Vec<&str> = results[..20]
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    super::assert_limit_then_locked(&outcomes, LIMIT);
    // The right key, last in the batch, came after the lock.
    assert_eq!(results[20]["outcome"], "locked", "{}", results[20]);
    let v = api.verify(&item(NUMBER, RIGHT_KEY, "after")).await;
    assert_eq!(v["outcome"], "locked", "{v}");
    assert_eq!(wrong_keys_asked(&issuer).await, LIMIT);
}

#[tokio::test]
async fn parallel_requests_with_wrong_keys_send_at_most_the_limit() {
    let issuer = issuer().await;
    let service = ServiceProcess::start(&issuer.registry_toml());
    let api = service.api("keiyaku", "verify");
    let guesses: Vec<Value> = (0..20)
        .map(|i| item(NUMBER, &unknown_key(i), &format!("guess-{i}")))
        .collect();
    let results = futures::future::join_all(guesses.iter().map(|g| api.verify(g))).await;

    assert_eq!(wrong_keys_asked(&issuer).await, LIMIT);
    assert_eq!(
        results
            .iter()
            .filter(|r| r["outcome"] == "not_found")
            .count(),
        LIMIT
    );
    assert_eq!(
        results.iter().filter(|r| r["outcome"] == "locked").count(),
        20 - LIMIT
    );
    let v = api.verify(&item(NUMBER, RIGHT_KEY, "after")).await;
    assert_eq!(v["outcome"], "locked", "{v}");
    let lockouts = service
        .api("kansa", "audit")
        .get_json("/api/v1/audit/events?action=lockout")
        .await;
    assert_eq!(
        lockouts["events"].as_array().unwrap().len(),
        1,
        "{lockouts}"
    );
}
