//! The contractor's pages: sign-in, the list and the printable certificate,
//! 「認証キー」の表示 with its notice, and the separate, confirmed re-issue of a key.

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
    assert_eq!(page.text("#show-key"), "「認証キー」の表示");
    assert_eq!(
        page.attr("#rekey", "href").as_deref(),
        Some("/certificates/W2025000105/rekey")
    );
    assert_eq!(
        page.row("当初契約日").as_deref(),
        Some("令和7年10月1日（2025-10-01）")
    );
    assert_eq!(page.row("保証金額").as_deref(), Some("5,500,000円"));
}

/// The key a notice PDF prints.
fn key_in_notice(iss: &IssuerProcess, pdf: &[u8]) -> String {
    assert!(pdf.starts_with(b"%PDF"));
    let path = iss.dir().join("notice-from-page.pdf");
    std::fs::write(&path, pdf).unwrap();
    let text = pdf_text(&path);
    regex::Regex::new("[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")
        .unwrap()
        .find(&text)
        .expect("key in the notice")
        .as_str()
        .to_owned()
}

#[tokio::test]
async fn showing_the_key_shows_the_key_in_force_and_its_notice_changes_nothing() {
    let iss = IssuerProcess::start();
    let b = contractor(&iss, "bungo", "bungo-demo-pass").await;
    let k = iss.demo_key("W2025000001").clone();
    let page = b.page("/certificates/W2025000001/key").await;
    assert_eq!(page.text("#auth-key"), k.auth_key, "the key handed out");
    let res = b
        .submit(
            "/certificates/W2025000001/key",
            "/certificates/W2025000001/notice",
            &[],
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(content_type(res.headers()), "application/pdf");
    let pdf = res.bytes().await.unwrap();
    assert_eq!(key_in_notice(&iss, &pdf), k.auth_key, "the same key again");
    assert_eq!(
        lookup_status(&iss, "W2025000001", &k.auth_key).await,
        200,
        "the notice already handed in still works"
    );
    // Someone else's certificate shows nothing.
    let res = b.get("/certificates/W2025000004/key").await;
    assert_eq!(res.status().as_u16(), 404);
}

#[tokio::test]
async fn re_issuing_a_key_is_a_confirmed_post_that_voids_the_notice_handed_in() {
    let iss = IssuerProcess::start();
    let b = contractor(&iss, "bungo", "bungo-demo-pass").await;
    let old = iss.demo_key("W2025000001").clone();
    // The confirmation page says what re-issuing voids; opening it changes nothing.
    let confirm = b.page("/certificates/W2025000001/rekey").await;
    assert!(
        confirm
            .text("p.notice")
            .contains("既に発注機関へ提出したものを含む"),
        "{}",
        confirm.text("p.notice")
    );
    assert_eq!(
        confirm
            .attr("form[action=\"/certificates/W2025000001/rekey\"]", "method")
            .as_deref(),
        Some("post")
    );
    assert_eq!(lookup_status(&iss, "W2025000001", &old.auth_key).await, 200);
    // Without the form's token: refused, nothing changes.
    let res = b
        .post("/certificates/W2025000001/rekey", &[("csrf", "forged")])
        .await;
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(lookup_status(&iss, "W2025000001", &old.auth_key).await, 200);

    let res = b
        .submit(
            "/certificates/W2025000001/rekey",
            "/certificates/W2025000001/rekey",
            &[],
        )
        .await;
    assert_eq!(res.status().as_u16(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(to, "/certificates/W2025000001/key?reissued=1");
    let page = b.page(&to).await;
    assert!(page.text("p.notice").contains("認証キーを再発行しました"));
    let new_key = page.text("#auth-key");
    assert_ne!(new_key, old.auth_key);
    assert_eq!(lookup_status(&iss, "W2025000001", &new_key).await, 200);
    assert_eq!(lookup_status(&iss, "W2025000001", &old.auth_key).await, 404);
    let res = b.submit(&to, "/certificates/W2025000001/notice", &[]).await;
    assert_eq!(key_in_notice(&iss, &res.bytes().await.unwrap()), new_key);
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
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(
        Html::of(res).await.text("p.error"),
        "ログインIDまたはパスワードが違います。"
    );
}

/// A sign-in sent with a field left empty names that field, keeps the login typed
/// (never the password) and is no failed attempt: five of them in a row do not lock
/// the contractor out.
#[tokio::test]
async fn an_empty_sign_in_field_is_named_and_not_counted_as_a_failure() {
    let iss = IssuerProcess::start();
    let b = Browser::without_redirects(&iss.base_url);
    let res = b
        .submit("/login", "/login", &[("login", ""), ("password", "")])
        .await;
    assert_eq!(res.status().as_u16(), 422);
    let page = Html::of(res).await;
    assert_eq!(
        page.text("#login-error"),
        "ログインIDが入力されていません。"
    );
    assert_eq!(
        page.text("#password-error"),
        "パスワードが入力されていません。"
    );
    assert_eq!(
        page.attr("#login", "aria-describedby").as_deref(),
        Some("login-error")
    );
    assert!(!page.body().contains("違います"), "{page}");
    for _ in 0..6 {
        let res = b
            .submit("/login", "/login", &[("login", "bungo"), ("password", "")])
            .await;
        assert_eq!(res.status().as_u16(), 422);
        let page = Html::of(res).await;
        assert_eq!(
            page.text("#password-error"),
            "パスワードが入力されていません。"
        );
        assert!(!page.has("#login-error"), "{page}");
        assert_eq!(page.field("login").as_deref(), Some("bungo"));
    }
    let res = b
        .submit(
            "/login",
            "/login",
            &[("login", " "), ("password", "bungo-demo-pass")],
        )
        .await;
    assert_eq!(res.status().as_u16(), 422);
    let page = Html::of(res).await;
    assert_eq!(
        page.text("#login-error"),
        "ログインIDが入力されていません。"
    );
    assert!(
        !page.source().contains("bungo-demo-pass"),
        "never the password"
    );
    let res = b.sign_in("bungo", "bungo-demo-pass").await;
    assert_eq!(res.status().as_u16(), 303, "not throttled by empty tries");
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
