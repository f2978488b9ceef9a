//! Reading request JSON into verification [`Request`]s: the typed bodies of [`model`],
//! then the checks serde cannot make (identifiers, lengths, amounts).
//!
//! Every refusal is an [`InvalidInput`] naming the field by its path in the object it
//! concerns (`expected.contract_amount_yen`; empty for the object as a whole) and how
//! it should look, in Japanese, with the English gist in parentheses. Nothing a client
//! sent is quoted back but member names: a value could be an auth key.
//!
//! A batch is read in two steps: the envelope first, each item then on its own, so that
//! a bad item gets its own error and the others go on (`service.md`); an item's field
//! paths are therefore relative to the item.
//!
//! [`model`]: super::model

use serde::Deserialize;
use serde_json::value::RawValue;

use super::model::{ExpectedInput, Object, VerificationInput};
use crate::app::verification::Request;
use crate::domain::bounds::{CASE_TEXT_MAX, EXPECTED_TEXT_MAX};
use crate::domain::case::{Case, CaseInputError};
use crate::domain::intake;
use crate::domain::rules::{typed_text_input, Expected, ExpectedText};
pub use crate::web::error::InvalidInput;

/// The largest batch `service.md` allows.
pub const MAX_BATCH: usize = 1000;
/// Longest client reference kept, in characters.
pub const MAX_REF: usize = crate::domain::bounds::REF_MAX;

const ITEM_MEMBERS: [&str; 6] = [
    "certificate_number",
    "auth_key",
    "ref",
    "expected",
    "case_number",
    "case_title",
];
const EXPECTED_MEMBERS: [&str; 3] = ["contract_amount_yen", "contractor_name", "title"];
const BATCH_MEMBERS: [&str; 1] = ["items"];

/// One lookup from a JSON object (a single request's body or one batch item).
pub fn verification(body: &RawValue) -> Result<Request, InvalidInput> {
    let Object(input) = typed::<Object<VerificationInput>>(body, item_error)?;
    request(input)
}

/// The items of a batch body, checked for count only: each is read on its own with
/// [`verification`].
pub fn batch_items(body: &RawValue) -> Result<Vec<&RawValue>, InvalidInput> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Envelope<'a> {
        #[serde(borrow, default)]
        items: Option<Vec<&'a RawValue>>,
    }
    let Object(envelope) = typed::<Object<Envelope<'_>>>(body, envelope_error)?;
    let Some(items) = envelope.items else {
        return Err(envelope_error("items", ""));
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(InvalidInput::new(
            "items",
            format!("items は1～{MAX_BATCH}件にしてください（{}件でした）。多い場合は分けて送ってください。", items.len()),
        ));
    }
    Ok(items)
}

/// The item's `ref` when it is readable, so an item error can still be matched up.
pub fn ref_of(item: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct RefOnly {
        #[serde(rename = "ref", default)]
        client_ref: Option<serde_json::Value>,
    }
    let RefOnly { client_ref } = serde_json::from_str(item.get()).ok()?;
    match client_ref? {
        serde_json::Value::String(s) if s.chars().count() <= MAX_REF => Some(s),
        _ => None,
    }
}

/// Deserializes `body` as `T`; a member that does not fit becomes the [`InvalidInput`]
/// that `refuse` makes of its path and serde's message.
fn typed<'de, T: Deserialize<'de>>(
    body: &'de RawValue,
    refuse: fn(&str, &str) -> InvalidInput,
) -> Result<T, InvalidInput> {
    let mut de = serde_json::Deserializer::from_str(body.get());
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = match e.path().to_string() {
            root if root == "." => String::new(),
            path => path,
        };
        refuse(&path, &e.inner().to_string())
    })
}

/// The member serde saw twice, from its message (`duplicate field `ref``).
fn duplicate(message: &str) -> Option<&str> {
    message.strip_prefix("duplicate field `")?.split('`').next()
}

