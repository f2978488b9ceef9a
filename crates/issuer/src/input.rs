//! Reading the JSON files given to `issue` and `amend`.
//!
//! The files are written by people, so every problem is reported in Japanese with the
//! file and the member concerned (`contract.amount_yen`), and a typo in a member name is
//! an error rather than a silently dropped value.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::IssuerError;
use kakunin_protocol::ids::CertificateNumber;
use kakunin_protocol::payload::{Contract, Contractor, Guarantee, Kind, Orderer};

/// Members of §4 that the issuer fills in itself; a file that sets them is refused.
const ISSUER_MEMBERS: [&str; 6] = [
    "schema",
    "revision",
    "status",
    "issued_at",
    "issuer",
    "changes",
];

/// Required members of an `issue` file, with the names a person reads.
const REQUIRED: [(&str, &str); 15] = [
    ("certificate_number", "保証契約番号"),
    ("kind", "保証の種類"),
    ("orderer", "発注者"),
    ("orderer.name", "発注者名"),
    ("contractor", "受注者"),
    ("contractor.name", "受注者名"),
    ("contract", "契約"),
    ("contract.category", "契約の区分"),
    ("contract.title", "工事名／業務名"),
    ("contract.contract_date", "当初契約日"),
    ("contract.amount_yen", "請負代金額"),
    ("guarantee", "保証"),
    ("guarantee.amount_yen", "保証金額"),
    ("guarantee.period_start", "保証期間の始期"),
    ("guarantee.period_end", "保証期間の終期"),
];

/// The members each object may have.
const KNOWN: [(&str, &[&str]); 4] = [
    ("orderer", &["name", "office", "code"]),
    ("contractor", &["name", "representative", "address"]),
    (
        "contract",
        &[
            "category",
            "title",
            "location",
            "contract_date",
            "period_start",
            "period_end",
            "amount_yen",
            "terms",
        ],
    ),
    ("guarantee", &["amount_yen", "period_start", "period_end"]),
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
    for (path, label) in REQUIRED {
        if lookup(&object, path).is_none_or(Value::is_null) {
            return Err(IssuerError::Input(format!(
                "{source}: 必須の項目「{path}」（{label}）がありません。"
            )));
        }
    }
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
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
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
    Ok(Amendment {
        patch: object,
        summary,
    })
}

fn parse_object(source: &str, bytes: &[u8]) -> Result<Map<String, Value>, IssuerError> {
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
        let (Some((_, allowed)), Value::Object(inner)) =
            (KNOWN.iter().find(|(k, _)| k == name), value)
        else {
            continue;
        };
        if let Some(bad) = inner.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(unknown(format!("{name}.{bad}"), allowed));
        }
    }
    Ok(())
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
        assert!(issue(&v)
            .unwrap_err()
            .to_string()
            .contains("「kind」の値が不正"));
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
