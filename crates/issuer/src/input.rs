//! Reading the JSON files given to `issue` and `amend`.
//!
//! The files are written by people, so every problem is reported in Japanese with the
//! file and the member concerned (`contract.amount_yen`), and a typo in a member name is
//! an error rather than a silently dropped value.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

use super::error::IssuerError;
use kakunin_protocol::ids::CertificateNumber;
use kakunin_protocol::payload::{
    Category, Contract, Contractor, DateError, Guarantee, Kind, Orderer,
};

/// Members of §4 that the issuer fills in itself; a file that sets them is refused.
const ISSUER_MEMBERS: [&str; 6] = [
    "schema",
    "revision",
    "status",
    "issued_at",
    "issuer",
    "changes",
];

/// What a member's value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A JSON object of the members listed under its path.
    Object,
    /// A string; the certificate number's form is checked when it is parsed.
    Text,
    /// `YYYY-MM-DD`, a day that exists.
    Date,
    /// An amount: an integer of yen, 0 or more.
    Yen,
    /// One of the names of [`Kind`].
    Kind,
    /// One of the names of [`Category`].
    Category,
}

/// Every member a file may hold below the top level's `summary`: the path, the name a
/// person reads, what the value looks like, and whether §4 requires it. Parents come
/// before their members, so a missing object is reported before what it lacks.
const MEMBERS: [(&str, &str, Shape, bool); 23] = [
    ("certificate_number", "保証契約番号", Shape::Text, true),
    ("kind", "保証の種類", Shape::Kind, true),
    ("orderer", "発注者", Shape::Object, true),
    ("orderer.name", "発注者名", Shape::Text, true),
    ("orderer.office", "発注機関", Shape::Text, false),
    ("orderer.code", "発注者コード", Shape::Text, false),
    ("contractor", "受注者", Shape::Object, true),
    ("contractor.name", "受注者名", Shape::Text, true),
    ("contractor.representative", "代表者", Shape::Text, false),
    ("contractor.address", "受注者の住所", Shape::Text, false),
    ("contract", "契約", Shape::Object, true),
    ("contract.category", "契約の区分", Shape::Category, true),
    ("contract.title", "工事名／業務名", Shape::Text, true),
    ("contract.location", "工事場所", Shape::Text, false),
    ("contract.contract_date", "当初契約日", Shape::Date, true),
    ("contract.period_start", "工期の始期", Shape::Date, false),
    ("contract.period_end", "工期の終期", Shape::Date, false),
    ("contract.amount_yen", "請負代金額", Shape::Yen, true),
    ("contract.terms", "約款", Shape::Text, false),
    ("guarantee", "保証", Shape::Object, true),
    ("guarantee.amount_yen", "保証金額", Shape::Yen, true),
    (
        "guarantee.period_start",
        "保証期間の始期",
        Shape::Date,
        true,
    ),
    ("guarantee.period_end", "保証期間の終期", Shape::Date, true),
];

/// The names `kind` and `contract.category` take, with what a person calls them.
const KINDS: [Kind; 4] = [
    Kind::Performance,
    Kind::AdvancePayment,
    Kind::IntermediateAdvancePayment,
    Kind::PerformanceReservation,
];
const CATEGORIES: [Category; 3] = [
    Category::Construction,
    Category::ConstructionConsulting,
    Category::Other,
];

/// The content of an `issue` file: every §4 member the issuer does not fill in.
#[derive(Debug, Clone)]
pub struct IssueInput {
    pub number: CertificateNumber,
    pub kind: Kind,
    pub orderer: Orderer,
    pub contractor: Contractor,
    pub contract: Contract,
    pub guarantee: Guarantee,
}

/// The content of an `amend` file: members to change, and the change's summary.
#[derive(Debug, Clone)]
pub struct Amendment {
    /// Top-level members (`kind`, `orderer`, `contractor`, `contract`, `guarantee`),
    /// each a JSON merge patch (RFC 7396) of the current value.
    pub patch: Map<String, Value>,
    /// What the 変更 was, for `changes` (default 「変更」).
    pub summary: String,
}

