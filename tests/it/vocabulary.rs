//! What the service does with what it cannot read or do: a stored code this version does
//! not know is an error, never read as some default, and an internal error shows the
//! person a reference (the request's `X-Request-Id`) while the log keeps the cause.
//! Each test runs the real `kakunin` (and `kakunin-issuer`) on loopback with its own
//! temporary databases, and changes the service's database behind its back.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::{json, Value};

use kakunin::adapters::db::schema::audit_events;
use kakunin::app::audit::chain::{hash_of, Hashed};
use kakunin_testkit::issuer::IssuerProcess;
use kakunin_testkit::service::{ServiceProcess, OFFICE};

fn exec(service: &ServiceProcess, sql: &str) {
    let mut conn = service.db();
    conn.batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn request_id(res: &reqwest::Response) -> String {
    res.headers()
        .get("x-request-id")
        .expect("every answer carries X-Request-Id")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The log line of the internal error whose reference is `reference`.
fn logged(service: &ServiceProcess, reference: &str) -> String {
    service
        .log()
        .lines()
        .find(|l| l.contains("internal error") && l.contains(reference))
        .unwrap_or_else(|| {
            panic!(
                "no internal error logged with {reference}:\n{}",
                service.log()
            )
        })
        .to_owned()
}

async fn post_json(
    service: &ServiceProcess,
    token: &str,
    path: &str,
    body: &Value,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", service.base_url))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("POST")
}

async fn get_json(service: &ServiceProcess, token: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path}", service.base_url))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET")
}

#[tokio::test]
async fn a_role_the_service_does_not_know_is_an_error_not_an_officer() {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start(&issuer.registry_toml);
    service.add_user("kansa1", "supervisor", OFFICE);
    let browser = service.sign_in("kansa1").await;
    assert_eq!(browser.get("/audit").await.status(), 200);

    // The schema's CHECK refuses the role; a newer version's migration would have
    // widened it, so the test steps around it.
    let step_around = if service.on_postgres() {
        "ALTER TABLE users DROP CONSTRAINT users_role_check"
    } else {
        "PRAGMA ignore_check_constraints = ON"
    };
    exec(
        &service,
        &format!("{step_around}; UPDATE users SET role = 'auditor' WHERE login = 'kansa1'"),
    );
    // Read as an officer, this was a 403; it is the database's fault, not the user's.
    let res = browser.get("/audit").await;
    assert_eq!(res.status(), 500);
    let reference = request_id(&res);
    let page = res.text().await.unwrap();
    assert!(
        page.contains(&reference),
        "the page gives the reference:\n{page}"
    );
    assert!(!page.contains("auditor"), "no cause on the page:\n{page}");
    assert!(logged(&service, &reference).contains("役割「auditor」"));

    let out = service.cli(&["user", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("役割「auditor」"), "{stderr}");
}

#[tokio::test]
async fn an_outcome_the_service_does_not_know_is_an_error_not_an_invalid_record() {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start(&issuer.registry_toml);
    let token = service.create_token("keiyaku", OFFICE, "verify");
    let k = issuer.demo_key("W2025000001");
    let item = json!({"certificate_number": k.certificate_number, "auth_key": k.auth_key});
    let res = post_json(&service, &token, "/api/v1/verifications", &item).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    exec(
        &service,
        &format!("UPDATE verifications SET outcome = 'verified_twice' WHERE id = '{id}'"),
    );
    let res = get_json(&service, &token, &format!("/api/v1/verifications/{id}")).await;
    assert_eq!(res.status(), 500);
    let reference = request_id(&res);
    let problem: Value = res.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains(&reference), "{problem}");
    assert!(!detail.contains("verified_twice"), "{problem}");
    assert!(logged(&service, &reference).contains("「verified_twice」"));
}

