//! What keeps officers' data and keys safe: sessions, CSRF and Origin checks, office
//! boundaries, escaping, and the auth key kept out of every page, table and log.

use kakunin_testkit::client::Browser;
use kakunin_testkit::html::Html;
use kakunin_testkit::process::{stderr, stdout};
use kakunin_testkit::service::{ServiceProcess, OTHER_OFFICE, PASSWORD};
use kakunin_testkit::standin::StandIn;
use serde_json::json;

use super::{banner, column, officer, start};

#[tokio::test]
async fn the_auth_key_appears_in_no_table_log_or_page() {
    let (issuer, service, browser) = officer().await;
    let k = issuer.demo_key("W2025000001");
    let res = browser
        .verify(&k.certificate_number, &k.auth_key, &[])
        .await;
    let id = kakunin_testkit::client::verification_id(&res);
    let mut pages = res.text().await.unwrap();
    pages += &browser.text(&format!("/verifications/{id}/print")).await;
    pages += &browser.text("/verifications").await;
    pages += &browser.text(&format!("/verifications/{id}/reverify")).await;
    browser
        .verify(&k.certificate_number, &k.auth_key.replace('-', ""), &[])
        .await;
    let canonical = k.auth_key.replace('-', "");
    let stored = service.stored_text();
    for form in [canonical.as_str(), k.auth_key.as_str()] {
        assert!(!pages.contains(form), "key on a page");
        assert!(!stored.contains(form), "key in the database");
        assert!(!service.log().contains(form), "key in the log");
    }
}

#[tokio::test]
async fn posts_without_the_sessions_csrf_token_are_refused() {
    let (issuer, service, browser) = officer().await;
    let k = issuer.demo_key("W2025000001");
    let fields = [
        ("certificate_number", k.certificate_number.as_str()),
        ("auth_key", k.auth_key.as_str()),
    ];
    assert_eq!(browser.post("/verify", &fields).await.status(), 403);
    let forged = [fields[0], fields[1], ("csrf", "forged")];
    assert_eq!(browser.post("/verify", &forged).await.status(), 403);
    let res = browser.post("/logout", &[("csrf", "forged")]).await;
    assert_eq!(res.status(), 403);
    assert_eq!(service.count("SELECT COUNT(*) AS n FROM verifications"), 0);
}

#[tokio::test]
async fn a_cross_site_post_is_refused_even_with_a_valid_token() {
    let (issuer, _service, browser) = officer().await;
    let csrf = browser.csrf("/").await;
    let k = issuer.demo_key("W2025000001");
    let form = [
        ("certificate_number", k.certificate_number.as_str()),
        ("auth_key", k.auth_key.as_str()),
        ("csrf", csrf.as_str()),
    ];
    let post = |origin: &str| {
        browser
            .http
            .post(browser.url("/verify"))
            .header("Origin", origin)
            .form(&form)
            .send()
    };
    let res = post("https://evil.example").await.unwrap();
    assert_eq!(res.status(), 403);
    let res = post(browser.base.as_str()).await.unwrap();
    assert_eq!(
        banner(&Html::of(res).await),
        "確認済み",
        "a same-origin post goes through"
    );
}

#[tokio::test]
async fn an_officer_of_another_office_gets_404_for_a_verification() {
    let (issuer, service, browser) = officer().await;
    service.add_user("beppu", "officer", OTHER_OFFICE);
    let k = issuer.demo_key("W2025000001");
    let (id, _) = browser
        .verify_page(&k.certificate_number, &k.auth_key)
        .await;
    let other = service.sign_in("beppu").await;
    for path in [
        format!("/verifications/{id}"),
        format!("/verifications/{id}/print"),
        format!("/verifications/{id}/reverify"),
    ] {
        assert_eq!(other.get(&path).await.status(), 404, "{path}");
    }
    let history = other.page("/verifications").await;
    assert!(
        !history
            .attrs("table.history a", "href")
            .iter()
            .any(|h| h.contains(&id)),
        "nor in the other office's history"
    );
    assert!(column(&history, "table.history", 2)
        .iter()
        .all(|n| n != &k.certificate_number));
    assert_eq!(
        browser.get(&format!("/verifications/{id}")).await.status(),
        200
    );
}

