//! The staff pages in a real browser: headless Chromium (Debian's `chromium` +
//! `chromium-driver`, installed by `make test`) against the real `kakunin` and the real
//! `kakunin-issuer` on loopback ports. Screenshots go to `target/screenshots/` for
//! people to look at.

use kakunin_testkit::chrome::{Chrome, Page};
use kakunin_testkit::service::{ServiceProcess, OFFICE, PASSWORD};

use super::start;

/// Clicks a form's submit button, waits for the answer, and fails at once, with the
/// service's own message, when the answer is the error page.
async fn submit(page: &Page, button: &str) {
    page.click_and_wait(button).await;
    if page.title().await.starts_with("エラー") {
        let message = page.text("main").await;
        panic!(
            "submitting `{button}` was refused at {}:\n{message}",
            page.url().await
        );
    }
}

/// Signs in through the login form and waits for the verify form.
pub(super) async fn sign_in(page: &Page, login: &str, password: &str) {
    page.goto("/login").await;
    page.fill("#login", login).await;
    page.fill("#password", password).await;
    submit(page, "form[action=\"/login\"] button[type=\"submit\"]").await;
    page.find("#certificate_number").await;
    assert_eq!(
        page.path().await,
        "/",
        "{login} should land on the verify form"
    );
}

/// Opens Chromium on `service`, signs `login` in with the kit's password and runs
/// `scenario` on the verify form it lands on; the browser closes however it ends.
pub(super) async fn signed_in<F, Fut>(service: &ServiceProcess, login: &str, scenario: F)
where
    F: FnOnce(Page) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let login = login.to_owned();
    Chrome::start(&service.base_url)
        .await
        .run(|page| async move {
            sign_in(&page, &login, PASSWORD).await;
            scenario(page).await
        })
        .await;
}

/// Signs out with the header's ログアウト button and waits for the login form.
async fn sign_out(page: &Page) {
    submit(page, "form[action=\"/logout\"] button[type=\"submit\"]").await;
    page.find("form[action=\"/login\"]").await;
}

/// Fills the verify form as an officer types it and submits it; returns the outcome
/// page's verification id.
pub(super) async fn verify(page: &Page, number: &str, key: &str) -> String {
    page.fill("#certificate_number", number).await;
    page.fill("#auth_key", key).await;
    submit(page, "form[action=\"/verify\"] button[type=\"submit\"]").await;
    page.find("section.banner h1").await;
    let path = page.path().await;
    let id = path
        .strip_prefix("/verifications/")
        .unwrap_or_else(|| panic!("outcome page expected, at {path}"));
    id.to_owned()
}

/// The value cell of the certificate row labelled `label`.
async fn certificate_row(page: &Page, label: &str) -> String {
    let xpath =
        format!("//table[contains(@class,'certificate')]//tr[th[normalize-space()='{label}']]/td");
    page.find_xpath(&xpath)
        .await
        .text()
        .await
        .expect("row text")
}

/// `令和7年4月1日（2025-04-01）` and the like.
fn is_wareki_with_seireki(text: &str) -> bool {
    regex::Regex::new(r"^令和(元|[0-9]+)年[0-9]+月[0-9]+日（[0-9]{4}-[0-9]{2}-[0-9]{2}）$")
        .expect("regex")
        .is_match(text.trim())
}

/// A key of the right form that differs from `key` in its last symbol.
pub(super) fn mistyped(key: &str) -> String {
    let mut k = key.to_owned();
    let last = k.pop().expect("non-empty key");
    k.push(if last == '0' { '1' } else { '0' });
    k
}

