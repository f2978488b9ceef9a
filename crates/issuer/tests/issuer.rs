//! The reference issuer from the outside: the real `kakunin-issuer` binary over real
//! HTTP and its command line, as a relying party, an operator and a contractor use it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use kakunin_protocol::ids::CertificateNumber;
use kakunin_protocol::jws as record;
use kakunin_protocol::registry::Registry;
use kakunin_testkit::issuer::{IssuerProcess, SECRET};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

const NOTICE_TITLE: &str = "電子証書閲覧用「認証キー」等のお知らせ";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

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

async fn lookup(iss: &IssuerProcess, number: &str, key: &str) -> reqwest::Response {
    let body = json!({"certificate_number": number, "auth_key": key}).to_string();
    lookup_with(iss, Some(&iss.token), body).await
}

fn content_type(h: &HeaderMap) -> &str {
    h.get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status);
    assert_eq!(content_type(res.headers()), "application/problem+json");
    let p: Value = res.json().await.expect("problem json");
    assert_eq!(p["status"], status);
    for member in ["type", "title", "detail"] {
        assert!(
            p[member].as_str().is_some_and(|s| !s.is_empty()),
            "{member} in {p}"
        );
    }
    p
}

fn registry(text: &str) -> Registry {
    Registry::from_toml_str(text, "issuers.toml", |_| None).expect("registry parses")
}

fn number(n: &str) -> CertificateNumber {
    CertificateNumber::parse(n).expect("number")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A wrong key that is still well-formed.
const WRONG_KEY: &str = "0000-0000-0000-0000";

#[tokio::test]
async fn the_right_number_and_key_get_the_stored_jws_as_jose_json() {
    let iss = IssuerProcess::start();
    let k = iss.demo_key("W2025000001");
    let res = lookup(&iss, &k.certificate_number, &k.auth_key).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(content_type(res.headers()), "application/jose+json");
    let body = res.bytes().await.unwrap();
    let stored = std::fs::read(iss.demo_dir().join("records/W2025000001.jws")).unwrap();
    assert_eq!(body.as_ref(), stored.as_slice(), "served exactly as stored");
    let rec = record::verify(
        &body,
        "wjcs",
        &number("W2025000001"),
        &registry(&iss.registry_toml),
    )
    .unwrap();
    assert_eq!(rec.kid(), "wjcs-demo-2025");
}

#[tokio::test]
async fn full_width_and_hyphenated_input_is_normalized_before_lookup() {
    let iss = IssuerProcess::start();
    let k = iss.demo_key("W2025000002");
    let wide = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                '-' => 'ー',
                '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap(),
                c => c,
            })
            .collect()
    };
    let res = lookup(
        &iss,
        &wide("w2025-000002"),
        &wide(&k.auth_key.to_lowercase()),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200);
}

#[tokio::test]
async fn malformed_lookups_get_400_problem_json_naming_the_field() {
    let iss = IssuerProcess::start();
    let p = problem(
        lookup_with(&iss, Some(&iss.token), "not json".into()).await,
        400,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("JSON"));
    let p = problem(
        lookup_with(
            &iss,
            Some(&iss.token),
            json!({"certificate_number": "W2025000001"}).to_string(),
        )
        .await,
        400,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("auth_key"));
    let p = problem(
        lookup(&iss, "W2025000001", "7KQ2-M9XD-H4T8-RB3U").await,
        400,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("認証キー"));
    assert!(
        !p["detail"].as_str().unwrap().contains("RB3U"),
        "the key is not echoed"
    );
    problem(lookup(&iss, "W1", "7KQ2-M9XD-H4T8-RB3N").await, 400).await;
}

