//! `kakunin batch`: looks up every row of a CSV through the API's batch route and
//! writes the outcomes, in the same order, to a CSV that Excel opens as it is. Each row
//! is sent as the API's own request type ([`VerificationInput`]).
//!
//! Exit codes: 0 when every row is verified, 1 when some row is not (including rows
//! with bad input), 2 on an error that stopped the run. The token comes from the
//! environment variable named by `--token-env`, never from argv, where `ps` shows it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::domain::code::Code;
use crate::domain::intake;
use crate::domain::outcome::Outcome;
use crate::domain::rules::parse_yen_input;
use crate::web::api::model::{BatchInput, ExpectedInput, VerificationInput};
use kakunin_platform::csv_cell::neutralise;

/// Items per request: the API's batch limit.
pub const CHUNK: usize = 1000;
/// Tries of one chunk answered 429 before giving up.
const RATE_LIMIT_TRIES: u32 = 5;

pub struct Options {
    /// Base URL of the service, e.g. `https://kakunin.example.lg.jp`.
    pub url: String,
    /// Name of the environment variable holding the API token.
    pub token_env: String,
    pub input: PathBuf,
    pub output: PathBuf,
    /// A PEM file of the private CA that signed the service's certificate, trusted
    /// beside the operating system's anchors.
    pub ca_file: Option<PathBuf>,
}

const OUTPUT_COLUMNS: [&str; 19] = [
    "row",
    "ref",
    "certificate_number",
    "outcome",
    "outcome_label",
    "issuer_id",
    "issuer_name",
    "revision",
    "failed_rules",
    "failed_messages",
    "warned_rules",
    "warned_messages",
    "verification_id",
    "checked_at",
    "detail",
    "case_number",
    "case_title",
    "duplicate_cases",
    "duplicate_other_offices",
];

/// One data row of the input; `problem` is set when it cannot even be sent.
struct InputRow {
    number: usize,
    certificate_number: String,
    item: VerificationInput,
    problem: Option<String>,
}

/// One line of the output.
#[derive(Default)]
struct ResultRow {
    outcome: String,
    cells: BTreeMap<&'static str, String>,
}