#[tokio::test]
async fn an_officer_verifies_the_key_as_printed_and_opens_the_a4_print_view() {
    let (issuer, service) = start();
    service.add_user("officer1", "officer", OFFICE);
    let k = issuer.demo_key("W2025000001").clone();
    assert!(
        k.auth_key.contains('-'),
        "the demo key is printed with hyphens: {}",
        k.auth_key
    );

    signed_in(&service, "officer1", |page| async move {
        // The key exactly as printed on the notice, hyphens included.
        let id = verify(&page, &k.certificate_number, &k.auth_key).await;
        page.wait_text("section.banner h1", "確認済み").await;
        let contract_date = certificate_row(&page, "当初契約日").await;
        assert!(
            is_wareki_with_seireki(&contract_date),
            "当初契約日 in 和暦 and 西暦: {contract_date:?}"
        );
        assert_eq!(
            certificate_row(&page, "保証契約番号").await.trim(),
            k.certificate_number
        );
        assert_eq!(
            page.text("dl.meta code").await,
            id,
            "the outcome page names its verification id"
        );
        let shot = page.screenshot("outcome-verified.png").await;
        eprintln!("outcome screenshot: {}", shot.display());

        // The print view opens in a new tab for people; the test follows its link.
        let print = page.find("a[href$=\"/print\"]").await;
        assert_eq!(print.text().await.expect("link text"), "印刷用画面（A4）");
        let href = page.href("a[href$=\"/print\"]").await;
        assert!(
            href.ends_with(&format!("/verifications/{id}/print")),
            "{href}"
        );
        page.goto(&href).await;
        page.find("body.print").await;
        for (css, what) in [
            ("nav", "navigation"),
            ("header.site", "site header"),
            ("form", "forms"),
        ] {
            // (The print button is on screen only; @media print hides it.)
            assert!(
                page.all(css).await.is_empty(),
                "the print view has no {what}"
            );
        }
        let head = page.text("header.paper-head").await;
        assert!(
            head.contains(&id),
            "the print view names verification {id} at the top: {head}"
        );
        assert!(head.contains("確認日時"), "and when it was checked: {head}");
        assert!(page.text("p.print-status").await.contains("確認済み"));
        let shot = page.screenshot("print.png").await;
        eprintln!("print screenshot: {}", shot.display());
        page.back().await;
        page.wait_text("section.banner h1", "確認済み").await;
    })
    .await;
}

#[tokio::test]
async fn a_mistyped_key_shows_not_found_and_leaves_no_key_on_the_page() {
    let (issuer, service) = start();
    service.add_user("officer1", "officer", OFFICE);
    let k = issuer.demo_key("W2025000001").clone();

    signed_in(&service, "officer1", |page| async move {
        verify(&page, &k.certificate_number, &k.auth_key).await;
        page.wait_text("section.banner h1", "確認済み").await;
        page.click_and_wait("a.button[href=\"/\"]").await;

        let wrong = mistyped(&k.auth_key);
        verify(&page, &k.certificate_number, &wrong).await;
        page.wait_text("section.banner h1", "該当なし").await;
        assert!(
            page.all("table.certificate").await.is_empty(),
            "nothing of the certificate is shown"
        );
        let source = page.source().await;
        assert!(
            !source.contains(&wrong) && !source.contains(&k.auth_key),
            "no key on the page after submission"
        );
    })
    .await;
}