#[tokio::test]
async fn a_missing_or_wrong_bearer_token_gets_401_with_www_authenticate() {
    let iss = IssuerProcess::start();
    let k = iss.demo_key("W2025000001");
    let body =
        json!({"certificate_number": k.certificate_number, "auth_key": k.auth_key}).to_string();
    for token in [None, Some("wrong-token"), Some("")] {
        let res = lookup_with(&iss, token, body.clone()).await;
        assert_eq!(res.headers().get("www-authenticate").unwrap(), "Bearer");
        problem(res, 401).await;
    }
    let revoked = iss.cli(&["client", "revoke", "--name", "demo"]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    problem(lookup(&iss, &k.certificate_number, &k.auth_key).await, 401).await;
}

fn header_set(h: &HeaderMap) -> BTreeMap<String, String> {
    h.iter()
        .filter(|(name, _)| name.as_str() != "date")
        .map(|(name, v)| (name.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect()
}

#[tokio::test]
async fn an_unknown_number_and_a_wrong_key_get_identical_404s() {
    let iss = IssuerProcess::start();
    let unknown = lookup(&iss, "W2025999998", WRONG_KEY).await;
    let wrong = lookup(&iss, "W2025000003", WRONG_KEY).await;
    assert_eq!(
        (unknown.status().as_u16(), wrong.status().as_u16()),
        (404, 404)
    );
    assert_eq!(header_set(unknown.headers()), header_set(wrong.headers()));
    assert_eq!(content_type(wrong.headers()), "application/problem+json");
    let (a, b) = (unknown.bytes().await.unwrap(), wrong.bytes().await.unwrap());
    assert_eq!(a, b, "byte-identical bodies");
}

#[tokio::test]
async fn ten_wrong_keys_lock_a_number_for_an_hour_even_against_the_right_key() {
    let mut iss = IssuerProcess::start();
    let k = iss.demo_key("W2025000020").clone();
    for _ in 0..10 {
        assert_eq!(
            lookup(&iss, &k.certificate_number, WRONG_KEY)
                .await
                .status()
                .as_u16(),
            404
        );
    }
    for key in [WRONG_KEY, k.auth_key.as_str()] {
        let res = lookup(&iss, &k.certificate_number, key).await;
        let retry: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((3500..=3600).contains(&retry), "Retry-After {retry}");
        problem(res, 429).await;
    }
    // Other numbers are not affected.
    let other = iss.demo_key("W2025000019").clone();
    assert_eq!(
        lookup(&iss, &other.certificate_number, &other.auth_key)
            .await
            .status()
            .as_u16(),
        200
    );

    iss.restart();
    let res = lookup(&iss, &k.certificate_number, &k.auth_key).await;
    problem(res, 429).await;
}

#[tokio::test]
async fn unknown_numbers_lock_the_same_way_so_a_lockout_reveals_nothing() {
    let iss = IssuerProcess::start();
    for _ in 0..10 {
        assert_eq!(
            lookup(&iss, "W2025999997", WRONG_KEY)
                .await
                .status()
                .as_u16(),
            404
        );
    }
    problem(lookup(&iss, "W2025999997", WRONG_KEY).await, 429).await;
}

#[tokio::test]
async fn bodies_over_64_kib_get_413_problem_json() {
    let iss = IssuerProcess::start();
    let filler = "x".repeat(70 * 1024);
    let body = json!({"certificate_number": "W2025000001", "auth_key": WRONG_KEY, "pad": filler})
        .to_string();
    problem(lookup_with(&iss, Some(&iss.token), body).await, 413).await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_problem_json() {
    let iss = IssuerProcess::start();
    let res = http()
        .get(format!("{}/v2/nothing", iss.base_url))
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    let res = http().get(iss.lookup_url()).send().await.unwrap();
    problem(res, 405).await;
}

#[tokio::test]
async fn jwks_lists_every_key_as_an_ed25519_jwk() {
    let iss = IssuerProcess::start();
    let rotated = iss.cli(&["rotate-key", "--kid", "wjcs-2026"]);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    let res = http()
        .get(format!("{}/v1/jwks", iss.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let set: Value = res.json().await.unwrap();
    let keys = set["keys"].as_array().unwrap();
    let kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["wjcs-demo-2025", "wjcs-2026"]);
    for k in keys {
        assert_eq!(
            (&k["kty"], &k["crv"], &k["use"], &k["alg"]),
            (
                &json!("OKP"),
                &json!("Ed25519"),
                &json!("sig"),
                &json!("EdDSA")
            )
        );
        let x = k["x"].as_str().unwrap();
        assert_eq!(x.len(), 43, "32 bytes, base64url without padding");
        assert!(!x.contains('='));
    }
}

#[tokio::test]
async fn records_verify_with_the_printed_registry_before_and_after_rotate_key() {
    let iss = IssuerProcess::start();
    let old_registry = registry(&iss.registry_toml);
    let k = iss.demo_key("W2025000001").clone();
    let before = lookup(&iss, &k.certificate_number, &k.auth_key)
        .await
        .bytes()
        .await
        .unwrap();
    let rec = record::verify(&before, "wjcs", &number("W2025000001"), &old_registry).unwrap();
    assert_eq!(
        (rec.kid(), rec.certificate().revision),
        ("wjcs-demo-2025", 1)
    );

    let rotated = iss.cli(&["rotate-key", "--kid", "wjcs-2026"]);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    let block = stdout(&rotated);
    assert!(
        block.starts_with("[[issuer.key]]") && block.contains("kid = \"wjcs-2026\""),
        "{block}"
    );
    let new_registry = registry(&format!("{}\n{block}", iss.registry_toml));

    // Old revisions are never re-signed and still verify with the old key.
    record::verify(&before, "wjcs", &number("W2025000001"), &new_registry).unwrap();
    let k2 = iss.demo_key("W2025000002").clone();
    let untouched = lookup(&iss, &k2.certificate_number, &k2.auth_key)
        .await
        .bytes()
        .await
        .unwrap();
    let rec = record::verify(&untouched, "wjcs", &number("W2025000002"), &new_registry).unwrap();
    assert_eq!(rec.kid(), "wjcs-demo-2025");

    let change = iss.dir().join("change.json");
    std::fs::write(
        &change,
        r#"{"guarantee": {"amount_yen": 12400000}, "summary": "保証金額の変更"}"#,
    )
    .unwrap();
    let amended = iss.cli(&["amend", "W2025000001", "--file", change.to_str().unwrap()]);
    assert!(amended.status.success(), "{}", stderr(&amended));

    let after = lookup(&iss, &k.certificate_number, &k.auth_key)
        .await
        .bytes()
        .await
        .unwrap();
    let rec = record::verify(&after, "wjcs", &number("W2025000001"), &new_registry).unwrap();
    assert_eq!((rec.kid(), rec.certificate().revision), ("wjcs-2026", 2));
    assert_eq!(rec.certificate().guarantee.amount_yen, 12_400_000);
    let summaries: Vec<&str> = rec
        .certificate()
        .changes
        .iter()
        .map(|c| c.summary.as_str())
        .collect();
    assert_eq!(summaries, ["新規", "保証金額の変更"]);
    let e = record::verify(&after, "wjcs", &number("W2025000001"), &old_registry).unwrap_err();
    assert_eq!(e.code(), "unknown_kid");
}

fn tool(name: &str, args: &[&str]) -> Output {
    Command::new(name).args(args).output().unwrap_or_else(|e| {
        panic!("{name} is needed for this test (Debian: poppler-utils, zbar-tools): {e}")
    })
}

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
    std::fs::write(&path, body.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Runs `issue` and returns (number, printed key) from its standard output.
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

    let text = stdout(&tool("pdftotext", &[pdf.to_str().unwrap(), "-"]));
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

    let res = lookup(&iss, &n, &key).await;
    assert_eq!(res.status().as_u16(), 200);
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn rows(db: &Path, table: &str) -> i64 {
    let mut c = SqliteConnection::establish(db.to_str().unwrap()).unwrap();
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .get_result::<Count>(&mut c)
        .unwrap()
        .n
}

#[tokio::test]
async fn issue_refuses_bad_files_and_duplicate_numbers_with_a_clear_message_and_changes_nothing() {
    let iss = IssuerProcess::start();
    let counts = || {
        (
            rows(&iss.db_path(), "certificates"),
            rows(&iss.db_path(), "revisions"),
        )
    };
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
    assert_eq!(lookup(&iss, &n, &key).await.status().as_u16(), 200);
    assert_eq!(lookup(&iss, &n, WRONG_KEY).await.status().as_u16(), 404);
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

/// A minimal browser: keeps cookies, never follows redirects.
struct Browser {
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absorb(&mut self, res: &reqwest::Response) {
        for v in res.headers().get_all("set-cookie") {
            let text = v.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    async fn get(&mut self, path: &str) -> reqwest::Response {
        let res = http()
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.absorb(&res);
        res
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let res = http()
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.absorb(&res);
        res
    }

    async fn sign_in(&mut self, login: &str, password: &str) -> reqwest::Response {
        let page = self.get("/login").await.text().await.unwrap();
        let csrf = csrf_of(&page);
        self.post(
            "/login",
            &[("login", login), ("password", password), ("csrf", &csrf)],
        )
        .await
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn csrf_of(page: &str) -> String {
    regex::Regex::new(r#"name="csrf" value="([^"]+)""#)
        .unwrap()
        .captures(page)
        .unwrap_or_else(|| panic!("csrf field in {page}"))[1]
        .to_owned()
}

#[tokio::test]
async fn a_contractor_signs_in_sees_their_certificates_prints_one_and_gets_a_new_key_notice() {
    let iss = IssuerProcess::start();
    let file = issue_file(
        iss.dir(),
        "W2025000105",
        "<script>alert(\"x\")</script>県道改良工事",
    );
    issue(
        &iss,
        &file,
        &[
            "--contractor",
            "bungo",
            "--notice-out",
            iss.dir().join("x.pdf").to_str().unwrap(),
        ],
    );

    let mut b = Browser::new(&iss.base_url);
    assert_eq!(
        b.get("/certificates").await.status().as_u16(),
        303,
        "sign-in required"
    );
    let res = b.sign_in("bungo", "bungo-demo-pass").await;
    assert_eq!(res.status().as_u16(), 303);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("kakunin_issuer_session="));
    let cookie = cookie.expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    let list = b.get("/certificates").await.text().await.unwrap();
    assert!(list.contains("W2025000001") && list.contains("W2025000105"));
    assert!(
        !list.contains("W2025000004"),
        "another contractor's certificate is not listed"
    );
    assert_eq!(
        b.get("/certificates/W2025000004").await.status().as_u16(),
        404
    );

    let page = b
        .get("/certificates/W2025000105")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("&lt;script&gt;alert("), "escaped:\n{page}");
    assert!(!page.contains("<script>alert"), "never raw");
    assert!(page.contains(r#"href="/static/issuer.css""#));
    let css = b.get("/static/issuer.css").await.text().await.unwrap();
    assert!(
        css.contains("@page") && css.contains("size: A4"),
        "prints on A4"
    );
    assert!(page.contains("新しい認証キーを発行します。以前のお知らせは使えなくなります。"));
    assert!(page.contains("令和7年10月1日（2025-10-01）") && page.contains("5,500,000円"));

    // The 「認証キー」の表示 button issues a new key; the demo key stops working.
    let old = iss.demo_key("W2025000001").clone();
    let page = b
        .get("/certificates/W2025000001")
        .await
        .text()
        .await
        .unwrap();
    let res = b
        .post(
            "/certificates/W2025000001/notice",
            &[("csrf", &csrf_of(&page))],
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(content_type(res.headers()), "application/pdf");
    let pdf = res.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let path = iss.dir().join("new-notice.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let text = stdout(&tool("pdftotext", &[path.to_str().unwrap(), "-"]));
    let new_key = regex::Regex::new("[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")
        .unwrap()
        .find(&text)
        .expect("key in the notice")
        .as_str()
        .to_owned();
    assert_eq!(
        lookup(&iss, "W2025000001", &new_key)
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        lookup(&iss, "W2025000001", &old.auth_key)
            .await
            .status()
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn forms_without_the_csrf_token_or_with_a_wrong_password_are_refused() {
    let iss = IssuerProcess::start();
    let mut b = Browser::new(&iss.base_url);
    let page = b.get("/login").await.text().await.unwrap();
    let res = b
        .post(
            "/login",
            &[
                ("login", "bungo"),
                ("password", "bungo-demo-pass"),
                ("csrf", "forged"),
            ],
        )
        .await;
    assert_eq!(res.status().as_u16(), 403);
    let res = b
        .post(
            "/login",
            &[
                ("login", "bungo"),
                ("password", "wrong"),
                ("csrf", &csrf_of(&page)),
            ],
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("ログインIDまたはパスワードが違います"));

    assert_eq!(
        b.sign_in("yufu", "yufu-demo-pass").await.status().as_u16(),
        303
    );
    let res = b
        .post("/certificates/W2025000004/notice", &[("csrf", "forged")])
        .await;
    assert_eq!(res.status().as_u16(), 403);
    let k = iss.demo_key("W2025000004");
    assert_eq!(
        lookup(&iss, &k.certificate_number, &k.auth_key)
            .await
            .status()
            .as_u16(),
        200,
        "key unchanged"
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
    let out = iss
        .command()
        .env_remove("KAKUNIN_ISSUER_SECRET")
        .env("KAKUNIN_ISSUER_SECRET_FILE", &secret_file)
        .args(["issue", "--file", &file, "--notice-out", "n.pdf"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the secret may come from a file: {}",
        stderr(&out)
    );
}

#[test]
fn demo_seed_on_a_seeded_database_says_so_and_changes_nothing() {
    let iss = IssuerProcess::start();
    let before = (
        rows(&iss.db_path(), "certificates"),
        rows(&iss.db_path(), "clients"),
    );
    let csv = std::fs::read(iss.demo_dir().join("demo-keys.csv")).unwrap();
    let out = iss.cli(&["demo-seed", "--out", iss.demo_dir().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("既に"), "{}", stdout(&out));
    assert_eq!(
        before,
        (
            rows(&iss.db_path(), "certificates"),
            rows(&iss.db_path(), "clients")
        )
    );
    assert_eq!(
        csv,
        std::fs::read(iss.demo_dir().join("demo-keys.csv")).unwrap()
    );
}

#[tokio::test]
async fn every_demo_key_answers_as_demo_keys_csv_declares() {
    let iss = IssuerProcess::start();
    assert_eq!(iss.demo_keys.len(), 22);
    let reg = registry(&iss.registry_toml);
    for k in &iss.demo_keys {
        let res = lookup(&iss, &k.certificate_number, &k.auth_key).await;
        match k.expected_outcome.as_str() {
            "verified" | "rejected" => {
                assert_eq!(res.status().as_u16(), 200, "{}", k.certificate_number);
                let body = res.bytes().await.unwrap();
                record::verify(&body, "wjcs", &number(&k.certificate_number), &reg).unwrap();
            }
            "not_found" => assert_eq!(res.status().as_u16(), 404, "{}", k.certificate_number),
            other => panic!("unexpected outcome {other}"),
        }
    }
    let amended = iss.demo_key("W2025000015");
    let body = lookup(&iss, &amended.certificate_number, &amended.auth_key)
        .await
        .bytes()
        .await
        .unwrap();
    let rec = record::verify(&body, "wjcs", &number("W2025000015"), &reg).unwrap();
    assert_eq!(rec.certificate().revision, 3);
    for n in ["W2025000001", "W2025000020"] {
        assert!(iss.demo_dir().join(format!("notices/{n}.pdf")).is_file());
    }
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
fn signing_key_files_are_private_and_a_readable_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let iss = IssuerProcess::start();
    let key = iss.keys_dir().join("wjcs-demo-2025.pem");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = iss.cli(&["cancel", "W2025000018"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
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
