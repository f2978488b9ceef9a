//! `kakunin batch`: a CSV of numbers and keys in, a CSV of outcomes out, through the API.

use std::path::Path;
use std::process::Output;

use kakunin_testkit::issuer::{full_width, DemoKey};
use kakunin_testkit::process::stderr;
use kakunin_testkit::service::{ServiceProcess, OFFICE};

use super::start;

/// Runs `kakunin batch` against the service with `token` (if any) in `K5_TEST_TOKEN`.
pub(super) fn run(
    service: &ServiceProcess,
    input: &Path,
    output: &Path,
    token: Option<&str>,
) -> Output {
    let mut cmd = service.command();
    cmd.args([
        "batch",
        "--url",
        &service.base_url,
        "--token-env",
        "K5_TEST_TOKEN",
    ])
    .arg("--input")
    .arg(input)
    .arg("--output")
    .arg(output);
    if let Some(t) = token {
        cmd.env("K5_TEST_TOKEN", t);
    }
    cmd.output().expect("run kakunin batch")
}

/// Reads the CLI's output: UTF-8 with BOM and CRLF line ends; row 0 is the header.
pub(super) fn read_output(path: &Path) -> Vec<csv::StringRecord> {
    let bytes = std::fs::read(path).expect("output written");
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "output starts with a BOM"
    );
    let text = std::str::from_utf8(&bytes[3..]).expect("UTF-8");
    assert!(text.contains("\r\n"), "CRLF line ends");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "row");
    for c in [
        "ref",
        "certificate_number",
        "outcome",
        "issuer_id",
        "revision",
        "failed_rules",
        "failed_messages",
        "warned_rules",
        "warned_messages",
        "verification_id",
    ] {
        assert!(headers.iter().any(|h| h == c), "column {c} in {headers:?}");
    }
    let mut rows = vec![headers];
    rows.extend(reader.records().map(|r| r.unwrap()));
    rows
}

pub(super) fn column<'a>(rows: &'a [csv::StringRecord], row: usize, name: &str) -> &'a str {
    let i = rows[0].iter().position(|h| h == name).unwrap();
    &rows[row][i]
}

/// Checks output row `row` against the demo row it came from (line `row + 1` of the input).
fn assert_row_matches(rows: &[csv::StringRecord], row: usize, k: &DemoKey) {
    let case = format!("{} ({})", k.certificate_number, k.note);
    assert_eq!(column(rows, row, "outcome"), k.expected_outcome, "{case}");
    assert_eq!(
        column(rows, row, "certificate_number"),
        k.certificate_number
    );
    assert_eq!(
        column(rows, row, "row"),
        (row + 1).to_string(),
        "the input's line number"
    );
    let (rules, messages) = if k.expected_outcome == "verified" {
        ("warned_rules", "warned_messages")
    } else {
        ("failed_rules", "failed_messages")
    };
    assert_eq!(
        column(rows, row, rules),
        k.expected_rules.join("|"),
        "{case}"
    );
    for id in &k.expected_rules {
        assert!(
            column(rows, row, messages).contains(&format!("{id}: ")),
            "{case}"
        );
    }
    if k.expected_outcome == "not_found" {
        assert_eq!(column(rows, row, "revision"), "");
    } else {
        assert_eq!(column(rows, row, "issuer_id"), "wjcs");
        assert!(!column(rows, row, "revision").is_empty());
    }
    assert_eq!(column(rows, row, "verification_id").len(), 26);
}

