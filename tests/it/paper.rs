//! Paper that can be checked (issue K8): the QR code of the printed verification, read
//! back from the PDF Chromium prints, leads to that verification at the check page of
//! its own office and nowhere else; a tampered digest does not match; later revisions
//! and cancellations seen since are named. And `kakunin evidence verify` names the rule
//! that today's profile judges differently.

use std::path::Path;
use std::process::Command;

use kakunin_testkit::chrome::Chrome;
use kakunin_testkit::client::Browser;
use kakunin_testkit::html::Html;
use kakunin_testkit::process::{stderr, stdout};
use kakunin_testkit::service::{ServiceProcess, OFFICE, OTHER_OFFICE, PASSWORD};
use serde_json::json;

use super::start;

/// The QR texts on the first page of `pdf`: rendered to PNG at 300 dpi by poppler's
/// `pdftoppm`, decoded by zbar's `zbarimg` (both from scripts/install-test-deps.sh).
fn qr_texts_of_pdf(pdf: &[u8], dir: &Path) -> Vec<String> {
    let file = dir.join("printed.pdf");
    std::fs::write(&file, pdf).unwrap();
    let png = dir.join("printed");
    let out = Command::new("pdftoppm")
        .args(["-r", "300", "-png", "-f", "1", "-singlefile"])
        .arg(&file)
        .arg(&png)
        .output()
        .expect("pdftoppm (scripts/install-test-deps.sh installs poppler-utils)");
    assert!(out.status.success(), "pdftoppm: {}", stderr(&out));
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(dir.join("printed.png"))
        .output()
        .expect("zbarimg (scripts/install-test-deps.sh installs zbar-tools)");
    assert!(
        out.status.success(),
        "no QR code on the page: {}",
        stderr(&out)
    );
    stdout(&out)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Posts `text` at the check page as `who` would, typing or scanning it.
async fn check(who: &Browser, text: &str) -> Html {
    let res = who.submit("/check", "/check", &[("paper", text)]).await;
    assert_eq!(res.status(), 200, "{text}");
    Html::of(res).await
}

fn answer(page: &Html) -> String {
    page.attr("#paper-result", "data-paper")
        .unwrap_or_else(|| panic!("a result on the check page:\n{page}"))
}

#[tokio::test]
async fn the_printed_qr_leads_back_to_its_verification_in_its_own_office_only() {
    let (issuer, service) = start();
    service.add_user("officer1", "officer", OFFICE);
    service.add_user("officer-b", "officer", OTHER_OFFICE);
    // The longest certificate of the demo, so the page with its QR must still fit A4.
    let k = issuer.demo_key("W2025000015").clone();
    let dir = service.dir().to_owned();
    let typed = k.clone();

    let (tx, rx) = tokio::sync::oneshot::channel();
    Chrome::start(&service.base_url)
        .await
        .run(|page| async move {
            super::browser::sign_in(&page, "officer1", PASSWORD).await;
            let id =
                super::browser::verify(&page, &typed.certificate_number, &typed.auth_key).await;
            assert!(
                page.find("#evidence-download")
                    .await
                    .attr("download")
                    .await
                    .unwrap()
                    .is_some(),
                "the outcome page offers the evidence bundle"
            );
            page.goto(&format!("/verifications/{id}/print")).await;
            page.find("#evidence figure.paper-qr svg").await;
            let pdf = page.print_pdf(21.0, 29.7).await;
            let texts = qr_texts_of_pdf(&pdf, &dir);
            assert_eq!(texts.len(), 1, "one QR code on the page: {texts:?}");
            let text = texts[0].clone();
            let prefix = format!("KAKUNIN-RECEIPT/1;{id};");
            assert!(text.starts_with(&prefix), "{text}");
            assert_eq!(text.len(), prefix.len() + 43, "a base64url SHA-256: {text}");
            let printed = String::from_utf8_lossy(
                &Command::new("pdftotext")
                    .arg(dir.join("printed.pdf"))
                    .arg("-")
                    .output()
                    .expect("pdftotext")
                    .stdout,
            )
            .into_owned();
            assert!(printed.contains(&id), "the id in text beside the QR");
            let pages = Command::new("pdfinfo")
                .arg(dir.join("printed.pdf"))
                .output()
                .expect("pdfinfo");
            assert!(
                String::from_utf8_lossy(&pages.stdout)
                    .lines()
                    .any(|l| l.starts_with("Pages:") && l.ends_with(" 1")),
                "still one A4 page"
            );

            // The scanned text, typed into the check page by a scanner.
            page.goto("/").await;
            page.click_and_wait("header.site nav a[href=\"/check\"]")
                .await;
            page.fill("#paper", &text).await;
            page.click_and_wait("form[action=\"/check\"] button[type=\"submit\"]")
                .await;
            let result = page.find("#paper-result").await;
            assert_eq!(
                result.attr("data-paper").await.unwrap().as_deref(),
                Some("match")
            );
            assert!(page.text("main").await.contains(&id));
            assert!(page.find("#since-none").await.text().await.is_ok());
            let findings = page.axe_serious().await;
            assert!(
                findings.is_empty(),
                "the result page passes axe: {findings:#?}"
            );
            tx.send((id, text)).unwrap();
        })
        .await;
    let (id, text) = rx.await.unwrap();

    // The paper matches the digest of the receipt the API gives for it.
    let api = service.api("keiyaku", "verify");
    let bundle = api
        .get_json(&format!("/api/v1/verifications/{id}/evidence"))
        .await;
    let digest = {
        use base64::Engine as _;
        use sha2::Digest as _;
        let receipt = bundle["receipt"].as_str().unwrap();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(receipt))
    };
    assert!(text.ends_with(&digest), "{text} vs {digest}");

    let own = service.sign_in("officer1").await;
    // A paper whose digest was altered does not match.
    let mut tampered = text.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let page = check(&own, &tampered).await;
    assert_eq!(answer(&page), "mismatch", "{page}");
    assert!(page.text("#paper-result").contains("一致しません"));
    // The id alone finds it, without a verdict on the paper.
    let page = check(&own, &id.to_lowercase()).await;
    assert_eq!(answer(&page), "id_only", "{page}");

    // Another office's officer learns nothing: the very answer an unknown id gets.
    let other = service.sign_in("officer-b").await;
    let page = check(&other, &text).await;
    assert_eq!(answer(&page), "none", "{page}");
    let unknown_id = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    let unknown = check(&other, &format!("KAKUNIN-RECEIPT/1;{unknown_id};{digest}")).await;
    assert_eq!(
        page.text("#paper-result").replace(&id, "ID"),
        unknown.text("#paper-result").replace(unknown_id, "ID"),
    );
    assert!(!page.source().contains(&k.certificate_number));

    // An issuer's notice scanned here by mistake is refused without echoing its key.
    let notice = format!("SURETY/1;wjcs;{};{}", k.certificate_number, k.auth_key);
    let res = own.submit("/check", "/check", &[("paper", &notice)]).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("お知らせのQRコード"), "{body}");
    assert!(!body.contains(&k.auth_key), "the key is never echoed");

    // Every lookup is in the audit log, a miss as denied, with whether the paper matched.
    let rows = kakunin_testkit::sql::texts(
        &mut service.db(),
        "SELECT outcome || ' ' || detail AS t FROM audit_events \
         WHERE action = 'verification.check' ORDER BY seq",
    )
    .join("|");
    assert_eq!(
        rows.split('|').collect::<Vec<_>>(),
        [
            format!("verified verification={id} paper=match"),
            format!("verified verification={id} paper=mismatch"),
            format!("verified verification={id} paper=id_only"),
            "denied other_office".to_owned(),
            "denied no_such_id".to_owned(),
        ]
    );
}

