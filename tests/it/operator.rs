//! What an operator meets installing and running the service by the README: a fresh
//! database, a working directory outside the source tree, an address already taken,
//! and the messages of the commands they type.

use std::net::TcpListener;

use kakunin_testkit::process::{assert_exit, stderr, stdout, Serving};
use kakunin_testkit::service::{ServiceProcess, PASSWORD};

#[test]
fn on_an_empty_database_user_add_and_token_create_say_how_to_register_the_office() {
    let service = ServiceProcess::prepare("", None);
    let add = |extra: &[&str]| {
        let mut args = vec![
            "user",
            "add",
            "--login",
            "admin",
            "--name",
            "管理者",
            "--role",
            "admin",
            "--office",
            "449001",
        ];
        args.extend_from_slice(extra);
        service.cli_with_stdin(&args, &format!("{PASSWORD}\n"))
    };
    let out = add(&[]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("「449001」は登録されていません") && err.contains("--office-name"),
        "{err}"
    );
    let out = add(&["--office-name", "臨海土木事務所"]);
    assert_exit(&out, 0);
    // The office is registered and audited with the account, the office first.
    assert_eq!(
        service.count(
            "SELECT COUNT(*) AS n FROM audit_events a JOIN audit_events b ON b.seq = a.seq + 1 \
             WHERE a.action = 'office.save' AND a.target = '449001' \
             AND b.action = 'user.add' AND b.target = 'admin'"
        ),
        1
    );

    let out = service.cli(&["token", "create", "--name", "keiri", "--office", "449002"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--office-name"), "{}", stderr(&out));
}

#[test]
fn revoking_a_revoked_client_says_it_is_already_revoked() {
    let service = ServiceProcess::prepare("", None);
    service.create_token("keiri", "440001", "verify");
    assert_exit(&service.cli(&["token", "revoke", "--name", "keiri"]), 0);
    let out = service.cli(&["token", "revoke", "--name", "keiri"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("既に失効しています"),
        "{}",
        stderr(&out)
    );
    let out = service.cli(&["token", "revoke", "--name", "nobody"]);
    assert!(stderr(&out).contains("ありません"), "{}", stderr(&out));
}

#[test]
fn watch_says_the_allowed_days_and_where_offices_are_listed() {
    let service = ServiceProcess::prepare("", None);
    let out = service.cli(&["watch", "--office", "440001", "--days", "5000"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("0～3650"), "{}", stderr(&out));
    let out = service.cli(&["watch", "--office", "999999"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("管理 → 発注機関") && !err.contains("user list"),
        "{err}"
    );
}

#[test]
fn the_first_receipt_key_speaks_of_no_previous_key() {
    let service = ServiceProcess::prepare("", None);
    // `key init` made the first key; a second directory has none yet.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = service
        .command()
        .env(
            "KAKUNIN_AUDIT_SIGNING_KEY_FILE",
            elsewhere.path().join("audit.key"),
        )
        .args(["key", "rotate"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("最初の鍵です") && !text.contains("秒後まで有効"),
        "{text}"
    );
    assert!(
        !text.contains('\u{301c}'),
        "the project writes ～ (U+FF5E): {text}"
    );
    let out = service.cli(&["key", "rotate"]);
    assert!(
        stdout(&out).contains("前の鍵は60秒後まで有効です"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn serve_that_cannot_listen_names_the_address_and_the_setting() {
    let service = ServiceProcess::prepare("", None);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = service
        .command()
        .env("KAKUNIN_BIND", &addr)
        .arg("serve")
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{addr} で待ち受けできません"))
            && err.contains("KAKUNIN_BIND")
            && err.contains("ほかのプログラムが使っています"),
        "{err}"
    );
    assert!(!err.contains("Address already in use"), "{err}");
}

/// A package install runs from its own directory: no `config/` there, so the shipped
/// profile comes from the binary.
#[test]
fn serve_starts_outside_the_source_tree_with_the_built_in_profile() {
    let service = ServiceProcess::prepare("", None);
    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = service.command();
    cmd.current_dir(elsewhere.path()).arg("serve");
    let log = elsewhere.path().join("serve.log");
    let serving = Serving::start(cmd, &log);
    assert!(serving.base_url.starts_with("http://127.0.0.1:"));
    // And says so, so that an edited profile not found is not replaced unnoticed.
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.contains("rule profile is the copy built into the binary"),
        "{said}"
    );
}

/// Every node must run with the installation's secret (the audit log's key
/// fingerprints are made with it): another one stops `serve` at start, saying what to
/// do; a deliberate change is made the installation's with `kakunin key adopt-secret`,
/// audited, after which the old secret is the one refused.
#[tokio::test]
async fn serve_refuses_a_secret_the_installation_was_not_run_with() {
    let service = ServiceProcess::start("");
    let other = "f".repeat(64);
    let serve_with = |secret: &str| {
        service
            .command()
            .env("KAKUNIN_SECRET_KEY", secret)
            .arg("serve")
            .output()
            .expect("run kakunin serve")
    };
    let out = serve_with(&other);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("このデータベースで使われてきた秘密鍵と違います")
            && stderr(&out).contains("kakunin key adopt-secret"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(&other), "the secret is never shown");
    let adopted = service
        .command()
        .env("KAKUNIN_SECRET_KEY", &other)
        .args(["key", "adopt-secret"])
        .output()
        .unwrap();
    assert_exit(&adopted, 0);
    assert_eq!(
        service.count("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'secret.adopt'"),
        1
    );
    let out = serve_with(kakunin_testkit::service::SECRET);
    assert_exit(&out, 2);
}