pub fn run(opts: &Options) -> anyhow::Result<u8> {
    let token = std::env::var(&opts.token_env)
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .with_context(|| format!("環境変数 {} に API トークンを設定してください（`kakunin token create` が表示したもの）", opts.token_env))?;
    let endpoint = endpoint(&opts.url)?;
    let rows = read_input(&opts.input)?;
    if rows.is_empty() {
        bail!("{} に照会する行がありません", opts.input.display());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("非同期ランタイムを起動できません")?;
    let http = client(opts.ca_file.as_deref())?;
    runtime.block_on(lookup_all(&http, &endpoint, &token, &rows, &opts.output))
}

/// The batch call's URL under `base`: `https://`, or `http://` to this machine only,
/// since every request carries the token and the auth keys (as `issuer-protocol.md` §5
/// asks of issuers).
fn endpoint(base: &str) -> anyhow::Result<reqwest::Url> {
    let url = reqwest::Url::parse(base.trim_end_matches('/'))
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .with_context(|| {
            format!("--url は https:// で始まるサービスの URL にしてください（「{base}」でした）")
        })?;
    if !kakunin_protocol::registry::safe_for_secrets(&url) {
        bail!(
            "--url「{base}」は https:// にしてください。照会は API トークンと認証キーを送るため、\
             http:// はループバック（127.0.0.0/8、::1、localhost）にだけ使えます"
        );
    }
    url.join(&format!(
        "{}/api/v1/verifications/batch",
        url.path().trim_end_matches('/')
    ))
    .context("--url からバッチ照会の URL を作れません")
}

/// The client of every batch call: no redirects (one could carry the token and the
/// keys elsewhere), the operating system's anchors and `ca_file`'s.
fn client(ca_file: Option<&Path>) -> anyhow::Result<reqwest::Client> {
    let mut http = crate::adapters::issuer_client::proxy_https_only(reqwest::Client::builder());
    if let Some(path) = ca_file {
        let ca = kakunin_protocol::registry::CaFile::read(path)
            .map_err(|e| anyhow::anyhow!("--ca-file: {e}"))?;
        for der in ca.certificates() {
            http = http.add_root_certificate(
                reqwest::Certificate::from_der(der.as_ref()).with_context(|| {
                    format!("--ca-file「{}」の証明書を使えません", path.display())
                })?,
            );
        }
    }
    http.connect_timeout(Duration::from_secs(10))
        // A full batch can wait on slow issuers: 1000 items / 16 at a time × 5 s each.
        .timeout(Duration::from_secs(900))
        // A redirect could carry the token and the keys elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("kakunin-batch/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("HTTP クライアントを作れません")
}

async fn lookup_all(
    http: &reqwest::Client,
    endpoint: &reqwest::Url,
    token: &str,
    rows: &[InputRow],
    output: &Path,
) -> anyhow::Result<u8> {
    let mut out = Output::create(output)?;
    let progress = progress_bar(rows.len());
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut done = 0;
    for chunk in rows.chunks(CHUNK) {
        let sendable: Vec<&InputRow> = chunk.iter().filter(|r| r.problem.is_none()).collect();
        let mut answers = if sendable.is_empty() {
            Vec::new()
        } else {
            let items: Vec<VerificationInput> = sendable.iter().map(|r| r.item.clone()).collect();
            let sent = items.len();
            let answers = post_chunk(http, endpoint, token, items).await.with_context(|| {
                format!("{}行目からの照会に失敗しました（それまでの{done}行は {} に書き出しました）", chunk[0].number, output.display())
            })?;
            if answers.len() != sent {
                bail!("サービスの応答の件数が合いません（{sent}件送って{}件）", answers.len());
            }
            answers
        }
        .into_iter();
        for row in chunk {
            let result = match &row.problem {
                Some(p) => ResultRow::input_error(p.clone()),
                None => ResultRow::from_answer(&answers.next().unwrap_or(Value::Null)),
            };
            *counts.entry(result.outcome.clone()).or_default() += 1;
            out.write(row, result)?;
        }
        out.flush()?;
        done += chunk.len();
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    eprintln!("{}", summary(&counts, rows.len(), output));
    Ok(if counts.keys().all(|o| o == Outcome::Verified.as_str()) {
        0
    } else {
        1
    })
}

fn progress_bar(total: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40.cyan/blue} {pos}/{len}件 経過 {elapsed_precise} 残り {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Posts one chunk; waits out a 429 as `Retry-After` asks, a few times at most.
async fn post_chunk(
    http: &reqwest::Client,
    endpoint: &reqwest::Url,
    token: &str,
    items: Vec<VerificationInput>,
) -> anyhow::Result<Vec<Value>> {
    let body = BatchInput { items };
    for _ in 0..RATE_LIMIT_TRIES {
        let res = http
            .post(endpoint.clone())
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(connect_failure(&e)))?;
        let status = res.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let wait = res
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(10)
                .clamp(1, 120);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        let answer: Value = res.json().await.unwrap_or(Value::Null);
        if status != StatusCode::OK {
            let why = answer["detail"]
                .as_str()
                .or(answer["title"].as_str())
                .unwrap_or("");
            bail!("サービスが HTTP {} を返しました: {why}", status.as_u16());
        }
        let Some(Value::Array(results)) = answer.get("results").cloned() else {
            bail!("サービスの応答に results がありません");
        };
        return Ok(results);
    }
    bail!("リクエストの上限を超えたままです。時間をおいて再度実行してください")
}

/// The text of an input CSV as Japanese Excel saves it: 「CSV UTF-8（コンマ区切り）」
/// starts with a BOM; other valid UTF-8 is read as such; anything else is taken for
/// 「CSV（コンマ区切り）」, which is CP932 (encoding_rs's `SHIFT_JIS` decodes CP932 as
/// browsers do, NEC and IBM extensions included). `None`: neither.
fn decode_csv(bytes: &[u8]) -> Option<Cow<'_, str>> {
    if let Some(rest) = bytes.strip_prefix(kakunin_platform::cli::UTF8_BOM) {
        return std::str::from_utf8(rest).ok().map(Cow::Borrowed);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Some(Cow::Borrowed(text));
    }
    encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes)
}

