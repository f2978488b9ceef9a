//! Accounts over HTTP: an administrator issues passwords and tokens, a holder replaces
//! an issued password before anything else, roles and offices change, the last admin
//! stays, and every such act is audited.

use kakunin_testkit::client::Browser;
use kakunin_testkit::html::Html;
use kakunin_testkit::service::{ServiceProcess, OFFICE, OTHER_OFFICE, PASSWORD};

use super::{assert_chain_intact, banner, start};

/// A service with the administrator `admin1`, signed in.
async fn with_admin() -> (ServiceProcess, Browser) {
    let service = ServiceProcess::start("");
    let admin = service.user("admin1", "admin").await;
    (service, admin)
}

/// The administrator creates officer `login` through the form; the password shown once.
async fn create_officer(admin: &Browser, login: &str) -> String {
    let res = admin
        .submit(
            "/admin/users",
            "/admin/users",
            &[
                ("login", login),
                ("name", "新人 太郎"),
                ("role", "officer"),
                ("office_code", OFFICE),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    Html::of(res).await.text("#one-time-secret")
}

/// `login` replaces the issued password `issued` with `own` and signs in again with it.
async fn replace_password(
    service: &ServiceProcess,
    login: &str,
    issued: &str,
    own: &str,
) -> Browser {
    let b = service.browser();
    b.sign_in(login, issued).await;
    let res = b
        .submit(
            "/password",
            "/password",
            &[("current", issued), ("new", own), ("confirm", own)],
        )
        .await;
    assert_eq!(res.url().path(), "/login", "the change ends the session");
    let res = b.sign_in(login, own).await;
    assert_eq!(res.url().path(), "/", "no more detour");
    b
}

/// How often `actor` did `action` according to the audit log.
fn audited(service: &ServiceProcess, action: &str, actor: &str, outcome: Option<&str>) -> i64 {
    let outcome = outcome.map_or(String::new(), |o| format!(" AND outcome = '{o}'"));
    service.count(&format!(
        "SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}' AND actor = '{actor}'{outcome}"
    ))
}

#[tokio::test]
async fn an_admin_creates_an_account_whose_password_is_shown_once() {
    let (service, admin) = with_admin().await;
    let res = admin.post("/admin/users", &[("login", "newofficer")]).await;
    assert_eq!(res.status(), 403, "no CSRF token, no account");
    let password = create_officer(&admin, "newofficer").await;
    assert_eq!(password.len(), 19, "xxxx-xxxx-xxxx-xxxx: {password}");
    assert!(
        !admin.text("/admin/users").await.contains(&password),
        "shown once only"
    );
    let res = admin
        .submit(
            "/admin/users",
            "/admin/users",
            &[
                ("login", "newofficer"),
                ("name", "新人 太郎"),
                ("role", "officer"),
                ("office_code", OFFICE),
            ],
        )
        .await;
    let page = Html::of(res).await;
    assert!(
        page.text("p.error").contains("既に使われています"),
        "{page}"
    );
    assert_eq!(audited(&service, "user.add", "user:admin1", None), 1);
}

/// Every admin form names every field to fix in one answer, not one per submission.
#[tokio::test]
async fn the_admin_forms_name_every_mistake_at_once() {
    let (service, admin) = with_admin().await;
    let created = || {
        ["user.add", "office.save", "token.create"]
            .iter()
            .map(|action| audited(&service, action, "user:admin1", None))
            .sum::<i64>()
    };
    let before = created();
    for (path, form, says) in [
        (
            "/admin/users",
            &[
                ("login", "X"),
                ("name", ""),
                ("role", ""),
                ("office_code", "44 00"),
            ][..],
            &[
                "ログイン名は",
                "氏名を",
                "発注機関コードは",
                "役割を選んでください",
            ][..],
        ),
        (
            "/admin/offices",
            &[("code", "44/01"), ("name", "")][..],
            &["発注機関コードは", "発注機関名を"][..],
        ),
        (
            "/admin/clients",
            &[("name", "a b"), ("office_code", ""), ("scope", "")][..],
            &["API クライアント名は", "発注機関コードは", "権限"][..],
        ),
    ] {
        let res = admin.submit(path, path, form).await;
        assert_eq!(res.status(), 422, "{path}");
        let page = Html::of(res).await;
        let shown = page.texts("[role=alert] p.error");
        assert_eq!(shown.len(), says.len(), "{path}: {shown:?}");
        for (message, expected) in shown.iter().zip(says) {
            assert!(message.contains(expected), "{path}: {shown:?}");
        }
    }
    assert_eq!(created(), before, "nothing was created");
}

#[tokio::test]
async fn an_issued_password_must_be_replaced_before_anything_else() {
    let (service, admin) = with_admin().await;
    let password = create_officer(&admin, "newofficer").await;
    let officer = service.browser();
    let res = officer.sign_in("newofficer", &password).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.url().path(), "/password");
    assert!(Html::of(res)
        .await
        .text("p.notice")
        .contains("管理者が発行したパスワード"));
    for path in ["/", "/verifications", "/verifications/01ANY"] {
        let res = officer.get(path).await;
        assert_eq!(res.url().path(), "/password", "{path}");
    }
    let own = "my-own-secret-2025";
    replace_password(&service, "newofficer", &password, own).await;
    let res = service.browser().sign_in("newofficer", &password).await;
    assert_eq!(res.status(), 401, "the issued password no longer works");
    assert_eq!(
        audited(&service, "user.passwd", "user:newofficer", Some("ok")),
        1
    );
}

#[tokio::test]
async fn the_password_form_names_each_mistake_and_never_echoes_a_password() {
    let (service, admin) = with_admin().await;
    let password = create_officer(&admin, "newofficer").await;
    let officer = service.browser();
    officer.sign_in("newofficer", &password).await;
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
        let res = officer
            .submit(
                "/password",
                "/password",
                &[("current", current), ("new", new), ("confirm", confirm)],
            )
            .await;
        assert_eq!(res.status(), 422, "{field}");
        let page = Html::of(res).await;
        assert!(
            page.text(&format!("#{field}-error")).contains(says),
            "{field}: {page}"
        );
        assert!(
            !page.source().contains(mine) && !page.source().contains(&password),
            "passwords are never echoed"
        );
    }
    // Three mistakes in one submission: each field says its own at once, so the officer
    // does not retype three times to learn of them one by one.
    let res = officer
        .submit(
            "/password",
            "/password",
            &[("current", ""), ("new", "short"), ("confirm", "shorter")],
        )
        .await;
    assert_eq!(res.status(), 422);
    super::assert_field_errors(
        &Html::of(res).await,
        &[
            ("current", "現在のパスワードを入力してください"),
            ("new", "10文字以上"),
            ("confirm", "もう一度同じように"),
        ],
    );
    assert_eq!(
        audited(&service, "user.passwd", "user:newofficer", Some("failure")),
        1,
        "a wrong current password is audited, an empty one is not tried"
    );
}

