//! The certificate payload `surety-certificate/1` (`issuer-protocol.md` §4).

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "surety-certificate/1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Cancelled,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Active => "有効",
            Status::Cancelled => "解約・失効",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Performance,
    AdvancePayment,
    IntermediateAdvancePayment,
    PerformanceReservation,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Performance => "契約保証",
            Kind::AdvancePayment => "前払金保証",
            Kind::IntermediateAdvancePayment => "中間前払金保証",
            Kind::PerformanceReservation => "契約保証予約",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Construction,
    ConstructionConsulting,
    Other,
}

impl Category {
    pub fn label(self) -> &'static str {
        match self {
            Category::Construction => "建設工事",
            Category::ConstructionConsulting => "建設コンサルタント等業務委託",
            Category::Other => "その他",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issuer {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Orderer {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contractor {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contract {
    pub category: Category,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(deserialize_with = "wire::date")]
    pub contract_date: NaiveDate,
    #[serde(
        default,
        deserialize_with = "wire::some_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub period_start: Option<NaiveDate>,
    #[serde(
        default,
        deserialize_with = "wire::some_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub period_end: Option<NaiveDate>,
    pub amount_yen: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guarantee {
    pub amount_yen: i64,
    #[serde(deserialize_with = "wire::date")]
    pub period_start: NaiveDate,
    #[serde(deserialize_with = "wire::date")]
    pub period_end: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub revision: u32,
    #[serde(deserialize_with = "wire::date")]
    pub date: NaiveDate,
    pub summary: String,
}

/// One revision of a certificate, as the issuer signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub schema: String,
    pub certificate_number: String,
    pub revision: u32,
    pub status: Status,
    pub kind: Kind,
    #[serde(deserialize_with = "wire::timestamp")]
    pub issued_at: DateTime<FixedOffset>,
    pub issuer: Issuer,
    pub orderer: Orderer,
    pub contractor: Contractor,
    pub contract: Contract,
    pub guarantee: Guarantee,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
}

impl Certificate {
    /// Parses and checks a payload: unknown members are ignored, a missing required
    /// member, a wrong schema or a negative amount makes it invalid, and so does text
    /// that is not UTF-8 anywhere (RFC 8259 §8.1), ignored members included: serde_json
    /// skips an ignored string without checking its bytes, and a record accepted that
    /// way could not be read back as text (found by the fuzz target `jws_verify`).
    pub fn from_json(bytes: &[u8]) -> Result<Self, PayloadError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            PayloadError::Json(format!(
                "UTF-8 ではありません（{}バイト目から）",
                e.valid_up_to() + 1
            ))
        })?;
        let cert: Certificate =
            serde_json::from_str(text).map_err(|e| PayloadError::Json(describe(&e)))?;
        cert.check()?;
        Ok(cert)
    }

    pub fn check(&self) -> Result<(), PayloadError> {
        if self.schema != SCHEMA {
            return Err(PayloadError::Schema(self.schema.clone()));
        }
        if self.revision == 0 {
            return Err(PayloadError::Value("revision は1以上です"));
        }
        if self.contract.amount_yen < 0 {
            return Err(PayloadError::Value(
                "contract.amount_yen（請負代金額）が負の数です（0以上の円単位の整数であること）",
            ));
        }
        if self.guarantee.amount_yen < 0 {
            return Err(PayloadError::Value(
                "guarantee.amount_yen（保証金額）が負の数です（0以上の円単位の整数であること）",
            ));
        }
        Ok(())
    }
}

/// Why a text is not a §4 date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateError {
    /// Not four, two and two digits joined by `-`.
    Form,
    /// In that form, but no day of the calendar (`2026-02-30`).
    NoSuchDay,
}

/// A §4 date ("Dates are `YYYY-MM-DD` (Japan time)"): four, two and two digits, and a
/// day of the calendar. Nothing looser (`2025-4-1`, `+2025-04-01`, blanks): another
/// implementation could read it differently. Both programs read dates through this.
pub fn parse_date(text: &str) -> Result<NaiveDate, DateError> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return Err(DateError::Form);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| DateError::NoSuchDay)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("証書の内容を読み取れません: {0}")]
    Json(String),
    #[error("証書の形式 {0:?} は surety-certificate/1 ではありません")]
    Schema(String),
    #[error("証書の値が不正です: {0}")]
    Value(&'static str),
}

/// The example payload of `issuer-protocol.md` §4, as JSON: for tests and examples on
/// both sides, so they start from the page rather than a guess of it.
pub fn sample_json() -> serde_json::Value {
    serde_json::json!({
      "schema": "surety-certificate/1",
      "certificate_number": "W2025000123",
      "revision": 1,
      "status": "active",
      "kind": "advance_payment",
      "issued_at": "2025-04-03T10:15:00+09:00",
      "issuer":     {"id": "wjcs", "name": "西日本建設業保証株式会社"},
      "orderer":    {"name": "大分県", "office": "大分土木事務所", "code": "440001"},
      "contractor": {"name": "株式会社豊後建設", "representative": "代表取締役 大分太郎",
                     "address": "大分県大分市府内町一丁目1番1号"},
      "contract": {
        "category": "construction",
        "title": "県道大分臼杵線道路改良工事",
        "location": "大分県大分市大字松岡地内",
        "contract_date": "2025-04-01",
        "period_start": "2025-04-02", "period_end": "2026-03-13",
        "amount_yen": 123200000,
        "terms": "大分県公共工事請負契約約款【R7.4.1～】"
      },
      "guarantee": {
        "amount_yen": 49280000,
        "period_start": "2025-04-02", "period_end": "2026-04-12"
      },
      "changes": [
        {"revision": 1, "date": "2025-04-03", "summary": "新規"}
      ]
    })
}

