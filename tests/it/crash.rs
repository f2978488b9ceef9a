//! Crash safety: `serve` killed with SIGKILL while verifications are in flight, a few
//! times over, loses nothing it answered. Every verification answered 201 is there after
//! the restarts, with its audit row, and the audit chain still verifies.
//!
//! The issue asks for the release binary; `make test` must not build in release mode, so
//! this runs the debug binary the test kit uses. The property is the same: what makes a
//! 201 durable is SQLite's commit (WAL, synchronous) before the answer is sent, and the
//! optimisation level does not change when the commit happens.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kakunin_testkit::client::{item, ApiClient};
use kakunin_testkit::issuer::IssuerProcess;
use kakunin_testkit::service::{ServiceProcess, OFFICE};

/// How many times the service is killed.
const CRASHES: usize = 3;
/// Clients verifying at the same time.
const CLIENTS: usize = 6;
/// Answers to wait for in each round before the kill.
const PER_ROUND: usize = 12;

#[tokio::test]
async fn killed_with_sigkill_mid_verification_it_loses_no_answered_verification() {
    let issuer = IssuerProcess::start();
    let mut service = ServiceProcess::start(&issuer.registry_toml);
    let token = service.create_token("keiyaku", OFFICE, "verify");
    let keys = issuer.found_keys();
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));

    for round in 0..CRASHES {
        let mut clients = Vec::new();
        for c in 0..CLIENTS {
            let api = ApiClient::new(&service.base_url, Some(&token));
            let (answered, count, keys) = (answered.clone(), count.clone(), keys.clone());
            clients.push(tokio::spawn(async move {
                for i in 0.. {
                    let k = &keys[(c + i) % keys.len()];
                    let body = item(
                        &k.certificate_number,
                        &k.auth_key,
                        &format!("r{round}-{c}-{i}"),
                    );
                    let sent = api.try_post("/api/v1/verifications", &body).await;
                    // The kill ends the round: a refused or cut connection.
                    let Ok(res) = sent else { return };
                    if res.status() != 201 {
                        continue;
                    }
                    let Ok(v) = res.json::<serde_json::Value>().await else {
                        return;
                    };
                    answered
                        .lock()
                        .unwrap()
                        .push(v["id"].as_str().unwrap().to_owned());
                    count.fetch_add(1, Ordering::SeqCst);
                }
            }));
        }
        while count.load(Ordering::SeqCst) < PER_ROUND * (round + 1) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // In flight: the clients are sending as fast as they are answered.
        service.kill_and_restart();
        for c in clients {
            c.await.unwrap();
        }
    }

    let answered = answered.lock().unwrap().clone();
    assert!(answered.len() >= PER_ROUND * CRASHES);
    let reader = ApiClient::new(&service.base_url, Some(&token));
    for id in &answered {
        let res = reader.get(&format!("/api/v1/verifications/{id}")).await;
        assert_eq!(res.status(), 200, "verification {id} answered 201 is there");
    }
    let auditor = service.api("kansa", "audit");
    let audited = super::audited_verifications(&auditor, 500).await;
    for id in &answered {
        assert!(audited.contains(id), "verification {id} has its audit row");
    }
    super::assert_chain_intact(&service);
}