#[tokio::test]
async fn a_new_officers_verification_is_found_by_their_supervisor_in_the_audit_log() {
    let (issuer, service) = start();
    let admin = service.user("admin1", "admin").await;
    service.add_user("super1", "supervisor", OFFICE);
    let password = create_officer(&admin, "newofficer").await;
    let officer = replace_password(&service, "newofficer", &password, "my-own-secret-2025").await;
    let k = issuer.demo_key("W2025000001");
    let (_, page) = officer
        .verify_page(&k.certificate_number, &k.auth_key)
        .await;
    assert_eq!(banner(&page), "確認済み");

    let supervisor = service.sign_in("super1").await;
    let number = k.certificate_number.to_lowercase();
    let page = supervisor
        .page(&format!(
            "/audit?actor=newofficer&action=verify&outcome=verified&number={number}"
        ))
        .await;
    let rows = page.all("#audit-events tbody tr[data-seq]");
    assert_eq!(rows.len(), 1, "exactly that one event: {page}");
    let row = kakunin_testkit::html::text_of(rows[0]);
    assert!(
        row.contains("（newofficer）") && row.contains(&k.certificate_number),
        "{row}"
    );
    assert!(page.has("figure.chart svg"), "the chart is inline SVG");
    assert_eq!(
        page.attrs("script", "src"),
        ["/static/app.js"],
        "no script but the service's own file"
    );
    assert_eq!(
        page.attrs("[src]", "src"),
        ["/static/app.js"],
        "nor anything else loaded"
    );
    let seq = rows[0].value().attr("data-seq").unwrap().to_owned();
    let detail = supervisor.page(&format!("/audit/events/{seq}")).await;
    assert_eq!(
        detail.text("#chain-status"),
        "この記録は改ざんされていません。"
    );
    assert!(detail
        .texts("dl.meta dt")
        .iter()
        .any(|t| t == "署名付きチェックポイント"));
    assert!(detail.body().contains("署名"));
}

