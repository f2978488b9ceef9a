//! Supervisors and administrators (K4): who sees which audit rows, tamper detection by
//! `kakunin audit verify`, exports, and account management over HTTP. Each test runs
//! the real `kakunin` (and `kakunin-issuer` where a verification is needed) with its own
//! temporary databases.

use std::path::{Path, PathBuf};
use std::process::Output;

use diesel::prelude::*;

use kakunin::app::audit::{chain, AuditRow};
use kakunin_testkit::issuer::IssuerProcess;
use kakunin_testkit::service::{Browser, ServiceProcess, OFFICE};

const OTHER_OFFICE: &str = "440002";

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn db_at(path: &Path) -> SqliteConnection {
    SqliteConnection::establish(path.to_str().expect("utf-8 path")).expect("open db")
}

fn exec(conn: &mut SqliteConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn scalar(conn: &mut SqliteConnection, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql)
        .get_result::<N>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n
}

/// A consistent copy of the live database (the server keeps running in WAL mode).
fn snapshot(service: &ServiceProcess, name: &str) -> PathBuf {
    let to = service.dir().join(format!("{name}.db"));
    let mut live = db_at(&service.db_path());
    exec(&mut live, &format!("VACUUM INTO '{}'", to.display()));
    to
}

/// `kakunin audit verify` on another database file, with the service's key.
fn verify_copy(service: &ServiceProcess, db: &Path) -> Output {
    service
        .command()
        .env("KAKUNIN_DATABASE_URL", db)
        .args(["audit", "verify"])
        .output()
        .expect("run kakunin audit verify")
}

/// The value shown once on the password / token page.
fn one_time_secret(page: &str) -> String {
    let marker = "id=\"one-time-secret\">";
    let start = page
        .find(marker)
        .unwrap_or_else(|| panic!("no one-time secret in:\n{page}"))
        + marker.len();
    page[start..]
        .split('<')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

async fn body(res: reqwest::Response) -> String {
    res.text().await.expect("body")
}

/// A failed sign-in with an arbitrary login: the easiest way to put any text (as actor
/// and target) into the log from outside.
async fn failed_sign_in(service: &ServiceProcess, login: &str) {
    let mut b = Browser::new(&service.base_url);
    let res = b.sign_in(login, "not-the-password").await;
    assert_eq!(res.status(), 401, "a wrong password is refused");
}

fn jst_today() -> chrono::NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(9)).date_naive()
}

