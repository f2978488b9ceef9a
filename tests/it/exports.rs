//! Audit exports: CSV for Excel (BOM, Japanese headers, CRLF, quoting, formulas made
//! harmless), JSONL with every hashed field, both from the page and the CLI, each
//! itself audited.

use kakunin::app::audit::{chain, Action, AuditOutcome, AuditRow};
use kakunin::domain::code::Code;
use kakunin_testkit::client::Browser;
use kakunin_testkit::html::Html;
use kakunin_testkit::process::stderr;
use kakunin_testkit::service::{ServiceProcess, OFFICE};
use kakunin_testkit::sql;
use serde_json::Value;

/// A login that is a formula, quoted, with a comma and a line break.
const NASTY: &str = "=HYPERLINK(\"http://example.invalid\",\"押して\")\r\n2行目, \"引用\"";
const OFFICE_NAME: &str = "大分県 土木事務所, \"本庁\"";

/// A service whose log holds failed sign-ins under formula-like targets, each with the
/// same text in its detail, and its admin. The target as a request brought it is
/// stored with its line break escaped (`bounds::audited`); the detail, which the service
/// writes, keeps the raw CR LF that the export must quote.
///
/// The service itself now refuses such logins before writing anything (K6), so the rows
/// are appended through the service's own audit code, chain and all, as rows of an older
/// version (or any other free text that reaches a target) would be: what is under test
/// is the export, which must make any stored text safe for Excel.
async fn a_log_with_formulas() -> (ServiceProcess, Browser) {
    let service = ServiceProcess::start("");
    service.add_user("admin1", "admin", OFFICE);
    let mut conn = kakunin::adapters::db::Location::parse(&service.database_url())
        .connect()
        .expect("open the service's database");
    for login in [NASTY, "+cmd", "-2+3", "@SUM(A1)"] {
        let actor = kakunin::app::audit::Actor::new(
            format!("user:{login}"),
            "-".into(),
            "127.0.0.1".into(),
            "test",
        );
        kakunin::app::audit::append(
            &mut conn,
            &actor,
            &kakunin::app::audit::Event {
                action: Action::Signin,
                target: login,
                outcome: AuditOutcome::Failure,
                detail: login.to_owned(),
            },
        )
        .expect("append to the log");
    }
    let admin = service.sign_in("admin1").await;
    (service, admin)
}

fn jst_today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&kakunin_protocol::time::jst())
        .date_naive()
}