#[test]
fn audit_verify_names_the_row_whose_action_it_does_not_know() {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start(&issuer.registry_toml);
    service.add_user("officer1", "officer", OFFICE);

    // Rewrite one row's action and re-chain every row after it, as a newer version
    // writing an action this one lacks would leave the log: every hash holds.
    let mut conn = kakunin::adapters::db::Location::parse(&service.database_url())
        .connect()
        .unwrap();
    type Stored = (
        i32,
        NaiveDateTime,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
    );
    let rows: Vec<Stored> = audit_events::table
        .order(audit_events::seq.asc())
        .select((
            audit_events::seq,
            audit_events::at,
            audit_events::actor,
            audit_events::office_code,
            audit_events::action,
            audit_events::target,
            audit_events::outcome,
            audit_events::address,
            audit_events::user_agent,
            audit_events::detail,
            audit_events::prev_hash,
        ))
        .load(&mut conn)
        .unwrap();
    let changed = rows
        .iter()
        .find(|r| r.4 == "user.add")
        .expect("user add is audited")
        .0;
    let mut prev = None;
    for (seq, at, actor, office, action, target, outcome, address, agent, detail, prev_hash) in
        &rows
    {
        if *seq < changed {
            continue;
        }
        let action = if *seq == changed {
            "user.promote"
        } else {
            action.as_str()
        };
        let prev_hash = prev.clone().unwrap_or_else(|| prev_hash.clone());
        let hash = hash_of(&Hashed {
            seq: *seq,
            at: *at,
            actor,
            office_code: office,
            action,
            target,
            outcome,
            address,
            user_agent: agent,
            detail,
            prev_hash: &prev_hash,
        });
        diesel::update(audit_events::table.find(*seq))
            .set((
                audit_events::action.eq(action),
                audit_events::prev_hash.eq(&prev_hash),
                audit_events::hash.eq(&hash),
            ))
            .execute(&mut conn)
            .unwrap();
        prev = Some(hash);
    }

    let out = service.cli(&["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "監査ログ {changed} 番の操作コード「user.promote」"
        )),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_forced_internal_error_shows_a_reference_and_logs_the_cause() {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start(&issuer.registry_toml);
    service.add_user("officer1", "officer", OFFICE);
    let browser = service.sign_in("officer1").await;
    let token = service.create_token("keiyaku", OFFICE, "verify");
    exec(
        &service,
        "ALTER TABLE verifications RENAME TO verifications_elsewhere",
    );

    let res = browser.get("/verifications").await;
    assert_eq!(res.status(), 500);
    let reference = request_id(&res);
    let page = res.text().await.unwrap();
    assert!(page.contains(&reference), "{page}");
    // The database's own words for the missing table, logged and never shown.
    let cause = if service.on_postgres() {
        "does not exist"
    } else {
        "no such table: verifications"
    };
    assert!(!page.contains(cause), "{page}");
    assert!(logged(&service, &reference).contains(cause));

    let k = issuer.demo_key("W2025000001");
    let item = json!({"certificate_number": k.certificate_number, "auth_key": k.auth_key});
    let res = post_json(&service, &token, "/api/v1/verifications", &item).await;
    assert_eq!(res.status(), 500);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let reference = request_id(&res);
    let problem: Value = res.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains(&reference), "{problem}");
    assert!(!detail.contains(cause), "{problem}");
    assert!(logged(&service, &reference).contains(cause));
}

/// actix's extractors answer what they cannot read in English (`can not parse "abc" to
/// a i32`, `Content type error.`). Every page answers such a request in Japanese
/// instead, with the status that says what was wrong, and the API's problem carries no
/// English either.
#[tokio::test]
async fn requests_the_extractors_cannot_read_are_refused_in_japanese() {
    let (_issuer, service) = super::start();
    let supervisor = service.user("sup1", "supervisor").await;
    let officer = service.officer().await;
    let page = |status: u16, res: reqwest::Response| async move {
        assert_eq!(res.status(), status, "{}", res.url());
        assert!(kakunin_testkit::client::content_type(res.headers()).starts_with("text/html"));
        let body = kakunin_testkit::html::Html::of(res).await.body();
        assert!(
            !body.contains("error") && !body.contains("parse"),
            "English on the page: {body}"
        );
        body
    };

    // A path segment of the wrong type names no page.
    let body = page(404, supervisor.get("/audit/events/abc").await).await;
    assert!(body.contains("お探しのページは見つかりません"), "{body}");
    // A query the extractor cannot read (a field given twice).
    let body = page(400, officer.get("/verifications?number=a&number=b").await).await;
    assert!(body.contains("検索条件を読み取れません"), "{body}");
    // A post that is not a form.
    let res = officer
        .http
        .post(officer.url("/verify"))
        .body("certificate_number=W2025000001")
        .send()
        .await
        .unwrap();
    let body = page(415, res).await;
    assert!(body.contains("application/x-www-form-urlencoded"), "{body}");
    // A form larger than any page sends.
    let long = "W".repeat(70 * 1024);
    let body = page(
        413,
        officer
            .post("/verify", &[("certificate_number", &long)])
            .await,
    )
    .await;
    assert!(body.contains("大きすぎます"), "{body}");

    let auditor = service.api("auditor", "audit");
    let res = auditor
        .get("/api/v1/audit/events?action=verify&action=signin")
        .await;
    let problem = super::problem(res, 422).await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("クエリ文字列を読めません")
            && !detail.is_ascii()
            && !detail.contains("field"),
        "{problem}"
    );
}
