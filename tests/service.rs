//! The officer's service end to end: the real `kakunin` against the real
//! `kakunin-issuer` on loopback ports, each test with its own temporary databases.

use std::net::TcpListener;
use std::process::Output;

use diesel::prelude::*;
use serde_json::json;

use kakunin_testkit::issuer::IssuerProcess;
use kakunin_testkit::service::{verification_id, Browser, ServiceProcess, OFFICE};

async fn officer(issuer: &IssuerProcess) -> (ServiceProcess, Browser) {
    let service = ServiceProcess::start(&issuer.registry_toml);
    service.add_user("officer1", "officer", OFFICE);
    let browser = service.sign_in("officer1").await;
    (service, browser)
}

async fn body(res: reqwest::Response) -> String {
    res.text().await.expect("body")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The rule table's row of `id` (`<tr class="rule-fail"><td>名前 <code class="rule-id">id</code>…`):
/// the status class of the row that holds that id.
fn rule_status<'a>(page: &'a str, id: &str) -> Option<&'a str> {
    let at = page.find(&format!("<code class=\"rule-id\">{id}</code>"))?;
    let row = &page[page[..at].rfind("<tr class=\"rule-")? + "<tr class=\"rule-".len()..];
    row.split('"').next()
}

fn db(service: &ServiceProcess) -> SqliteConnection {
    SqliteConnection::establish(service.db_path().to_str().unwrap()).expect("open service db")
}

fn count(conn: &mut SqliteConnection, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql).get_result::<N>(conn).expect(sql).n
}

#[tokio::test]
async fn a_valid_certificate_is_verified_and_shown_with_wareki_dates_and_yen() {
    let issuer = IssuerProcess::start();
    let (_service, browser) = officer(&issuer).await;
    let k = issuer.demo_key("W2025000001");
    let res = browser
        .verify(&k.certificate_number, &k.auth_key, &[])
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.url().path().starts_with("/verifications/"),
        "{}",
        res.url()
    );
    let page = body(res).await;
    assert!(page.contains("<h1>確認済み</h1>"), "{page}");
    assert!(page.contains("令和7年"), "和暦 dates on the outcome page");
    assert!(page.contains("円"), "amounts in yen");
    assert!(page.contains("署名鍵"));
    assert_eq!(rule_status(&page, "contract_date"), Some("pass"));
    assert!(page.contains("当初契約日"), "rules are named in Japanese");
}

#[tokio::test]
async fn every_demo_case_gets_the_outcome_and_rules_the_seed_declares() {
    let issuer = IssuerProcess::start();
    let (_service, browser) = officer(&issuer).await;
    assert!(issuer.demo_keys.len() >= 15, "the demo covers every rule");
    let mut rejected_rules = std::collections::BTreeSet::new();
    for k in &issuer.demo_keys {
        let page = body(
            browser
                .verify(&k.certificate_number, &k.auth_key, &[])
                .await,
        )
        .await;
        let banner = match k.expected_outcome.as_str() {
            "verified" => "確認済み",
            "rejected" => "不適合",
            "not_found" => "該当なし",
            other => panic!("unexpected outcome {other} in demo-keys.csv"),
        };
        assert!(
            page.contains(&format!("<h1>{banner}</h1>")),
            "{} ({}) should be {banner}",
            k.certificate_number,
            k.note
        );
        let status = if k.expected_outcome == "rejected" {
            "fail"
        } else {
            "warn"
        };
        for rule in &k.expected_rules {
            assert_eq!(
                rule_status(&page, rule),
                Some(status),
                "{}: rule {rule} should be {status}",
                k.certificate_number
            );
            if status == "fail" {
                rejected_rules.insert(rule.clone());
            }
        }
    }
    for rule in [
        "contract_date",
        "contract_category",
        "guarantee_kind",
        "status",
        "orderer",
        "performance_amount",
        "intermediate_amount",
    ] {
        assert!(
            rejected_rules.contains(rule),
            "the demo data has a case failing {rule}"
        );
    }
}