/// The input columns, each with the titles people give it: today's English names and
/// the Japanese ones of the key notice and the contract (compared after [`title_key`]).
const COLUMNS: [(&str, &[&str]); 8] = [
    ("certificate_number", &["保証契約番号", "保証番号"]),
    ("auth_key", &["認証キー"]),
    ("ref", &["整理番号", "参照番号"]),
    (
        "contract_amount_yen",
        &["請負代金額", "請負代金額(円)", "契約金額", "契約金額(円)"],
    ),
    ("contractor_name", &["受注者名", "受注者"]),
    (
        "title",
        &[
            "工事名",
            "業務名",
            "工事名/業務名",
            "工事名・業務名",
            "工事・業務名",
            "件名",
        ],
    ),
    ("case_number", &["案件番号", "契約番号", "工事番号"]),
    ("case_title", &["案件名"]),
];

/// A column title as compared: NFKC (full-width letters, 半角カナ), no white space
/// anywhere (「保証契約 番号」), ASCII lower case.
fn title_key(title: &str) -> String {
    title
        .nfkc()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Which column of `headers` holds `name`, by its English name or a Japanese title.
fn column_of(headers: &[String], name: &str) -> Option<usize> {
    let (_, titles) = COLUMNS.iter().find(|(n, _)| *n == name)?;
    headers
        .iter()
        .position(|h| h == name || titles.iter().any(|t| title_key(t) == *h))
}

fn read_input(path: &Path) -> anyhow::Result<Vec<InputRow>> {
    let bytes = std::fs::read(path).with_context(|| format!("{} を読めません", path.display()))?;
    rows_of(&bytes, path)
}

/// Reads the bytes of an input CSV exactly as `kakunin batch` does (encoding, column
/// titles, cells, amounts, scanned QR text) without sending anything: the number of
/// rows it would look up, or the error it would stop with. The entry point of the fuzz
/// target `batch_csv` (`fuzz/`), so that the target reads what the command reads.
pub fn count_input_rows(bytes: &[u8]) -> anyhow::Result<usize> {
    rows_of(bytes, Path::new("input.csv")).map(|rows| rows.len())
}

/// The rows of an input CSV's bytes; `path` names the file in error messages.
fn rows_of(bytes: &[u8], path: &Path) -> anyhow::Result<Vec<InputRow>> {
    let text = decode_csv(bytes).ok_or_else(|| {
        anyhow::anyhow!(
            "{} の文字コードを読み取れません。Excel では「CSV UTF-8（コンマ区切り）」か「CSV（コンマ区切り）」で保存してください",
            path.display()
        )
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .with_context(|| format!("{} の見出し行を読めません", path.display()))?
        .iter()
        .map(title_key)
        .collect();
    let column = |name: &str| column_of(&headers, name);
    let (Some(number_col), Some(key_col)) = (column("certificate_number"), column("auth_key"))
    else {
        bail!(
            "{} の見出し行に「保証契約番号」（certificate_number）と「認証キー」（auth_key）の列が必要です（見出し: {}）",
            path.display(),
            headers.join(",")
        );
    };
    let [ref_col, amount_col, contractor_col, title_col, case_number_col, case_title_col] = [
        "ref",
        "contract_amount_yen",
        "contractor_name",
        "title",
        "case_number",
        "case_title",
    ]
    .map(column);
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record =
            record.with_context(|| format!("{} を CSV として読めません", path.display()))?;
        // The row number Excel shows for the same row: records, not physical lines
        // (a quoted cell may hold a line break), counted after the heading row 1, blank
        // rows included.
        let number = index + 2;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let cell = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").to_owned();
        // A QR text scanned into the cell holds the key: the output shows its number only.
        let certificate_number = intake::shown_number(&cell(Some(number_col)));
        let client_ref = Some(cell(ref_col))
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| format!("row-{number}"));
        let mut problem = None;
        let contract_amount_yen = parse_yen_input(&cell(amount_col)).unwrap_or_else(|e| {
            problem = Some(format!("contract_amount_yen: {e}"));
            None
        });
        let text = |col| Some(cell(col)).filter(|v| !v.is_empty());
        let expected = ExpectedInput {
            contract_amount_yen,
            contractor_name: text(contractor_col),
            title: text(title_col),
        };
        let given = expected.contract_amount_yen.is_some()
            || expected.contractor_name.is_some()
            || expected.title.is_some();
        let item = VerificationInput {
            certificate_number: cell(Some(number_col)),
            auth_key: cell(Some(key_col)),
            client_ref: Some(client_ref),
            expected: given.then_some(expected),
            // Sent as typed: the service normalizes and bounds them, and names the
            // column of a bad one in the row's detail.
            case_number: text(case_number_col),
            case_title: text(case_title_col),
        };
        rows.push(InputRow {
            number,
            certificate_number,
            item,
            problem,
        });
    }
    Ok(rows)
}

impl ResultRow {
    fn input_error(message: String) -> Self {
        let mut r = ResultRow {
            outcome: "input_error".into(),
            ..Default::default()
        };
        r.cells.insert("detail", message);
        r
    }

    fn from_answer(v: &Value) -> Self {
        let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
        if let Some(problem) = v.get("error") {
            let status = problem["status"].as_u64().unwrap_or(0);
            let mut r = if status == 422 {
                ResultRow::input_error(s(&problem["detail"]))
            } else {
                let mut r = ResultRow {
                    outcome: "error".into(),
                    ..Default::default()
                };
                r.cells.insert(
                    "detail",
                    format!("{}: {}", s(&problem["title"]), s(&problem["detail"])),
                );
                r
            };
            // The field once: the API's own detail often starts with it already.
            if let Some(field) = problem["field"].as_str().filter(|f| !f.is_empty()) {
                let detail = r.cells.remove("detail").unwrap_or_default();
                let named = if detail.starts_with(field) {
                    detail
                } else {
                    format!("{field}: {detail}")
                };
                r.cells.insert("detail", named);
            }
            return r;
        }
        let mut r = ResultRow {
            outcome: s(&v["outcome"]),
            ..Default::default()
        };
        let mut put = |k: &'static str, value: String| {
            r.cells.insert(k, value);
        };
        put("certificate_number", s(&v["certificate_number"]));
        put("issuer_id", s(&v["issuer"]["id"]));
        put("issuer_name", s(&v["issuer"]["name"]));
        put(
            "revision",
            v["certificate"]["revision"]
                .as_i64()
                .map(|n| n.to_string())
                .unwrap_or_default(),
        );
        put("verification_id", s(&v["id"]));
        put("checked_at", s(&v["checked_at"]));
        put("detail", s(&v["detail"]));
        put("case_number", s(&v["case"]["number"]));
        put("case_title", s(&v["case"]["title"]));
        let duplicate = &v["duplicate_use"];
        put(
            "duplicate_cases",
            duplicate["cases"]
                .as_array()
                .map(|cases| cases.iter().map(s).collect::<Vec<_>>().join("|"))
                .unwrap_or_default(),
        );
        put(
            "duplicate_other_offices",
            match duplicate["other_offices"].as_bool() {
                Some(true) => "あり",
                Some(false) => "なし",
                None => "",
            }
            .to_owned(),
        );
        let rules = v["rules"].as_array().cloned().unwrap_or_default();
        for (status, ids, messages) in [
            ("fail", "failed_rules", "failed_messages"),
            ("warn", "warned_rules", "warned_messages"),
        ] {
            let matching: Vec<&Value> = rules.iter().filter(|r| r["status"] == status).collect();
            put(
                ids,
                matching
                    .iter()
                    .map(|r| s(&r["id"]))
                    .collect::<Vec<_>>()
                    .join("|"),
            );
            put(
                messages,
                matching
                    .iter()
                    .map(|r| format!("{}: {}", s(&r["id"]), s(&r["message"])))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        r
    }

    fn label(&self) -> &'static str {
        match self.outcome.as_str() {
            "input_error" => "入力エラー",
            "error" => "エラー",
            o => Outcome::parse(o).map_or("不明", Outcome::banner),
        }
    }
}

/// The output CSV: UTF-8 with BOM and CRLF, so Excel opens it with the Japanese intact.
struct Output {
    csv: csv::Writer<std::fs::File>,
}

impl Output {
    fn create(path: &Path) -> anyhow::Result<Self> {
        let mut file = std::fs::File::create(path)
            .with_context(|| format!("{} に書き込めません", path.display()))?;
        file.write_all(b"\xEF\xBB\xBF")?;
        let mut csv = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(file);
        csv.write_record(OUTPUT_COLUMNS)?;
        Ok(Self { csv })
    }

    fn write(&mut self, row: &InputRow, mut result: ResultRow) -> anyhow::Result<()> {
        let label = result.label();
        result.cells.insert("row", row.number.to_string());
        result
            .cells
            .insert("ref", row.item.client_ref.clone().unwrap_or_default());
        result
            .cells
            .entry("certificate_number")
            .or_insert_with(|| row.certificate_number.clone());
        // A row the service refused still shows the 案件 it was typed with.
        for (column, typed) in [
            ("case_number", &row.item.case_number),
            ("case_title", &row.item.case_title),
        ] {
            let cell = result.cells.entry(column).or_default();
            if cell.is_empty() {
                *cell = typed.clone().unwrap_or_default();
            }
        }
        result.cells.insert("outcome_label", label.to_owned());
        let outcome = std::mem::take(&mut result.outcome);
        let record = OUTPUT_COLUMNS.map(|c| match c {
            "outcome" => outcome.clone(),
            c => result.cells.remove(c).unwrap_or_default(),
        });
        // Cells come from the input file and from the issuer's record: neither may make
        // the spreadsheet that opens the results run a formula.
        self.csv
            .write_record(record.iter().map(|c| neutralise(c).into_owned()))
            .context("結果を書き込めません")
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        self.csv.flush().context("結果を書き込めません")
    }
}

fn summary(counts: &BTreeMap<String, usize>, total: usize, output: &Path) -> String {
    let order = Outcome::ALL
        .iter()
        .map(|o| (o.as_str(), o.banner()))
        .chain([("input_error", "入力エラー"), ("error", "エラー")]);
    let parts: Vec<String> = order
        .filter_map(|(o, label)| counts.get(o).map(|n| format!("{label} {n}件")))
        .collect();
    format!(
        "照会 {total}件: {}（結果: {}）",
        parts.join("、"),
        output.display()
    )
}

/// Why the service could not be reached, in Japanese: for a certificate refused, what
/// to do about it (`--ca-file` for a private CA); otherwise reqwest's own account, which
/// names the URL, never the body or the token.
fn connect_failure(e: &reqwest::Error) -> String {
    if let Some(rustls::Error::InvalidCertificate(cert)) =
        crate::adapters::issuer_client::rustls_error(e)
    {
        let why = match cert {
                rustls::CertificateError::UnknownIssuer => {
                    "発行した CA を信頼できません。私設 CA なら --ca-file にその CA の証明書（PEM）を指定してください"
                }
                rustls::CertificateError::Expired | rustls::CertificateError::ExpiredContext { .. } => {
                    "有効期限が切れています"
                }
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. } => {
                    "--url のホスト名のものではありません"
                }
                _ => "検証できません",
            };
        return format!("サービスに接続できません: サービスのサーバー証明書を{why}");
    }
    format!("サービスに接続できません: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_keeps_a_path_prefix() {
        assert_eq!(
            endpoint("http://127.0.0.1:8080").unwrap().as_str(),
            "http://127.0.0.1:8080/api/v1/verifications/batch"
        );
        assert_eq!(
            endpoint("https://h/kakunin/").unwrap().as_str(),
            "https://h/kakunin/api/v1/verifications/batch"
        );
        assert!(endpoint("ftp://h").is_err());
        assert!(endpoint("nonsense").is_err());
    }

    #[test]
    fn input_with_bom_full_width_and_extra_columns() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.csv");
        let text = "\u{feff}certificate_number,auth_key,note,contract_amount_yen\r\nＷ２０２５０００１２３,ABCD-EFGH-JKMN-PQRS,x,\"１２３,２００,０００円\"\r\n,,,\r\nW2025000124,K,y,12x\r\n";
        std::fs::write(&p, text).unwrap();
        let rows = read_input(&p).unwrap();
        assert_eq!(rows.len(), 2, "the blank row is skipped");
        let item = serde_json::to_value(&rows[0].item).unwrap();
        assert_eq!(item["expected"]["contract_amount_yen"], 123200000);
        assert_eq!(item["ref"], "row-2");
        assert_eq!(item["auth_key"], "ABCD-EFGH-JKMN-PQRS");
        assert!(
            !format!("{:?}", rows[0].item).contains("ABCD"),
            "the key stays out of Debug"
        );
        assert!(
            serde_json::to_value(&rows[1].item)
                .unwrap()
                .get("expected")
                .is_none(),
            "no 照合 value, no member"
        );
        assert_eq!(rows[1].number, 4);
        assert!(rows[0].problem.is_none());
        assert!(rows[1]
            .problem
            .as_deref()
            .unwrap()
            .starts_with("contract_amount_yen"));
    }

    #[test]
    fn excel_cp932_csv_with_japanese_titles_is_read() {
        // 「CSV（コンマ区切り）」 of Japanese Excel: CP932, Japanese titles, one of them
        // full-width and spaced, ① (an NEC extension of CP932) in a title.
        let csv = "保証契約番号,認証キー,請負代金額,受注者名,工事名　／　業務名\r\n\
                   W2025000123,ABCD-EFGH-JKMN-PQRS,\"123,200,000\",株式会社豊後建設,県道①工区\r\n";
        let (bytes, _, lossy) = encoding_rs::SHIFT_JIS.encode(csv);
        assert!(!lossy);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("excel.csv");
        std::fs::write(&p, &bytes).unwrap();
        let rows = read_input(&p).unwrap();
        assert_eq!(rows.len(), 1);
        let item = serde_json::to_value(&rows[0].item).unwrap();
        assert_eq!(item["certificate_number"], "W2025000123");
        assert_eq!(item["auth_key"], "ABCD-EFGH-JKMN-PQRS");
        assert_eq!(item["expected"]["contract_amount_yen"], 123200000);
        assert_eq!(item["expected"]["contractor_name"], "株式会社豊後建設");
        assert_eq!(item["expected"]["title"], "県道①工区");
    }

    #[test]
    fn utf8_with_or_without_bom_stays_utf8_and_broken_bytes_are_refused() {
        let text = "保証契約番号,認証キー\r\nW2025000123,ABCD-EFGH-JKMN-PQRS\r\n";
        assert_eq!(decode_csv(text.as_bytes()).unwrap(), text);
        let bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        assert_eq!(decode_csv(&bom).unwrap(), text);
        // A lead byte of CP932 at the end, with no trail byte: neither encoding.
        assert!(decode_csv(b"certificate_number,auth_key\r\n\x95").is_none());
    }

    #[test]
    fn counting_rows_reads_bytes_as_the_command_reads_a_file() {
        // The fuzz target's entry point: blank rows skipped, CP932 read, titles required.
        let text =
            "保証契約番号,認証キー\r\nW2025000123,ABCD-EFGH-JKMN-PQRS\r\n,\r\nW2025000124,x\r\n";
        let (cp932, _, lossy) = encoding_rs::SHIFT_JIS.encode(text);
        assert!(!lossy);
        assert_eq!(count_input_rows(&cp932).unwrap(), 2);
        let e = count_input_rows("整理番号\r\nA-1\r\n".as_bytes()).unwrap_err();
        assert!(e.to_string().contains("input.csv の見出し行に"), "{e}");
        assert!(count_input_rows(b"certificate_number,auth_key\r\n\x95").is_err());
    }

    /// A cell as people fill one: titles, numbers, keys, amounts, QR text, quotes,
    /// commas, line breaks, full width, CP932-only characters.
    fn cell() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            prop::sample::select(vec![
                "保証契約番号",
                "認証キー",
                "整理番号",
                "請負代金額",
                "受注者名",
                "工事名",
                "certificate_number",
                "auth_key",
                "contract_amount_yen",
                "ＷＡ１２３",
                "SURETY/1;wjcs;W2025000123;7KQ2M9XDH4T8RB3N",
                "1,234,567円",
                "①髙﨑",
                "\"a,\"\"b\"\"\r\nc\"",
                "=SUM(A1)",
                "",
            ])
            .prop_map(str::to_owned),
            "[ -~ぁ-んァ-ヶ一-龠０-９，　\r\n\"]{0,12}",
        ]
    }

    proptest::proptest! {
        /// Any bytes are rows or a message: the reader never panics, whatever the file.
        #[test]
        fn any_input_is_rows_or_a_message(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
            rows in proptest::collection::vec(proptest::collection::vec(cell(), 0..7), 0..5),
            encoding in 0..3u8,
        ) {
            let _ = count_input_rows(&bytes);
            let text = rows.iter().map(|r| r.join(",")).collect::<Vec<_>>().join("\r\n");
            let encoded = match encoding {
                0 => text.into_bytes(),
                1 => [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
                _ => encoding_rs::SHIFT_JIS.encode(&text).0.into_owned(),
            };
            let _ = count_input_rows(&encoded);
        }
    }
}