#[tokio::test]
async fn the_batch_cli_on_demo_keys_gives_exactly_the_expected_outcomes_and_exits_1() {
    let (issuer, service) = start();
    let token = service.create_token("batch-cli", OFFICE, "verify");
    let out_dir = tempfile::tempdir().unwrap();
    let output = out_dir.path().join("results.csv");
    let input = issuer.demo_dir().join("demo-keys.csv");
    let out = run(&service, &input, &output, Some(&token));
    assert_eq!(
        out.status.code(),
        Some(1),
        "some demo rows are not verified: {}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("確認済み") && err.contains("不適合") && err.contains("該当なし"),
        "plain summary: {err}"
    );
    assert!(!err.contains(&token));
    let rows = read_output(&output);
    assert_eq!(rows.len() - 1, issuer.demo_keys.len());
    for (i, k) in issuer.demo_keys.iter().enumerate() {
        assert_row_matches(&rows, i + 1, k);
    }
}

#[tokio::test]
async fn a_file_of_verified_keys_as_excel_writes_it_exits_0() {
    let (issuer, service) = start();
    let token = service.create_token("batch-cli", OFFICE, "verify");
    let out_dir = tempfile::tempdir().unwrap();
    // Full-width, with a BOM and CRLF, as Excel writes it.
    let verified: Vec<&DemoKey> = issuer
        .demo_keys
        .iter()
        .filter(|k| k.expected_outcome == "verified")
        .collect();
    let mut text = String::from("\u{feff}ref,certificate_number,auth_key,contract_amount_yen\r\n");
    for (i, k) in verified.iter().enumerate() {
        text.push_str(&format!(
            "案件{i},{},{},\r\n",
            full_width(&k.certificate_number),
            k.auth_key.replace('-', "－")
        ));
    }
    let input = out_dir.path().join("verified.csv");
    std::fs::write(&input, text).unwrap();
    let output = out_dir.path().join("verified-results.csv");
    let out = run(&service, &input, &output, Some(&token));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = read_output(&output);
    assert_eq!(rows.len() - 1, verified.len());
    assert_eq!(column(&rows, 1, "ref"), "案件0");
    assert_eq!(column(&rows, 1, "outcome_label"), "確認済み");
}

#[tokio::test]
async fn no_token_a_missing_file_or_a_revoked_token_exit_2() {
    let (issuer, service) = start();
    let token = service.create_token("batch-cli", OFFICE, "verify");
    let out_dir = tempfile::tempdir().unwrap();
    let input = issuer.demo_dir().join("demo-keys.csv");
    let output = out_dir.path().join("results.csv");
    let out = run(&service, &input, &output, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("K5_TEST_TOKEN"), "{}", stderr(&out));
    let missing = out_dir.path().join("missing.csv");
    let out = run(&service, &missing, &output, Some(&token));
    assert_eq!(out.status.code(), Some(2));
    let revoked = service.cli(&["token", "revoke", "--name", "batch-cli"]);
    assert!(revoked.status.success());
    let out = run(&service, &input, &output, Some(&token));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
}

/// A `ref` (or anything an issuer sends) that a spreadsheet would run as a formula is
/// written with a leading `'`, as the audit export writes it.
#[tokio::test]
async fn formula_cells_in_the_results_are_neutralised() {
    let (issuer, service) = start();
    let token = service.create_token("batch-cli", OFFICE, "verify");
    let out_dir = tempfile::tempdir().unwrap();
    let k = issuer
        .demo_keys
        .iter()
        .find(|k| k.expected_outcome == "verified")
        .unwrap();
    let text = format!(
        "ref,certificate_number,auth_key\r\n\"=HYPERLINK(\"\"http://evil.example\"\")\",{},{}\r\n@SUM(A1),{},{}\r\n",
        k.certificate_number, k.auth_key, k.certificate_number, k.auth_key
    );
    let input = out_dir.path().join("formulas.csv");
    std::fs::write(&input, text).unwrap();
    let output = out_dir.path().join("formulas-results.csv");
    let out = run(&service, &input, &output, Some(&token));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = read_output(&output);
    assert_eq!(
        column(&rows, 1, "ref"),
        "'=HYPERLINK(\"http://evil.example\")"
    );
    assert_eq!(column(&rows, 2, "ref"), "'@SUM(A1)");
}
