//! Hardening (issue 15, item 7): HSTS, the absolute session lifetime, private files,
//! `HEAD`, and audited cross-office lookups.

use std::os::unix::fs::PermissionsExt;

use kakunin_testkit::service::{ServiceProcess, OTHER_OFFICE};
use kakunin_testkit::sql;

use super::officer;

#[tokio::test]
async fn hsts_is_sent_when_cookies_are_secure_and_only_then() {
    let plain = ServiceProcess::start("");
    let res = plain.browser().get("/login").await;
    assert!(res.headers().get("strict-transport-security").is_none());
    let https = ServiceProcess::start_with("", Some("[server]\nsecure_cookies = true\n"));
    for path in ["/login", "/healthz", "/api/openapi.json", "/no-such-page"] {
        let res = https.browser().get(path).await;
        assert_eq!(
            res.headers()
                .get("strict-transport-security")
                .map(|v| v.to_str().unwrap()),
            Some("max-age=31536000"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_session_ends_after_its_absolute_lifetime_however_busy() {
    let service = ServiceProcess::start_with("", Some("[server]\nsession_max_hours = 2\n"));
    let officer = service.officer().await;
    assert_eq!(
        officer.get("/verifications").await.url().path(),
        "/verifications"
    );
    // Signed in three hours ago, and busy ever since.
    sql::exec(
        &mut service.db(),
        &format!(
            "UPDATE sessions SET created_at = {}, last_seen = {}",
            sql::utc_hours_ago(3),
            sql::utc_hours_ago(0)
        ),
    );
    let res = officer.get("/verifications").await;
    assert_eq!(res.url().path(), "/login", "sent to sign in again");
    assert_eq!(service.count("SELECT COUNT(*) AS n FROM sessions"), 0);
}

#[test]
fn an_absolute_lifetime_out_of_range_stops_the_program() {
    let service = ServiceProcess::prepare("", None);
    let config = service.dir().join("too-short.toml");
    std::fs::write(&config, "[server]\nsession_max_hours = 0\n").unwrap();
    let out = service
        .command()
        .env("KAKUNIN_CONFIG", &config)
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = kakunin_testkit::process::stderr(&out);
    assert!(err.contains("server.session_max_hours"), "{err}");
}

#[test]
fn the_database_is_created_for_its_owner_alone() {
    if kakunin_testkit::postgres::sqlite_only("the mode of the SQLite file") {
        return;
    }
    let service = ServiceProcess::prepare("", None);
    let mode = std::fs::metadata(service.db_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("new/kakunin.db");
    let out = service
        .command()
        .env("KAKUNIN_DATABASE_URL", &nested)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        kakunin_testkit::process::stderr(&out)
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&nested), 0o600);
    assert_eq!(mode(&dir.path().join("new")), 0o700);
}

/// A PostgreSQL password reaches no output of any command, whether written in the URL's
/// userinfo or in its query (libpq reads `?password=` too), and libpq's keyword form is
/// refused rather than made a SQLite file named after its password.
#[test]
fn a_database_password_reaches_no_output_and_no_file_name() {
    const PASSWORD: &str = "SuperSecretPW11";
    // A SQLite source for `db copy`, whatever the suite's backend; and no long wait for
    // a pool that cannot connect.
    let service = ServiceProcess::prepare_on("", Some("[database]\npool_timeout_ms = 200\n"), None);
    let source = service.db_path().display().to_string();
    let urls = [
        format!("postgresql://127.0.0.1:1/x?password={PASSWORD}"),
        format!("postgres://kakunin@127.0.0.1:1/x?sslmode=disable&password={PASSWORD}"),
        format!("postgres://kakunin:{PASSWORD}@127.0.0.1:1/x"),
        format!("host=127.0.0.1 port=1 password={PASSWORD}"),
    ];
    for url in &urls {
        let runs: [Vec<&str>; 3] = [
            vec!["migrate"],
            vec!["serve"],
            vec!["db", "copy", "--from", &source, "--to", url],
        ];
        for args in runs {
            let out = service
                .command()
                .env("KAKUNIN_DATABASE_URL", url)
                .args(&args)
                .output()
                .unwrap();
            let said = format!(
                "{}{}",
                kakunin_testkit::process::stdout(&out),
                kakunin_testkit::process::stderr(&out)
            );
            assert!(!out.status.success(), "{args:?} with {url}: {said}");
            assert!(!said.contains(PASSWORD), "{args:?} with {url}: {said}");
        }
    }
    let root = kakunin_testkit::bins::workspace_root();
    let named: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.contains(PASSWORD))
        .collect();
    assert!(named.is_empty(), "{named:?}");
}

/// A page path asked with a method it does not take is 405 with `Allow` (RFC 9110
/// §15.5.6) and a Japanese page, not 404 as if the page did not exist; a path no page
/// has stays 404.
#[tokio::test]
async fn a_page_asked_with_another_method_is_405_with_allow() {
    let (_issuer, _service, browser) = officer().await;
    for (method, path, allow) in [
        (reqwest::Method::PUT, "/verify", "GET, HEAD, POST"),
        (reqwest::Method::DELETE, "/login", "GET, HEAD, POST"),
        (reqwest::Method::POST, "/healthz", "GET, HEAD"),
        (
            reqwest::Method::PUT,
            "/verifications/01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "GET, HEAD",
        ),
    ] {
        let res = browser
            .http
            .request(method.clone(), browser.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        let page = res.text().await.unwrap();
        assert!(page.contains("このページは"), "{page}");
    }
    let res = browser
        .http
        .put(browser.url("/no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let (issuer, service, browser) = officer().await;
    let k = issuer.demo_key("W2025000001");
    let (id, _) = browser
        .verify_page(&k.certificate_number, &k.auth_key)
        .await;
    let api = service.api("head", "verify");
    let anonymous = service.browser();
    let pages = [
        "/login".to_owned(),
        "/healthz".to_owned(),
        "/static/app.css".to_owned(),
        "/".to_owned(),
        "/verifications".to_owned(),
        format!("/verifications/{id}"),
        format!("/verifications/{id}/print"),
        "/no-such-page".to_owned(),
    ];
    for path in &pages {
        let get = browser.get(path).await;
        let head = browser.http.head(browser.url(path)).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        assert!(head.bytes().await.unwrap().is_empty(), "{path}");
    }
    let head = anonymous
        .http
        .head(anonymous.url("/verifications"))
        .send()
        .await
        .unwrap();
    assert!(
        head.url().path().starts_with("/login"),
        "no session: sent to sign in"
    );
    for path in [
        "/api/openapi.json".to_owned(),
        format!("/api/v1/verifications/{id}"),
    ] {
        let get = api.get(&path).await.status();
        let head = api.request(reqwest::Method::HEAD, &path).await;
        assert_eq!(head.status(), get, "{path}");
    }
}

#[tokio::test]
async fn asking_for_another_offices_verification_is_audited() {
    let (issuer, service, browser) = officer().await;
    service.add_user("beppu", "officer", OTHER_OFFICE);
    let k = issuer.demo_key("W2025000001");
    let (id, _) = browser
        .verify_page(&k.certificate_number, &k.auth_key)
        .await;
    let other = service.sign_in("beppu").await;
    assert_eq!(
        other.get(&format!("/verifications/{id}")).await.status(),
        404
    );
    let token = service.api_of("beppu-app", OTHER_OFFICE, "verify");
    assert_eq!(
        token
            .get(&format!("/api/v1/verifications/{id}"))
            .await
            .status(),
        404
    );
    assert_eq!(other.get("/verifications/01NOSUCHID").await.status(), 404);
    let denied = |actor: &str, detail: &str| {
        service.count(&format!(
            "SELECT COUNT(*) AS n FROM audit_events WHERE outcome = 'denied' AND actor = '{actor}' AND detail = '{detail}' AND office_code = '{OTHER_OFFICE}'"
        ))
    };
    assert_eq!(denied("user:beppu", "other_office"), 1);
    assert_eq!(denied("token:beppu-app", "other_office"), 1);
    assert_eq!(denied("user:beppu", "no_such_id"), 1);
}