/// Parses an `issue` file; `source` names it in messages.
pub fn parse_issue(source: &str, bytes: &[u8]) -> Result<IssueInput, IssuerError> {
    let object = parse_object(source, bytes)?;
    refuse_issuer_members(source, &object)?;
    check_known(
        source,
        &object,
        &[
            "certificate_number",
            "kind",
            "orderer",
            "contractor",
            "contract",
            "guarantee",
        ],
    )?;
    check_values(source, &object)?;
    let number_text = match object.get("certificate_number") {
        Some(Value::String(s)) => s,
        _ => {
            return Err(IssuerError::Input(format!(
                "{source}: 「certificate_number」（保証契約番号）は文字列で書いてください（例: \"W2025000123\"）。"
            )))
        }
    };
    let number = CertificateNumber::parse(number_text)
        .map_err(|e| IssuerError::Input(format!("{source}: {e}")))?;
    Ok(IssueInput {
        number,
        kind: member(source, &object, "kind")?,
        orderer: member(source, &object, "orderer")?,
        contractor: member(source, &object, "contractor")?,
        contract: member(source, &object, "contract")?,
        guarantee: member(source, &object, "guarantee")?,
    })
}

/// Parses an `amend` file.
pub fn parse_amendment(source: &str, bytes: &[u8]) -> Result<Amendment, IssuerError> {
    let mut object = parse_object(source, bytes)?;
    if object.contains_key("certificate_number") {
        return Err(IssuerError::Input(format!(
            "{source}: 保証契約番号は変更できません。「certificate_number」を削除してください。"
        )));
    }
    refuse_issuer_members(source, &object)?;
    check_known(
        source,
        &object,
        &[
            "kind",
            "orderer",
            "contractor",
            "contract",
            "guarantee",
            "summary",
        ],
    )?;
    let summary = match object.remove("summary") {
        None | Some(Value::Null) => "変更".to_owned(),
        Some(Value::String(s)) => match text_problem(&s, true, SUMMARY_MAX) {
            None => s.trim().to_owned(),
            Some(how) => {
                return Err(IssuerError::Input(format!(
                    "{source}: 「summary」（変更の内容）{how}"
                )))
            }
        },
        Some(_) => {
            return Err(IssuerError::Input(format!(
                "{source}: 「summary」（変更の内容）は空でない文字列で書いてください（例: \"保証金額の変更\"）。"
            )))
        }
    };
    if object.is_empty() {
        return Err(IssuerError::Input(format!(
            "{source}: 変更する項目がありません（kind、orderer、contractor、contract、guarantee のいずれかを書いてください）。"
        )));
    }
    check_patch(source, &object)?;
    Ok(Amendment {
        patch: object,
        summary,
    })
}

fn parse_object(source: &str, bytes: &[u8]) -> Result<Map<String, Value>, IssuerError> {
    let bytes = kakunin_platform::cli::without_bom(bytes);
    // serde_json keeps the last of two same-named members; which one a person meant is
    // not for the issuer to guess, and the service refuses such a record (§3).
    if let Err(kakunin_protocol::strict_json::DuplicateError::Duplicate(name)) =
        kakunin_protocol::strict_json::check_no_duplicate_members(bytes)
    {
        return Err(IssuerError::Input(format!(
            "{source}: 項目「{name}」が同じオブジェクトに2回書かれています。1つにしてください。"
        )));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(IssuerError::Input(format!(
            "{source}: JSONオブジェクト（{{ … }}）で書いてください。"
        ))),
        Err(e) => Err(IssuerError::Input(format!(
            "{source}: {}",
            kakunin_protocol::payload::describe(&e)
        ))),
    }
}

fn refuse_issuer_members(source: &str, object: &Map<String, Value>) -> Result<(), IssuerError> {
    match ISSUER_MEMBERS.iter().find(|m| object.contains_key(**m)) {
        Some(m) => Err(IssuerError::Input(format!(
            "{source}: 「{m}」は保証事業会社が設定する項目です。ファイルから削除してください（{}）。",
            ISSUER_MEMBERS.join("、")
        ))),
        None => Ok(()),
    }
}

