//! The reference issuer from the outside: the real `kakunin-issuer` binary (started by
//! `kakunin-testkit`) over real HTTP and its command line, as a relying party, an
//! operator and a contractor use it. One test binary; a module per area.

mod commands;
mod contractor;
mod keys;
mod lookup;
mod signin;
mod tls;

use std::path::Path;
use std::process::{Command, Output};

use kakunin_protocol::ids::CertificateNumber;
use kakunin_protocol::registry::Registry;
use kakunin_testkit::issuer::IssuerProcess;
use kakunin_testkit::process::{stderr, stdout};
use serde_json::json;

/// A wrong key that is still well-formed.
const WRONG_KEY: &str = "0000-0000-0000-0000";

/// A relying party's HTTP client: no redirects followed.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// `POST /v1/certificates/lookup` with a raw body and an optional bearer token.
async fn lookup_with(iss: &IssuerProcess, token: Option<&str>, body: String) -> reqwest::Response {
    let mut req = http()
        .post(iss.lookup_url())
        .header("content-type", "application/json")
        .header("accept", "application/jose+json")
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("lookup request")
}

/// A lookup of `number` with `key`, as the demo client `demo`.
async fn lookup(iss: &IssuerProcess, number: &str, key: &str) -> reqwest::Response {
    let body = json!({"certificate_number": number, "auth_key": key}).to_string();
    lookup_with(iss, Some(&iss.token), body).await
}

/// The status of [`lookup`].
async fn lookup_status(iss: &IssuerProcess, number: &str, key: &str) -> u16 {
    lookup(iss, number, key).await.status().as_u16()
}

/// The body of a lookup that must answer 200.
async fn lookup_record(iss: &IssuerProcess, number: &str, key: &str) -> Vec<u8> {
    let res = lookup(iss, number, key).await;
    assert_eq!(res.status().as_u16(), 200, "lookup of {number}");
    res.bytes().await.expect("record").to_vec()
}

fn registry(text: &str) -> Registry {
    Registry::from_toml_str(text, "issuers.toml", |_| None).expect("registry parses")
}

fn number(n: &str) -> CertificateNumber {
    CertificateNumber::parse(n).expect("number")
}

/// Runs a command-line tool that a test needs from Debian.
fn tool(name: &str, args: &[&str]) -> Output {
    Command::new(name).args(args).output().unwrap_or_else(|e| {
        panic!("{name} is needed for this test (Debian: poppler-utils, zbar-tools): {e}")
    })
}

/// The text of a PDF (`pdftotext`).
fn pdf_text(pdf: &Path) -> String {
    stdout(&tool(
        "pdftotext",
        &[pdf.to_str().expect("utf-8 path"), "-"],
    ))
}

/// Writes an `issue` input file for `number` (as typed, any form) and `title`.
fn issue_file(dir: &Path, number: &str, title: &str) -> String {
    let path = dir.join(format!("{number}.json"));
    let body = json!({
        "certificate_number": number,
        "kind": "performance",
        "orderer": {"name": "大分県", "office": "大分土木事務所", "code": "440001"},
        "contractor": {"name": "株式会社豊後建設", "representative": "代表取締役 大分太郎"},
        "contract": {"category": "construction", "title": title,
                     "location": "大分県大分市大字松岡地内", "contract_date": "2025-10-01",
                     "period_start": "2025-10-02", "period_end": "2026-03-13",
                     "amount_yen": 55_000_000, "terms": "大分県公共工事請負契約約款【R7.4.1～】"},
        "guarantee": {"amount_yen": 5_500_000, "period_start": "2025-10-02", "period_end": "2026-03-13"}
    });
    std::fs::write(&path, body.to_string()).expect("write the issue file");
    path.to_str().expect("utf-8 path").to_owned()
}

/// Runs `issue` and returns (number, printed key, the command's output).
fn issue(iss: &IssuerProcess, file: &str, extra: &[&str]) -> (String, String, Output) {
    let mut args = vec!["issue", "--file", file];
    args.extend_from_slice(extra);
    let out = iss.cli(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let field = |label: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap_or_else(|| panic!("{label} in {text}"))
            .trim()
            .to_owned()
    };
    (field("保証契約番号:"), field("認証キー:"), out)
}