#[tokio::test]
async fn officers_get_403_supervisors_see_their_office_and_admins_see_everything() {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start(&issuer.registry_toml);
    service.add_user("officer1", "officer", OFFICE);
    service.add_user("officer2", "officer", OTHER_OFFICE);
    service.add_user("super1", "supervisor", OFFICE);
    service.add_user("admin1", "admin", OFFICE);

    let officer = service.sign_in("officer1").await;
    let _other = service.sign_in("officer2").await;
    for path in [
        "/audit",
        "/audit/events/1",
        "/admin/users",
        "/admin/offices",
        "/admin/clients",
    ] {
        assert_eq!(officer.get(path).await.status(), 403, "officer on {path}");
    }
    let csrf = officer.csrf("/").await;
    let res = officer
        .post("/audit/export", &[("csrf", &csrf), ("format", "csv")])
        .await;
    assert_eq!(res.status(), 403, "officer may not export");
    let res = officer
        .post(
            "/admin/users",
            &[
                ("csrf", &csrf),
                ("login", "x1234"),
                ("name", "x"),
                ("role", "admin"),
                ("office_code", OFFICE),
            ],
        )
        .await;
    assert_eq!(res.status(), 403, "officer may not create users");
    assert!(
        !officer.text("/").await.contains("href=\"/audit\""),
        "no audit link for officers"
    );

    let supervisor = service.sign_in("super1").await;
    let home = supervisor.text("/").await;
    assert!(home.contains("href=\"/audit\"") && !home.contains("href=\"/admin/users\""));
    assert_eq!(
        supervisor.get("/admin/users").await.status(),
        403,
        "supervisors do not manage accounts"
    );
    let page = supervisor.text("/audit").await;
    assert!(
        page.contains("user:officer1"),
        "own office's sign-in is listed"
    );
    assert!(
        !page.contains("user:officer2"),
        "another office's events are not:\n{page}"
    );

    let mut conn = db_at(&service.db_path());
    let foreign = scalar(
        &mut conn,
        "SELECT seq AS n FROM audit_events WHERE actor = 'user:officer2' AND action = 'signin'",
    );
    let own = scalar(
        &mut conn,
        "SELECT seq AS n FROM audit_events WHERE actor = 'user:officer1' AND action = 'signin'",
    );
    assert_eq!(
        supervisor
            .get(&format!("/audit/events/{foreign}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        supervisor
            .get(&format!("/audit/events/{own}"))
            .await
            .status(),
        200
    );
    // Asking for another office by hand changes nothing for a supervisor.
    assert!(!supervisor
        .text(&format!("/audit?office={OTHER_OFFICE}"))
        .await
        .contains("user:officer2"));

    let admin = service.sign_in("admin1").await;
    let page = admin.text("/audit").await;
    assert!(
        page.contains("user:officer1") && page.contains("user:officer2"),
        "an admin sees every office"
    );
    assert!(page.contains("href=\"/admin/users\""));
    assert_eq!(
        admin
            .get(&format!("/audit/events/{foreign}"))
            .await
            .status(),
        200
    );
    let narrowed = admin.text(&format!("/audit?office={OTHER_OFFICE}")).await;
    assert!(narrowed.contains("user:officer2") && !narrowed.contains("user:officer1"));
}

#[tokio::test]
async fn audit_verify_names_an_edited_deleted_or_swapped_row_and_a_forged_or_cut_checkpoint() {
    let issuer = IssuerProcess::start();
    // Small checkpoint interval so a short log has several checkpoints.
    let service = ServiceProcess::start_with(
        &issuer.registry_toml,
        Some("[audit]\ncheckpoint_every = 3\n"),
    );
    service.add_user("admin1", "admin", OFFICE);
    service.add_user("officer1", "officer", OFFICE);
    for _ in 0..3 {
        let b = service.sign_in("officer1").await;
        let csrf = b.csrf("/").await;
        b.post("/logout", &[("csrf", &csrf)]).await;
    }
    let mut live = db_at(&service.db_path());
    let events = scalar(&mut live, "SELECT COUNT(*) AS n FROM audit_events");
    assert!(events >= 9, "{events} events");
    assert!(
        scalar(&mut live, "SELECT COUNT(*) AS n FROM audit_checkpoints") >= 3,
        "a checkpoint every 3 events"
    );

    let intact = service.cli(&["audit", "verify"]);
    assert_eq!(intact.status.code(), Some(0), "{}", stdout(&intact));
    assert!(stdout(&intact).contains("改ざんされていません"));

    let check = |name: &str, sql: &[&str], expected: &str| {
        let copy = snapshot(&service, name);
        let mut c = db_at(&copy);
        for s in sql {
            exec(&mut c, s);
        }
        drop(c);
        let out = verify_copy(&service, &copy);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stdout(&out));
        assert!(
            stdout(&out).contains(expected),
            "{name}: expected {expected:?} in:\n{}",
            stdout(&out)
        );
    };
    check(
        "edited",
        &["UPDATE audit_events SET detail = 'nothing happened' WHERE seq = 4"],
        "監査ログ 4 番の内容がハッシュと一致しません",
    );
    check(
        "deleted",
        &["DELETE FROM audit_events WHERE seq = 4"],
        "4 番から 5 番へ飛んでいます",
    );
    check(
        "swapped",
        &[
            "UPDATE audit_events SET seq = -4 WHERE seq = 4",
            "UPDATE audit_events SET seq = 4 WHERE seq = 5",
            "UPDATE audit_events SET seq = 5 WHERE seq = -4",
        ],
        "監査ログ 4 番の前ハッシュが直前の行と一致しません",
    );
    check("forged", &["UPDATE audit_checkpoints SET event_count = event_count + 1000, head_seq = head_seq + 1000 WHERE id = 2"], "チェックポイント 2 番の署名が正しくありません");
    // Cutting rows off the end leaves a perfect chain: only a checkpoint can tell.
    let head = scalar(
        &mut live,
        "SELECT MAX(head_seq) AS n FROM audit_checkpoints",
    );
    let cut = format!("DELETE FROM audit_events WHERE seq >= {head}");
    let copy = snapshot(&service, "cut-probe");
    let mut c = db_at(&copy);
    exec(&mut c, &cut);
    drop(c);
    let out = verify_copy(&service, &copy);
    assert!(
        stdout(&out).contains("ハッシュチェーン: 正常"),
        "the shortened chain is intact in itself: {}",
        stdout(&out)
    );
    check(
        "cut",
        &[&cut],
        &format!("が指す監査ログ {head} 番がありません"),
    );

    // The detail page tells the same story for one row.
    let admin = service.sign_in("admin1").await;
    let page = admin.text("/audit/events/2").await;
    assert!(page.contains("この記録は改ざんされていません"), "{page}");
    let hash: String = {
        #[derive(QueryableByName)]
        struct H {
            #[diesel(sql_type = diesel::sql_types::Text)]
            hash: String,
        }
        diesel::sql_query("SELECT hash FROM audit_events WHERE seq = 2")
            .get_result::<H>(&mut live)
            .unwrap()
            .hash
    };
    assert!(page.contains(&hash), "the page shows the row's hash");
    exec(
        &mut live,
        "UPDATE audit_events SET target = 'someone-else' WHERE seq = 2",
    );
    let page = admin.text("/audit/events/2").await;
    assert!(
        page.contains("改ざんの疑いがあります") && page.contains("不一致（書き換えられています）"),
        "{page}"
    );
}

/// A batch appends its audit rows together; the checkpoints still fall every
/// `checkpoint_every` events, at the same rows as if each were appended alone.
#[tokio::test]
async fn a_batch_gets_a_checkpoint_every_n_events() {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start_with(
        &issuer.registry_toml,
        Some("[audit]\ncheckpoint_every = 3\n"),
    );
    let token = service.create_token("batch", OFFICE, "verify");
    let k = &issuer.demo_keys[0];
    let items: Vec<serde_json::Value> = (0..10)
        .map(|_| serde_json::json!({"certificate_number": k.certificate_number, "auth_key": k.auth_key}))
        .collect();
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/verifications/batch", service.base_url))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "items": items }))
        .send()
        .await
        .expect("batch");
    assert_eq!(res.status(), 200);

    #[derive(QueryableByName)]
    struct Head {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        head_seq: i32,
    }
    let mut live = db_at(&service.db_path());
    let heads: Vec<i32> = diesel::sql_query("SELECT head_seq FROM audit_checkpoints ORDER BY id")
        .load::<Head>(&mut live)
        .expect("checkpoints")
        .into_iter()
        .map(|h| h.head_seq)
        .collect();
    let events = scalar(&mut live, "SELECT COUNT(*) AS n FROM audit_events");
    assert!(events >= 10, "{events} events");
    // The first event gets one (there was none before), then every third.
    let expected: Vec<i32> = (1..=events as i32).step_by(3).collect();
    assert_eq!(heads, expected);
    let out = service.cli(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[tokio::test]
async fn serve_refuses_to_start_without_the_signing_key_and_key_init_never_overwrites() {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start(&issuer.registry_toml);
    let missing = service.dir().join("nowhere/audit.key");
    let out = service
        .command()
        .env("KAKUNIN_AUDIT_SIGNING_KEY_FILE", &missing)
        .arg("serve")
        .output()
        .expect("run serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kakunin key init"), "{err}");

    let again = service.cli(&["key", "init"]);
    assert!(!again.status.success(), "key init must not replace a key");
    assert!(String::from_utf8_lossy(&again.stderr).contains("既にあります"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(service.audit_key_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        service.audit_key_path().with_extension("pub").exists(),
        "the public half is written beside it"
    );
}

#[tokio::test]
async fn exports_keep_japanese_quote_fields_and_neutralise_formulas() {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start(&issuer.registry_toml);
    service.add_user("admin1", "admin", OFFICE);
    let nasty = "=HYPERLINK(\"http://example.invalid\",\"押して\")\r\n2行目, \"引用\"";
    for login in [nasty, "+cmd", "-2+3", "@SUM(A1)"] {
        failed_sign_in(&service, login).await;
    }
    let admin = service.sign_in("admin1").await;
    let csrf = admin.csrf("/admin/offices").await;
    let office_name = "大分県 土木事務所, \"本庁\"";
    let res = admin
        .post(
            "/admin/offices",
            &[("csrf", &csrf), ("code", "440009"), ("name", office_name)],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(body(res)
        .await
        .contains("大分県 土木事務所, &quot;本庁&quot;"));

    let csrf = admin.csrf("/audit").await;
    let res = admin
        .post("/audit/export", &[("csrf", &csrf), ("format", "csv")])
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let bytes = res.bytes().await.unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "UTF-8 BOM first, for Excel"
    );
    let text = std::str::from_utf8(&bytes[3..]).expect("UTF-8");
    assert!(
        text.starts_with("番号,日時（日本時間）,操作者"),
        "Japanese headers: {}",
        &text[..80.min(text.len())]
    );
    assert!(
        text.match_indices('\n')
            .all(|(i, _)| i > 0 && text.as_bytes()[i - 1] == b'\r'),
        "CRLF line ends"
    );
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (target, detail, action) = (col("対象"), col("詳細"), col("操作コード"));
    let records: Vec<csv::StringRecord> = reader
        .records()
        .map(|r| r.expect("well-formed CSV"))
        .collect();
    let targets: Vec<&str> = records.iter().map(|r| &r[target]).collect();
    assert!(
        targets.contains(&format!("'{nasty}").as_str()),
        "quoted, multi-line and neutralised: {targets:?}"
    );
    for formula in ["'+cmd", "'-2+3", "'@SUM(A1)"] {
        assert!(targets.contains(&formula), "{formula} in {targets:?}");
    }
    assert!(!targets
        .iter()
        .any(|t| t.starts_with('=') || t.starts_with('+') || t.starts_with('@')));
    assert!(
        records
            .iter()
            .any(|r| r[detail] == format!("name={office_name}")),
        "Japanese, comma and quotes survive"
    );
    assert!(
        text.contains("\"name=大分県 土木事務所, \"\"本庁\"\"\""),
        "quotes doubled inside a quoted field"
    );
    assert!(records.iter().any(|r| &r[action] == "office.save"));

    // JSONL: every hashed field as stored, so the chain can be checked from the file.
    let csrf = admin.csrf("/audit").await;
    let res = admin
        .post(
            "/audit/export",
            &[
                ("csrf", &csrf),
                ("format", "jsonl"),
                ("action", "signin"),
                ("outcome", "failure"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let text = body(res).await;
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON per line"))
        .collect();
    assert_eq!(lines.len(), 4, "the filter applies to the export");
    let first = &lines[0];
    assert_eq!(first["target"], nasty, "JSONL keeps the text exactly");
    for l in &lines {
        let row = AuditRow {
            seq: l["seq"].as_i64().unwrap() as i32,
            at: chrono::NaiveDateTime::parse_from_str(
                l["at"].as_str().unwrap(),
                "%Y-%m-%dT%H:%M:%S%.6fZ",
            )
            .unwrap(),
            actor: l["actor"].as_str().unwrap().into(),
            office_code: l["office_code"].as_str().unwrap().into(),
            action: l["action"].as_str().unwrap().into(),
            target: l["target"].as_str().unwrap().into(),
            outcome: l["outcome"].as_str().unwrap().into(),
            address: l["address"].as_str().unwrap().into(),
            user_agent: l["user_agent"].as_str().unwrap().into(),
            detail: l["detail"].as_str().unwrap().into(),
            prev_hash: l["prev_hash"].as_str().unwrap().into(),
            hash: String::new(),
        };
        assert_eq!(
            chain::row_hash(&row),
            l["hash"].as_str().unwrap(),
            "row {} re-hashes from the export",
            row.seq
        );
    }

    // Each export is itself in the log.
    let mut conn = db_at(&service.db_path());
    assert_eq!(scalar(&mut conn, "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'audit.export' AND actor = 'user:admin1'"), 2);

    // The CLI writes the same CSV, with no progress bar when stderr is not a terminal.
    let (from, to) = (
        (jst_today() - chrono::Duration::days(1)).to_string(),
        (jst_today() + chrono::Duration::days(1)).to_string(),
    );
    let out = service.cli(&[
        "audit", "export", "--from", &from, "--to", &to, "--format", "csv",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.starts_with(b"\xEF\xBB\xBF"));
    let cli_text = String::from_utf8(out.stdout[3..].to_vec()).unwrap();
    assert!(cli_text.contains(&format!("\"'{}\"", nasty.replace('"', "\"\""))));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("書き出しました") && !err.contains('\r'),
        "no progress bar on a pipe: {err:?}"
    );
    let file = service.dir().join("export.jsonl");
    let out = service.cli(&[
        "audit",
        "export",
        "--from",
        &from,
        "--to",
        &to,
        "--format",
        "jsonl",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(std::fs::read_to_string(&file).unwrap().lines().count() > 5);
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'audit.export'"
        ),
        4
    );
    let out = service.cli(&["audit", "export", "--from", &to, "--to", &from]);
    assert_eq!(out.status.code(), Some(2), "a reversed range is refused");
}

#[tokio::test]
async fn admin_creates_an_officer_who_verifies_and_a_supervisor_finds_it() {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start(&issuer.registry_toml);
    service.add_user("admin1", "admin", OFFICE);
    service.add_user("super1", "supervisor", OFFICE);
    let admin = service.sign_in("admin1").await;

    let csrf = admin.csrf("/admin/users").await;
    let res = admin.post("/admin/users", &[("login", "newofficer")]).await;
    assert_eq!(res.status(), 403, "no CSRF token, no account");
    let form = [
        ("csrf", csrf.as_str()),
        ("login", "newofficer"),
        ("name", "新人 太郎"),
        ("role", "officer"),
        ("office_code", OFFICE),
    ];
    let page = body(admin.post("/admin/users", &form).await).await;
    let password = one_time_secret(&page);
    assert_eq!(password.len(), 19, "xxxx-xxxx-xxxx-xxxx: {password}");
    assert!(
        !admin.text("/admin/users").await.contains(&password),
        "shown once only"
    );
    let page = body(admin.post("/admin/users", &form).await).await;
    assert!(page.contains("既に使われています"), "{page}");

    // The issued password is known to the administrator too: its holder replaces it
    // before anything else, and no page but the password form opens until then.
    let mut officer = Browser::new(&service.base_url);
    let res = officer.sign_in("newofficer", &password).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.url().path(), "/password");
    assert!(body(res).await.contains("管理者が発行したパスワード"));
    for path in ["/", "/verifications", "/verifications/01ANY"] {
        let res = officer.get(path).await;
        assert_eq!(res.url().path(), "/password", "{path}");
    }
    let mine = "my-own-secret-2025";
    for (current, new, confirm, field, says) in [
        (
            "not-it-at-all",
            mine,
            mine,
            "current",
            "現在のパスワードが違います",
        ),
        (
            password.as_str(),
            mine,
            "my-own-secret-2026",
            "confirm",
            "もう一度同じように",
        ),
        (password.as_str(), "short", "short", "new", "10文字以上"),
        (
            password.as_str(),
            password.as_str(),
            password.as_str(),
            "new",
            "違うパスワード",
        ),
    ] {
        let csrf = officer.csrf("/password").await;
        let res = officer
            .post(
                "/password",
                &[
                    ("csrf", &csrf),
                    ("current", current),
                    ("new", new),
                    ("confirm", confirm),
                ],
            )
            .await;
        assert_eq!(res.status(), 422, "{field}");
        let page = body(res).await;
        assert!(
            page.contains(&format!("id=\"{field}-error\"")) && page.contains(says),
            "{field}: {page}"
        );
        assert!(
            !page.contains(mine) && !page.contains(&password),
            "passwords are never echoed"
        );
    }
    let csrf = officer.csrf("/password").await;
    let res = officer
        .post(
            "/password",
            &[
                ("csrf", &csrf),
                ("current", &password),
                ("new", mine),
                ("confirm", mine),
            ],
        )
        .await;
    assert_eq!(res.url().path(), "/login", "the change ends the session");
    assert!(body(res).await.contains("パスワードを変更しました"));
    assert_eq!(
        Browser::new(&service.base_url)
            .sign_in("newofficer", &password)
            .await
            .status(),
        401,
        "the issued password no longer works"
    );
    let res = officer.sign_in("newofficer", mine).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.url().path(), "/", "no more detour");
    let k = issuer.demo_key("W2025000001");
    let res = officer
        .verify(&k.certificate_number, &k.auth_key, &[])
        .await;
    assert!(body(res).await.contains("<h1>確認済み</h1>"));

    let supervisor = service.sign_in("super1").await;
    let number = k.certificate_number.to_lowercase();
    let page = supervisor
        .text(&format!(
            "/audit?actor=newofficer&action=verify&outcome=verified&number={number}"
        ))
        .await;
    assert!(
        page.contains("user:newofficer") && page.contains(&k.certificate_number),
        "{page}"
    );
    assert_eq!(
        page.matches("data-seq=").count(),
        1,
        "exactly that one event"
    );
    assert!(
        page.contains("<svg") && !page.contains("<script") && !page.contains(" src="),
        "chart is inline SVG only"
    );
    let seq: String = page
        .split("data-seq=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let detail = supervisor.text(&format!("/audit/events/{seq}")).await;
    assert!(
        detail.contains("この記録は改ざんされていません") && detail.contains("署名"),
        "{detail}"
    );

    // Role and office change, password reset, last-admin rule.
    let csrf = admin.csrf("/admin/users").await;
    let res = admin
        .post(
            "/admin/users/newofficer/update",
            &[
                ("csrf", &csrf),
                ("role", "supervisor"),
                ("office_code", OTHER_OFFICE),
            ],
        )
        .await;
    assert!(body(res).await.contains("変更しました"));
    let list = admin.text("/admin/users").await;
    assert!(
        list.contains(&format!(
            "id=\"office-newofficer\" value=\"{OTHER_OFFICE}\""
        )),
        "{list}"
    );
    let page = body(
        admin
            .post("/admin/users/newofficer/reset", &[("csrf", &csrf)])
            .await,
    )
    .await;
    let second = one_time_secret(&page);
    assert_ne!(second, password);
    assert_eq!(
        Browser::new(&service.base_url)
            .sign_in("newofficer", &password)
            .await
            .status(),
        401
    );
    assert_eq!(
        Browser::new(&service.base_url)
            .sign_in("newofficer", &second)
            .await
            .status(),
        200
    );
    for (path, form) in [
        ("/admin/users/admin1/disable", vec![("csrf", csrf.as_str())]),
        (
            "/admin/users/admin1/update",
            vec![
                ("csrf", csrf.as_str()),
                ("role", "officer"),
                ("office_code", OFFICE),
            ],
        ),
    ] {
        let res = admin.post(path, &form).await;
        assert_eq!(res.status(), 422, "{path}");
        assert!(body(res).await.contains("最後の有効な管理者"));
    }
    let res = admin
        .post("/admin/users/newofficer/disable", &[("csrf", &csrf)])
        .await;
    assert!(body(res).await.contains("無効にしました"));
    assert_eq!(
        Browser::new(&service.base_url)
            .sign_in("newofficer", &second)
            .await
            .status(),
        401
    );

    // API clients: token shown once, a hash stored, revocable; offices listed.
    let csrf = admin.csrf("/admin/clients").await;
    let page = body(
        admin
            .post(
                "/admin/clients",
                &[
                    ("csrf", &csrf),
                    ("name", "batch-1"),
                    ("office_code", OFFICE),
                    ("scope", "verify"),
                ],
            )
            .await,
    )
    .await;
    let token = one_time_secret(&page);
    assert!(token.len() >= 40);
    let list = admin.text("/admin/clients").await;
    assert!(list.contains("batch-1") && list.contains("未使用") && !list.contains(&token));
    let res = admin
        .post("/admin/clients/batch-1/revoke", &[("csrf", &csrf)])
        .await;
    assert!(body(res).await.contains("失効（"));
    let mut conn = db_at(&service.db_path());
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT COUNT(*) AS n FROM api_tokens WHERE token_hash = '{token}'")
        ),
        0
    );
    for action in [
        "user.add",
        "user.update",
        "user.reset",
        "user.disable",
        "token.create",
        "token.revoke",
    ] {
        let n = scalar(&mut conn, &format!("SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}' AND actor = 'user:admin1'"));
        assert_eq!(n, 1, "{action} audited once");
    }
    for outcome in ["failure", "ok"] {
        let n = scalar(&mut conn, &format!("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'user.passwd' AND outcome = '{outcome}' AND actor = 'user:newofficer'"));
        assert_eq!(n, 1, "own password change {outcome} audited once");
    }
    let audit = service.cli(&["audit", "verify"]);
    assert_eq!(audit.status.code(), Some(0), "{}", stdout(&audit));
}

/// A stolen session must not make guessing the owner's password faster: wrong current
/// passwords on the own-password form count with wrong sign-ins, and past the limit the
/// form refuses even the right one.
#[tokio::test]
async fn wrong_current_passwords_are_throttled_like_sign_ins() {
    let service = ServiceProcess::start_with(
        "",
        Some("[signin]\nmax_failures = 3\nwindow_minutes = 15\n"),
    );
    service.add_user("officer1", "officer", OFFICE);
    let officer = service.sign_in("officer1").await;
    let attempt = |current: &'static str| {
        let officer = &officer;
        async move {
            let csrf = officer.csrf("/password").await;
            let new = "a-brand-new-secret";
            officer
                .post(
                    "/password",
                    &[
                        ("csrf", csrf.as_str()),
                        ("current", current),
                        ("new", new),
                        ("confirm", new),
                    ],
                )
                .await
        }
    };
    for _ in 0..3 {
        assert_eq!(attempt("a-wrong-guess").await.status(), 422);
    }
    let res = attempt(kakunin_testkit::service::PASSWORD).await;
    assert_eq!(
        res.status(),
        429,
        "the right password is refused too, for the window"
    );
    assert!(body(res).await.contains("しばらく変更できません"));
    assert_eq!(
        Browser::new(&service.base_url)
            .sign_in("officer1", kakunin_testkit::service::PASSWORD)
            .await
            .status(),
        401,
        "and the guesses count against signing in"
    );

    let admin = {
        service.add_user("admin1", "admin", OFFICE);
        service.sign_in("admin1").await
    };
    for (outcome, n) in [("failure", 3), ("throttled", 1)] {
        let page = admin
            .text(&format!(
                "/audit?actor=officer1&action=user.passwd&outcome={outcome}"
            ))
            .await;
        assert_eq!(page.matches("data-seq=").count(), n, "{outcome}: {page}");
    }
}
