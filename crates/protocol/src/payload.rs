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
    pub contract_date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_start: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_end: Option<NaiveDate>,
    pub amount_yen: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guarantee {
    pub amount_yen: i64,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub revision: u32,
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
        let text = std::str::from_utf8(bytes)
            .map_err(|e| PayloadError::Json(format!("UTF-8 ではありません（{e}）")))?;
        let cert: Certificate =
            serde_json::from_str(text).map_err(|e| PayloadError::Json(e.to_string()))?;
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
        if self.contract.amount_yen < 0 || self.guarantee.amount_yen < 0 {
            return Err(PayloadError::Value("金額が負です"));
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