#[tokio::test]
async fn csv_exports_are_excel_ready_quote_fields_and_neutralise_formulas() {
    let (_service, admin) = a_log_with_formulas().await;
    let res = admin
        .submit(
            "/admin/offices",
            "/admin/offices",
            &[("code", "440009"), ("name", OFFICE_NAME)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let offices = Html::of(res).await;
    assert_eq!(
        offices.text("#offices tr[data-code=\"440009\"] td:nth-child(2)"),
        OFFICE_NAME
    );

    let res = admin
        .submit("/audit", "/audit/export", &[("format", "csv")])
        .await;
    assert_eq!(res.status(), 200);
    let header = |name: &str| res.headers()[name].to_str().unwrap().to_owned();
    assert!(header("content-type").starts_with("text/csv"));
    assert!(header("content-disposition").contains("attachment"));
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
    let details: Vec<&str> = records.iter().map(|r| &r[detail]).collect();
    assert!(
        details.contains(&format!("'{NASTY}").as_str()),
        "quoted, multi-line and neutralised: {details:?}"
    );
    assert!(
        targets.contains(&format!("'{}", NASTY.replace("\r\n", "<U+000D><U+000A>")).as_str()),
        "the target escaped and neutralised: {targets:?}"
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
            .any(|r| r[detail] == format!("名称: {OFFICE_NAME}")),
        "Japanese, comma and quotes survive"
    );
    assert!(
        text.contains("\"名称: 大分県 土木事務所, \"\"本庁\"\"\""),
        "quotes doubled inside a quoted field"
    );
    assert!(records.iter().any(|r| &r[action] == "office.save"));
    // The actor by name for people, as stored beside it for the hashes.
    let (actor, stored_actor) = (col("操作者"), col("操作者（記録の原文）"));
    let saved = records
        .iter()
        .rfind(|r| &r[action] == "office.save")
        .expect("the admin's save of the office");
    assert_eq!(
        (&saved[actor], &saved[stored_actor]),
        ("admin1 太郎（admin1）", "user:admin1")
    );
}

/// A supervisor reads a verification's audit row in Japanese, on its page and in the
/// CSV, with the stored text (what the hash covers) beside it, unchanged.
#[tokio::test]
async fn an_audit_rows_detail_and_actor_are_told_in_japanese() {
    let (_issuer, service, _api, v) = super::one_verification().await;
    let id = v["id"].as_str().expect("an id");
    let seq = sql::text(
        &mut service.db(),
        "SELECT CAST(seq AS TEXT) AS t FROM audit_events WHERE action = 'verify'",
    );
    let stored = sql::text(
        &mut service.db(),
        "SELECT detail AS t FROM audit_events WHERE action = 'verify'",
    );
    assert!(
        stored.contains("\"verification\""),
        "stored as JSON: {stored}"
    );
    let supervisor = service.user("kansa1", "supervisor").await;

    let page = supervisor.page(&format!("/audit/events/{seq}")).await;
    let labels = page.texts("#detail dt");
    assert_eq!(
        labels[..4],
        ["照会番号", "保証事業会社", "版", "署名鍵"],
        "{page}"
    );
    assert!(labels.contains(&"整理番号".to_owned()), "{labels:?}");
    assert!(
        labels
            .iter()
            .all(|l| !l.contains(|c: char| c.is_ascii_alphabetic())),
        "no English member names: {labels:?}"
    );
    assert_eq!(page.texts("#detail dd")[0], id);
    assert!(page.texts("#detail dd").contains(&"r-1".to_owned()));
    assert_eq!(page.text("#detail-stored"), stored);
    assert!(
        page.texts("dl.meta > dd")
            .contains(&"API: keiyaku".to_owned()),
        "the API client by name: {page}"
    );

    let res = supervisor
        .submit("/audit", "/audit/export", &[("format", "csv")])
        .await;
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    let mut reader = csv::ReaderBuilder::new().from_reader(&bytes[3..]);
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let row = reader
        .records()
        .map(|r| r.expect("well-formed CSV"))
        .find(|r| &r[col("操作コード")] == "verify")
        .expect("the verification's row");
    assert_eq!(&row[col("操作者")], "API: keiyaku");
    assert_eq!(&row[col("操作者（記録の原文）")], "token:keiyaku");
    assert!(
        row[col("詳細")].starts_with(&format!("照会番号: {id}、保証事業会社: ")),
        "{}",
        &row[col("詳細")]
    );
    assert_eq!(&row[col("詳細（記録の原文）")], stored);
}

#[tokio::test]
async fn jsonl_exports_keep_the_filtered_rows_exactly_so_each_rehashes() {
    let (_service, admin) = a_log_with_formulas().await;
    let res = admin
        .submit(
            "/audit",
            "/audit/export",
            &[
                ("format", "jsonl"),
                ("action", "signin"),
                ("outcome", "failure"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON per line"))
        .collect();
    assert_eq!(lines.len(), 4, "the filter applies to the export");
    assert_eq!(lines[0]["detail"], NASTY, "JSONL keeps the text exactly");
    assert_eq!(
        lines[0]["target"],
        NASTY.replace("\r\n", "<U+000D><U+000A>"),
        "as stored"
    );
    let text_of = |l: &Value, name: &str| l[name].as_str().unwrap().to_owned();
    for l in &lines {
        let row = AuditRow {
            seq: l["seq"].as_i64().unwrap() as i32,
            at: chrono::NaiveDateTime::parse_from_str(
                l["at"].as_str().unwrap(),
                "%Y-%m-%dT%H:%M:%S%.6fZ",
            )
            .unwrap(),
            actor: text_of(l, "actor"),
            office_code: text_of(l, "office_code"),
            action: Action::parse(&text_of(l, "action")).unwrap(),
            target: text_of(l, "target"),
            outcome: AuditOutcome::parse(&text_of(l, "outcome")).unwrap(),
            address: text_of(l, "address"),
            user_agent: text_of(l, "user_agent"),
            detail: text_of(l, "detail"),
            prev_hash: text_of(l, "prev_hash"),
            hash: String::new(),
        };
        assert_eq!(
            chain::row_hash(&row),
            l["hash"].as_str().unwrap(),
            "row {} re-hashes from the export",
            row.seq
        );
    }
}

#[tokio::test]
async fn every_export_is_audited_and_the_cli_writes_the_same_csv_without_a_progress_bar() {
    let (service, admin) = a_log_with_formulas().await;
    for format in ["csv", "jsonl"] {
        let res = admin
            .submit("/audit", "/audit/export", &[("format", format)])
            .await;
        assert_eq!(res.status(), 200);
    }
    let exports = |actor: &str| {
        service.count(&format!(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'audit.export'{actor}"
        ))
    };
    assert_eq!(exports(" AND actor = 'user:admin1'"), 2);

    let (from, to) = (
        (jst_today() - chrono::Duration::days(1)).to_string(),
        (jst_today() + chrono::Duration::days(1)).to_string(),
    );
    let out = service.cli(&[
        "audit", "export", "--from", &from, "--to", &to, "--format", "csv",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.starts_with(b"\xEF\xBB\xBF"));
    let cli_text = String::from_utf8(out.stdout[3..].to_vec()).unwrap();
    assert!(cli_text.contains(&format!("\"'{}\"", NASTY.replace('"', "\"\""))));
    let err = stderr(&out);
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
    assert_eq!(exports(""), 4);
}

#[test]
fn the_cli_refuses_a_reversed_range() {
    let service = ServiceProcess::prepare("", None);
    let (from, to) = (
        (jst_today() - chrono::Duration::days(1)).to_string(),
        (jst_today() + chrono::Duration::days(1)).to_string(),
    );
    let out = service.cli(&["audit", "export", "--from", &to, "--to", &from]);
    assert_eq!(out.status.code(), Some(2), "a reversed range is refused");
    // A date that does not exist is named, in Japanese only.
    let out = service.cli(&["audit", "export", "--from", "2026-13-01", "--to", &to]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--from の「2026-13-01」は日付として読めません")
            && !stderr(&out).contains("out of range"),
        "{}",
        stderr(&out)
    );
}

/// A filter is measured as it is used, after NFKC: one U+FDFA is eighteen characters
/// then. Measured before, 200 of them passed the limit, and the export's own audit row
/// (which keeps its filter) was cut short.
#[tokio::test]
async fn a_filter_too_long_after_nfkc_is_refused_before_an_export() {
    let (service, admin) = a_log_with_formulas().await;
    let long = "\u{FDFA}".repeat(200);
    let res = admin
        .submit(
            "/audit",
            "/audit/export",
            &[("format", "csv"), ("actor", &long)],
        )
        .await;
    assert_ne!(res.status(), 200);
    let page = Html::of(res).await;
    assert!(page.body().contains("操作者は"), "{page}");
    let mut c = service.db();
    let exports = kakunin_testkit::sql::count(
        &mut c,
        "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'audit.export'",
    );
    assert_eq!(exports, 0, "nothing was exported");
}
