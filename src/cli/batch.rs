//! `kakunin batch`: looks up every row of a CSV through the API's batch route and
//! writes the outcomes, in the same order, to a CSV that Excel opens as it is.
//!
//! Exit codes: 0 when every row is verified, 1 when some row is not (including rows
//! with bad input), 2 on an error that stopped the run. The token comes from the
//! environment variable named by `--token-env`, never from argv, where `ps` shows it.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;
use serde_json::{json, Value};
use unicode_normalization::UnicodeNormalization;

use crate::domain::outcome::Outcome;
use crate::domain::rules::parse_yen_input;

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
}

const OUTPUT_COLUMNS: [&str; 15] = [
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
];

/// One data row of the input; `problem` is set when it cannot even be sent.
struct InputRow {
    number: usize,
    certificate_number: String,
    item: Value,
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
    runtime.block_on(lookup_all(&endpoint, &token, &rows, &opts.output))
}

fn endpoint(base: &str) -> anyhow::Result<reqwest::Url> {
    let url = reqwest::Url::parse(base.trim_end_matches('/'))
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .with_context(|| format!("--url は http:// または https:// で始まるサービスの URL にしてください（「{base}」でした）"))?;
    url.join(&format!(
        "{}/api/v1/verifications/batch",
        url.path().trim_end_matches('/')
    ))
    .context("--url からバッチ照会の URL を作れません")
}

async fn lookup_all(
    endpoint: &reqwest::Url,
    token: &str,
    rows: &[InputRow],
    output: &Path,
) -> anyhow::Result<u8> {
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        // A full batch can wait on slow issuers: 1000 items / 16 at a time × 5 s each.
        .timeout(Duration::from_secs(900))
        // A redirect could carry the token and the keys elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("kakunin-batch/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("HTTP クライアントを作れません")?;
    let mut out = Output::create(output)?;
    let progress = progress_bar(rows.len());
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut done = 0;
    for chunk in rows.chunks(CHUNK) {
        let sendable: Vec<&InputRow> = chunk.iter().filter(|r| r.problem.is_none()).collect();
        let mut answers = if sendable.is_empty() {
            Vec::new()
        } else {
            let items: Vec<&Value> = sendable.iter().map(|r| &r.item).collect();
            let answers = post_chunk(&http, endpoint, token, &items).await.with_context(|| {
                format!("{}行目からの照会に失敗しました（それまでの{done}行は {} に書き出しました）", chunk[0].number, output.display())
            })?;
            if answers.len() != items.len() {
                bail!("サービスの応答の件数が合いません（{}件送って{}件）", items.len(), answers.len());
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
    items: &[&Value],
) -> anyhow::Result<Vec<Value>> {
    let body = json!({ "items": items });
    for _ in 0..RATE_LIMIT_TRIES {
        let res = http
            .post(endpoint.clone())
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            // reqwest's error names the URL, never the body or the token.
            .map_err(|e| anyhow::anyhow!("サービスに接続できません: {e}"))?;
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

fn read_input(path: &Path) -> anyhow::Result<Vec<InputRow>> {
    let bytes = std::fs::read(path).with_context(|| format!("{} を読めません", path.display()))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!(
            "{} は UTF-8 ではありません。Excel では「CSV UTF-8（コンマ区切り）」で保存してください",
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
        .map(|h| h.nfkc().collect::<String>().trim().to_ascii_lowercase())
        .collect();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(number_col), Some(key_col)) = (column("certificate_number"), column("auth_key"))
    else {
        bail!(
            "{} の見出し行に certificate_number と auth_key の列が必要です（見出し: {}）",
            path.display(),
            headers.join(",")
        );
    };
    let [ref_col, amount_col, contractor_col, title_col] =
        ["ref", "contract_amount_yen", "contractor_name", "title"].map(column);
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
        let certificate_number = cell(Some(number_col));
        let client_ref = Some(cell(ref_col))
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| format!("row-{number}"));
        let mut expected = serde_json::Map::new();
        let mut problem = None;
        match parse_yen_input(&cell(amount_col)) {
            Ok(Some(yen)) => {
                expected.insert("contract_amount_yen".into(), yen.into());
            }
            Ok(None) => {}
            Err(e) => problem = Some(format!("contract_amount_yen: {e}")),
        }
        for (name, col) in [("contractor_name", contractor_col), ("title", title_col)] {
            let v = cell(col);
            if !v.is_empty() {
                expected.insert(name.into(), v.into());
            }
        }
        let mut item = json!({
            "certificate_number": certificate_number,
            "auth_key": cell(Some(key_col)),
            "ref": client_ref,
        });
        if !expected.is_empty() {
            item["expected"] = Value::Object(expected);
        }
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
            if let Some(field) = problem["field"].as_str().filter(|f| !f.is_empty()) {
                let detail = r.cells.remove("detail").unwrap_or_default();
                r.cells.insert("detail", format!("{field}: {detail}"));
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
            .insert("ref", row.item["ref"].as_str().unwrap_or("").to_owned());
        result
            .cells
            .entry("certificate_number")
            .or_insert_with(|| row.certificate_number.clone());
        result.cells.insert("outcome_label", label.to_owned());
        let outcome = std::mem::take(&mut result.outcome);
        let record = OUTPUT_COLUMNS.map(|c| match c {
            "outcome" => outcome.clone(),
            c => result.cells.remove(c).unwrap_or_default(),
        });
        self.csv
            .write_record(record)
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
        assert_eq!(rows[0].item["expected"]["contract_amount_yen"], 123200000);
        assert_eq!(rows[0].item["ref"], "row-2");
        assert_eq!(rows[1].number, 4);
        assert!(rows[0].problem.is_none());
        assert!(rows[1]
            .problem
            .as_deref()
            .unwrap()
            .starts_with("contract_amount_yen"));
    }

    #[test]
    fn shift_jis_input_is_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sjis.csv");
        std::fs::write(&p, b"certificate_number,auth_key\r\n\x95\xdb,\x8f\xd8\r\n").unwrap();
        let Err(e) = read_input(&p).map(|_| ()) else {
            panic!("Shift_JIS accepted")
        };
        let e = e.to_string();
        assert!(e.contains("CSV UTF-8"), "{e}");
    }
}