fn twice(prefix: &str, name: &str) -> InvalidInput {
    let field = format!("{prefix}{name}");
    InvalidInput::new(
        &field,
        format!("{field} が2回以上あります。1回だけ指定してください。"),
    )
}

/// What a member of an item should look like, by its path.
fn item_error(path: &str, message: &str) -> InvalidInput {
    if let Some(name) = duplicate(message) {
        let prefix = if path.is_empty() { "" } else { "expected." };
        return twice(prefix, name);
    }
    match path {
        "" => InvalidInput::new(
            "",
            "照会は JSON オブジェクトで送ってください（例: {\"certificate_number\": \"W2025000123\", \"auth_key\": \"XXXX-XXXX-XXXX-XXXX\"}）",
        ),
        "certificate_number" => not_text("certificate_number", "certificate_number", "W2025000123"),
        "auth_key" => not_text("auth_key", "auth_key", "XXXX-XXXX-XXXX-XXXX"),
        "ref" => not_text("ref", "ref", "row-17"),
        "case_number" => not_text("case_number", "case_number", "R7-土木-0123"),
        "case_title" => not_text("case_title", "case_title", "県道大分臼杵線道路改良工事"),
        "expected" => InvalidInput::new(
            "expected",
            "expected は JSON オブジェクトにしてください（例: {\"contract_amount_yen\": 123200000}）。",
        ),
        "expected.contract_amount_yen" => amount_error(beyond_i64(message)),
        "expected.contractor_name" => not_text(path, "contractor_name", "株式会社豊後建設"),
        "expected.title" => not_text(path, "title", "県道大分臼杵線道路改良工事"),
        unknown => match unknown.strip_prefix("expected.") {
            Some(name) => unknown_member("expected.", name, &EXPECTED_MEMBERS),
            None => unknown_member("", unknown, &ITEM_MEMBERS),
        },
    }
}

/// What a batch's envelope should look like, by the path that does not fit.
fn envelope_error(path: &str, message: &str) -> InvalidInput {
    if let Some(name) = duplicate(message) {
        return twice("", name);
    }
    match path {
        "" => InvalidInput::new(
            "items",
            "本文は {\"items\": [...]} の形の JSON オブジェクトにしてください",
        ),
        "items" => InvalidInput::new(
            "items",
            "items に照会の配列を指定してください（例: {\"items\": [{\"certificate_number\": \"W2025000123\", \"auth_key\": \"XXXX-XXXX-XXXX-XXXX\"}]}）",
        ),
        unknown => unknown_member("", unknown, &BATCH_MEMBERS),
    }
}

/// A string member given as another type: names the member, never its value.
fn not_text(field: &str, name: &str, example: &str) -> InvalidInput {
    InvalidInput::new(
        field,
        format!("{name} は文字列にしてください（例: \"{example}\"）。"),
    )
}

/// The amount's error; `too_large` for a whole number past `i64::MAX`, which the form
/// too calls 大きすぎます rather than not a number.
fn amount_error(too_large: bool) -> InvalidInput {
    InvalidInput::new(
        "expected.contract_amount_yen",
        if too_large {
            "expected.contract_amount_yen は大きすぎます。円単位の0以上の整数で、9223372036854775807 以下にしてください（例: 123200000）。"
        } else {
            "expected.contract_amount_yen は円単位の0以上の整数にしてください（例: 123200000）。"
        },
    )
}

/// Whether serde_json refused an `i64` because the JSON number is a whole number too
/// large for it: `invalid value: integer `9223372036854775808`, expected i64` up to
/// `u64::MAX`, past that a float it parsed the digits as (`1e20`), and past `f64::MAX`
/// `number out of range`.
fn beyond_i64(serde_message: &str) -> bool {
    // Past f64 too (a 400-digit number, `1e400`), serde_json says only this.
    if serde_message.starts_with("invalid value: integer")
        || serde_message.starts_with("number out of range")
    {
        return true;
    }
    serde_message.starts_with("invalid type: floating point")
        && serde_message
            .split('`')
            .nth(1)
            .and_then(|quoted| quoted.parse::<f64>().ok())
            .is_some_and(|n| n.fract() == 0.0 && n >= i64::MAX as f64)
}