/// Refuses members nobody reads: they are typos more often than not.
fn check_known(source: &str, object: &Map<String, Value>, top: &[&str]) -> Result<(), IssuerError> {
    let unknown = |path: String, allowed: &[&str]| {
        IssuerError::Input(format!(
            "{source}: 「{path}」という項目はありません（使える項目: {}）。",
            allowed.join("、")
        ))
    };
    for (name, value) in object {
        if !top.contains(&name.as_str()) {
            return Err(unknown(name.clone(), top));
        }
        let Value::Object(inner) = value else {
            continue;
        };
        let allowed = children(name);
        if let Some(bad) = inner.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(unknown(format!("{name}.{bad}"), &allowed));
        }
    }
    Ok(())
}

/// The members [`MEMBERS`] lists under the object `parent`.
fn children(parent: &str) -> Vec<&'static str> {
    MEMBERS
        .iter()
        .filter_map(|(path, ..)| path.strip_prefix(parent)?.strip_prefix('.'))
        .collect()
}

/// Checks a whole certificate's members (an `issue` file, or a certificate after an
/// amendment): every required member is there and every value has its shape, each
/// problem reported with the member's full path (`guarantee.amount_yen`).
pub fn check_values(source: &str, object: &Map<String, Value>) -> Result<(), IssuerError> {
    for (path, label, shape, required) in MEMBERS {
        match lookup(object, path) {
            None | Some(Value::Null) if required => {
                return Err(IssuerError::Input(format!(
                    "{source}: 必須の項目「{path}」（{label}）がありません。"
                )))
            }
            None | Some(Value::Null) => {}
            Some(value) => check_value(source, path, label, shape, required, value)?,
        }
    }
    Ok(())
}

/// Checks what an amendment sets (a JSON merge patch of each top-level member): the
/// values it gives have their shape, and it removes (`null`) no required member.
pub fn check_patch(source: &str, patch: &Map<String, Value>) -> Result<(), IssuerError> {
    for (path, label, shape, required) in MEMBERS {
        match lookup(patch, path) {
            None => {}
            Some(Value::Null) if required => {
                return Err(IssuerError::Input(format!(
                    "{source}: 必須の項目「{path}」（{label}）は削除できません。null ではなく新しい値を書くか、変えないなら項目ごと省いてください。"
                )))
            }
            Some(Value::Null) => {}
            Some(value) => check_value(source, path, label, shape, required, value)?,
        }
    }
    Ok(())
}

/// Checks one present, non-null value against its shape; a required text must not be
/// blank.
fn check_value(
    source: &str,
    path: &str,
    label: &str,
    shape: Shape,
    required: bool,
    value: &Value,
) -> Result<(), IssuerError> {
    let wrong = |how: String| {
        Err(IssuerError::Input(format!(
            "{source}: 「{path}」（{label}）{how}"
        )))
    };
    match shape {
        // The number is read as §1 reads a typed one, which drops what cannot be seen.
        Shape::Text if path != "certificate_number" => match value.as_str() {
            Some(text) => match text_problem(text, required, TEXT_MAX) {
                Some(how) => wrong(how),
                None => Ok(()),
            },
            None => wrong("は文字列（\"…\"）で書いてください。".to_owned()),
        },
        Shape::Object if !value.is_object() => wrong(format!(
            "はオブジェクト（{{ \"{}\": … }}）で書いてください。",
            children(path).first().copied().unwrap_or("")
        )),
        Shape::Text if !value.is_string() => {
            wrong("は文字列（\"…\"）で書いてください。".to_owned())
        }
        Shape::Yen => match value.as_i64() {
            Some(yen) if yen >= 0 => Ok(()),
            Some(yen) => wrong(format!(
                "が負の数（{yen}）です。0以上の整数（円単位、例: 49280000）で書いてください。"
            )),
            None => wrong(
                "は0以上の整数（円単位、例: 49280000）で書いてください。カンマ・小数点・「円」・引用符は付けません。"
                    .to_owned(),
            ),
        },
        Shape::Date => match value.as_str().map(date) {
            Some(Ok(())) => Ok(()),
            Some(Err(DateProblem::NoSuchDay(text))) => wrong(format!(
                "の「{text}」は存在しない日付です。実在する日付を YYYY-MM-DD の形（例: 2025-04-01）で書いてください。"
            )),
            Some(Err(DateProblem::Form)) | None => wrong(
                "は日付を YYYY-MM-DD の形の文字列（例: \"2025-04-01\"）で書いてください。".to_owned(),
            ),
        },
        Shape::Kind if !KINDS.iter().any(|k| names(value, k)) => wrong(format!(
            "は次のいずれかで書いてください: {}。",
            choices(KINDS.iter().map(|k| (serde_json::to_value(k), k.label())))
        )),
        Shape::Category if !CATEGORIES.iter().any(|c| names(value, c)) => wrong(format!(
            "は次のいずれかで書いてください: {}。",
            choices(CATEGORIES.iter().map(|c| (serde_json::to_value(c), c.label())))
        )),
        _ => Ok(()),
    }
}

