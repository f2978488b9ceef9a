//! The audit log: who sees which rows, tamper detection by `kakunin audit verify` and by
//! the detail page, checkpoints, and the signing key it depends on.

use std::process::Output;

use kakunin_testkit::html::Html;
use kakunin_testkit::process::{stderr, stdout};
use kakunin_testkit::service::{ServiceProcess, OFFICE, OTHER_OFFICE};
use kakunin_testkit::sql;

use super::{assert_chain_intact, column};

/// A consistent copy of the live database (the server keeps running): SQLite's
/// `VACUUM INTO` a file, or `kakunin db copy` into a new PostgreSQL database. Its URL.
fn snapshot(service: &ServiceProcess, name: &str) -> String {
    if service.on_postgres() {
        let to = kakunin_testkit::postgres::shared().create_database();
        let out = service.cli(&["db", "copy", "--from", &service.database_url(), "--to", &to]);
        assert_eq!(out.status.code(), Some(0), "db copy: {}", stderr(&out));
        return to;
    }
    let to = service.dir().join(format!("{name}.db"));
    sql::exec(
        &mut service.db(),
        &format!("VACUUM INTO '{}'", to.display()),
    );
    to.to_string_lossy().into_owned()
}

/// `kakunin audit verify` on another database (a file or a URL), with the service's key.
fn verify_copy(service: &ServiceProcess, db: &str) -> Output {
    service
        .command()
        .env("KAKUNIN_DATABASE_URL", db)
        .args(["audit", "verify"])
        .output()
        .expect("run kakunin audit verify")
}

/// `kakunin audit verify` on a copy of the log after `statements`.
fn verify_tampered(service: &ServiceProcess, name: &str, statements: &[&str]) -> Output {
    let copy = snapshot(service, name);
    let mut c = sql::open_url(&copy);
    for s in statements {
        sql::exec(&mut c, s);
    }
    drop(c);
    verify_copy(service, &copy)
}

/// Asserts that `kakunin audit verify` fails on the tampered copy, saying `expected`.
fn assert_named(service: &ServiceProcess, name: &str, statements: &[&str], expected: &str) {
    let out = verify_tampered(service, name, statements);
    assert_eq!(out.status.code(), Some(1), "{name}: {}", stdout(&out));
    assert!(
        stdout(&out).contains(expected),
        "{name}: expected {expected:?} in:\n{}",
        stdout(&out)
    );
}

/// The seq of `actor`'s sign-in event.
fn signin_seq(service: &ServiceProcess, actor: &str) -> i64 {
    service.count(&format!(
        "SELECT seq AS n FROM audit_events WHERE actor = '{actor}' AND action = 'signin'"
    ))
}

/// The actors of the rows of an audit list page.
/// The actors of the listed events as stored (`user:LOGIN`): the page shows a person's
/// name with the login in brackets (`大分 一郎（officer1）`).
fn actors(page: &Html) -> Vec<String> {
    column(page, "#audit-events", 3)
        .into_iter()
        .map(|shown| match shown.rsplit_once('（') {
            Some((_, login)) => format!("user:{}", login.trim_end_matches('）')),
            None => shown,
        })
        .collect()
}

/// A service with officers signed in at two offices.
async fn two_offices() -> ServiceProcess {
    let service = ServiceProcess::start("");
    service.add_user("officer1", "officer", OFFICE);
    service.add_user("officer2", "officer", OTHER_OFFICE);
    service.sign_in("officer1").await;
    service.sign_in("officer2").await;
    service
}

#[tokio::test]
async fn officers_get_403_for_the_audit_log_and_the_admin_pages() {
    let service = two_offices().await;
    let officer = service.sign_in("officer1").await;
    for path in [
        "/audit",
        "/audit/events/1",
        "/admin/users",
        "/admin/offices",
        "/admin/clients",
    ] {
        assert_eq!(officer.get(path).await.status(), 403, "officer on {path}");
    }
    let res = officer
        .submit("/", "/audit/export", &[("format", "csv")])
        .await;
    assert_eq!(res.status(), 403, "officer may not export");
    let res = officer
        .submit(
            "/",
            "/admin/users",
            &[
                ("login", "x1234"),
                ("name", "x"),
                ("role", "admin"),
                ("office_code", OFFICE),
            ],
        )
        .await;
    assert_eq!(res.status(), 403, "officer may not create users");
    let home = officer.page("/").await;
    assert!(
        !home.attrs("a", "href").iter().any(|h| h == "/audit"),
        "no audit link for officers"
    );
}

