//! The service from the outside: the real `kakunin serve` and the real (or a stand-in)
//! issuer on loopback, started by `kakunin-testkit`, used as officers, supervisors,
//! administrators, API clients and operators use them. One test binary; a module per
//! area.

mod access;
mod accounts;
mod api;
mod audit;
mod batch;
mod batch_cli;
mod bounds;
mod browser;
mod cases;
mod crash;
mod demo;
mod demo_safety;
mod evidence;
mod exports;
mod hardening;
mod hostile;
mod intake;
mod issuers;
mod limits;
mod nodes;
mod number_lock;
mod officers_day;
mod openapi;
mod operator;
mod pages;
mod paper;
mod security;
mod tls;
mod vocabulary;

use std::collections::BTreeSet;

use kakunin_testkit::client::{ApiClient, Browser};
use kakunin_testkit::html::{text_of, Html};
use kakunin_testkit::issuer::{DemoKey, IssuerProcess};
use kakunin_testkit::service::ServiceProcess;
use serde_json::Value;

/// An issuer with the demo data and a service trusting it.
fn start() -> (IssuerProcess, ServiceProcess) {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start(&issuer.registry_toml);
    (issuer, service)
}

/// An issuer with the demo data, a service trusting it, and its officer signed in.
async fn officer() -> (IssuerProcess, ServiceProcess, Browser) {
    let (issuer, service) = start();
    let browser = service.officer().await;
    (issuer, service, browser)
}

/// [`start`], then one verification of W2025000001 (確認済み) through the API by the
/// verify client `keiyaku`: the client and the answer.
async fn one_verification() -> (IssuerProcess, ServiceProcess, ApiClient, Value) {
    let (issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let k = issuer.demo_key("W2025000001");
    let v = api
        .verify(&kakunin_testkit::client::item(
            &k.certificate_number,
            &k.auth_key,
            "r-1",
        ))
        .await;
    (issuer, service, api, v)
}

/// The outcome an outcome page announces (`確認済み`, `不適合`, `該当なし`, …).
fn banner(page: &Html) -> String {
    page.text("section.banner h1")
}

/// The status (`pass`, `warn`, `fail`) of rule `id` in an outcome page's rule table.
fn rule_status(page: &Html, id: &str) -> Option<String> {
    // The rule id is no text a person reads: the row carries it as `data-rule`.
    let row = page
        .all(&format!("table.rules tbody tr[data-rule=\"{id}\"]"))
        .into_iter()
        .next()?;
    let class = row.value().attr("class")?;
    class.strip_prefix("rule-").map(str::to_owned)
}

/// The texts of the cells in column `n` (1-based) of the rows of `table`'s body.
fn column(page: &Html, table: &str, n: usize) -> Vec<String> {
    page.all(&format!("{table} tbody tr td:nth-child({n})"))
        .into_iter()
        .map(text_of)
        .collect()
}

/// Asserts the service's problem+json (see the kit's) with a Japanese title.
async fn problem(res: reqwest::Response, status: u16) -> Value {
    let p = kakunin_testkit::client::problem(res, status).await;
    let title = p["title"].as_str().unwrap_or_default();
    assert!(
        title.chars().any(|c| c > '\u{3000}'),
        "Japanese title in {p}"
    );
    p
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

/// A demo row's expected outcome and rules, checked against an API answer.
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

/// The verification ids named by the office's `verify` audit events, read in one page
/// of up to `limit` that must hold them all.
async fn audited_verifications(auditor: &ApiClient, limit: usize) -> BTreeSet<String> {
    let page = auditor
        .get_json(&format!("/api/v1/audit/events?action=verify&limit={limit}"))
        .await;
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

/// Asserts that of `outcomes`, a number's wrong keys however they were sent, exactly
/// `limit` reached the issuer (`not_found`) and every other one met the lock.
fn assert_limit_then_locked(outcomes: &[&str], limit: usize) {
    let count = |wanted: &str| outcomes.iter().filter(|o| **o == wanted).count();
    assert_eq!(count("not_found"), limit, "{outcomes:?}");
    assert_eq!(count("locked"), outcomes.len() - limit, "{outcomes:?}");
}

/// Asserts that `kakunin audit verify` finds the chain intact.
fn assert_chain_intact(service: &ServiceProcess) {
    kakunin_testkit::process::assert_exit(&service.cli(&["audit", "verify"]), 0);
}

/// Asserts that `page` says each `(field, says)` at `#{field}-error`: every mistake of
/// one submission named at its own field.
fn assert_field_errors(page: &Html, expected: &[(&str, &str)]) {
    for (field, says) in expected {
        assert!(
            page.text(&format!("#{field}-error")).contains(says),
            "{field}: {page}"
        );
    }
}

/// A service whose sign-in throttle refuses after three failures in 15 minutes.
fn with_three_sign_in_failures_allowed() -> ServiceProcess {
    ServiceProcess::start_with(
        "",
        Some("[signin]\nmax_failures = 3\nwindow_minutes = 15\n"),
    )
}
