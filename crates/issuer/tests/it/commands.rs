//! The operator's command line: `issue`, `amend`, `cancel`, `demo-seed`, secrets and help.

use kakunin_testkit::issuer::{IssuerProcess, SECRET};
use kakunin_testkit::process::{stderr, stdout};
use serde_json::Value;

use super::{issue, issue_file, lookup_status, pdf_text, tool, WRONG_KEY};

const NOTICE_TITLE: &str = "電子証書閲覧用「認証キー」等のお知らせ";

#[tokio::test]
async fn issue_prints_the_key_once_and_writes_a_notice_whose_text_and_qr_match() {
    let iss = IssuerProcess::start();
    let file = issue_file(iss.dir(), "w2025-000101", "県道大分臼杵線舗装補修工事");
    let pdf = iss.dir().join("notice.pdf");
    let (n, key, _) = issue(&iss, &file, &["--notice-out", pdf.to_str().unwrap()]);
    assert_eq!(n, "W2025000101", "canonical number");
    assert!(
        regex::Regex::new("^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$")
            .unwrap()
            .is_match(&key),
        "{key}"
    );

    let text = pdf_text(&pdf);
    for expected in [
        NOTICE_TITLE,
        n.as_str(),
        key.as_str(),
        "県道大分臼杵線舗装補修工事",
    ] {
        assert!(text.contains(expected), "{expected} in notice:\n{text}");
    }
    let png = iss.dir().join("notice");
    let r = tool(
        "pdftoppm",
        &[
            "-r",
            "200",
            "-png",
            "-singlefile",
            pdf.to_str().unwrap(),
            png.to_str().unwrap(),
        ],
    );
    assert!(r.status.success(), "{}", stderr(&r));
    let qr = tool(
        "zbarimg",
        &[
            "--raw",
            "-q",
            iss.dir().join("notice.png").to_str().unwrap(),
        ],
    );
    let canonical = key.replace('-', "");
    assert_eq!(stdout(&qr).trim(), format!("SURETY/1;wjcs;{n};{canonical}"));

    assert_eq!(lookup_status(&iss, &n, &key).await, 200);
}

#[test]
fn issue_refuses_bad_files_and_duplicate_numbers_with_a_clear_message_and_changes_nothing() {
    let iss = IssuerProcess::start();
    let counts = || (iss.count_rows("certificates"), iss.count_rows("revisions"));
    let before = counts();
    let notice = iss.dir().join("refused.pdf");
    let notice_arg = notice.to_str().unwrap().to_owned();

    let malformed = iss.dir().join("malformed.json");
    std::fs::write(&malformed, "{\"certificate_number\": \"W2025000102\", ").unwrap();
    let mut missing: Value = serde_json::from_str(
        &std::fs::read_to_string(issue_file(iss.dir(), "W2025000103", "工事")).unwrap(),
    )
    .unwrap();
    missing["contract"]
        .as_object_mut()
        .unwrap()
        .remove("amount_yen");
    let missing_path = iss.dir().join("missing.json");
    std::fs::write(&missing_path, missing.to_string()).unwrap();
    let duplicate = issue_file(iss.dir(), "W2025000001", "重複する工事");

    for (file, says) in [
        (malformed.to_str().unwrap(), "JSONとして読めません"),
        (
            missing_path.to_str().unwrap(),
            "必須の項目「contract.amount_yen」（請負代金額）がありません",
        ),
        (
            duplicate.as_str(),
            "W2025000001 の証書は既に発行されています",
        ),
    ] {
        let out = iss.cli(&["issue", "--file", file, "--notice-out", &notice_arg]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains(says), "{says} in {}", stderr(&out));
        assert!(
            !stdout(&out).contains("認証キー"),
            "no key printed: {}",
            stdout(&out)
        );
        assert!(!notice.exists(), "no notice written");
        assert_eq!(counts(), before, "database unchanged");
    }
}

#[tokio::test]
async fn the_auth_key_appears_nowhere_in_the_database_or_the_logs() {
    let iss = IssuerProcess::start();
    let file = issue_file(iss.dir(), "W2025000104", "秘密保持確認工事");
    let (n, key, out) = issue(
        &iss,
        &file,
        &["--notice-out", iss.dir().join("n.pdf").to_str().unwrap()],
    );
    assert_eq!(lookup_status(&iss, &n, &key).await, 200);
    assert_eq!(lookup_status(&iss, &n, WRONG_KEY).await, 404);
    let canonical = key.replace('-', "");

    let mut db = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", iss.db_path().display());
        db.extend(std::fs::read(path).unwrap_or_default());
    }
    let contains =
        |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
    for k in [canonical.as_str(), key.as_str()] {
        assert!(!contains(&db, k), "key in the database file");
        assert!(!iss.log().contains(k), "key in the server log");
        assert!(!stderr(&out).contains(k), "key in the CLI log");
    }
    assert!(!iss.log().contains(SECRET), "secret in the server log");
    assert!(
        iss.log().contains(&format!("certificate_number=\"{n}\"")),
        "lookups are logged:\n{}",
        iss.log()
    );
}