#[tokio::test]
async fn supervisors_see_only_their_own_offices_events() {
    let service = two_offices().await;
    service.add_user("super1", "supervisor", OFFICE);
    let supervisor = service.sign_in("super1").await;
    let links = supervisor.page("/").await.attrs("header nav a", "href");
    assert!(links.iter().any(|h| h == "/audit"), "{links:?}");
    assert!(!links.iter().any(|h| h == "/admin/users"), "{links:?}");
    assert_eq!(
        supervisor.get("/admin/users").await.status(),
        403,
        "supervisors do not manage accounts"
    );
    let seen = actors(&supervisor.page("/audit").await);
    assert!(seen.iter().any(|a| a == "user:officer1"), "{seen:?}");
    assert!(!seen.iter().any(|a| a == "user:officer2"), "{seen:?}");

    let foreign = signin_seq(&service, "user:officer2");
    let own = signin_seq(&service, "user:officer1");
    let detail = |seq: i64| format!("/audit/events/{seq}");
    assert_eq!(supervisor.get(&detail(foreign)).await.status(), 404);
    assert_eq!(supervisor.get(&detail(own)).await.status(), 200);
    // Asking for another office by hand changes nothing for a supervisor.
    let asked = supervisor
        .page(&format!("/audit?office={OTHER_OFFICE}"))
        .await;
    assert!(!actors(&asked).iter().any(|a| a == "user:officer2"));
}

#[tokio::test]
async fn admins_see_every_office_and_can_narrow_to_one() {
    let service = two_offices().await;
    service.add_user("admin1", "admin", OFFICE);
    let admin = service.sign_in("admin1").await;
    let page = admin.page("/audit").await;
    let seen = actors(&page);
    assert!(
        seen.iter().any(|a| a == "user:officer1") && seen.iter().any(|a| a == "user:officer2"),
        "an admin sees every office: {seen:?}"
    );
    assert!(page
        .attrs("header nav a", "href")
        .iter()
        .any(|h| h == "/admin/users"));
    let foreign = signin_seq(&service, "user:officer2");
    let res = admin.get(&format!("/audit/events/{foreign}")).await;
    assert_eq!(res.status(), 200);
    let narrowed = actors(&admin.page(&format!("/audit?office={OTHER_OFFICE}")).await);
    assert!(
        narrowed.iter().any(|a| a == "user:officer2"),
        "{narrowed:?}"
    );
    assert!(
        !narrowed.iter().any(|a| a == "user:officer1"),
        "{narrowed:?}"
    );
}

/// The 対象 filter reads a login as sign-in does: typed in capitals or full width, it
/// still finds that user's events (logins are stored in lower case), and no one else's.
/// An API client's name keeps its case, and still finds its events as typed.
#[tokio::test]
async fn the_target_filter_finds_a_login_in_any_case_and_a_client_as_typed() {
    let service = two_offices().await;
    service.add_user("admin1", "admin", OFFICE);
    service.create_token("Keiyaku", OFFICE, "verify");
    let admin = service.sign_in("admin1").await;
    let full_width_officer1 = "ＯＦＦＩＣＥＲ１";
    for typed in ["officer1", "OFFICER1", full_width_officer1] {
        let page = admin
            .page(&format!(
                "/audit?number={}",
                percent_encoding::utf8_percent_encode(typed, percent_encoding::NON_ALPHANUMERIC)
            ))
            .await;
        let seen = actors(&page);
        assert!(
            seen.iter().any(|a| a == "user:officer1"),
            "{typed}: {seen:?}"
        );
        assert!(
            !seen.iter().any(|a| a == "user:officer2"),
            "{typed}: {seen:?}"
        );
    }
    let targets = column(
        &admin.page("/audit?number=Keiyaku").await,
        "#audit-events",
        6,
    );
    assert!(targets.iter().any(|t| t == "Keiyaku"), "{targets:?}");
    assert!(targets.iter().all(|t| t == "Keiyaku"), "{targets:?}");
}

/// Every mistake in the audit filters is named at its field in one answer, the cursor
/// starts in the first of them, and nothing is listed under them.
#[tokio::test]
async fn the_audit_filters_name_every_mistake_at_once() {
    let service = two_offices().await;
    service.add_user("admin1", "admin", OFFICE);
    let admin = service.sign_in("admin1").await;
    let page = admin
        .page("/audit?from=2025/04/01&actor=a%09b&outcome=nope&office=x%0Ay&cursor=zzz")
        .await;
    super::assert_field_errors(
        &page,
        &[
            ("from", "開始日は 2025-04-01 の形で"),
            ("actor", "操作者に改行"),
            ("outcome", "結果の指定が正しくありません"),
            ("office", "発注機関に改行"),
            ("cursor", "ページの指定が正しくありません"),
        ],
    );
    for field in ["from", "actor", "outcome", "office"] {
        assert_eq!(
            page.attrs(&format!("#{field}"), "aria-invalid"),
            ["true"],
            "{field}"
        );
    }
    assert_eq!(page.attrs("#from", "autofocus").len(), 1, "the first field");
    for field in ["actor", "outcome", "office"] {
        assert!(page.attrs(&format!("#{field}"), "autofocus").is_empty());
    }
    assert!(actors(&page).is_empty(), "a filter in error lists nothing");

    // An export of a filter in error is refused with every message.
    let res = admin
        .submit(
            "/audit",
            "/audit/export",
            &[("format", "csv"), ("from", "2025/04/01"), ("actor", "a\tb")],
        )
        .await;
    assert_eq!(res.status(), 400);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("開始日は 2025-04-01 の形で") && body.contains("操作者に改行"),
        "{body}"
    );

    // A supervisor has no office field: what a link carries there is ignored, not
    // refused at a field the page does not show.
    service.add_user("super1", "supervisor", OFFICE);
    let supervisor = service.sign_in("super1").await;
    let page = supervisor.page("/audit?office=x%0Ay").await;
    assert_eq!(page.count("[role=alert]"), 0, "{page}");
    assert!(!actors(&page).is_empty(), "{page}");
}