/// serde_json's error in Japanese: it reaches the 不正な記録 page and the officer reads
/// it. serde writes `missing field `x``, `unknown variant `y`, expected …`, `invalid
/// type: …` and the like, then ` at line L column C`; the kinds a payload can have are
/// said again here, anything else by its position only. Our own messages (the dates,
/// `wire`) are Japanese already and kept.
///
/// Also used by the reference issuer for its input files.
pub fn describe(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let message = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(m, _)| m);
    let quoted = |m: &str| m.split('`').nth(1).unwrap_or("").to_owned();
    let said = if let Some(rest) = message.strip_prefix("missing field ") {
        format!("必須の項目 {} がありません", quoted(rest))
    } else if let Some(rest) = message.strip_prefix("unknown variant ") {
        format!("値 {} はこの版の証書にない値です", quoted(rest))
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
        "項目の値の型が違います（文字列・整数・オブジェクトの別）".to_owned()
    } else if message.starts_with("duplicate field") {
        format!("項目 {} が2回以上あります", quoted(message))
    } else if !message.is_ascii() {
        message.to_owned()
    } else {
        "JSONとして読めません".to_owned()
    };
    match e.line() {
        // Read from a `serde_json::Value`: no text, so no position.
        0 => said,
        line => format!("{said}（{line}行{}列）", e.column()),
    }
}

/// The payload's dates and times as §4 writes them, read strictly: chrono's own readers
/// also take `2025-4-1` and `2025-04-01 10:15:00+09:00`, which another implementation
/// of the protocol may refuse, so a record written that way is refused here too.
mod wire {
    use std::fmt;

    use chrono::{DateTime, FixedOffset, NaiveDate};
    use serde::de::{self, Deserializer, Visitor};
    use serde::Deserialize;

    /// A JSON string read by `.0` where it lies, borrowed or not: these members are read
    /// on every verification, so no copy of the text is made for it.
    struct Text<T>(fn(&str) -> Result<T, String>);