#[test]
fn commands_that_hash_keys_refuse_to_run_without_a_secret() {
    let iss = IssuerProcess::start();
    let file = issue_file(iss.dir(), "W2025000106", "工事");
    for args in [vec!["serve"], vec!["issue", "--file", file.as_str()]] {
        let out = iss
            .command()
            .env_remove("KAKUNIN_ISSUER_SECRET")
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("KAKUNIN_ISSUER_SECRET"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn the_secret_may_come_from_a_file_but_not_from_both_places() {
    let iss = IssuerProcess::start();
    let file = issue_file(iss.dir(), "W2025000106", "工事");
    let secret_file = iss.dir().join("secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let out = iss
        .command()
        .env("KAKUNIN_ISSUER_SECRET_FILE", &secret_file)
        .args(["issue", "--file", &file])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("両方"),
        "both set is an error: {}",
        stderr(&out)
    );
    // Readable by others: refused, saying how to protect it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let from_file = || {
        iss.command()
            .env_remove("KAKUNIN_ISSUER_SECRET")
            .env("KAKUNIN_ISSUER_SECRET_FILE", &secret_file)
            .args(["issue", "--file", &file, "--notice-out", "n.pdf"])
            .output()
            .unwrap()
    };
    let out = from_file();
    assert!(
        !out.status.success() && stderr(&out).contains("chmod o-rwx"),
        "a world-readable secret file is refused: {}",
        stderr(&out)
    );
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = from_file();
    assert!(
        out.status.success(),
        "the secret may come from a file: {}",
        stderr(&out)
    );
}

#[test]
fn demo_seed_on_a_seeded_database_says_so_and_changes_nothing() {
    let iss = IssuerProcess::start();
    let counts = || (iss.count_rows("certificates"), iss.count_rows("clients"));
    let before = counts();
    let csv = std::fs::read(iss.demo_dir().join("demo-keys.csv")).unwrap();
    let out = iss.cli(&["demo-seed", "--out", iss.demo_dir().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("既に"), "{}", stdout(&out));
    assert_eq!(before, counts());
    assert_eq!(
        csv,
        std::fs::read(iss.demo_dir().join("demo-keys.csv")).unwrap()
    );
}

/// A clerk reading the message of a refused `amend` or `issue` file learns which member
/// (its whole path) is wrong and how it should be written; nothing is stored.
#[test]
fn bad_values_in_amend_and_issue_files_are_named_by_path_and_say_how_to_write_them() {
    let iss = IssuerProcess::start();
    let counts = || (iss.count_rows("certificates"), iss.count_rows("revisions"));
    let before = counts();
    let amend = |change: Value| {
        let file = iss.dir().join("change.json");
        std::fs::write(&file, change.to_string()).unwrap();
        let out = iss.cli(&["amend", "W2025000001", "--file", file.to_str().unwrap()]);
        assert!(!out.status.success(), "{change} refused");
        stderr(&out)
    };
    let issue_with = |edit: &dyn Fn(&mut Value)| {
        let path = issue_file(iss.dir(), "W2025000106", "工事");
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut v);
        std::fs::write(&path, v.to_string()).unwrap();
        let out = iss.cli(&["issue", "--file", &path]);
        assert!(!out.status.success(), "{v} refused");
        stderr(&out)
    };
    let has = |text: &str, parts: &[&str]| {
        for p in parts {
            assert!(text.contains(p), "「{p}」 in {text}");
        }
    };

    let negative = ["guarantee.amount_yen", "保証金額", "0以上の整数"];
    has(
        &amend(serde_json::json!({"guarantee": {"amount_yen": -1}})),
        &negative,
    );
    has(
        &issue_with(&|v| v["guarantee"]["amount_yen"] = (-1).into()),
        &negative,
    );
    has(
        &issue_with(&|v| v["contract"]["amount_yen"] = "5,500,000円".into()),
        &["contract.amount_yen", "請負代金額", "0以上の整数"],
    );

    let deleted = amend(serde_json::json!({"guarantee": {"amount_yen": null}}));
    has(
        &deleted,
        &["guarantee.amount_yen", "保証金額", "削除できません"],
    );

    let unreal = ["guarantee.period_end", "2026-02-30", "存在しない日付"];
    let said = amend(serde_json::json!({"guarantee": {"period_end": "2026-02-30"}}));
    has(&said, &unreal);
    assert!(!said.contains("の形で書かれていません"), "{said}");
    has(
        &issue_with(&|v| v["guarantee"]["period_end"] = "2026-02-30".into()),
        &unreal,
    );
    has(
        &issue_with(&|v| v["contract"]["contract_date"] = "2025/10/01".into()),
        &["contract.contract_date", "YYYY-MM-DD"],
    );
    assert_eq!(counts(), before, "nothing stored");
}

/// Issue and amend files saved by Notepad start with a UTF-8 byte order mark, which
/// RFC 8259 §8.1 lets a reader ignore: both are read; a second mark is still an error.
#[test]
fn issue_and_amend_files_saved_with_a_byte_order_mark_are_read() {
    let iss = IssuerProcess::start();
    let bom = kakunin_platform::cli::UTF8_BOM;
    let path = issue_file(iss.dir(), "W2025000107", "県道改良工事");
    let body = std::fs::read(&path).unwrap();
    std::fs::write(&path, [bom, &body].concat()).unwrap();
    let (n, _key, _) = issue(&iss, &path, &[]);
    assert_eq!(n, "W2025000107");

    let change = iss.dir().join("change.json");
    let amend = |bytes: Vec<u8>| {
        std::fs::write(&change, bytes).unwrap();
        iss.cli(&["amend", &n, "--file", change.to_str().unwrap()])
    };
    let period = br#"{"guarantee": {"period_end": "2026-03-31"}}"#;
    let out = amend([bom, period].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let out = amend([bom, bom, period].concat());
    assert!(!out.status.success(), "two marks are refused");
    assert!(
        stderr(&out).contains("JSONとして読めません（1行"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn cancelled_certificates_cannot_be_amended_or_cancelled_again() {
    let iss = IssuerProcess::start();
    let change = iss.dir().join("c.json");
    std::fs::write(&change, r#"{"guarantee": {"amount_yen": 1}}"#).unwrap();
    let out = iss.cli(&["amend", "W2025000007", "--file", change.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("解約済み"), "{}", stderr(&out));
    let out = iss.cli(&["cancel", "W2025000007"]);
    assert!(stderr(&out).contains("解約済み"), "{}", stderr(&out));
    let out = iss.cli(&["cancel", "W2025000017"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("第2版"));
}

#[test]
fn every_command_has_japanese_help() {
    let iss = IssuerProcess::start();
    for cmd in [
        vec!["--help"],
        vec!["keygen", "--help"],
        vec!["client", "add", "--help"],
        vec!["issue", "--help"],
        vec!["amend", "--help"],
        vec!["cancel", "--help"],
        vec!["rotate-key", "--help"],
        vec!["demo-seed", "--help"],
        vec!["serve", "--help"],
    ] {
        let out = iss.cli(&cmd);
        assert!(out.status.success(), "{cmd:?}");
        let text = stdout(&out);
        assert!(
            text.contains("使い方") && text.contains("ヘルプを表示します"),
            "{cmd:?}:\n{text}"
        );
    }
}

/// `contractor add` reads the login as sign-in does (full width and capitals fold to
/// the stored lower case), refuses one no sign-in could match, and holds the password
/// to the service's rules: ten characters, not white space alone.
#[tokio::test]
async fn contractor_add_folds_the_login_and_refuses_a_bad_login_or_a_weak_password() {
    let iss = IssuerProcess::start();
    let add = |login: &str, password: &str| {
        iss.cli_with_stdin(
            &[
                "contractor",
                "add",
                "--login",
                login,
                "--name",
                "株式会社別府建設",
            ],
            &format!("{password}\n"),
        )
    };
    for (login, password, said) in [
        (
            "beppu kensetsu",
            "beppu-demo-pass",
            "ログインIDは英字・数字",
        ),
        ("bp", "beppu-demo-pass", "ログインIDは英字・数字"),
        ("beppu", "short", "10文字以上"),
        ("beppu", "\u{3000}".repeat(11).as_str(), "空白だけ"),
    ] {
        let out = add(login, password);
        assert!(!out.status.success(), "{login:?} {password:?}");
        assert!(stderr(&out).contains(said), "{login:?}: {}", stderr(&out));
    }
    assert_eq!(iss.count_rows("contractors"), 2, "only the demo's two");
    let out = add("ＢＥＰＰＵ", "beppu-demo-pass");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("「beppu」"), "{}", stderr(&out));
    let out = add("Beppu", "beppu-demo-pass");
    assert!(!out.status.success(), "the same login in capitals is taken");
}

/// A `--name` is read as the service reads a typed name: blank, or broken by a line
/// break, is refused before anything is stored; invisible characters pasted with it are
/// dropped, so `client revoke` finds the client by the name as it reads.
#[test]
fn names_on_the_command_line_are_read_as_typed_and_refused_when_blank() {
    let iss = IssuerProcess::start();
    for (name, said) in [
        ("\u{3000} ", "受注者名が空です"),
        ("\u{200B}", "受注者名が空です"),
        ("株式会社\n別府建設", "受注者名に改行・タブ"),
    ] {
        let out = iss.cli_with_stdin(
            &["contractor", "add", "--login", "beppu", "--name", name],
            "beppu-demo-pass\n",
        );
        assert!(!out.status.success(), "{name:?}");
        assert!(stderr(&out).contains(said), "{name:?}: {}", stderr(&out));
    }
    assert_eq!(iss.count_rows("contractors"), 2, "only the demo's two");
    let out = iss.cli_with_stdin(
        &[
            "contractor",
            "add",
            "--login",
            "beppu",
            "--name",
            " 株式会社\u{202E}別府建設 ",
        ],
        "beppu-demo-pass\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut db = kakunin_testkit::sql::open(&iss.db_path());
    assert_eq!(
        kakunin_testkit::sql::text(
            &mut db,
            "SELECT name AS t FROM contractors WHERE login = 'beppu'"
        ),
        "株式会社別府建設"
    );

    let out = iss.cli(&["client", "add", "--name", "\u{3000}"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("クライアント名が空です"),
        "{}",
        stderr(&out)
    );
    let out = iss.cli(&["client", "add", "--name", "\u{FEFF}oita-test "]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&iss.cli(&["client", "list"])).contains("oita-test\t"));
    let out = iss.cli(&["client", "revoke", "--name", "oita-test\u{200B}"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Names are read in NFKC, as the service reads its API client names.
    let out = iss.cli(&["client", "add", "--name", "ｏｉｔａ－ｔｅｓｔ"]);
    assert!(
        !out.status.success(),
        "the same name in full width is taken"
    );
    assert!(
        stderr(&out).contains("「oita-test」は既に登録"),
        "{}",
        stderr(&out)
    );

    // A client stored as typed before names were read this way still answers to its name.
    kakunin_testkit::sql::exec(
        &mut db,
        "INSERT INTO clients (name, token_sha256, created_at, revoked) \
         VALUES (char(65279) || 'old-client', x'00', '2025-04-01T00:00:00+09:00', 0)",
    );
    let out = iss.cli(&["client", "revoke", "--name", "old-client"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&iss.cli(&["client", "list"]))
        .contains("old-client\t2025-04-01T00:00:00+09:00\t失効"));
    // One with a tab inside (the old `client add` only trimmed) is listed written out,
    // and revoked by typing what the list shows.
    kakunin_testkit::sql::exec(
        &mut db,
        "INSERT INTO clients (name, token_sha256, created_at, revoked) \
         VALUES ('old' || char(9) || 'tab', x'01', '2025-04-01T00:00:00+09:00', 0)",
    );
    let list = stdout(&iss.cli(&["client", "list"]));
    assert!(
        list.contains("old<U+0009>tab\t2025-04-01T00:00:00+09:00\t有効"),
        "{list}"
    );
    let out = iss.cli(&["client", "revoke", "--name", "old<U+0009>tab"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&iss.cli(&["client", "list"]))
        .contains("old<U+0009>tab\t2025-04-01T00:00:00+09:00\t失効"));

    // What a file held is quoted written out: an escape sequence in a member's name
    // does not reach the terminal.
    let file = iss.dir().join("esc.json");
    std::fs::write(&file, r#"{"contract": {"ti\u001b[2Jtle": "x"}}"#).unwrap();
    let out = iss.cli(&["amend", "W2025000001", "--file", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(!stderr(&out).contains('\u{1B}'), "{:?}", stderr(&out));
    assert!(
        stderr(&out).contains("「contract.ti<U+001B>[2Jtle」という項目はありません"),
        "{}",
        stderr(&out)
    );
}
