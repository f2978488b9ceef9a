//! Reading request JSON into a verification [`Request`], one field at a time.
//!
//! Bodies arrive as `serde_json::Value` rather than typed structs: a typed parse fails
//! the whole body on the first wrong member, while a batch must answer each bad item
//! on its own, and every answer must name the field and the form it should take.

use serde_json::{Map, Value};

use crate::app::verification::Request;
use crate::domain::rules::Expected;
use crate::web::error::ApiError;
use kakunin_protocol::ids::{AuthKey, CertificateNumber};

/// The largest batch `service.md` allows.
pub const MAX_BATCH: usize = 1000;
/// Longest client reference kept, in characters.
pub const MAX_REF: usize = 200;
/// Longest 照合 text kept, in characters.
const MAX_TEXT: usize = 500;

const ITEM_MEMBERS: [&str; 4] = ["certificate_number", "auth_key", "ref", "expected"];
const EXPECTED_MEMBERS: [&str; 3] = ["contract_amount_yen", "contractor_name", "title"];

/// One lookup from a JSON object (a single request's body or one batch item).
pub fn verification(v: &Value) -> Result<Request, ApiError> {
    let Value::Object(obj) = v else {
        return Err(ApiError::invalid_field(
            "",
            "照会は JSON オブジェクトで送ってください（例: {\"certificate_number\": \"W2025000123\", \"auth_key\": \"XXXX-XXXX-XXXX-XXXX\"}）",
        ));
    };
    reject_unknown(obj, &ITEM_MEMBERS, "")?;
    let number =
        CertificateNumber::parse(text(obj, "certificate_number", "W2025000123")?.unwrap_or(""))
            .map_err(|e| ApiError::invalid_field(e.field().name(), e.to_string()))?;
    let key = AuthKey::parse(text(obj, "auth_key", "XXXX-XXXX-XXXX-XXXX")?.unwrap_or(""))
        .map_err(|e| ApiError::invalid_field(e.field().name(), e.to_string()))?;
    let client_ref = client_ref(obj)?;
    let expected = match obj.get("expected") {
        None | Some(Value::Null) => Expected::default(),
        Some(Value::Object(e)) => expected(e)?,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "expected",
                "expected は JSON オブジェクトにしてください（例: {\"contract_amount_yen\": 123200000}）。(expected must be an object)",
            ))
        }
    };
    Ok(Request {
        number,
        key,
        expected,
        client_ref,
    })
}

/// The items of a batch body, checked for count only: each item is read on its own.
pub fn batch_items(v: &Value) -> Result<&[Value], ApiError> {
    let Value::Object(obj) = v else {
        return Err(ApiError::invalid_field(
            "items",
            "本文は {\"items\": [...]} の形の JSON オブジェクトにしてください",
        ));
    };
    reject_unknown(obj, &["items"], "")?;
    let Some(Value::Array(items)) = obj.get("items") else {
        return Err(ApiError::invalid_field(
            "items",
            "items に照会の配列を指定してください（例: {\"items\": [{\"certificate_number\": \"W2025000123\", \"auth_key\": \"XXXX-XXXX-XXXX-XXXX\"}]}）",
        ));
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::invalid_field(
            "items",
            format!("items は1～{MAX_BATCH}件にしてください（{}件でした）。多い場合は分けて送ってください。(items must hold 1 to {MAX_BATCH} entries)", items.len()),
        ));
    }
    Ok(items)
}

/// The item's `ref` when it is readable, so an item error can still be matched up.
pub fn ref_of(v: &Value) -> Option<String> {
    v.get("ref")
        .and_then(Value::as_str)
        .filter(|s| s.chars().count() <= MAX_REF)
        .map(str::to_owned)
}

fn client_ref(obj: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    let Some(r) = text(obj, "ref", "row-17")? else {
        return Ok(None);
    };
    if r.chars().count() > MAX_REF || r.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "ref",
            format!("ref は制御文字を含まない{MAX_REF}文字以内の文字列にしてください（例: \"row-17\"）。(ref must be at most {MAX_REF} printable characters)"),
        ));
    }
    Ok(Some(r.to_owned()))
}

