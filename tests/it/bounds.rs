//! What an anonymous or hostile client can make the service store: every value has a
//! length bound, refused attempts collapse, the sign-in page writes nothing, and the
//! tables fed by unauthenticated requests are pruned (issue 15, item 1).

use std::collections::BTreeMap;

use kakunin_testkit::client::Browser;
use kakunin_testkit::html::Html;
use kakunin_testkit::service::{ServiceProcess, OFFICE, PASSWORD};
use kakunin_testkit::sql;

use super::start;

/// 60 KB of one character: more than any field may hold.
fn huge() -> String {
    "x".repeat(60 * 1024)
}

/// Every table's row count.
fn table_counts(service: &ServiceProcess) -> BTreeMap<String, i64> {
    let mut conn = service.db();
    sql::tables(&mut conn)
        .into_iter()
        .map(|t| {
            let n = sql::count(&mut conn, &format!("SELECT COUNT(*) AS n FROM \"{t}\""));
            (t, n)
        })
        .collect()
}

/// The longest text stored in any column of the log and the accounts, in bytes.
fn longest_stored(service: &ServiceProcess) -> i64 {
    let mut conn = service.db();
    let sum = |conn: &kakunin_testkit::sql::Db, columns: &[&str]| {
        columns
            .iter()
            .map(|c| sql::bytes(conn, c))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    let queries = [
        ("audit_events", sum(&conn, &["target", "detail", "actor"])),
        ("signin_failures", sum(&conn, &["login", "address"])),
        ("users", sum(&conn, &["name", "login"])),
        ("verifications", sum(&conn, &["rules", "expected"])),
    ];
    queries
        .iter()
        .map(|(table, bytes)| {
            sql::count(
                &mut conn,
                &format!("SELECT COALESCE(MAX({bytes}), 0) AS n FROM {table}"),
            )
        })
        .max()
        .unwrap()
}

#[tokio::test]
async fn a_sixty_kilobyte_login_is_refused_before_anything_is_written() {
    let service = ServiceProcess::start("");
    service.add_user("officer1", "officer", OFFICE);
    let before = table_counts(&service);
    let b = service.browser();
    // An empty login is named as not entered instead (accounts.rs).
    for login in [huge(), "Not A Login!".to_owned()] {
        let res = b.sign_in(&login, "whatever-password").await;
        assert_eq!(res.status(), 401);
        let page = Html::of(res).await;
        assert!(page
            .text("p.error")
            .contains("ログイン名またはパスワードが違います"));
        assert!(page.source().len() < 20 * 1024, "nor echoed in full");
    }
    assert_eq!(table_counts(&service), before, "no row at all");
}

#[tokio::test]
async fn sixty_kilobyte_names_texts_and_targets_never_reach_the_database() {
    let (issuer, service) = start();
    let admin = service.user("admin1", "admin").await;
    let officer = service.officer().await;
    let huge = huge();

    // A name on the admin page.
    let res = admin
        .submit(
            "/admin/users",
            "/admin/users",
            &[
                ("login", "newbie"),
                ("name", &huge),
                ("role", "officer"),
                ("office_code", OFFICE),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        service.count("SELECT COUNT(*) AS n FROM users WHERE login = 'newbie'"),
        0
    );

    // A 照合 field on the verify form: refused by name, as the API refuses it.
    let k = issuer.demo_key("W2025000001");
    let res = officer
        .verify(
            &k.certificate_number,
            &k.auth_key,
            &[("expected_title", huge.as_str())],
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = Html::of(res).await;
    assert!(
        page.source().contains("工事名・業務名は500文字以内"),
        "{page}"
    );
    assert_eq!(service.count("SELECT COUNT(*) AS n FROM verifications"), 0);
    let api = service.api("bounds", "verify");
    let res = api
        .post(
            "/api/v1/verifications",
            &serde_json::json!({"certificate_number": k.certificate_number, "auth_key": k.auth_key, "expected": {"title": huge}}),
        )
        .await;
    assert_eq!(res.status(), 422);
    // 500 characters after NFKC: "㍻" is two, so 300 of them are too long on both faces.
    let widened = "㍻".repeat(300);
    let res = officer
        .verify(
            &k.certificate_number,
            &k.auth_key,
            &[("expected_contractor", widened.as_str())],
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = api
        .post(
            "/api/v1/verifications",
            &serde_json::json!({"certificate_number": k.certificate_number, "auth_key": k.auth_key, "expected": {"contractor_name": widened}}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(service.count("SELECT COUNT(*) AS n FROM verifications"), 0);

    // A verification id in a URL is an audit target; an audit filter is stored with an
    // export.
    let long_id = "A".repeat(4000);
    assert_eq!(
        officer
            .get(&format!("/verifications/{long_id}"))
            .await
            .status(),
        404
    );
    let supervisor = service.user("chief1", "supervisor").await;
    let res = supervisor
        .submit(
            "/audit",
            "/audit/export",
            &[("number", &huge), ("format", "csv")],
        )
        .await;
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(
        service.count("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'audit.export'"),
        0
    );

    assert!(
        longest_stored(&service) < 4096,
        "longest: {}",
        longest_stored(&service)
    );
}

/// A URL's id reaches the audit log as its target; NUL, ESC and CR LF in it are kept
/// escaped, so they neither vanish from the supervisor's page nor drive a terminal nor
/// start a line of their own. The same for an API client's request and its user agent.
#[tokio::test]
async fn invisible_characters_in_a_url_reach_the_audit_log_escaped() {
    let (_issuer, service) = start();
    let officer = service.officer().await;
    let res = officer.get("/verifications/%00%1B%5B31mRED%0D%0Ax").await;
    assert_eq!(res.status(), 404);
    let client = service.api("bounded", "verify");
    let res = client.get("/api/v1/verifications/%07bell").await;
    assert_eq!(res.status(), 404);
    for escaped in ["<U+0000><U+001B>[31mRED<U+000D><U+000A>x", "<U+0007>bell"] {
        assert_eq!(
            service.count(&format!(
                "SELECT COUNT(*) AS n FROM audit_events WHERE target = '{escaped}'"
            )),
            1,
            "{escaped}"
        );
    }
    assert_eq!(
        service.count(
            "SELECT COUNT(*) AS n FROM audit_events WHERE target LIKE '%RED%' \
             AND target NOT LIKE '<U+0000>%'"
        ),
        0,
        "the raw characters were stored"
    );
    // The chain still holds over the escaped values.
    super::assert_chain_intact(&service);
}

/// A NUL wherever a request can put one (a path, a query, a form field) is a clear
/// answer, never a 500: PostgreSQL refuses a NUL in a text parameter with an error.
#[tokio::test]
async fn a_nul_anywhere_in_a_request_is_never_a_server_error() {
    let (_issuer, service) = start();
    let officer = service.officer().await;
    let supervisor = service.user("chief1", "supervisor").await;
    let admin = service.user("admin1", "admin").await;
    let api = service.api("nul-verify", "verify");
    let auditor = service.api("nul-audit", "audit");
    let mut answers = Vec::new();
    let pages = [
        (
            &officer,
            &[
                "/verifications/%00",
                "/verifications/%00/print",
                "/verifications/%00/evidence",
                "/verifications/%00/receipt",
                "/verifications/%00/reverify",
                "/verifications?number=%00",
                "/verifications?case=%00",
            ][..],
        ),
        (
            &supervisor,
            &[
                "/audit?actor=%00",
                "/audit?number=%00",
                "/audit?office=%00",
                "/audit/events/%00",
            ][..],
        ),
    ];
    for (browser, paths) in pages {
        for path in paths {
            answers.push((path.to_string(), browser.get(path).await.status()));
        }
    }
    let calls = [
        (
            &api,
            &[
                "/api/v1/verifications/%00",
                "/api/v1/verifications/%00/evidence",
            ][..],
        ),
        (
            &auditor,
            &[
                "/api/v1/audit/events?actor=%00",
                "/api/v1/audit/events?actor=user:%00",
            ][..],
        ),
    ];
    for (client, paths) in calls {
        for path in paths {
            answers.push((path.to_string(), client.get(path).await.status()));
        }
    }
    for (form, action, fields) in [
        ("/admin/users", "/admin/users/%00/disable", vec![]),
        (
            "/admin/users",
            "/admin/users/%00/update",
            vec![("name", "x"), ("role", "officer"), ("office_code", OFFICE)],
        ),
        (
            "/admin/users",
            "/admin/users",
            vec![
                ("login", "a\0b"),
                ("name", "x"),
                ("role", "officer"),
                ("office_code", OFFICE),
            ],
        ),
        (
            "/admin/users",
            "/admin/users",
            vec![
                ("login", "newbie"),
                ("name", "x"),
                ("role", "officer"),
                ("office_code", "44\0"),
            ],
        ),
        ("/admin/clients", "/admin/clients/%00/revoke", vec![]),
    ] {
        let res = admin.submit(form, action, &fields).await;
        answers.push((format!("{action} {fields:?}"), res.status()));
    }
    let anonymous = service.browser();
    let res = anonymous.sign_in("office\0r", PASSWORD).await;
    answers.push(("sign-in".to_owned(), res.status()));
    let res = officer
        .verify(
            "W2025\u{0}000001",
            "7KQ2-M9XD-H4T8-RB3N",
            &[("case_number", "R8\u{0}")],
        )
        .await;
    answers.push(("verify".to_owned(), res.status()));
    let failed: Vec<_> = answers
        .iter()
        .filter(|(_, s)| s.is_server_error())
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
}

#[tokio::test]
async fn a_thousand_throttled_sign_ins_add_a_bounded_number_of_rows() {
    let service = super::with_three_sign_in_failures_allowed();
    service.add_user("officer1", "officer", OFFICE);
    let guesser = service.browser();
    let csrf = guesser.csrf("/login").await;
    let attempt = |login: String| {
        let csrf = csrf.clone();
        let guesser = &guesser;
        async move {
            guesser
                .post(
                    "/login",
                    &[("login", &login), ("password", "guess"), ("csrf", &csrf)],
                )
                .await
                .status()
        }
    };
    for _ in 0..1000 {
        assert_eq!(attempt("officer1".into()).await, 401);
    }
    let rows = |sql: &str| service.count(sql);
    assert_eq!(rows("SELECT COUNT(*) AS n FROM signin_failures"), 3);
    assert_eq!(
        rows("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'signin' AND outcome = 'failure'"),
        3
    );
    assert_eq!(
        rows("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'signin' AND outcome = 'throttled'"),
        1,
        "one row for the login, address and window"
    );

    // Other logins from the same address: the address's own limit (four times the
    // login's) stops them, and its refusals collapse into one row.
    for i in 0..300 {
        attempt(format!("someone{i}")).await;
    }
    assert!(rows("SELECT COUNT(*) AS n FROM signin_failures") <= 12);
    assert!(
        rows("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'signin'") <= 3 + 1 + 12 + 1,
        "bounded however many logins are tried"
    );
}

#[tokio::test]
async fn a_cookieless_get_of_the_sign_in_page_writes_nothing() {
    let service = ServiceProcess::start("");
    service.add_user("officer1", "officer", OFFICE);
    let before = table_counts(&service);
    for _ in 0..50 {
        let res = Browser::new(&service.base_url).get("/login").await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(table_counts(&service), before);
    // The stateless token still signs in, and a forged one does not.
    let b = service.browser();
    assert_eq!(
        b.post(
            "/login",
            &[
                ("login", "officer1"),
                ("password", PASSWORD),
                ("csrf", "1.forged")
            ]
        )
        .await
        .status(),
        403
    );
    assert_eq!(b.sign_in("officer1", PASSWORD).await.status(), 200);
    // A token is bound to its cookie: another client's is refused.
    let csrf = Browser::new(&service.base_url).csrf("/login").await;
    let b = service.browser();
    b.get("/login").await;
    assert_eq!(
        b.post(
            "/login",
            &[
                ("login", "officer1"),
                ("password", PASSWORD),
                ("csrf", &csrf)
            ]
        )
        .await
        .status(),
        403
    );
}

#[tokio::test]
async fn old_failures_and_pre_sign_in_sessions_are_pruned() {
    let service = ServiceProcess::start("");
    service.add_user("officer1", "officer", OFFICE);
    {
        let mut conn = service.db();
        for i in 0..20 {
            sql::exec(
                &mut conn,
                &format!("INSERT INTO signin_failures (login, address, at) VALUES ('old{i}', '192.0.2.1', '2020-01-01 00:00:00')"),
            );
            // What the sign-in page wrote for every visitor before its token was stateless.
            sql::exec(
                &mut conn,
                &format!("INSERT INTO sessions (id_hash, user_id, csrf, created_at, last_seen) VALUES ('pre{i}', NULL, 'c', {now}, {now})", now = sql::utc_hours_ago(0)),
            );
        }
    }
    let b = service.browser();
    assert_eq!(b.sign_in("officer1", "a-wrong-guess").await.status(), 401);
    assert_eq!(
        service.count("SELECT COUNT(*) AS n FROM signin_failures"),
        1,
        "only the failure that still counts"
    );
    assert_eq!(b.sign_in("officer1", PASSWORD).await.status(), 200);
    assert_eq!(
        service.count("SELECT COUNT(*) AS n FROM sessions WHERE user_id IS NULL"),
        0
    );
    assert_eq!(service.count("SELECT COUNT(*) AS n FROM sessions"), 1);
}