    impl<T> Visitor<'_> for Text<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
            (self.0)(text).map_err(E::custom)
        }
    }

    /// `YYYY-MM-DD`: four, two and two digits (§4 "Dates are `YYYY-MM-DD`"), and a day
    /// of the calendar ([`super::parse_date`]).
    pub fn date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        d.deserialize_str(Text(|text| {
            super::parse_date(text).map_err(|e| match e {
                super::DateError::Form => {
                    format!("日付「{text}」は YYYY-MM-DD の形（例: 2025-04-01）で書かれていません")
                }
                super::DateError::NoSuchDay => format!(
                    "日付「{text}」は存在しない日付です（YYYY-MM-DD の形の実在する日付であること）"
                ),
            })
        }))
    }

    /// An optional member's date: absent or `null` is `None`.
    pub fn some_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(deserialize_with = "date")] NaiveDate);
        Ok(Option::<Wrapped>::deserialize(d)?.map(|Wrapped(day)| day))
    }

    /// RFC 3339 with an offset (§4 "timestamps are RFC 3339 with offset"), `T` (or `t`,
    /// RFC 3339 §5.6) between date and time, not the space its note allows.
    pub fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<FixedOffset>, D::Error> {
        d.deserialize_str(Text(|text| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .filter(|_| matches!(text.as_bytes().get(10), Some(b'T' | b't')))
                .ok_or_else(|| {
                    format!(
                        "日時「{text}」は RFC 3339 の形（例: 2025-04-03T10:15:00+09:00）で書かれていません"
                    )
                })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §4: dates `YYYY-MM-DD`, timestamps RFC 3339 with offset; anything looser is a
    /// record another implementation could read differently, so it is invalid.
    #[test]
    fn dates_and_times_are_read_only_in_the_spec_form() {
        for (path, bad) in [
            (&["contract", "contract_date"][..], "2025-4-1"),
            (&["contract", "contract_date"][..], "2025/04/01"),
            (&["contract", "contract_date"][..], "+2025-04-01"),
            (&["contract", "period_end"][..], "2026-03-13 "),
            (&["guarantee", "period_start"][..], "20250401"),
            (&["guarantee", "period_end"][..], "2026-02-30"),
            (&["issued_at"][..], "2025-04-03 10:15:00+09:00"),
            (&["issued_at"][..], "2025-04-03T10:15:00"),
            (&["issued_at"][..], "2025-04-03"),
        ] {
            let mut v = sample_json();
            let (last, parents) = path.split_last().unwrap();
            let mut at = &mut v;
            for p in parents {
                at = &mut at[*p];
            }
            at[*last] = bad.into();
            let e = Certificate::from_json(v.to_string().as_bytes()).unwrap_err();
            assert!(
                e.to_string().contains(bad.trim()),
                "{path:?} = {bad:?}: {e}"
            );
        }
        let mut v = sample_json();
        v["contract"]["period_start"] = serde_json::Value::Null;
        let c = Certificate::from_json(v.to_string().as_bytes()).unwrap();
        assert_eq!(c.contract.period_start, None, "null is absent");
        for valid in [
            "2025-04-03t10:15:00+09:00",
            "2025-04-03T01:15:00.5Z",
            "2025-04-03T01:15:00z",
        ] {
            let mut v = sample_json();
            v["issued_at"] = valid.into();
            assert!(
                Certificate::from_json(v.to_string().as_bytes()).is_ok(),
                "{valid}"
            );
        }
        assert_eq!(c.contract.contract_date.to_string(), "2025-04-01");
    }

    /// A date in the right form that no calendar has is said to be no date, not to be
    /// in the wrong form; a negative amount is named by its member.
    #[test]
    fn an_impossible_date_and_a_negative_amount_are_named_for_what_they_are() {
        let mut v = sample_json();
        v["guarantee"]["period_end"] = "2026-02-30".into();
        let e = Certificate::from_json(v.to_string().as_bytes()).unwrap_err();
        assert!(e.to_string().contains("存在しない日付"), "{e}");
        for (part, member) in [("contract", "請負代金額"), ("guarantee", "保証金額")] {
            let mut v = sample_json();
            v[part]["amount_yen"] = (-1).into();
            let e = Certificate::from_json(v.to_string().as_bytes()).unwrap_err();
            let said = e.to_string();
            assert!(
                said.contains(&format!("{part}.amount_yen（{member}）")),
                "{said}"
            );
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_in_an_ignored_member_are_refused() {
        // Fuzz target jws_verify: an unknown member's string with a broken sequence was
        // skipped unchecked, so the record verified but its text could not be read back.
        let mut bytes = serde_json::to_vec(&sample_json()).unwrap();
        bytes.pop();
        bytes.extend_from_slice(b",\"note\":\"\xe5\xad<\x97\"}");
        let e = Certificate::from_json(&bytes).unwrap_err();
        assert!(
            matches!(e, PayloadError::Json(ref m) if m.contains("UTF-8")),
            "{e}"
        );
    }

    #[test]
    fn spec_example_parses_and_ignores_unknown_members() {
        let mut v = sample_json();
        v["extra"] = serde_json::json!({"anything": 1});
        let c = Certificate::from_json(v.to_string().as_bytes()).unwrap();
        assert_eq!(c.kind, Kind::AdvancePayment);
        assert_eq!(c.contract.amount_yen, 123_200_000);
    }

    /// What serde says reaches the 不正な記録 page: it is said in Japanese there.
    #[test]
    fn a_payload_error_is_described_in_japanese() {
        // (member as a JSON pointer, its new value or none to remove it, the word the
        // message must name)
        let cases = [
            ("/contract/contract_date", None, "contract_date"),
            ("/kind", Some(serde_json::json!("loan")), "loan"),
            ("/revision", Some(serde_json::json!("1")), "型"),
            (
                "/contract/contract_date",
                Some(serde_json::json!("2025-4-1")),
                "2025-4-1",
            ),
        ];
        for (pointer, value, named) in cases {
            let mut v = sample_json();
            let (parent, member) = pointer.rsplit_once('/').unwrap();
            let object = v.pointer_mut(parent).unwrap().as_object_mut().unwrap();
            match value {
                Some(value) => object.insert(member.to_owned(), value),
                None => object.remove(member),
            };
            let e = Certificate::from_json(v.to_string().as_bytes())
                .unwrap_err()
                .to_string();
            assert!(e.contains(named) && e.contains("行"), "{e}");
            let english = e
                .split(|c: char| !c.is_ascii_lowercase())
                .any(|w| w.len() > 3 && !named.contains(w));
            assert!(!english, "{e}");
        }
        let e = Certificate::from_json(b"{\"schema\":")
            .unwrap_err()
            .to_string();
        assert!(e.contains("JSONとして読めません"), "{e}");
    }

    #[test]
    fn missing_required_member_is_invalid() {
        for path in [
            ("contract", "contract_date"),
            ("guarantee", "amount_yen"),
            ("issuer", "id"),
        ] {
            let mut v = sample_json();
            v[path.0].as_object_mut().unwrap().remove(path.1);
            assert!(matches!(
                Certificate::from_json(v.to_string().as_bytes()),
                Err(PayloadError::Json(_))
            ));
        }
        let mut v = sample_json();
        v.as_object_mut().unwrap().remove("kind");
        assert!(Certificate::from_json(v.to_string().as_bytes()).is_err());
    }

    #[test]
    fn wrong_schema_is_invalid() {
        let mut v = sample_json();
        v["schema"] = "surety-certificate/2".into();
        assert!(matches!(
            Certificate::from_json(v.to_string().as_bytes()),
            Err(PayloadError::Schema(_))
        ));
    }
}