fn expected(e: &Map<String, Value>) -> Result<Expected, ApiError> {
    reject_unknown(e, &EXPECTED_MEMBERS, "expected.")?;
    let amount = match e.get("contract_amount_yen") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(n) if n >= 0 => Some(n),
            _ => {
                return Err(ApiError::invalid_field(
                    "expected.contract_amount_yen",
                    "expected.contract_amount_yen は円単位の0以上の整数にしてください（例: 123200000）。(contract_amount_yen must be a non-negative integer in yen)",
                ))
            }
        },
    };
    let bounded = |name: &str, example: &str| -> Result<Option<String>, ApiError> {
        let field = format!("expected.{name}");
        let value = text(e, name, example).map_err(|mut err| {
            err.problem.field = Some(field.clone());
            err
        })?;
        match value {
            Some(s) if s.chars().count() > MAX_TEXT => Err(ApiError::invalid_field(
                &field,
                format!("{field} は{MAX_TEXT}文字以内にしてください。({field} is too long)"),
            )),
            Some(s) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
            None => Ok(None),
        }
    };
    Ok(Expected {
        contract_amount_yen: amount,
        contractor_name: bounded("contractor_name", "株式会社豊後建設")?,
        title: bounded("title", "県道大分臼杵線道路改良工事")?,
    })
}

/// A string member: absent or null is `None`; any other type names the field.
fn text<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    example: &str,
) -> Result<Option<&'a str>, ApiError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid_field(
            name,
            format!(
                "{name} は文字列にしてください（例: \"{example}\"）。({name} must be a string)"
            ),
        )),
    }
}

/// Unknown members are refused: a misspelt `expected` would otherwise silently skip
/// the 照合 rules the client asked for.
fn reject_unknown(obj: &Map<String, Value>, known: &[&str], prefix: &str) -> Result<(), ApiError> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => Err(ApiError::invalid_field(
            &format!("{prefix}{k}"),
            format!(
                "{prefix}{k} という項目はありません。使える項目は {} です。(unknown member)",
                known
                    .iter()
                    .map(|m| format!("{prefix}{m}"))
                    .collect::<Vec<_>>()
                    .join("、")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(v: Value) -> String {
        let e = verification(&v).unwrap_err();
        assert_eq!(e.problem.status, 422);
        e.problem.field.unwrap_or_default()
    }

    #[test]
    fn full_width_input_is_normalized() {
        let r = verification(&json!({"certificate_number": "ｗ２０２５０００１２３", "auth_key": "7kq2-m9xd-h4t8-rb3n", "ref": "a"})).unwrap();
        assert_eq!(r.number.as_str(), "W2025000123");
        assert_eq!(r.client_ref.as_deref(), Some("a"));
    }

    #[test]
    fn each_error_names_its_field() {
        assert_eq!(
            field_of(json!({"auth_key": "7KQ2M9XDH4T8RB3N"})),
            "certificate_number"
        );
        assert_eq!(
            field_of(json!({"certificate_number": 5, "auth_key": "7KQ2M9XDH4T8RB3N"})),
            "certificate_number"
        );
        assert_eq!(
            field_of(json!({"certificate_number": "W2025000123", "auth_key": "SHORT"})),
            "auth_key"
        );
        let ok = json!({"certificate_number": "W2025000123", "auth_key": "7KQ2M9XDH4T8RB3N"});
        let with = |k: &str, v: Value| {
            let mut o = ok.clone();
            o[k] = v;
            o
        };
        assert_eq!(field_of(with("ref", json!(3))), "ref");
        assert_eq!(field_of(with("ref", json!("a\nb"))), "ref");
        assert_eq!(field_of(with("expect", json!({}))), "expect");
        assert_eq!(
            field_of(with("expected", json!({"contract_amount_yen": -1}))),
            "expected.contract_amount_yen"
        );
        assert_eq!(
            field_of(with("expected", json!({"contract_amount_yen": "1,000"}))),
            "expected.contract_amount_yen"
        );
        assert_eq!(
            field_of(with("expected", json!({"title": 1}))),
            "expected.title"
        );
        assert_eq!(
            field_of(with("expected", json!({"amount": 1}))),
            "expected.amount"
        );
    }

    #[test]
    fn key_is_never_echoed() {
        let e = verification(
            &json!({"certificate_number": "W2025000123", "auth_key": "7KQ2M9XDH4T8RB3!"}),
        )
        .unwrap_err();
        assert!(!e.problem.detail.contains("7KQ2"), "{}", e.problem.detail);
    }

    #[test]
    fn batch_size_is_bounded() {
        assert!(batch_items(&json!({"items": []})).is_err());
        assert!(batch_items(&json!({"items": vec![json!({}); 1001]})).is_err());
        assert_eq!(
            batch_items(&json!({"items": vec![json!({}); 1000]}))
                .unwrap()
                .len(),
            1000
        );
        assert!(batch_items(&json!([])).is_err());
    }
}
