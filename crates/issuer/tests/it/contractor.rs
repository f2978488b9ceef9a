//! The contractor's pages: sign-in, the list and the printable certificate, and the
//! 「認証キー」の表示 button that issues a new key notice.

use kakunin_testkit::client::{content_type, Browser};
use kakunin_testkit::html::Html;
use kakunin_testkit::issuer::IssuerProcess;

use super::{issue, issue_file, lookup_status, pdf_text};

const TITLE: &str = "<script>alert(\"x\")</script>県道改良工事";

/// An issuer where contractor `bungo` also holds W2025000105, whose title is markup.
fn issuer_with_a_markup_title() -> IssuerProcess {
    let iss = IssuerProcess::start();
    let file = issue_file(iss.dir(), "W2025000105", TITLE);
    let notice = iss.dir().join("x.pdf");
    issue(
        &iss,
        &file,
        &[
            "--contractor",
            "bungo",
            "--notice-out",
            notice.to_str().unwrap(),
        ],
    );
    iss
}

/// A browser that sees each redirect, signed in as the demo contractor `login`.
async fn contractor(iss: &IssuerProcess, login: &str, password: &str) -> Browser {
    let b = Browser::without_redirects(&iss.base_url);
    let res = b.sign_in(login, password).await;
    assert_eq!(res.status().as_u16(), 303, "{login} signs in");
    b
}

#[tokio::test]
async fn the_pages_need_a_sign_in_whose_cookie_is_http_only_and_same_site_strict() {
    let iss = IssuerProcess::start();
    let b = Browser::without_redirects(&iss.base_url);
    assert_eq!(
        b.get("/certificates").await.status().as_u16(),
        303,
        "sign-in required"
    );
    let res = b.sign_in("bungo", "bungo-demo-pass").await;
    assert_eq!(res.status().as_u16(), 303);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("kakunin_issuer_session="))
        .expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert_eq!(b.get("/certificates").await.status().as_u16(), 200);
}

#[tokio::test]
async fn a_contractor_sees_only_their_own_certificates() {
    let iss = issuer_with_a_markup_title();
    let b = contractor(&iss, "bungo", "bungo-demo-pass").await;
    let list = b.page("/certificates").await;
    let numbers = list.texts("tbody tr td:first-child a");
    for own in ["W2025000001", "W2025000105"] {
        assert!(numbers.iter().any(|n| n == own), "{own} in {numbers:?}");
    }
    assert!(
        !numbers.iter().any(|n| n == "W2025000004"),
        "another contractor's certificate is not listed: {numbers:?}"
    );
    assert!(!list.source().contains("W2025000004"));
    assert_eq!(
        b.get("/certificates/W2025000004").await.status().as_u16(),
        404
    );
}

#[tokio::test]
async fn a_certificate_prints_on_a4_with_wareki_yen_and_markup_shown_as_text() {
    let iss = issuer_with_a_markup_title();
    let b = contractor(&iss, "bungo", "bungo-demo-pass").await;
    let page = b.page("/certificates/W2025000105").await;
    assert_eq!(
        page.row("工事名／業務名").as_deref(),
        Some(TITLE),
        "as text"
    );
    assert!(!page.source().contains("<script>alert"), "never raw");
    assert!(
        page.texts("script").iter().all(|s| !s.contains("alert")),
        "no script runs it"
    );
    assert!(
        page.source().contains(r#"href="/static/issuer.css""#),
        "the style sheet is linked, not inline (the CSP forbids inline style)"
    );
    let css = b.text("/static/issuer.css").await;
    assert!(css.contains("@page") && css.contains("size: A4"), "{css}");
    assert!(page
        .text("p.notice")
        .contains("新しい認証キーを発行します。以前のお知らせは使えなくなります。"));
    assert_eq!(
        page.row("当初契約日").as_deref(),
        Some("令和7年10月1日（2025-10-01）")
    );
    assert_eq!(page.row("保証金額").as_deref(), Some("5,500,000円"));
}

#[tokio::test]
async fn the_key_notice_button_issues_a_new_key_and_the_old_one_stops_working() {
    let iss = IssuerProcess::start();
    let b = contractor(&iss, "bungo", "bungo-demo-pass").await;
    let old = iss.demo_key("W2025000001").clone();
    let res = b
        .submit(
            "/certificates/W2025000001",
            "/certificates/W2025000001/notice",
            &[],
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(content_type(res.headers()), "application/pdf");
    let pdf = res.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let path = iss.dir().join("new-notice.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let text = pdf_text(&path);
    let new_key = regex::Regex::new("[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")
        .unwrap()
        .find(&text)
        .expect("key in the notice")
        .as_str()
        .to_owned();
    assert_eq!(lookup_status(&iss, "W2025000001", &new_key).await, 200);
    assert_eq!(lookup_status(&iss, "W2025000001", &old.auth_key).await, 404);
}

#[tokio::test]
async fn sign_in_needs_the_forms_csrf_token_and_the_right_password() {
    let iss = IssuerProcess::start();
    let b = Browser::without_redirects(&iss.base_url);
    let csrf = b.csrf("/login").await;
    let forged = [
        ("login", "bungo"),
        ("password", "bungo-demo-pass"),
        ("csrf", "forged"),
    ];
    assert_eq!(b.post("/login", &forged).await.status().as_u16(), 403);
    let wrong = [
        ("login", "bungo"),
        ("password", "wrong"),
        ("csrf", csrf.as_str()),
    ];
    let res = b.post("/login", &wrong).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        Html::of(res).await.text("p.error"),
        "ログインIDまたはパスワードが違います。"
    );
}

#[tokio::test]
async fn a_key_notice_request_without_the_csrf_token_changes_nothing() {
    let iss = IssuerProcess::start();
    let b = contractor(&iss, "yufu", "yufu-demo-pass").await;
    let res = b
        .post("/certificates/W2025000004/notice", &[("csrf", "forged")])
        .await;
    assert_eq!(res.status().as_u16(), 403);
    let k = iss.demo_key("W2025000004");
    assert_eq!(
        lookup_status(&iss, &k.certificate_number, &k.auth_key).await,
        200,
        "key unchanged"
    );
}