#[tokio::test]
async fn the_check_page_names_a_newer_revision_and_a_cancellation_seen_since() {
    let (issuer, service) = start();
    let officer = service.officer().await;
    let k = issuer.demo_key("W2025000001").clone();
    let (first, _) = officer
        .verify_page(&k.certificate_number, &k.auth_key)
        .await;
    issuer.amend(
        &k.certificate_number,
        &json!({"guarantee": {"amount_yen": 99_000_000}, "summary": "保証金額の変更"}),
    );
    let (second, _) = officer
        .verify_page(&k.certificate_number, &k.auth_key)
        .await;

    let page = check(&officer, &first).await;
    assert!(page.has("#since-newer"), "{page}");
    assert!(page.text("#since-newer").contains("第2版"), "{page}");
    assert!(page.text("#since-newer").contains(&second));
    assert!(!page.has("#since-cancelled"));

    let out = issuer.cli(&["cancel", &k.certificate_number]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (third, _) = officer
        .verify_page(&k.certificate_number, &k.auth_key)
        .await;
    let page = check(&officer, &first).await;
    assert!(page.text("#since-newer").contains("第3版"), "{page}");
    assert!(page.text("#since-cancelled").contains(&third), "{page}");
    // The newest paper has nothing newer.
    let page = check(&officer, &third).await;
    assert!(page.has("#since-none"), "{page}");
}

/// `kakunin evidence verify ID` with a profile changed since the verification: the
/// evidence still holds (exit 1, not 2) and the output names the rule.
#[tokio::test]
async fn evidence_verify_exits_1_and_names_the_rule_today_judges_differently() {
    let (_issuer, service, _api, v) = super::one_verification().await;
    assert_eq!(v["outcome"], "verified", "{v}");
    let id = v["id"].as_str().unwrap();

    let run = |service: &ServiceProcess, config: Option<&Path>| {
        let mut cmd = service.command();
        if let Some(c) = config {
            cmd.env("KAKUNIN_CONFIG", c);
        }
        let out = cmd.args(["evidence", "verify", id]).output().unwrap();
        (
            out.status.code(),
            format!("{}{}", stdout(&out), stderr(&out)),
        )
    };
    let (code, text) = run(&service, None);
    assert_eq!(code, Some(0), "{text}");

    // The prefecture's profile, changed: its agencies are now another prefecture's.
    let root = kakunin_testkit::bins::workspace_root();
    let profile = std::fs::read_to_string(root.join("config/profiles/oita.toml")).unwrap();
    assert!(profile.contains("orderer_prefix = \"大分県\""));
    let profiles = service.dir().join("profiles-now");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(
        profiles.join("oita.toml"),
        profile.replace("orderer_prefix = \"大分県\"", "orderer_prefix = \"福岡県\""),
    )
    .unwrap();
    let config = service.dir().join("profiles-now.toml");
    std::fs::write(
        &config,
        format!(
            "[rules]\nprofiles_dir = {:?}\n",
            profiles.display().to_string()
        ),
    )
    .unwrap();
    let (code, text) = run(&service, Some(&config));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("【要確認】"), "{text}");
    assert!(
        text.contains("発注者（orderer）: 適合 → 不適合"),
        "the rule is named: {text}"
    );
    // What was judged then still holds: the receipt and the record are valid.
    assert!(text.contains("当時のルール"), "{text}");
}