/// Issues the certificate of the JSON `file` at `issuer`; its auth key, as printed.
fn issued_key(issuer: &kakunin_testkit::issuer::IssuerProcess, file: &std::path::Path) -> String {
    let out = issuer.cli(&["issue", "--file", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("認証キー:"))
        .unwrap()
        .trim()
        .to_owned()
}

#[tokio::test]
async fn strings_from_the_issuer_show_as_text_on_every_page() {
    let (issuer, _service, browser) = officer().await;
    let file = issuer.dir().join("xss.json");
    let script = "<script>alert(1)</script>";
    let img = "\"><img src=x onerror=alert(1)>";
    std::fs::write(
        &file,
        json!({
            "certificate_number": "W2025000900",
            "kind": "performance",
            "orderer": {"name": "大分県", "office": img},
            "contractor": {"name": script},
            "contract": {"category": "construction", "title": script, "location": img,
                         "contract_date": "2025-10-01", "amount_yen": 10_000_000,
                         "terms": "大分県公共工事請負契約約款【R7.4.1～】"},
            "guarantee": {"amount_yen": 1_000_000, "period_start": "2025-10-02", "period_end": "2026-03-13"}
        })
        .to_string(),
    )
    .unwrap();
    let key = issued_key(&issuer, &file);
    let res = browser
        .verify("W2025000900", &key, &[("expected_contractor", script)])
        .await;
    let id = kakunin_testkit::client::verification_id(&res);
    let outcome = Html::of(res).await;
    let print = browser.page(&format!("/verifications/{id}/print")).await;
    let history = browser.page("/verifications").await;
    for page in [&outcome, &print, &history] {
        // Only the service's own script file (the CSP allows no other).
        assert_eq!(
            page.count(r#"script:not([src="/static/app.js"])"#),
            0,
            "{page}"
        );
        assert_eq!(page.count("img"), 0, "{page}");
        assert!(!page.source().contains("<script>alert"), "{page}");
        assert!(!page.source().contains("<img src=x"), "{page}");
    }
    assert_eq!(
        outcome.row("工事名").as_deref(),
        Some(script),
        "shown as text"
    );
    assert_eq!(print.row("工事場所").as_deref(), Some(img.trim()));
}

/// A bidi override in the issuer's text (U+202E reverses everything after it in its
/// cell, so 株式会社豊後建設 could read as another name) is written out on the outcome
/// page, the printout and in the rule that quotes the name, never passed to the screen.
/// The reference issuer refuses to sign such a text, so a stand-in plays an issuer that
/// does.
#[tokio::test]
async fn a_bidi_control_from_the_issuer_is_written_out_not_obeyed() {
    let issuer = StandIn::start().await;
    let service = ServiceProcess::start(&issuer.registry_toml());
    let browser = service.officer().await;
    let number = "W2025000901";
    let mut record = issuer.certificate(number);
    record["contractor"] = json!({"name": "株式会社\u{202E}設建後豊", "address": "\u{202E}市分大"});
    record["contract"]["title"] = json!("県道\u{200B}改良工事");
    issuer.answer_record(number, record).await;
    let res = browser
        .verify(
            number,
            "7KQ2M9XDH4T8RB3N",
            &[("expected_contractor", "株式会社豊後建設")],
        )
        .await;
    let id = kakunin_testkit::client::verification_id(&res);
    let outcome = Html::of(res).await;
    let print = browser.page(&format!("/verifications/{id}/print")).await;
    for page in [&outcome, &print] {
        assert!(!page.source().contains('\u{202E}'), "{page}");
        assert!(!page.source().contains('\u{200B}'), "{page}");
        assert_eq!(
            page.row("受注者").as_deref(),
            Some("〔U+202E〕市分大 株式会社〔U+202E〕設建後豊"),
        );
        assert_eq!(
            page.row("工事名").as_deref(),
            Some("県道〔U+200B〕改良工事")
        );
    }
    assert!(
        outcome
            .source()
            .contains("証書の受注者名「株式会社〔U+202E〕設建後豊」"),
        "{outcome}"
    );
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_rotates_the_session_id() {
    let (_issuer, service) = start();
    service.add_user("officer1", "officer", kakunin_testkit::service::OFFICE);
    let b = Browser::without_redirects(&service.base_url);
    let login = b.get("/login").await;
    let form_cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        form_cookie.starts_with("kakunin_signin=")
            && form_cookie.contains("HttpOnly")
            && form_cookie.contains("SameSite=Strict"),
        "the sign-in form's nonce: {form_cookie}"
    );
    let csrf = Html::of(login).await.csrf();
    // A session id planted by someone else before sign-in does not ride along.
    let res = b
        .http
        .post(b.url("/login"))
        .header(
            "Cookie",
            format!(
                "kakunin_session=planted-by-someone-else; {}",
                form_cookie.split(';').next().unwrap()
            ),
        )
        .form(&[
            ("login", "officer1"),
            ("password", PASSWORD),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let cookie = cookies
        .iter()
        .find(|c| c.starts_with("kakunin_session="))
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("planted-by-someone-else"),
        "the session id is new at sign-in"
    );
}

#[tokio::test]
async fn five_wrong_passwords_make_even_the_right_one_wait() {
    let (_issuer, service) = start();
    service.add_user("officer1", "officer", kakunin_testkit::service::OFFICE);
    let guesser = service.browser();
    for _ in 0..5 {
        assert_eq!(guesser.sign_in("officer1", "guess").await.status(), 401);
    }
    let res = guesser.sign_in("officer1", PASSWORD).await;
    let error = Html::of(res).await.text("p.error");
    assert!(
        error.contains("しばらくログインできません"),
        "the right password waits out the throttle: {error}"
    );
    // ...and is told how long at most: the throttle's window (15 minutes by default).
    assert!(error.contains("最長で15分"), "{error}");
}

/// A supervisor who opens a filtered audit page (a bookmark, a link in a mail) without a
/// session signs in and lands on that page, filter and all; the sign-in sends nobody to
/// another site, and a form's post is never carried along.
#[tokio::test]
async fn sign_in_returns_to_the_page_asked_for_and_nowhere_else() {
    let (_issuer, service) = start();
    service.add_user("kansa1", "supervisor", kakunin_testkit::service::OFFICE);
    let asked = "/audit?action=verify&from=2025-04-01";
    let b = service.browser();
    let res = b.get(asked).await;
    assert_eq!(res.url().path(), "/login", "sent to sign in");
    let login = Html::of(res).await;
    assert_eq!(
        login.attr("input[name=next]", "value").as_deref(),
        Some(asked)
    );
    let res = b
        .submit(
            "/login",
            "/login",
            &[("login", "kansa1"), ("password", PASSWORD), ("next", asked)],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        (res.url().path(), res.url().query()),
        ("/audit", Some("action=verify&from=2025-04-01")),
        "back on the page asked for"
    );
    let page = Html::of(res).await;
    assert_eq!(page.attr("#from", "value").as_deref(), Some("2025-04-01"));

    // Once signed in, the sign-in page itself leads on to `next`.
    let again = Browser::without_redirects(&service.base_url);
    again.sign_in("kansa1", PASSWORD).await;
    let res = again.get("/login?next=%2Fverifications").await;
    assert_eq!(res.headers()["location"], "/verifications");

    for elsewhere in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "/logout",
    ] {
        let b = Browser::without_redirects(&service.base_url);
        let res = b
            .submit(
                "/login",
                "/login",
                &[
                    ("login", "kansa1"),
                    ("password", PASSWORD),
                    ("next", elsewhere),
                ],
            )
            .await;
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/", "{elsewhere}");
    }

    // A post without a session is not carried: its fields are not to be kept.
    let b = Browser::without_redirects(&service.base_url);
    let res = b
        .post(
            "/verify",
            &[("certificate_number", "W2025000001"), ("csrf", "x")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login");
}

#[tokio::test]
async fn pages_need_a_session() {
    let (_issuer, service) = start();
    let res = service.browser().get("/verifications").await;
    assert!(
        res.url().path().starts_with("/login"),
        "redirected to sign-in"
    );
}

#[test]
fn serve_refuses_to_start_without_a_secret() {
    let service = kakunin_testkit::service::ServiceProcess::prepare("", None);
    let out = service
        .command()
        .env_remove("KAKUNIN_SECRET_KEY")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("KAKUNIN_SECRET_KEY"));
}

/// Behind a proxy named in `server.trusted_proxies` the sign-in throttle and the audit
/// log see the client's address that the proxy put in `X-Forwarded-For`, for pages and
/// the API alike; without the setting, the same header from the same peer is ignored,
/// so no client can choose the address it is counted under.
#[tokio::test]
async fn x_forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let issuer = kakunin_testkit::standin::StandIn::start().await;
    let trusting = "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n";
    for (config, expected) in [(Some(trusting), "203.0.113.7"), (None, "127.0.0.1")] {
        let service =
            kakunin_testkit::service::ServiceProcess::start_with(&issuer.registry_toml(), config);
        service.add_user("officer1", "officer", kakunin_testkit::service::OFFICE);
        let mut forwarded = reqwest::header::HeaderMap::new();
        forwarded.insert(
            "x-forwarded-for",
            "198.51.100.9, 203.0.113.7".parse().unwrap(),
        );
        let proxied = reqwest::Client::builder()
            .cookie_store(true)
            .default_headers(forwarded)
            .build()
            .unwrap();
        let browser = Browser {
            base: service.base_url.clone(),
            http: proxied.clone(),
        };
        browser.sign_in("officer1", "wrong password").await;
        let token = service.create_token("keiyaku", kakunin_testkit::service::OFFICE, "verify");
        let res = proxied
            .get(format!(
                "{}/api/v1/verifications/01ARZ3NDEKTSV4RRFFQ69G5FAV",
                service.base_url
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);

        let at = |sql: &str| service.count(&sql.replace("ADDRESS", expected));
        assert_eq!(
            at("SELECT COUNT(*) AS n FROM signin_failures WHERE address = 'ADDRESS'"),
            1,
            "the throttle counts {expected}"
        );
        for action in ["signin", "verification.view"] {
            assert_eq!(
                at(&format!(
                    "SELECT COUNT(*) AS n FROM audit_events \
                     WHERE action = '{action}' AND address = 'ADDRESS'"
                )),
                1,
                "{action} is audited from {expected}"
            );
        }
    }
}