/// A service with a checkpoint every 3 events and at least 9 events: three sign-ins
/// and sign-outs of `officer1`.
async fn a_short_log_with_checkpoints() -> ServiceProcess {
    let service = ServiceProcess::start_with("", Some("[audit]\ncheckpoint_every = 3\n"));
    service.add_user("admin1", "admin", OFFICE);
    service.add_user("officer1", "officer", OFFICE);
    for _ in 0..3 {
        let b = service.sign_in("officer1").await;
        b.submit("/", "/logout", &[]).await;
    }
    let events = service.count("SELECT COUNT(*) AS n FROM audit_events");
    assert!(events >= 9, "{events} events");
    assert!(
        service.count("SELECT COUNT(*) AS n FROM audit_checkpoints") >= 3,
        "a checkpoint every 3 events"
    );
    service
}

#[tokio::test]
async fn audit_verify_names_an_edited_deleted_or_swapped_row() {
    let service = a_short_log_with_checkpoints().await;
    let intact = service.cli(&["audit", "verify"]);
    assert_eq!(intact.status.code(), Some(0), "{}", stdout(&intact));
    assert!(stdout(&intact).contains("改ざんされていません"));
    assert_named(
        &service,
        "edited",
        &["UPDATE audit_events SET detail = 'nothing happened' WHERE seq = 4"],
        "監査ログ 4 番の内容がハッシュと一致しません",
    );
    assert_named(
        &service,
        "deleted",
        &["DELETE FROM audit_events WHERE seq = 4"],
        "4 番から 5 番へ飛んでいます",
    );
    assert_named(
        &service,
        "swapped",
        &[
            "UPDATE audit_events SET seq = -4 WHERE seq = 4",
            "UPDATE audit_events SET seq = 4 WHERE seq = 5",
            "UPDATE audit_events SET seq = 5 WHERE seq = -4",
        ],
        "監査ログ 4 番の前ハッシュが直前の行と一致しません",
    );
}

/// A wrong `--public-key` is a question of which key was given, not tampering: the
/// message says so (the exit is still 1, nothing was proven intact).
#[tokio::test]
async fn audit_verify_with_another_installations_key_says_so() {
    let service = a_short_log_with_checkpoints().await;
    // A prepared installation has an audit key of its own.
    let elsewhere = ServiceProcess::prepare("", None);
    let public = elsewhere.audit_key_path().with_extension("pub");
    let public = public.to_str().unwrap();
    let out = service.cli(&["audit", "verify", "--public-key", public]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        kakunin_testkit::process::stderr(&out)
    );
    let said = stdout(&out);
    assert!(
        said.contains("監査ログを検証できません: チェックポイント 1 番は別の鍵"),
        "{said}"
    );
    assert!(!said.contains("改ざんを検出"), "{said}");
}

/// Past the last checkpoint the chain alone cannot tell a cut end: verify says which
/// rows no signature covers yet, and the newest verification whose audit row was cut
/// off is found by the count of attempts.
#[tokio::test]
async fn audit_verify_says_what_no_checkpoint_covers_and_finds_a_cut_verification() {
    let (_issuer, service, _api, _v) = super::one_verification().await;
    let intact = service.cli(&["audit", "verify"]);
    assert_eq!(intact.status.code(), Some(0), "{}", stdout(&intact));
    let said = stdout(&intact);
    assert!(said.contains("照会の記録と監査ログ: 一致（1件）"), "{said}");
    assert!(
        said.contains("まだ署名付きチェックポイントに含まれていません"),
        "{said}"
    );
    let verify_row = service.count("SELECT seq AS n FROM audit_events WHERE action = 'verify'");
    let cut = format!("DELETE FROM audit_events WHERE seq >= {verify_row}");
    let out = verify_tampered(&service, "cut-probe", &[&cut]);
    assert!(
        stdout(&out).contains("ハッシュチェーン: 正常"),
        "the shortened chain holds in itself: {}",
        stdout(&out)
    );
    assert_named(
        &service,
        "cut-verification",
        &[&cut],
        "に対応する監査ログの行がありません",
    );
    // A stored outcome rewritten, and a verification swapped for another: the chain
    // does not cover the verifications table, the comparison with it does.
    assert_named(
        &service,
        "rewritten",
        &["UPDATE verifications SET outcome = 'rejected'"],
        "の記録の結果（不適合）が監査ログ",
    );
    assert_named(
        &service,
        "swapped",
        &["UPDATE verifications SET id = '01ZZZZZZZZZZZZZZZZZZZZZZZZ'"],
        "の記録がありません（照会の記録が削除されています）",
    );
}

