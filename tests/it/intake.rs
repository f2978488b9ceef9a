//! Intake: a key notice's QR text typed by a scanner into either field, on the form and
//! in the API (`issuer-protocol.md` §7), kept out of pages, logs and the database.

use kakunin_testkit::chrome::Chrome;
use kakunin_testkit::client::problem;
use kakunin_testkit::html::Html;
use kakunin_testkit::issuer::DemoKey;
use kakunin_testkit::service::{ServiceProcess, OFFICE, PASSWORD};
use serde_json::json;

use super::{banner, start};

/// The QR text of the demo notice of `k`, as the issuer prints it (issuer id `wjcs`).
fn qr(k: &DemoKey) -> String {
    format!(
        "SURETY/1;wjcs;{};{}",
        k.certificate_number,
        k.auth_key.replace('-', "")
    )
}

/// Neither the QR text nor the key in any form reached the log or the database file.
fn assert_secret_kept(service: &ServiceProcess, k: &DemoKey) {
    let mut stored = Vec::new();
    for suffix in ["", "-wal"] {
        stored.extend(
            std::fs::read(format!("{}{suffix}", service.db_path().display())).unwrap_or_default(),
        );
    }
    let stored = String::from_utf8_lossy(&stored);
    let log = service.log();
    let canonical = k.auth_key.replace('-', "");
    for secret in [canonical.as_str(), k.auth_key.as_str(), "SURETY/1"] {
        assert!(!stored.contains(secret), "{secret} in the database");
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

#[tokio::test]
async fn the_api_verifies_qr_text_given_in_either_field() {
    let (issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let k = issuer.demo_key("W2025000001");
    let v = api
        .verify(&json!({"certificate_number": format!("{}\r\n", qr(k))}))
        .await;
    assert_eq!(v["certificate_number"], "W2025000001", "{v}");
    assert_eq!(v["outcome"], "verified", "{v}");

    let full_width: String = qr(k)
        .chars()
        .map(|c| char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap())
        .collect();
    let results = api
        .batch(&[
            json!({"certificate_number": "", "auth_key": qr(k), "ref": "a"}),
            json!({"certificate_number": k.certificate_number, "auth_key": full_width, "ref": "b"}),
        ])
        .await;
    for r in &results {
        assert_eq!(r["certificate_number"], "W2025000001", "{r}");
        assert_eq!(r["outcome"], "verified", "{r}");
    }
    assert_secret_kept(&service, k);
}

#[tokio::test]
async fn qr_text_naming_another_issuer_or_another_number_is_refused_by_field() {
    let (issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let k = issuer.demo_key("W2025000001");
    let foreign = qr(k).replace(";wjcs;", ";nise;");
    let res = api
        .post(
            "/api/v1/verifications",
            &json!({"certificate_number": foreign}),
        )
        .await;
    let p = problem(res, 422).await;
    assert_eq!(p["field"], "certificate_number", "{p}");
    assert!(p.to_string().contains("保証事業会社"), "{p}");

    let res = api
        .post(
            "/api/v1/verifications",
            &json!({"certificate_number": "W2025000002", "auth_key": qr(k)}),
        )
        .await;
    let p = problem(res, 422).await;
    assert_eq!(p["field"], "certificate_number", "{p}");
    assert!(!p.to_string().contains(&k.auth_key.replace('-', "")), "{p}");
    assert_eq!(service.count("SELECT COUNT(*) AS n FROM verifications"), 0);
    assert_secret_kept(&service, k);
}

#[tokio::test]
async fn the_form_takes_a_scan_and_never_shows_the_qr_text_again() {
    let (issuer, service) = start();
    let browser = service.officer().await;
    let k = issuer.demo_key("W2025000001");
    let scanned = format!("{}\r\n", qr(k));
    let res = browser.verify(&scanned, "", &[]).await;
    assert!(
        res.url().path().starts_with("/verifications/"),
        "{}",
        res.url()
    );
    assert_eq!(banner(&Html::of(res).await), "確認済み");

    // A scan of a forged notice: the error is on the field, the number stays, the
    // QR text (and so the key) is not sent back.
    let foreign = qr(k).replace(";wjcs;", ";nise;");
    let res = browser.verify(&foreign, "", &[]).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    let page = Html::parse(&body);
    assert!(page
        .text("#certificate_number-error")
        .contains("保証事業会社"));
    assert_eq!(
        page.attr("#certificate_number", "value").as_deref(),
        Some("W2025000001")
    );
    assert!(!body.contains("SURETY"), "QR text echoed");
    assert!(!body.contains(&k.auth_key.replace('-', "")), "key echoed");
    assert_secret_kept(&service, k);
}

#[tokio::test]
async fn a_scanner_typing_into_the_number_field_and_pressing_enter_verifies() {
    let (issuer, service) = start();
    service.add_user("officer1", "officer", OFFICE);
    let k = issuer.demo_key("W2025000001").clone();
    Chrome::start(&service.base_url)
        .await
        .run(|page| async move {
            page.goto("/login").await;
            page.fill("#login", "officer1").await;
            page.fill("#password", PASSWORD).await;
            let login = page.find("html").await;
            page.click("form[action=\"/login\"] button[type=\"submit\"]")
                .await;
            page.wait_gone(login).await;
            let form = page.find("html").await;
            // What a USB scanner sends: the QR text, then Enter (WebDriver's U+E007).
            page.fill("#certificate_number", &format!("{}\u{E007}", qr(&k)))
                .await;
            page.wait_gone(form).await;
            assert!(
                page.path().await.starts_with("/verifications/"),
                "the scan alone submits the form: at {}",
                page.path().await
            );
            page.wait_text("section.banner h1", "確認済み").await;
        })
        .await;
}