#[tokio::test]
async fn a_reservation_is_rejected_with_the_flyer_message() {
    let issuer = IssuerProcess::start();
    let (_service, browser) = officer(&issuer).await;
    let k = issuer
        .demo_keys
        .iter()
        .find(|k| k.expected_rules.iter().any(|r| r == "guarantee_kind"))
        .expect("a 契約保証予約 case");
    let page = body(
        browser
            .verify(&k.certificate_number, &k.auth_key, &[])
            .await,
    )
    .await;
    assert!(page.contains("<h1>不適合</h1>"));
    assert!(page.contains("契約保証予約は電子保証の対象外です"));
}

#[tokio::test]
async fn full_width_spaced_and_hyphenated_input_verifies() {
    let issuer = IssuerProcess::start();
    let (_service, browser) = officer(&issuer).await;
    let k = issuer.demo_key("W2025000001");
    let full_width: String = k
        .certificate_number
        .chars()
        .map(|c| char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap())
        .collect();
    let key = k.auth_key.to_lowercase().replace('-', "　ー ");
    let page = body(browser.verify(&full_width, &key, &[]).await).await;
    assert!(page.contains("<h1>確認済み</h1>"), "{page}");
}

#[tokio::test]
async fn bad_input_is_explained_at_the_field_and_no_issuer_is_asked() {
    let issuer = IssuerProcess::start();
    let (service, browser) = officer(&issuer).await;
    let res = browser
        .verify(
            "W12",
            "7KQ2-M9XD-H4T8",
            &[("expected_contract_amount", "12a")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = body(res).await;
    assert!(
        page.contains("保証契約番号は英大文字と数字で6～24文字です"),
        "{page}"
    );
    assert!(page.contains("認証キーは16文字です"));
    assert!(page.contains("請負代金額"));
    assert!(
        page.contains("value=\"W12\""),
        "what was typed in other fields is kept"
    );
    let res = browser.verify("X1234567", "7KQ2-M9XD-H4T8-RB3N", &[]).await;
    assert!(body(res).await.contains("保証事業会社が登録されていません"));
    assert_eq!(
        count(&mut db(&service), "SELECT COUNT(*) AS n FROM verifications"),
        0
    );
    assert!(
        !issuer.log().contains("X1234567"),
        "the issuer was not asked:\n{}",
        issuer.log()
    );
    // The issuer does log every lookup it gets, so the line above can fail.
    let k = issuer.demo_key("W2025000001");
    browser
        .verify(&k.certificate_number, &k.auth_key, &[])
        .await;
    assert!(issuer.log().contains(&k.certificate_number));
}

#[tokio::test]
async fn a_wrong_key_is_not_found_and_five_in_a_row_lock_the_number_across_restarts() {
    let issuer = IssuerProcess::start();
    let (mut service, browser) = officer(&issuer).await;
    let k = issuer.demo_key("W2025000002");
    for _ in 0..5 {
        let page = body(
            browser
                .verify(&k.certificate_number, "0000-0000-0000-0000", &[])
                .await,
        )
        .await;
        assert!(page.contains("<h1>該当なし</h1>"));
    }
    let page = body(
        browser
            .verify(&k.certificate_number, &k.auth_key, &[])
            .await,
    )
    .await;
    assert!(
        page.contains("<h1>ロック中</h1>"),
        "the service's own guard locks the number"
    );
    service.restart();
    let browser = service.sign_in("officer1").await;
    let page = body(
        browser
            .verify(&k.certificate_number, &k.auth_key, &[])
            .await,
    )
    .await;
    assert!(
        page.contains("<h1>ロック中</h1>"),
        "the lock is kept in the database"
    );
    let other = issuer.demo_key("W2025000001");
    let page = body(
        browser
            .verify(&other.certificate_number, &other.auth_key, &[])
            .await,
    )
    .await;
    assert!(
        page.contains("<h1>確認済み</h1>"),
        "other numbers are not affected"
    );
    assert_eq!(
        count(
            &mut db(&service),
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'lockout'"
        ),
        1
    );
}

#[tokio::test]
async fn the_issuers_own_lockout_shows_as_locked() {
    let issuer = IssuerProcess::start();
    let (_service, browser) = officer(&issuer).await;
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
    let page = body(
        browser
            .verify(&k.certificate_number, &k.auth_key, &[])
            .await,
    )
    .await;
    assert!(page.contains("<h1>ロック中</h1>"), "{page}");
    assert!(page.contains("保証事業会社がこの番号の照会をロックしています"));
}

#[tokio::test]
async fn a_record_signed_with_a_key_we_do_not_trust_is_an_invalid_record() {
    let issuer = IssuerProcess::start();
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
    service.add_user("officer1", "officer", OFFICE);
    let browser = service.sign_in("officer1").await;
    let k = issuer.demo_key("W2025000001");
    let page = body(
        browser
            .verify(&k.certificate_number, &k.auth_key, &[])
            .await,
    )
    .await;
    assert!(page.contains("<h1>不正な記録</h1>"), "{page}");
    assert!(page.contains("bad_signature"));
    assert!(
        !page.contains("電子証書の内容"),
        "an invalid record's content is not shown"
    );
}

#[tokio::test]
async fn a_stopped_or_hanging_issuer_is_unavailable() {
    let issuer = IssuerProcess::start();
    // A listener that accepts and never answers: the total timeout must end the wait.
    let hanging = TcpListener::bind("127.0.0.1:0").unwrap();
    let hanging_url = format!("http://{}", hanging.local_addr().unwrap());
    let closed_port = kakunin_testkit::issuer::free_port();
    for base in [hanging_url, format!("http://127.0.0.1:{closed_port}")] {
        let registry = issuer.registry_toml.replace(&issuer.base_url, &base);
        let service = ServiceProcess::start_with(
            &registry,
            Some("[issuers]\nconnect_timeout_ms = 500\ntimeout_ms = 1500\n"),
        );
        service.add_user("officer1", "officer", OFFICE);
        let browser = service.sign_in("officer1").await;
        let k = issuer.demo_key("W2025000001");
        let page = body(
            browser
                .verify(&k.certificate_number, &k.auth_key, &[])
                .await,
        )
        .await;
        assert!(
            page.contains("<h1>発行者に接続できません</h1>"),
            "{base}: {page}"
        );
    }
    drop(hanging);
}

#[tokio::test]
async fn the_auth_key_appears_in_no_table_log_or_page() {
    let issuer = IssuerProcess::start();
    let (service, browser) = officer(&issuer).await;
    let k = issuer.demo_key("W2025000001");
    let res = browser
        .verify(&k.certificate_number, &k.auth_key, &[])
        .await;
    let id = verification_id(&res);
    let mut pages = body(res).await;
    pages += &browser.text(&format!("/verifications/{id}/print")).await;
    pages += &browser.text("/verifications").await;
    pages += &browser.text(&format!("/verifications/{id}/reverify")).await;
    browser
        .verify(&k.certificate_number, &k.auth_key.replace('-', ""), &[])
        .await;
    let canonical = k.auth_key.replace('-', "");
    let mut stored = Vec::new();
    for suffix in ["", "-wal"] {
        stored.extend(
            std::fs::read(format!("{}{suffix}", service.db_path().display())).unwrap_or_default(),
        );
    }
    let stored = String::from_utf8_lossy(&stored);
    for form in [canonical.as_str(), k.auth_key.as_str()] {
        assert!(!pages.contains(form), "key on a page");
        assert!(!stored.contains(form), "key in the database");
        assert!(!service.log().contains(form), "key in the log");
    }
}

#[tokio::test]
async fn posts_without_the_sessions_csrf_token_are_refused() {
    let issuer = IssuerProcess::start();
    let (service, browser) = officer(&issuer).await;
    let k = issuer.demo_key("W2025000001");
    let res = browser
        .post(
            "/verify",
            &[
                ("certificate_number", k.certificate_number.as_str()),
                ("auth_key", k.auth_key.as_str()),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = browser
        .post(
            "/verify",
            &[
                ("certificate_number", k.certificate_number.as_str()),
                ("auth_key", k.auth_key.as_str()),
                ("csrf", "forged"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = browser.post("/logout", &[("csrf", "forged")]).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        count(&mut db(&service), "SELECT COUNT(*) AS n FROM verifications"),
        0
    );
}

#[tokio::test]
async fn an_officer_of_another_office_gets_404_for_a_verification() {
    let issuer = IssuerProcess::start();
    let (service, browser) = officer(&issuer).await;
    service.add_user("beppu", "officer", "440002");
    let k = issuer.demo_key("W2025000001");
    let id = verification_id(
        &browser
            .verify(&k.certificate_number, &k.auth_key, &[])
            .await,
    );
    let other = service.sign_in("beppu").await;
    for path in [
        format!("/verifications/{id}"),
        format!("/verifications/{id}/print"),
        format!("/verifications/{id}/reverify"),
    ] {
        assert_eq!(other.get(&path).await.status(), 404, "{path}");
    }
    assert!(
        !other.text("/verifications").await.contains(&id),
        "nor in the other office's history"
    );
    assert_eq!(
        browser.get(&format!("/verifications/{id}")).await.status(),
        200
    );
}

#[tokio::test]
async fn strings_from_the_issuer_show_as_text_on_every_page() {
    let issuer = IssuerProcess::start();
    let (_service, browser) = officer(&issuer).await;
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
    let out = issuer.cli(&["issue", "--file", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("認証キー:"))
        .unwrap()
        .trim()
        .to_owned();
    let res = browser
        .verify("W2025000900", &key, &[("expected_contractor", script)])
        .await;
    let id = verification_id(&res);
    let outcome = body(res).await;
    let print = browser.text(&format!("/verifications/{id}/print")).await;
    let history = browser.text("/verifications").await;
    for page in [&outcome, &print, &history] {
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<img src=x"), "{page}");
    }
    assert!(
        outcome.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"),
        "shown as text"
    );
    assert!(print.contains("&lt;img src=x onerror=alert(1)&gt;"));
}

#[tokio::test]
async fn the_print_view_is_a4_without_navigation_and_names_the_verification() {
    let issuer = IssuerProcess::start();
    let (_service, browser) = officer(&issuer).await;
    let k = issuer.demo_key("W2025000001");
    let id = verification_id(
        &browser
            .verify(&k.certificate_number, &k.auth_key, &[])
            .await,
    );
    let print = browser.text(&format!("/verifications/{id}/print")).await;
    assert!(print.contains(&id));
    assert!(print.contains("確認日時"));
    assert!(!print.contains("<nav"), "no navigation on paper");
    let css = browser.text("/static/app.css").await;
    assert!(css.contains("@page { size: A4"));
}

#[tokio::test]
async fn reverify_shows_what_changed_since_the_last_verification() {
    let issuer = IssuerProcess::start();
    let (_service, browser) = officer(&issuer).await;
    let k = issuer.demo_key("W2025000001");
    let first = verification_id(
        &browser
            .verify(&k.certificate_number, &k.auth_key, &[])
            .await,
    );
    let form = browser
        .text(&format!("/verifications/{first}/reverify"))
        .await;
    assert!(
        form.contains(&format!("value=\"{}\"", k.certificate_number)),
        "the number is filled in"
    );
    let change = issuer.dir().join("change.json");
    std::fs::write(
        &change,
        json!({"guarantee": {"amount_yen": 99_000_000}, "summary": "保証金額の変更"}).to_string(),
    )
    .unwrap();
    let out = issuer.cli(&[
        "amend",
        &k.certificate_number,
        "--file",
        change.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = body(
        browser
            .verify(&k.certificate_number, &k.auth_key, &[])
            .await,
    )
    .await;
    assert!(page.contains("前回の照会"), "{page}");
    assert!(page.contains("99,000,000円"));
    assert!(page.contains("保証金額の変更"));
}

#[tokio::test]
async fn history_is_searchable_by_number_date_and_outcome() {
    let issuer = IssuerProcess::start();
    let (_service, browser) = officer(&issuer).await;
    let a = issuer.demo_key("W2025000001");
    let b = issuer.demo_key("W2025000002");
    browser
        .verify(&a.certificate_number, &a.auth_key, &[])
        .await;
    browser
        .verify(&b.certificate_number, "0000-0000-0000-0000", &[])
        .await;
    let all = browser.text("/verifications").await;
    assert!(all.contains(&a.certificate_number) && all.contains(&b.certificate_number));
    assert_eq!(
        all.matches("<td>officer1 太郎（officer1）</td>").count(),
        2,
        "each row names who verified: {all}"
    );
    let by_number = browser
        .text(&format!("/verifications?number={}", a.certificate_number))
        .await;
    assert!(
        by_number.contains(&a.certificate_number) && !by_number.contains(&b.certificate_number)
    );
    let by_outcome = browser.text("/verifications?outcome=not_found").await;
    assert!(
        by_outcome.contains(&b.certificate_number) && !by_outcome.contains(&a.certificate_number)
    );
    let today = chrono::Utc::now()
        .with_timezone(&kakunin_protocol::time::jst())
        .date_naive();
    let by_date = browser
        .text(&format!("/verifications?from={today}&to={today}"))
        .await;
    assert!(by_date.contains(&a.certificate_number));
    let past = browser
        .text("/verifications?from=2025-04-01&to=2025-04-02")
        .await;
    assert!(!past.contains(&a.certificate_number));
    let bad = browser.text("/verifications?from=2025/04/01").await;
    assert!(bad.contains("開始日は 2025-04-01 の形で入力してください"));
}

#[tokio::test]
async fn every_attempt_is_in_an_intact_audit_chain() {
    let issuer = IssuerProcess::start();
    let (service, browser) = officer(&issuer).await;
    let k = issuer.demo_key("W2025000001");
    let id = verification_id(
        &browser
            .verify(&k.certificate_number, &k.auth_key, &[])
            .await,
    );
    browser
        .verify(&k.certificate_number, "0000-0000-0000-0000", &[])
        .await;
    browser.get(&format!("/verifications/{id}/print")).await;
    let mut bad = Browser::new(&service.base_url);
    bad.sign_in("officer1", "wrong-password").await;
    let mut conn = db(&service);
    let verifications = count(&mut conn, "SELECT COUNT(*) AS n FROM verifications");
    assert_eq!(verifications, 2);
    assert_eq!(
        count(
            &mut conn,
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'verify'"
        ),
        verifications
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT CAST(SUM(n) AS BIGINT) AS n FROM audit_daily"
        ),
        verifications,
        "the chart's per-day summary counts every attempt"
    );
    assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'signin' AND outcome = 'failure'"), 1);
    assert!(
        count(
            &mut conn,
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'verification.print'"
        ) >= 1
    );
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) AS n FROM audit_events WHERE detail LIKE '%' || (SELECT key_fingerprint FROM verifications LIMIT 1) || '%'"),
        1,
        "the audit row carries the keyed fingerprint"
    );
    let out = service.cli(&["audit", "verify"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_is_throttled() {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start(&issuer.registry_toml);
    service.add_user("officer1", "officer", OFFICE);
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = http
        .get(format!("{}/login", service.base_url))
        .send()
        .await
        .unwrap();
    let pre = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    let csrf = kakunin_testkit::service::csrf_of(&login.text().await.unwrap());
    let res = http
        .post(format!("{}/login", service.base_url))
        .form(&[
            ("login", "officer1"),
            ("password", kakunin_testkit::service::PASSWORD),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert_ne!(
        pre.split(';').next(),
        cookie.split(';').next(),
        "the session id is rotated at sign-in"
    );

    let mut guesser = Browser::new(&service.base_url);
    for _ in 0..5 {
        assert_eq!(guesser.sign_in("officer1", "guess").await.status(), 401);
    }
    let res = guesser
        .sign_in("officer1", kakunin_testkit::service::PASSWORD)
        .await;
    assert!(
        body(res).await.contains("しばらくログインできません"),
        "the right password waits out the throttle"
    );
}

#[tokio::test]
async fn pages_need_a_session_and_serve_refuses_to_start_without_a_secret() {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start(&issuer.registry_toml);
    let anonymous = Browser::new(&service.base_url);
    let res = anonymous.get("/verifications").await;
    assert!(
        res.url().path().starts_with("/login"),
        "redirected to sign-in"
    );
    let out = service
        .command()
        .env_remove("KAKUNIN_SECRET_KEY")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("KAKUNIN_SECRET_KEY"));
}

#[tokio::test]
async fn the_offline_check_gives_each_demo_record_its_exit_code() {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start(&issuer.registry_toml);
    let records = issuer.demo_dir().join("records");
    let registry = service.dir().join("issuers.toml");
    for k in issuer
        .demo_keys
        .iter()
        .filter(|k| k.expected_outcome != "not_found")
    {
        let file = records.join(format!("{}.jws", k.certificate_number));
        let out = service.cli(&[
            "record",
            "verify",
            file.to_str().unwrap(),
            "--issuer",
            "wjcs",
            "--registry",
            registry.to_str().unwrap(),
        ]);
        let want = if k.expected_outcome == "verified" {
            0
        } else {
            1
        };
        assert_eq!(
            out.status.code(),
            Some(want),
            "{}: {}",
            k.certificate_number,
            stdout(&out)
        );
        assert!(stdout(&out).contains("保証契約番号"));
    }
    let file = records.join("W2025000001.jws");
    let out = service.cli(&[
        "record",
        "verify",
        file.to_str().unwrap(),
        "--issuer",
        "wjcs",
        "--number",
        "W2025000002",
        "--registry",
        registry.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a substituted number is an invalid record"
    );
    assert!(stdout(&out).contains("不正な記録"));
}

#[test]
fn the_shipped_demo_records_check_offline_with_the_shipped_demo_registry() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let demo = root.join("config/demo");
    let mut rows = csv::Reader::from_path(demo.join("demo-keys.csv")).unwrap();
    let mut checked = 0;
    for row in rows.records() {
        let row = row.unwrap();
        let want = match &row[2] {
            "verified" => 0,
            "rejected" => 1,
            _ => continue,
        };
        let file = demo.join("records").join(format!("{}.jws", &row[0]));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kakunin"))
            .current_dir(root)
            .args([
                "record",
                "verify",
                file.to_str().unwrap(),
                "--issuer",
                "wjcs",
                "--registry",
            ])
            .arg(demo.join("issuers.toml"))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(want),
            "{}: {}",
            &row[0],
            stdout(&out)
        );
        checked += 1;
    }
    assert!(checked >= 20);
}

#[tokio::test]
async fn a_cross_site_post_is_refused_even_with_a_valid_token() {
    let issuer = IssuerProcess::start();
    let (_service, browser) = officer(&issuer).await;
    let csrf = browser.csrf("/").await;
    let k = issuer.demo_key("W2025000001");
    let form = [
        ("certificate_number", k.certificate_number.as_str()),
        ("auth_key", k.auth_key.as_str()),
        ("csrf", csrf.as_str()),
    ];
    let res = browser
        .http
        .post(format!("{}/verify", browser.base))
        .header("Origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = browser
        .http
        .post(format!("{}/verify", browser.base))
        .header("Origin", browser.base.as_str())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(
        body(res).await.contains("<h1>確認済み</h1>"),
        "a same-origin post goes through"
    );
}