/// The most characters, after NFKC, of a text in a signed record: what the service
/// takes as a typed 照合 text (受注者名, 工事名), so that every signed one can be matched,
/// and far below what would bring a record near §2's 1 MiB.
pub const TEXT_MAX: usize = 500;

/// The most characters of an amendment's `summary`: it is copied into `changes` of
/// every later revision.
pub const SUMMARY_MAX: usize = 200;

/// What is wrong with a text that goes into a signed record as it is, if anything: a
/// control character breaks the printed line and the CSV cell it lands in, an invisible
/// character (a format character such as U+202E, which reverses what follows it, or a
/// Hangul filler) would be signed and shown to every orderer, a required text that reads
/// as nothing is a 受注者名 or 工事名 left out, and one over `max` characters cannot be
/// matched. Refused rather than dropped: the issuer signs exactly what its file says.
fn text_problem(text: &str, required: bool, max: usize) -> Option<String> {
    if let Some(problem) = kakunin_platform::text::verbatim_problem(text, required) {
        return Some(problem);
    }
    let length = text.nfkc().count();
    if length > max {
        return Some(format!(
            "が長すぎます（{length}文字。㍻ などは 平成 のように展開して数えます）。{max}文字以内で書いてください。"
        ));
    }
    None
}

/// Whether `value` is the name `variant` is written as.
fn names(value: &Value, variant: &impl serde::Serialize) -> bool {
    serde_json::to_value(variant).is_ok_and(|v| v == *value)
}

/// `performance（契約保証）、advance_payment（前払金保証）、…`
fn choices<'a>(variants: impl Iterator<Item = (serde_json::Result<Value>, &'a str)>) -> String {
    variants
        .filter_map(|(name, label)| Some(format!("{}（{label}）", name.ok()?.as_str()?)))
        .collect::<Vec<_>>()
        .join("、")
}

/// §4 dates, read as the service reads them ([`kakunin_protocol::payload::parse_date`]).
fn date(text: &str) -> Result<(), DateProblem> {
    kakunin_protocol::payload::parse_date(text)
        .map(|_| ())
        .map_err(|e| match e {
            DateError::Form => DateProblem::Form,
            DateError::NoSuchDay => DateProblem::NoSuchDay(text.to_owned()),
        })
}

enum DateProblem {
    /// Not `YYYY-MM-DD`.
    Form,
    /// `YYYY-MM-DD`, but no such day (`2026-02-30`).
    NoSuchDay(String),
}

fn lookup<'a>(object: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let first = object.get(parts.next()?)?;
    parts.try_fold(first, |v, p| v.get(p))
}

/// Deserializes one top-level member, naming it when its value is wrong.
fn member<T: DeserializeOwned>(
    source: &str,
    object: &Map<String, Value>,
    name: &str,
) -> Result<T, IssuerError> {
    let value = object.get(name).cloned().unwrap_or(Value::Null);
    from_member(source, name, value)
}

/// Deserializes a member's value, naming it in the error.
pub fn from_member<T: DeserializeOwned>(
    source: &str,
    name: &str,
    value: Value,
) -> Result<T, IssuerError> {
    serde_json::from_value(value).map_err(|e| {
        IssuerError::Input(format!(
            "{source}: 「{name}」の値が不正です（日付は YYYY-MM-DD、金額は円単位の整数、種類は仕様の英語名）: {}",
            kakunin_protocol::payload::describe(&e)
        ))
    })
}

