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
    batch_command(service, &service.base_url, input, output, token)
        .output()
        .expect("run kakunin batch")
}

/// `kakunin batch --url url` from `input` to `output`, with `token` (if any) in
/// `K5_TEST_TOKEN`: the command, for more arguments or environment.
fn batch_command(
    service: &ServiceProcess,
    url: &str,
    input: &Path,
    output: &Path,
    token: Option<&str>,
) -> std::process::Command {
    let mut cmd = service.command();
    cmd.args(["batch", "--url", url, "--token-env", "K5_TEST_TOKEN"])
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output);
    if let Some(t) = token {
        cmd.env("K5_TEST_TOKEN", t);
    }
    cmd
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

/// `kakunin batch` with `--url` and extra arguments, a one-row input, a token set.
fn batch_to(service: &ServiceProcess, url: &str, extra: &[&std::ffi::OsStr]) -> Output {
    let input = service.dir().join("one-row.csv");
    std::fs::write(
        &input,
        "certificate_number,auth_key\r\nW2025000001,ETRE-21QW-MMGB-JF1K\r\n",
    )
    .unwrap();
    let output = service.dir().join("one-row-out.csv");
    batch_command(service, url, &input, &output, Some("not-a-real-token"))
        .args(extra)
        .output()
        .expect("run kakunin batch")
}

/// The token and every auth key go over https, or over http only to this machine: a
/// plain http URL elsewhere is refused before anything is sent.
#[test]
fn the_batch_cli_sends_keys_only_over_https_or_to_this_machine() {
    let service = ServiceProcess::prepare("", None);
    for url in ["http://192.0.2.10:8080", "http://kakunin.example.lg.jp"] {
        let out = batch_to(&service, url, &[]);
        kakunin_testkit::process::assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(
            err.contains("は https:// にしてください") && err.contains("ループバック"),
            "{url}: {err}"
        );
        assert!(!service.dir().join("one-row-out.csv").exists());
    }
}

/// A service behind a private CA (an LGWAN site's own) is reached with `--ca-file`;
/// without it the refusal says what to do.
#[test]
fn the_batch_cli_trusts_a_private_ca_given_with_ca_file() {
    let ca = kakunin_testkit::tls::TestCa::new("kakunin batch test CA");
    let cert = ca.server_cert(
        "batch",
        &["127.0.0.1"],
        kakunin_testkit::tls::Validity::Current,
    );
    // Any https server of that CA shows the handshake: the reference issuer is one.
    let https = kakunin_testkit::issuer::IssuerProcess::start_tls(&cert);
    let service = ServiceProcess::prepare("", None);
    let out = batch_to(&service, &https.base_url, &[]);
    kakunin_testkit::process::assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("発行した CA を信頼できません。私設 CA なら --ca-file"),
        "{}",
        stderr(&out)
    );
    let ca_file = ca.ca_file();
    let out = batch_to(
        &service,
        &https.base_url,
        &["--ca-file".as_ref(), ca_file.as_os_str()],
    );
    // Past the handshake: the issuer has no batch call, and says so with its status.
    assert!(!stderr(&out).contains("サーバー証明書"), "{}", stderr(&out));
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));
}

/// A plain-http request to this machine never goes through a proxy: `HTTP_PROXY` (an
/// office's proxy, set for everything else) would take the token and the auth keys
/// off the machine in clear.
#[tokio::test]
async fn the_batch_cli_never_sends_plain_http_through_a_proxy() {
    let (issuer, service) = start();
    // A stand-in proxy that hangs up on whatever reaches it (so a request sent there
    // fails at once), and counts it.
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_at = proxy.local_addr().unwrap();
    let reached = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = reached.clone();
    std::thread::spawn(move || {
        for conn in proxy.incoming() {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(conn);
        }
    });
    let token = service.create_token("keiri", OFFICE, "verify");
    let k = issuer.demo_key("W2025000001");
    let input = service.dir().join("proxied.csv");
    std::fs::write(
        &input,
        format!(
            "certificate_number,auth_key\r\n{},{}\r\n",
            k.certificate_number, k.auth_key
        ),
    )
    .unwrap();
    let output = service.dir().join("proxied-out.csv");
    let out = batch_command(&service, &service.base_url, &input, &output, Some(&token))
        .env("HTTP_PROXY", format!("http://{proxy_at}"))
        .env("http_proxy", format!("http://{proxy_at}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        reached.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing reached the proxy: the request went straight to the service"
    );
    assert_eq!(column(&read_output(&output), 1, "outcome"), "verified");
}