#[tokio::test]
async fn an_admin_changes_role_and_office_resets_a_password_and_disables_an_account() {
    let (service, admin) = with_admin().await;
    let password = create_officer(&admin, "newofficer").await;
    // Only a registered office can be given.
    admin
        .submit(
            "/admin/offices",
            "/admin/offices",
            &[("code", OTHER_OFFICE), ("name", "別府土木事務所")],
        )
        .await;
    let res = admin
        .submit(
            "/admin/users",
            "/admin/users/newofficer/update",
            &[("role", "supervisor"), ("office_code", OTHER_OFFICE)],
        )
        .await;
    assert!(Html::of(res)
        .await
        .text("p.notice")
        .contains("変更しました"));
    let list = admin.page("/admin/users").await;
    assert_eq!(
        list.attr("#office-newofficer option[selected]", "value")
            .as_deref(),
        Some(OTHER_OFFICE)
    );
    assert_eq!(
        list.attr("#role-newofficer option[selected]", "value")
            .as_deref(),
        Some("supervisor")
    );
    let res = admin
        .submit("/admin/users", "/admin/users/newofficer/reset", &[])
        .await;
    let second = Html::of(res).await.text("#one-time-secret");
    assert_ne!(second, password);
    let sign_in = |password: String| {
        let service = &service;
        async move {
            service
                .browser()
                .sign_in("newofficer", &password)
                .await
                .status()
        }
    };
    assert_eq!(sign_in(password.clone()).await, 401);
    assert_eq!(sign_in(second.clone()).await, 200);
    let res = admin
        .submit(
            "/admin/users",
            "/admin/users/newofficer/disable",
            &[("confirm", "yes")],
        )
        .await;
    assert!(Html::of(res)
        .await
        .text("p.notice")
        .contains("無効にしました"));
    assert_eq!(sign_in(second).await, 401);
    for action in ["user.update", "user.reset", "user.disable"] {
        assert_eq!(
            audited(&service, action, "user:admin1", None),
            1,
            "{action} audited once"
        );
    }
    assert_chain_intact(&service);
}

#[tokio::test]
async fn the_last_active_admin_can_be_neither_disabled_nor_demoted() {
    let (_service, admin) = with_admin().await;
    for (path, form) in [
        ("/admin/users/admin1/disable", vec![("confirm", "yes")]),
        (
            "/admin/users/admin1/update",
            vec![("role", "officer"), ("office_code", OFFICE)],
        ),
    ] {
        let res = admin.submit("/admin/users", path, &form).await;
        assert_eq!(res.status(), 422, "{path}");
        let page = Html::of(res).await;
        assert!(
            page.text("p.error").contains("最後の有効な管理者"),
            "{page}"
        );
    }
    assert_eq!(admin.get("/admin/users").await.status(), 200, "still admin");
}