/// Applies a JSON merge patch (RFC 7396): objects merge member by member, `null` removes.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(members) = target {
        for (k, v) in patch_members {
            if v.is_null() {
                members.remove(k);
            } else {
                merge_patch(members.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "certificate_number": "ｗ２０２５－０００１２３",
            "kind": "performance",
            "orderer": {"name": "大分県"},
            "contractor": {"name": "株式会社豊後建設"},
            "contract": {"category": "construction", "title": "県道改良工事",
                         "contract_date": "2025-04-01", "amount_yen": 1000},
            "guarantee": {"amount_yen": 100, "period_start": "2025-04-02", "period_end": "2025-12-01"}
        })
    }

    fn issue(v: &Value) -> Result<IssueInput, IssuerError> {
        parse_issue("cert.json", v.to_string().as_bytes())
    }

    #[test]
    fn a_complete_file_parses_with_a_canonical_number() {
        assert_eq!(issue(&sample()).unwrap().number.as_str(), "W2025000123");
    }

    #[test]
    fn problems_name_the_file_and_the_member() {
        let e = parse_issue("cert.json", b"{\"kind\": ")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cert.json") && e.contains("JSON"), "{e}");

        let mut v = sample();
        v["contract"].as_object_mut().unwrap().remove("amount_yen");
        let e = issue(&v).unwrap_err().to_string();
        assert!(
            e.contains("contract.amount_yen") && e.contains("請負代金額"),
            "{e}"
        );

        let mut v = sample();
        v["revision"] = json!(2);
        assert!(issue(&v)
            .unwrap_err()
            .to_string()
            .contains("「revision」は保証事業会社"));

        let mut v = sample();
        v["contract"]["locaton"] = json!("x");
        assert!(issue(&v)
            .unwrap_err()
            .to_string()
            .contains("contract.locaton"));

        let mut v = sample();
        v["kind"] = json!("perf");
        let e = issue(&v).unwrap_err().to_string();
        assert!(
            e.contains("「kind」（保証の種類）") && e.contains("advance_payment（前払金保証）"),
            "{e}"
        );
    }

    /// Each wrong value: the message names the full path and says how to write it.
    #[test]
    fn wrong_values_are_named_by_their_full_path_with_the_form_expected() {
        for (path, value, says) in [
            (
                "guarantee.amount_yen",
                json!(-1),
                "が負の数（-1）です。0以上の整数（円単位",
            ),
            ("contract.amount_yen", json!(1.5), "は0以上の整数（円単位"),
            (
                "contract.amount_yen",
                json!("1000"),
                "は0以上の整数（円単位",
            ),
            (
                "guarantee.period_end",
                json!("2026-02-30"),
                "の「2026-02-30」は存在しない日付です",
            ),
            (
                "contract.contract_date",
                json!("2025-4-1"),
                "YYYY-MM-DD の形",
            ),
            ("contract.period_start", json!(20250401), "YYYY-MM-DD の形"),
            (
                "contract.category",
                json!("civil"),
                "construction（建設工事）",
            ),
            ("orderer.name", json!(1), "は文字列"),
            ("contractor", json!("株式会社豊後建設"), "はオブジェクト"),
            ("contractor.name", json!("　 "), "が空です"),
            ("contract.title", json!(""), "が空です"),
            ("orderer.name", json!("\u{301}\u{FE0F}"), "が空です"),
            (
                "contract.title",
                json!("\u{200B}"),
                "見えない文字（U+200B）",
            ),
            (
                "contractor.name",
                json!("株式会社\u{202E}設建後豊"),
                "見えない文字（U+202E）",
            ),
            (
                "contract.location",
                json!("大分市\n府内町"),
                "制御文字（U+000A）",
            ),
            (
                "contractor.address",
                json!("大分市\u{2028}府内町"),
                "制御文字（U+2028）",
            ),
        ] {
            let mut v = sample();
            let (parent, name) = path.split_once('.').unwrap_or(("", path));
            if parent.is_empty() {
                v[name] = value.clone();
            } else {
                v[parent][name] = value.clone();
            }
            let e = issue(&v).unwrap_err().to_string();
            assert!(e.starts_with("cert.json: "), "{e}");
            assert!(
                e.contains(&format!("「{path}」")) && e.contains(says),
                "{path}={value}: {e}"
            );

            let patch = if parent.is_empty() {
                json!({ name: value })
            } else {
                json!({ parent: { name: value } })
            };
            let e = parse_amendment("change.json", patch.to_string().as_bytes())
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("「{path}」")) && e.contains(says),
                "{patch}: {e}"
            );
        }
    }

    #[test]
    fn an_amendment_may_remove_optional_members_but_not_required_ones() {
        let e = parse_amendment("c.json", br#"{"guarantee": {"amount_yen": null}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("必須の項目「guarantee.amount_yen」（保証金額）は削除できません"),
            "{e}"
        );
        let e = parse_amendment("c.json", br#"{"contract": null}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("「contract」"), "{e}");
        assert!(parse_amendment("c.json", br#"{"contract": {"terms": null}}"#).is_ok());
        // A member a file may never hold is still refused by name, nested ones too.
        let e = parse_amendment("c.json", br#"{"guarantee": {"amount": 5}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("「guarantee.amount」という項目はありません"),
            "{e}"
        );
    }

    /// A Hangul filler inside a text shows as nothing, like a format character; a
    /// text longer than the service can match, or a member written twice, is refused.
    #[test]
    fn hidden_letters_long_texts_and_repeated_members_are_refused() {
        let mut v = sample();
        v["contractor"]["name"] = json!("株式会社豊後建設\u{3164}");
        let e = issue(&v).unwrap_err().to_string();
        assert!(
            e.contains("「contractor.name」") && e.contains("見えない文字（U+3164）"),
            "{e}"
        );

        let mut v = sample();
        v["contract"]["title"] = json!("工".repeat(TEXT_MAX + 1));
        let e = issue(&v).unwrap_err().to_string();
        assert!(
            e.contains("「contract.title」") && e.contains("501文字。"),
            "{e}"
        );
        v["contract"]["title"] = json!("工".repeat(TEXT_MAX));
        assert!(issue(&v).is_ok());
        // NFKC lengthens ㍻ to 平成: counted as the service counts a typed 照合 text.
        v["contract"]["title"] = json!("㍻".repeat(TEXT_MAX / 2 + 1));
        assert!(issue(&v).is_err());

        let file = json!({"summary": "変".repeat(SUMMARY_MAX + 1), "guarantee": {"amount_yen": 5}});
        let e = parse_amendment("c.json", file.to_string().as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("「summary」") && e.contains("200文字以内"),
            "{e}"
        );

        let twice = r#"{"certificate_number": "W2025000123", "kind": "performance",
            "contractor": {"name": "\u3000", "name": "株式会社豊後建設"}}"#;
        let e = parse_issue("cert.json", twice.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cert.json") && e.contains("「name」が同じオブジェクトに2回"),
            "{e}"
        );
    }

    /// An optional text may be empty (not known); a required one, or the change's
    /// summary, may not read as nothing.
    #[test]
    fn only_required_texts_must_say_something() {
        let mut v = sample();
        v["contract"]["location"] = json!("");
        v["contractor"]["representative"] = json!(" ");
        assert!(issue(&v).is_ok());
        assert!(parse_amendment("c.json", br#"{"contract": {"terms": ""}}"#).is_ok());

        for summary in ["\u{3000}", "\u{200B}", "\u{202E}\u{4fdd}\u{8a3c}"] {
            let file = json!({"summary": summary, "guarantee": {"amount_yen": 5}}).to_string();
            let e = parse_amendment("c.json", file.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(e.contains("「summary」（変更の内容）"), "{summary:?}: {e}");
        }
    }

    #[test]
    fn amendments_merge_and_removing_with_null() {
        let mut target = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(&mut target, &json!({"b": {"c": 5, "d": null}}));
        assert_eq!(target, json!({"a": 1, "b": {"c": 5}}));
        let a = parse_amendment("c.json", br#"{"guarantee": {"amount_yen": 5}}"#).unwrap();
        assert_eq!(a.summary, "変更");
        assert!(parse_amendment("c.json", br#"{"summary": "x"}"#).is_err());
        assert!(parse_amendment("c.json", br#"{"status": "cancelled"}"#).is_err());
    }
}