/// Unknown members are refused: a misspelt `expected` would otherwise silently skip
/// the 照合 rules the client asked for. The name is quoted as [`shown_name`] gives it.
fn unknown_member(prefix: &str, name: &str, known: &[&str]) -> InvalidInput {
    let name = shown_name(name);
    InvalidInput::new(
        format!("{prefix}{name}"),
        format!(
            "{prefix}{name} という項目はありません。使える項目は {} です。",
            known
                .iter()
                .map(|m| format!("{prefix}{m}"))
                .collect::<Vec<_>>()
                .join("、")
        ),
    )
}

/// A name the client sent that the API does not know, as a problem may quote it: at
/// most [`SHOWN_NAME_MAX`] characters with its invisible ones escaped (a 500 KB member
/// name is not sent back), and not at all when it reads as an 認証キー, a secret pasted
/// in the wrong place.
pub fn shown_name(name: &str) -> String {
    if crate::domain::intake::could_be_key(name) {
        return "（認証キーの形の名前）".to_owned();
    }
    let full = crate::domain::bounds::escape_invisible(name);
    let shown = crate::domain::bounds::cut(&full, SHOWN_NAME_MAX);
    if shown.len() < full.len() {
        format!("{shown}…")
    } else {
        full.into_owned()
    }
}

/// How much of an unknown name a problem quotes, in characters.
pub const SHOWN_NAME_MAX: usize = 40;

/// The checks of a typed item that serde cannot make. `certificate_number` and
/// `auth_key` absent or null read as empty, which their parsers refuse by name.
fn request(input: VerificationInput) -> Result<Request, InvalidInput> {
    let VerificationInput {
        certificate_number,
        auth_key,
        client_ref,
        expected,
        case_number,
        case_title,
    } = input;
    // Either member may hold a key notice's QR text, as a scanner typed it (§7).
    let ids = intake::read_ids(&certificate_number, &auth_key).map_err(|found| {
        let (field, message) = found.into_iter().next().expect("an error names a field");
        InvalidInput::new(field.name(), message)
    })?;
    if let Some(r) = &client_ref {
        if r.chars().count() > MAX_REF || r.chars().any(char::is_control) {
            return Err(InvalidInput::new(
                "ref",
                format!("ref は制御文字を含まない{MAX_REF}文字以内の文字列にしてください（例: \"row-17\"）。"),
            ));
        }
    }
    let case = Case::from_input(
        case_number.as_deref().unwrap_or(""),
        case_title.as_deref().unwrap_or(""),
    )
    .map_err(|errors| {
        let e = errors.into_iter().next().expect("an error names a field");
        let field = e.field().name();
        let message = match e {
            CaseInputError::TooLong { chars, .. } => format!("{field} は{CASE_TEXT_MAX}文字以内にしてください（NFKC 正規化後の文字数で{chars}文字でした）。"),
            CaseInputError::Control { .. } => format!("{field} に改行・タブなどの制御文字は使えません。"),
        };
        InvalidInput::new(field, message)
    })?;
    Ok(Request {
        number: ids.number,
        key: ids.key,
        scanned: ids.scanned,
        case,
        expected: expected
            .map(self::expected)
            .transpose()?
            .unwrap_or_default(),
        client_ref,
    })
}