#[tokio::test]
async fn an_api_token_is_shown_once_stored_as_a_hash_and_revocable() {
    let (service, admin) = with_admin().await;
    let res = admin
        .submit(
            "/admin/clients",
            "/admin/clients",
            &[
                ("name", "batch-1"),
                ("office_code", OFFICE),
                ("scope", "verify"),
            ],
        )
        .await;
    let token = Html::of(res).await.text("#one-time-secret");
    assert!(token.len() >= 40);
    let list = admin.page("/admin/clients").await;
    let row = list.text("#clients tr[data-name=\"batch-1\"]");
    assert!(row.contains("batch-1") && row.contains("未使用"), "{row}");
    assert!(!list.source().contains(&token));
    let res = admin
        .submit(
            "/admin/clients",
            "/admin/clients/batch-1/revoke",
            &[("confirm", "yes")],
        )
        .await;
    let list = Html::of(res).await;
    assert!(list
        .text("#clients tr[data-name=\"batch-1\"] td:last-child")
        .starts_with("失効（"));
    assert_eq!(
        service.count(&format!(
            "SELECT COUNT(*) AS n FROM api_tokens WHERE token_hash = '{token}'"
        )),
        0
    );
    for action in ["token.create", "token.revoke"] {
        assert_eq!(
            audited(&service, action, "user:admin1", None),
            1,
            "{action} audited once"
        );
    }
}