#[tokio::test]
async fn an_admin_creates_an_officer_who_replaces_the_password_and_verifies() {
    let (issuer, service) = start();
    service.add_user("admin1", "admin", OFFICE);
    let k = issuer.demo_key("W2025000001").clone();
    let login = "oita-taro";

    Chrome::start(&service.base_url)
        .await
        .run(|page| async move {
            // The admin creates the officer through the pages and reads the password once.
            sign_in(&page, "admin1", PASSWORD).await;
            page.click_and_wait("header nav a[href=\"/admin/users\"]")
                .await;
            page.fill("#create-user #login", login).await;
            page.fill("#create-user #name", "大分 太郎").await;
            page.select("#create-user #role", "officer").await;
            page.select("#create-user #office_code", OFFICE).await;
            submit(&page, "#create-user-submit").await;
            page.wait_text("main h1", "利用者を作成しました").await;
            let password = page.text("#one-time-secret").await.trim().to_owned();
            assert!(
                password.len() >= 12,
                "a generated password is shown once: {password:?}"
            );
            page.click_and_wait("main a[href=\"/admin/users\"]").await;
            let row = page
                .text(&format!("#users tr[data-login=\"{login}\"]"))
                .await;
            assert!(
                row.contains("大分 太郎") && row.contains("有効"),
                "the new officer is listed: {row}"
            );
            page.screenshot("admin-users.png").await;
            sign_out(&page).await;

            // The officer signs in with that password, is sent to replace it, signs in
            // again with their own and verifies once.
            page.goto("/login").await;
            page.fill("#login", login).await;
            page.fill("#password", &password).await;
            submit(&page, "form[action=\"/login\"] button[type=\"submit\"]").await;
            page.wait_text("main h1", "パスワードの変更").await;
            assert!(
                page.all("header nav").await.is_empty(),
                "nothing else is offered before the password is replaced"
            );
            let own = "oita-taro-no-himitsu";
            page.fill("#current", &password).await;
            page.fill("#new", own).await;
            page.fill("#confirm", own).await;
            submit(&page, "form[action=\"/password\"] button[type=\"submit\"]").await;
            page.wait_text(
                "main p.notice",
                "パスワードを変更しました。新しいパスワードでログインしてください。",
            )
            .await;
            sign_in(&page, login, own).await;
            let who = page.text("header .who").await;
            assert!(
                who.contains("大分 太郎") && who.contains("契約担当者"),
                "{who}"
            );
            assert!(
                page.all("header nav a[href=\"/audit\"], header nav a[href^=\"/admin\"]")
                    .await
                    .is_empty(),
                "an officer is offered neither the audit log nor the admin pages"
            );
            verify(&page, &k.certificate_number, &k.auth_key).await;
            page.wait_text("section.banner h1", "確認済み").await;
        })
        .await;
}

#[tokio::test]
async fn a_supervisor_narrows_the_audit_log_to_one_officers_verification() {
    let (issuer, service) = start();
    service.add_user("supervisor1", "supervisor", OFFICE);
    let login = "oita-taro";
    // The officer's verification, made over HTTP: this test is about the supervisor.
    let officer = service.user(login, "officer").await;
    let k = issuer.demo_key("W2025000001").clone();
    officer
        .verify(&k.certificate_number, &k.auth_key, &[])
        .await;
    let other = issuer.demo_key("W2025000002");
    officer
        .verify(&other.certificate_number, &other.auth_key, &[])
        .await;

    signed_in(&service, "supervisor1", |page| async move {
        page.click_and_wait("header nav a[href=\"/audit\"]").await;
        page.fill("#audit-filter #actor", login).await;
        page.select("#audit-filter #action", "verify").await;
        page.select("#audit-filter #outcome", "verified").await;
        page.fill("#audit-filter #number", &k.certificate_number)
            .await;
        submit(&page, "#audit-search").await;
        page.find("#audit-events").await;
        let mut texts = Vec::new();
        for r in page.all("#audit-events tbody tr[data-seq]").await {
            texts.push(r.text().await.expect("row text"));
        }
        assert_eq!(
            texts.len(),
            1,
            "exactly the officer's one verification: {texts:#?}"
        );
        let row = &texts[0];
        for expected in [
            &format!("（{login}）"),
            OFFICE,
            "照会",
            k.certificate_number.as_str(),
            "確認済み",
        ] {
            assert!(row.contains(expected), "the event shows {expected}: {row}");
        }
        page.screenshot("audit-filtered.png").await;

        // Its detail page shows the event in an intact chain.
        page.click_and_wait("#audit-events tbody tr[data-seq] a")
            .await;
        let status = page.text("#chain-status").await;
        assert!(status.contains("改ざんされていません"), "{status}");
        assert_eq!(
            page.text("#hash").await.trim().len(),
            64,
            "the SHA-256 of the row"
        );
    })
    .await;
}