#[tokio::test]
async fn audit_verify_names_a_forged_checkpoint_and_rows_cut_off_the_end() {
    let service = a_short_log_with_checkpoints().await;
    assert_named(
        &service,
        "forged",
        &["UPDATE audit_checkpoints SET event_count = event_count + 1000, head_seq = head_seq + 1000 WHERE id = 2"],
        "チェックポイント 2 番の署名が正しくありません",
    );
    // Cutting rows off the end leaves a perfect chain: only a checkpoint can tell.
    let head = service.count("SELECT MAX(head_seq) AS n FROM audit_checkpoints");
    let cut = format!("DELETE FROM audit_events WHERE seq >= {head}");
    let out = verify_tampered(&service, "cut-probe", &[&cut]);
    assert!(
        stdout(&out).contains("ハッシュチェーン: 正常"),
        "the shortened chain is intact in itself: {}",
        stdout(&out)
    );
    assert_named(
        &service,
        "cut",
        &[&cut],
        &format!("が指す監査ログ {head} 番がありません"),
    );
}

#[tokio::test]
async fn the_detail_page_shows_a_rows_hash_and_whether_it_was_rewritten() {
    let service = a_short_log_with_checkpoints().await;
    let admin = service.sign_in("admin1").await;
    let page = admin.page("/audit/events/2").await;
    assert_eq!(
        page.text("#chain-status"),
        "この記録は改ざんされていません。"
    );
    let hash = sql::text(
        &mut service.db(),
        "SELECT hash AS t FROM audit_events WHERE seq = 2",
    );
    assert_eq!(page.text("#hash"), hash, "the page shows the row's hash");
    sql::exec(
        &mut service.db(),
        "UPDATE audit_events SET target = 'someone-else' WHERE seq = 2",
    );
    let page = admin.page("/audit/events/2").await;
    assert!(
        page.text("#chain-status")
            .contains("改ざんの疑いがあります"),
        "{page}"
    );
    assert!(page
        .texts("dl.meta dd")
        .iter()
        .any(|d| d == "不一致（書き換えられています）"));
}

/// A batch appends its audit rows together; the checkpoints still fall every
/// `checkpoint_every` events, at the same rows as if each were appended alone.
#[tokio::test]
async fn a_batch_gets_a_checkpoint_every_n_events() {
    let issuer = kakunin_testkit::issuer::IssuerProcess::start();
    let service = ServiceProcess::start_with(
        &issuer.registry_toml,
        Some("[audit]\ncheckpoint_every = 3\n"),
    );
    let k = &issuer.demo_keys[0];
    let items: Vec<serde_json::Value> = (0..10)
        .map(|_| serde_json::json!({"certificate_number": k.certificate_number, "auth_key": k.auth_key}))
        .collect();
    service.api("batch", "verify").batch(&items).await;

    let heads = sql::integers(
        &mut service.db(),
        "SELECT head_seq AS n FROM audit_checkpoints ORDER BY id",
    );
    let events = service.count("SELECT COUNT(*) AS n FROM audit_events");
    assert!(events >= 10, "{events} events");
    // The first event gets one (there was none before), then every third.
    let expected: Vec<i64> = (1..=events).step_by(3).collect();
    assert_eq!(heads, expected);
    assert_chain_intact(&service);
}

#[test]
fn serve_refuses_to_start_without_the_signing_key() {
    let service = ServiceProcess::prepare("", None);
    let missing = service.dir().join("nowhere/audit.key");
    let out = service
        .command()
        .env("KAKUNIN_AUDIT_SIGNING_KEY_FILE", &missing)
        .arg("serve")
        .output()
        .expect("run serve");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("kakunin key init"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn key_init_writes_a_private_key_and_its_public_half_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let service = ServiceProcess::prepare("", None);
    let again = service.cli(&["key", "init"]);
    assert!(!again.status.success(), "key init must not replace a key");
    assert!(stderr(&again).contains("既にあります"));
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