/// A client's name typed in full width (as from paper) is the ASCII name, on the admin
/// form and in `kakunin token revoke`; its case is kept.
#[tokio::test]
async fn a_client_name_typed_in_full_width_is_stored_and_revoked_as_ascii() {
    let (service, admin) = with_admin().await;
    let res = admin
        .submit(
            "/admin/clients",
            "/admin/clients",
            &[
                ("name", "Ｋｅｉｒｉ－２"),
                ("office_code", "４４０００１"),
                ("scope", "verify"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let page = Html::of(res).await;
    assert!(!page.text("#one-time-secret").is_empty(), "{page}");
    assert!(
        page.text("main").contains("Keiri-2（発注機関 440001"),
        "{page}"
    );
    let list = admin.page("/admin/clients").await;
    assert!(
        list.text("#clients tr[data-name=\"Keiri-2\"]")
            .contains("Keiri-2"),
        "{list}"
    );
    let out = service.cli(&["token", "revoke", "--name", "Ｋｅｉｒｉ－２"]);
    kakunin_testkit::process::assert_exit(&out, 0);
    let said = kakunin_testkit::process::stdout(&out);
    assert!(said.contains("API クライアント Keiri-2 の"), "{said}");
    // Names are never reused, in any case: the audit log's 対象 filter finds a name in
    // any case, so `keiri-2` would show Keiri-2's events.
    let out = service.cli(&[
        "token", "create", "--name", "keiri-2", "--office", "440001", "--scope", "verify",
    ]);
    assert_ne!(out.status.code(), Some(0));
    let said = kakunin_testkit::process::stderr(&out);
    assert!(said.contains("既に使われています"), "{said}");
    assert_eq!(
        service.count("SELECT COUNT(*) AS n FROM api_tokens WHERE name = 'Keiri-2' AND revoked_at IS NOT NULL"),
        1
    );
}

/// A stolen session must not make guessing the owner's password faster: wrong current
/// passwords on the own-password form count with wrong sign-ins, and past the limit the
/// form refuses even the right one.
#[tokio::test]
async fn wrong_current_passwords_are_throttled_like_sign_ins() {
    let service = super::with_three_sign_in_failures_allowed();
    let officer = &service.officer().await;
    let attempt = |current: &'static str| async move {
        let new = "a-brand-new-secret";
        officer
            .submit(
                "/password",
                "/password",
                &[("current", current), ("new", new), ("confirm", new)],
            )
            .await
    };
    for _ in 0..3 {
        assert_eq!(attempt("a-wrong-guess").await.status(), 422);
    }
    let res = attempt(PASSWORD).await;
    assert_eq!(
        res.status(),
        429,
        "the right password is refused too, for the window"
    );
    assert!(Html::of(res)
        .await
        .body()
        .contains("しばらく変更できません"));
    assert_eq!(
        service
            .browser()
            .sign_in("officer1", PASSWORD)
            .await
            .status(),
        401,
        "and the guesses count against signing in"
    );

    let admin = service.user("admin1", "admin").await;
    for (outcome, n) in [("failure", 3), ("throttled", 1)] {
        let page = admin
            .page(&format!(
                "/audit?actor=officer1&action=user.passwd&outcome={outcome}"
            ))
            .await;
        assert_eq!(
            page.count("#audit-events tbody tr[data-seq]"),
            n,
            "{outcome}: {page}"
        );
    }
}

/// A wrong password against an existing account is its office's business: the office's
/// supervisor finds it in the audit log. A login no account has stays with the
/// administrators, who see every office.
#[tokio::test]
async fn a_failed_sign_in_of_an_account_is_in_its_offices_log() {
    let service = ServiceProcess::start("");
    let supervisor = service.user("sup1", "supervisor").await;
    let admin = service.user("admin1", "admin").await;
    service.add_user("officer1", "officer", OFFICE);
    for login in ["officer1", "nobody"] {
        let res = service.browser().sign_in(login, "a-wrong-guess").await;
        assert_eq!(res.status(), 401, "{login}");
    }
    let failures = |page: &Html| page.count("#audit-events tbody tr[data-seq]");
    let path = "/audit?action=signin&outcome=failure";
    assert_eq!(failures(&supervisor.page(path).await), 1);
    let page = supervisor.page(&format!("{path}&actor=officer1")).await;
    assert_eq!(failures(&page), 1, "{page}");
    // Anyone may type anyone's login: the row names the login tried, not the person.
    assert_eq!(
        page.texts("#audit-events tbody tr td:nth-child(3)"),
        ["ログイン名 officer1（本人とは限りません）"]
    );
    assert_eq!(failures(&admin.page(path).await), 2);
    // Once the account is locked out, the refusals are in its office's log too: the
    // supervisor sees the lock-out, not only the failures before it.
    for _ in 0..6 {
        service.browser().sign_in("officer1", "a-wrong-guess").await;
    }
    let throttled = supervisor
        .page("/audit?action=signin&outcome=throttled&actor=officer1")
        .await;
    assert!(failures(&throttled) >= 1, "{throttled}");
}

/// Logins are lower case, so a login typed in capitals (Caps Lock, or copied from a
/// notice printed in capitals), half- or full-width, is that account wherever a login
/// is typed; and every spelling counts against the same sign-in throttle.
#[tokio::test]
async fn a_login_typed_in_capitals_is_that_account_everywhere() {
    let service = super::with_three_sign_in_failures_allowed();
    service.add_user("officer1", "officer", OFFICE);
    for typed in ["OFFICER1", "Officer1", "ＯＦＦＩＣＥＲ１"] {
        let browser = service.browser();
        let res = browser.sign_in(typed, PASSWORD).await;
        assert_eq!(res.url().path(), "/", "{typed}");
        assert!(
            browser.text("/").await.contains("officer1"),
            "{typed}: signed in as officer1"
        );
    }
    let res = service.browser().sign_in("OFFICER1", "a-wrong-guess").await;
    assert_eq!(res.status(), 401, "the password is not folded");

    // The audit log's actor filter, on the page and in the API, reads the login alike.
    let admin = service.user("admin1", "admin").await;
    let page = admin
        .page("/audit?action=signin&outcome=failure&actor=OFFICER1")
        .await;
    assert_eq!(page.count("#audit-events tbody tr[data-seq]"), 1, "{page}");
    let auditor = service.api("kansa", "audit");
    for actor in ["OFFICER1", "USER:officer1", "ｕｓｅｒ：ＯＦＦＩＣＥＲ１"] {
        let page = auditor
            .get_json(&format!("/api/v1/audit/events?action=signin&actor={actor}"))
            .await;
        assert_eq!(
            page["events"].as_array().unwrap().len(),
            4,
            "{actor}: {page}"
        );
    }

    // A new account typed in capitals is stored folded, and collides with its twin.
    let created = admin
        .submit(
            "/admin/users",
            "/admin/users",
            &[
                ("login", "OFFICER2"),
                ("name", "大分 二郎"),
                ("role", "officer"),
                ("office_code", OFFICE),
            ],
        )
        .await;
    assert!(Html::of(created).await.body().contains("officer2（"));
    let twin = admin
        .submit(
            "/admin/users",
            "/admin/users",
            &[
                ("login", "Officer2"),
                ("name", "大分 二郎"),
                ("role", "officer"),
                ("office_code", OFFICE),
            ],
        )
        .await;
    assert!(Html::of(twin)
        .await
        .text("p.error")
        .contains("ログイン名「officer2」は既に使われています"));

    // Two more wrong passwords, spelt differently, reach the limit of three.
    for typed in ["officer1", "ｏｆｆｉｃｅｒ１"] {
        service.browser().sign_in(typed, "a-wrong-guess").await;
    }
    let res = service.browser().sign_in("officer1", PASSWORD).await;
    assert_eq!(res.status(), 401);
    assert!(
        Html::of(res)
            .await
            .body()
            .contains("しばらくログインできません"),
        "one throttle for every spelling"
    );

    // The CLI's --login too.
    let out = service.cli(&["user", "disable", "--login", "ＯＦＦＩＣＥＲ２"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        service.count("SELECT COUNT(*) AS n FROM users WHERE login = 'officer2' AND disabled"),
        1
    );
}

/// `user add` / `token create --office-name` register an office only for an account or
/// client that will be made: a refused one leaves no office behind.
#[test]
fn a_refused_account_or_client_registers_no_office() {
    let service = ServiceProcess::start("");
    service.add_user("taro", "officer", OFFICE);
    service.create_token("keiyaku", OFFICE, "verify");
    let offices = || service.count("SELECT COUNT(*) AS n FROM offices");
    let before = offices();
    for args in [
        &[
            "user",
            "add",
            "--login",
            "taro",
            "--name",
            "大分 太郎",
            "--role",
            "officer",
        ][..],
        &[
            "user",
            "add",
            "--login",
            "x",
            "--name",
            "大分 太郎",
            "--role",
            "officer",
        ][..],
        &["token", "create", "--name", "keiyaku", "--scope", "verify"][..],
        &["token", "create", "--name", "a b", "--scope", "verify"][..],
    ] {
        let mut args = args.to_vec();
        args.extend(["--office", "449999", "--office-name", "新しい事務所"]);
        let out = service.cli_with_stdin(&args, "a-long-enough-password\n");
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(offices(), before, "{args:?}");
    }
}

/// The CLI reads a full-width office code or login as the pages do: `--office-name`
/// names an office only when the code is new, whichever width the code was typed in,
/// and the account is the ASCII login.
#[test]
fn the_cli_reads_full_width_codes_and_logins_as_ascii() {
    let service = ServiceProcess::start("");
    service.add_user("taro", "officer", OFFICE);
    let name_of = |code: &str| {
        let mut c = service.db();
        kakunin_testkit::sql::text(
            &mut c,
            &format!("SELECT name AS t FROM offices WHERE code = '{code}'"),
        )
    };
    let before = name_of(OFFICE);
    let full_width: String = OFFICE
        .chars()
        .map(|c| char::from_u32(c as u32 - 0x30 + 0xFF10).unwrap())
        .collect();
    let out = service.cli_with_stdin(
        &[
            "user",
            "add",
            "--login",
            "ｊｉｒｏ",
            "--name",
            "大分 次郎",
            "--role",
            "officer",
            "--office",
            &full_width,
            "--office-name",
            "別名事務所",
        ],
        "a-long-enough-pass-2026\n",
    );
    kakunin_testkit::process::assert_exit(&out, 0);
    assert_eq!(name_of(OFFICE), before, "an existing office keeps its name");
    let out = service.cli_with_stdin(
        &["user", "passwd", "--login", "ｊｉｒｏ"],
        "another-long-pass-2026\n",
    );
    kakunin_testkit::process::assert_exit(&out, 0);
    let out = service.cli(&["user", "disable", "--login", "ｊｉｒｏ"]);
    kakunin_testkit::process::assert_exit(&out, 0);
}

/// A command given a mistyped SQLite path says so and exits 2, instead of creating an
/// empty database and listing nobody; `migrate` still creates one where told to.
#[test]
fn a_command_on_a_database_that_is_not_there_refuses_rather_than_creating_it() {
    let (_issuer, service) = start();
    let missing = service.dir().join("kakunin-typo.db");
    let missing_url = missing.display().to_string();
    for args in [
        &["user", "list"][..],
        &["token", "list"],
        &["audit", "verify"],
        &["watch", "--office", OFFICE],
    ] {
        let out = service
            .command()
            .env("KAKUNIN_DATABASE_URL", &missing_url)
            .args(args)
            .output()
            .unwrap();
        let stderr = kakunin_testkit::process::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("がありません") && stderr.contains("kakunin migrate"),
            "{args:?}: {stderr}"
        );
        assert!(!missing.exists(), "{args:?} created {}", missing.display());
    }
    let out = service
        .command()
        .env("KAKUNIN_DATABASE_URL", &missing_url)
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        kakunin_testkit::process::stderr(&out)
    );
    assert!(missing.exists());
}

/// A sign-in sent with a field left empty names that field, as every other form does,
/// keeps the login typed (never the password), and is no failed sign-in: nothing to
/// count against the throttle or to audit, so the right password still signs in after.
#[tokio::test]
async fn an_empty_sign_in_field_is_named_and_not_counted_as_a_failure() {
    let service = super::with_three_sign_in_failures_allowed();
    service.add_user("officer1", "officer", OFFICE);
    let rows = |service: &ServiceProcess| {
        (
            service.count("SELECT COUNT(*) AS n FROM audit_events"),
            service.count("SELECT COUNT(*) AS n FROM signin_failures"),
        )
    };
    let before = rows(&service);
    let b = service.browser();

    let res = b.sign_in("", "").await;
    assert_eq!(res.status(), 422);
    let page = Html::of(res).await;
    super::assert_field_errors(
        &page,
        &[
            ("login", "ログイン名が入力されていません。"),
            ("password", "パスワードが入力されていません。"),
        ],
    );
    assert!(!page.body().contains("違います"), "{page}");
    assert_eq!(
        page.attr("#login", "aria-describedby").as_deref(),
        Some("login-error")
    );
    assert_eq!(
        page.attr("#password", "aria-describedby").as_deref(),
        Some("password-error")
    );

    for _ in 0..4 {
        let res = b.sign_in("ＯＦＦＩＣＥＲ１", "").await;
        assert_eq!(res.status(), 422);
        let page = Html::of(res).await;
        super::assert_field_errors(&page, &[("password", "パスワードが入力されていません。")]);
        assert!(!page.has("#login-error"), "{page}");
        assert_eq!(page.field("login").as_deref(), Some("ＯＦＦＩＣＥＲ１"));
        assert_eq!(page.field("password"), None, "never the password");
    }

    let res = b.sign_in(" ", PASSWORD).await;
    assert_eq!(res.status(), 422);
    let page = Html::of(res).await;
    super::assert_field_errors(&page, &[("login", "ログイン名が入力されていません。")]);
    assert!(!page.has("#password-error"), "{page}");
    assert!(!page.source().contains(PASSWORD), "never the password");

    assert_eq!(rows(&service), before, "no failure counted or audited");
    let res = b.sign_in("officer1", PASSWORD).await;
    assert_eq!(res.url().path(), "/", "not throttled by empty tries");
}
