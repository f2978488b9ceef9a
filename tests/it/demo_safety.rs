//! `serve --demo` never plants its published passwords in a real database, and a demo
//! database is never served as a real one (issue K6 §2).

use kakunin_testkit::service::{ServiceProcess, OFFICE};

/// The registry of a stand-in issuer nobody calls: these tests never verify.
const REGISTRY: &str = r#"
[[issuer]]
id = "wjcs"
name = "西日本建設業保証株式会社"
base_url = "http://127.0.0.1:9"
token = "unused"
number_pattern = "^W[0-9]{10}$"
"#;

fn logins(svc: &ServiceProcess, db: &str) -> String {
    let out = svc
        .command()
        .env("KAKUNIN_DATABASE_URL", db)
        .args(["user", "list"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn demo_mode_refuses_a_database_that_holds_real_accounts() {
    let svc = ServiceProcess::start(REGISTRY);
    svc.add_user("chief", "admin", OFFICE);
    // The real service still runs on its port; the demo must stop before it would bind.
    let out = svc.cli(&["serve", "--demo"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--demo はデモ専用の空のデータベース"),
        "{stderr}"
    );
    let users = logins(&svc, &svc.database_url());
    assert!(users.contains("chief"));
    for demo_login in ["officer", "supervisor", "admin"] {
        assert!(
            !users
                .lines()
                .any(|l| l.split_whitespace().next() == Some(demo_login)),
            "no demo account {demo_login} in a real database:\n{users}"
        );
    }
}

#[test]
fn a_demo_database_says_so_and_is_refused_without_demo() {
    let svc = ServiceProcess::start(REGISTRY);
    let demo_db = svc.dir().join("demo.db");
    let mut demo = svc
        .command()
        .env("KAKUNIN_DATABASE_URL", &demo_db)
        .env("KAKUNIN_BIND", "127.0.0.1:0")
        .args(["serve", "--demo"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the listening line rather than polling the database: a `user list` on a
    // path that does not exist yet would create a database of its own first.
    let stdout = demo.stdout.take().expect("piped stdout");
    let listening = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .map_while(Result::ok)
        .any(|l| l.contains("待ち受けています"));
    assert!(listening, "the demo serves");
    assert!(
        logins(&svc, &demo_db.to_string_lossy()).contains("admin"),
        "demo accounts seeded"
    );
    demo.kill().unwrap();
    let out = demo.wait_with_output().unwrap();
    let banner = String::from_utf8_lossy(&out.stderr);
    assert!(banner.contains("デモモードで起動しています"), "{banner}");

    let out = svc
        .command()
        .env("KAKUNIN_DATABASE_URL", &demo_db)
        .args(["serve"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("デモ用です"), "{stderr}");
}