fn expected(e: ExpectedInput) -> Result<Expected, InvalidInput> {
    if e.contract_amount_yen.is_some_and(|n| n < 0) {
        return Err(amount_error(false));
    }
    let bounded = |field: ExpectedText, value: Option<String>| {
        match value {
        Some(s) => typed_text_input(field, &s).map_err(|e| {
            let field = format!("expected.{}", field.api_member());
            let detail = if e.control {
                format!("{field} に改行やタブなどの制御文字は使えません。")
            } else {
                format!("{field} は{EXPECTED_TEXT_MAX}文字以内にしてください（NFKC 正規化後の文字数）。")
            };
            InvalidInput::new(&field, detail)
        }),
        None => Ok(None),
    }
    };
    Ok(Expected {
        contract_amount_yen: e.contract_amount_yen,
        contractor_name: bounded(ExpectedText::ContractorName, e.contractor_name)?,
        title: bounded(ExpectedText::Title, e.title)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn raw(v: &Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).unwrap()
    }

    fn refused(v: Value) -> InvalidInput {
        verification(&raw(&v)).unwrap_err()
    }

    fn field_of(v: Value) -> String {
        refused(v).field
    }

    #[test]
    fn full_width_input_is_normalized() {
        let r = verification(&raw(&json!({"certificate_number": "ｗ２０２５０００１２３", "auth_key": "7kq2-m9xd-h4t8-rb3n", "ref": "a"}))).unwrap();
        assert_eq!(r.number.as_str(), "W2025000123");
        assert_eq!(r.client_ref.as_deref(), Some("a"));
    }

    /// Every free text of a request: format characters dropped (a zero-width space
    /// would make another 案件 that reads the same), control characters refused by
    /// field, as the form does.
    #[test]
    fn invisible_and_control_characters_in_free_texts() {
        let ok = json!({"certificate_number": "W2025000123", "auth_key": "7KQ2M9XDH4T8RB3N"});
        let mut v = ok.clone();
        v["case_number"] = json!("R8\u{200B}-1");
        v["case_title"] = json!("\u{202E}県道改良");
        v["expected"] = json!({"contractor_name": "大分建設\u{FEFF}"});
        let r = verification(&raw(&v)).unwrap();
        assert_eq!(r.case.number.as_deref(), Some("R8-1"));
        assert_eq!(r.case.title.as_deref(), Some("県道改良"));
        assert_eq!(r.expected.contractor_name.as_deref(), Some("大分建設"));
        for (member, value) in [
            ("case_number", json!("R8\u{0}-1")),
            ("expected", json!({"title": "工事\n名"})),
            ("expected", json!({"contractor_name": "大分\u{7F}建設"})),
        ] {
            let mut v = ok.clone();
            v[member] = value;
            let e = refused(v);
            assert!(e.detail.contains("制御文字"), "{member}: {}", e.detail);
        }
    }

    /// An amount past `i64` is called too large, as the form calls it; a fraction or a
    /// negative is still "not a whole yen amount".
    #[test]
    fn an_amount_past_i64_is_too_large_not_malformed() {
        let item = |amount: &str| {
            let text = format!(
                r#"{{"certificate_number": "W2025000123", "auth_key": "7KQ2M9XDH4T8RB3N", "expected": {{"contract_amount_yen": {amount}}}}}"#
            );
            verification(&RawValue::from_string(text).unwrap())
        };
        assert_eq!(
            item("9223372036854775807")
                .unwrap()
                .expected
                .contract_amount_yen,
            Some(i64::MAX)
        );
        let digits_400 = "9".repeat(400);
        for amount in [
            "9223372036854775808",
            "18446744073709551615",
            "100000000000000000000",
            "1e30",
            "1e400",
            digits_400.as_str(),
        ] {
            let e = item(amount).unwrap_err();
            assert_eq!(e.field, "expected.contract_amount_yen", "{amount}");
            assert!(e.detail.contains("大きすぎます"), "{amount}: {}", e.detail);
        }
        for amount in ["1.5", "-1", "-9223372036854775809", "1e-3"] {
            let e = item(amount).unwrap_err();
            assert!(
                e.detail.contains("0以上の整数") && !e.detail.contains("大きすぎ"),
                "{amount}: {}",
                e.detail
            );
        }
    }

    #[test]
    fn absent_and_null_members_are_not_given() {
        let r = verification(&raw(&json!({"certificate_number": "W2025000123", "auth_key": "7KQ2M9XDH4T8RB3N", "ref": null, "expected": {"title": null, "contractor_name": "  "}}))).unwrap();
        assert_eq!(r.client_ref, None);
        assert_eq!(r.expected, Expected::default());
        let e = refused(json!({"certificate_number": null, "auth_key": "7KQ2M9XDH4T8RB3N"}));
        assert_eq!(e.field, "certificate_number");
        assert!(e.detail.contains("保証契約番号"), "{}", e.detail);
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
        assert_eq!(field_of(with("expected", json!(5))), "expected");
        assert_eq!(
            field_of(with("expected", json!({"contract_amount_yen": -1}))),
            "expected.contract_amount_yen"
        );
        assert_eq!(
            field_of(with("expected", json!({"contract_amount_yen": "1,000"}))),
            "expected.contract_amount_yen"
        );
        assert_eq!(
            field_of(with("expected", json!({"contract_amount_yen": 1.5}))),
            "expected.contract_amount_yen"
        );
        assert_eq!(
            field_of(with("expected", json!({"title": 1}))),
            "expected.title"
        );
        assert_eq!(
            field_of(with("expected", json!({"title": "x".repeat(501)}))),
            "expected.title"
        );
        assert_eq!(
            field_of(with("expected", json!({"amount": 1}))),
            "expected.amount"
        );
        assert_eq!(field_of(json!(["W2025000123"])), "");
        assert_eq!(
            field_of(with("expected", json!([123200000]))),
            "expected",
            "an array is not an object, even in field order"
        );
    }

    #[test]
    fn messages_say_how_the_field_should_look() {
        let e = refused(json!({"certificate_number": "W2025000123", "auth_key": 12}));
        assert!(e.detail.contains("文字列"), "{}", e.detail);
        let e = refused(
            json!({"certificate_number": "W2025000123", "auth_key": "7KQ2M9XDH4T8RB3N", "expected": {"amount": 1}}),
        );
        assert!(
            e.detail.contains("expected.contract_amount_yen"),
            "{}",
            e.detail
        );
        let e = refused(
            json!({"certificate_number": "W2025000123", "auth_key": "7KQ2M9XDH4T8RB3N", "expected": {"contract_amount_yen": "1億"}}),
        );
        assert!(e.detail.contains("整数"), "{}", e.detail);
        assert!(!e.detail.contains("1億"), "the value is not quoted back");
    }

    /// A detail names members in their JSON spelling and says the rest in Japanese: no
    /// English gloss after it (issue K12: Japanese for every word a person reads).
    #[test]
    fn details_are_japanese_beside_the_member_names() {
        const MEMBERS: [&str; 11] = [
            "certificate_number",
            "auth_key",
            "ref",
            "expected",
            "expect",
            "amount",
            "contract_amount_yen",
            "contractor_name",
            "title",
            "case_number",
            "case_title",
        ];
        let ok = json!({"certificate_number": "W2025000123", "auth_key": "7KQ2M9XDH4T8RB3N"});
        let with = |k: &str, v: Value| {
            let mut o = ok.clone();
            o[k] = v;
            o
        };
        let mut details = vec![
            refused(with("ref", json!("a\nb"))).detail,
            refused(with("expect", json!({}))).detail,
            refused(with("expected", json!({"title": "x".repeat(501)}))).detail,
            refused(with("case_title", json!("x".repeat(101)))).detail,
            refused(with("case_number", json!("a\tb"))).detail,
            refused(with(
                "expected",
                json!({"contractor_name": "大分\u{0}建設"}),
            ))
            .detail,
            refused(json!({"auth_key": "7KQ2M9XDH4T8RB3N"})).detail,
        ];
        let twice = r#"{"certificate_number":"W2025000123","auth_key":"A","auth_key":"A"}"#;
        details.push(
            verification(&RawValue::from_string(twice.into()).unwrap())
                .unwrap_err()
                .detail,
        );
        for detail in details {
            // Examples are quoted ("row-17") and may be anything.
            let unquoted: String = detail.split('"').step_by(2).collect();
            let words = unquoted
                .split(|c: char| !(c.is_ascii_lowercase() || c == '_' || c == '.'))
                .flat_map(|w| w.split('.'))
                .filter(|w| !w.is_empty());
            for w in words {
                assert!(MEMBERS.contains(&w), "English word {w:?} in: {detail}");
            }
        }
    }

    #[test]
    fn a_member_given_twice_is_named() {
        let body = r#"{"certificate_number":"W2025000123","auth_key":"7KQ2M9XDH4T8RB3N","auth_key":"7KQ2M9XDH4T8RB3N"}"#;
        let e = verification(&RawValue::from_string(body.into()).unwrap()).unwrap_err();
        assert_eq!(e.field, "auth_key");
        assert!(e.detail.contains("2回"), "{}", e.detail);
    }

    #[test]
    fn key_is_never_echoed() {
        for body in [
            json!({"certificate_number": "W2025000123", "auth_key": "7KQ2M9XDH4T8RB3!"}),
            json!({"certificate_number": 7, "auth_key": "7KQ2M9XDH4T8RB3N"}),
            json!({"certificate_number": "W2025000123", "auth_key": ["7KQ2M9XDH4T8RB3N"]}),
        ] {
            let e = refused(body);
            assert!(!e.detail.contains("7KQ2"), "{}", e.detail);
        }
    }

    /// An unknown member's name comes back bounded, escaped, and never when it reads
    /// as a key: a 500 KB name once made a 1 MB problem.
    #[test]
    fn unknown_member_names_are_quoted_bounded() {
        let mut long = json!({"certificate_number": "W2025000123", "auth_key": "7KQ2M9XDH4T8RB3N"});
        long["x".repeat(500_000)] = 1.into();
        let e = refused(long);
        assert!(e.detail.len() < 1000, "{} bytes", e.detail.len());
        assert_eq!(e.field, format!("{}…", "x".repeat(SHOWN_NAME_MAX)));

        let mut key = json!({"certificate_number": "W2025000123"});
        key["7KQ2-M9XD-H4T8-RB3N"] = "x".into();
        let e = refused(key);
        assert!(
            !e.detail.contains("7KQ2") && !e.field.contains("7KQ2"),
            "{e:?}"
        );

        let mut control =
            json!({"certificate_number": "W2025000123", "auth_key": "7KQ2M9XDH4T8RB3N"});
        control["a\u{1b}[31m"] = 1.into();
        assert_eq!(refused(control).field, "a<U+001B>[31m");
    }

    #[test]
    fn batch_size_is_bounded() {
        let items = |v: Value| batch_items(&raw(&v)).map(|i| i.len());
        assert_eq!(items(json!({"items": []})).unwrap_err().field, "items");
        assert!(items(json!({"items": vec![json!({}); 1001]})).is_err());
        assert_eq!(items(json!({"items": vec![json!({}); 1000]})), Ok(1000));
        assert_eq!(items(json!([])).unwrap_err().field, "items");
        assert_eq!(items(json!({})).unwrap_err().field, "items");
        assert_eq!(items(json!({"items": {}})).unwrap_err().field, "items");
        assert_eq!(items(json!({"item": []})).unwrap_err().field, "item");
    }

    #[test]
    fn an_item_error_keeps_a_readable_ref() {
        assert_eq!(
            ref_of(&raw(&json!({"ref": "row-3", "auth_key": 1}))).as_deref(),
            Some("row-3")
        );
        assert_eq!(ref_of(&raw(&json!({"ref": 17}))), None);
        assert_eq!(ref_of(&raw(&json!("W2025000123"))), None);
        assert_eq!(ref_of(&raw(&json!({"ref": "x".repeat(201)}))), None);
    }
}
