//! The JSON bodies of the API, as `service.md` fixes them, with their OpenAPI schemas.
//!
//! The domain types (`VerificationView`, `RuleResult`) know nothing of OpenAPI; the API
//! owns its wire types here and converts from the domain by exhaustive destructuring, so
//! a field added to the view fails to compile until it is documented. `Outcome`'s schema
//! is built from `Outcome::ALL`, so a new outcome cannot go undocumented.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::verification::{IssuerRef, SignatureRef, VerificationView};
use crate::domain::case;
use crate::domain::code::Code;
use crate::domain::outcome::Outcome;
use crate::web::error::Problem;

/// The six outcomes, from the domain's own list (`service.md` "A Verification").
impl utoipa::PartialSchema for Outcome {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("照会の結果（service.md の6種類）"))
            .enum_values(Some(Outcome::ALL.iter().map(|o| o.as_str())))
            .examples(["verified"])
            .into()
    }
}

impl ToSchema for Outcome {}

/// RFC 9457 problem details, for the schema only (`kakunin_platform::problem::Problem`).
#[derive(ToSchema)]
#[schema(as = Problem, example = json!({"type": "https://kakunin.invalid/problems/invalid-input", "title": "入力が正しくありません", "status": 422, "detail": "保証契約番号は英大文字と数字で6～24文字です（例: W2025000123）。3文字でした。", "field": "certificate_number"}))]
#[allow(dead_code)]
pub(super) struct ProblemDoc {
    /// A URI naming the kind of problem.
    #[schema(rename = "type")]
    kind: String,
    /// What went wrong, in Japanese.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What to do about it, naming the field where one is wrong.
    detail: String,
    /// The input field that is wrong (`certificate_number`, `auth_key`, ...).
    field: Option<String>,
}

/// The status of one rule, for the schema only.
#[derive(Serialize, ToSchema)]
#[schema(as = RuleStatus)]
#[allow(dead_code)]
#[serde(rename_all = "snake_case")]
pub(super) enum RuleStatusDoc {
    Pass,
    Fail,
    Warn,
    Skip,
}

/// One rule of `rules-oita.md` and what it found.
#[derive(ToSchema)]
#[schema(as = Rule, example = json!({"id": "contract_date", "status": "pass", "message": "当初契約日 令和7年4月1日は電子保証の対象期間内です"}))]
#[allow(dead_code)]
pub(super) struct RuleDoc {
    /// Rule id, e.g. `contract_date`, `guarantee_period`, `expected_contractor`.
    id: String,
    status: RuleStatusDoc,
    /// What the rule found, in Japanese.
    message: String,
}

/// A Verification (`service.md` "A Verification"): one attempt, of any outcome.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01JC0Z5X6W8Q9R2T3V4Y5Z6A7B",
    "ref": "row-17",
    "outcome": "verified",
    "checked_at": "2025-04-10T09:30:12+09:00",
    "certificate_number": "W2025000123",
    "issuer": {"id": "wjcs", "name": "西日本建設業保証株式会社"},
    "signature": {"kid": "wjcs-2025", "valid": true},
    "certificate": {"schema": "surety-certificate/1", "certificate_number": "W2025000123", "revision": 1},
    "rules": [{"id": "contract_date", "status": "pass", "message": "当初契約日は対象期間内です"}],
    "detail": null,
    "receipt": {"protected": "eyJhbGciOiJFZERTQSIsImtpZCI6Imtha3VuaW4tMjAyNjEyMDFUMTIwMDAwIiwidHlwIjoidmVyaWZpY2F0aW9uLXJlY2VpcHQranNvbiJ9", "payload": "eyJ2ZXJzaW9uIjoxLCJ2ZXJpZmljYXRpb25faWQiOiIuLi4ifQ", "signature": "…"},
    "case": {"number": "R7-土木-0123", "title": "県道大分臼杵線道路改良工事"},
    "duplicate_use": {"cases": ["R7-土木-0098"], "other_offices": false}
}))]
pub struct Verification {
    /// ULID of the stored attempt; `GET /api/v1/verifications/{id}` reads it again.
    pub id: String,
    /// The client's own reference, echoed.
    #[serde(rename = "ref")]
    #[schema(required = true)]
    pub client_ref: Option<String>,
    pub outcome: Outcome,
    /// When the service checked, RFC 3339 in Japan time.
    pub checked_at: String,
    /// The canonical 保証契約番号 (`issuer-protocol.md` §1).
    pub certificate_number: String,
    /// The issuer asked; null when no issuer was asked (number locked here).
    #[schema(required = true)]
    pub issuer: Option<Issuer>,
    /// Present when a signature was verified.
    #[schema(required = true)]
    pub signature: Option<Signature>,
    /// The payload exactly as signed (`issuer-protocol.md` §4), for `verified` and
    /// `rejected`; null otherwise.
    #[schema(required = true, value_type = Option<Object>)]
    pub certificate: Option<Box<serde_json::value::RawValue>>,
    /// Every rule in `rules-oita.md` order; empty when there is no certificate.
    #[schema(value_type = Vec<RuleDoc>)]
    pub rules: Box<serde_json::value::RawValue>,
    /// Why, in Japanese, for `locked`, `invalid_record` and `issuer_unavailable`.
    #[schema(required = true)]
    pub detail: Option<String>,
    /// The service's signed receipt (確認記録) of this verification: a flattened JWS
    /// (`protected`, `payload`, `signature`), `alg` EdDSA, `typ`
    /// `verification-receipt+json`, verifiable with the keys of `/.well-known/jwks.json`
    /// (`docs/receipt.md`). Null for outcomes without a record.
    #[schema(required = true, value_type = Option<Object>)]
    pub receipt: Option<Box<serde_json::value::RawValue>>,
    /// The 案件 (the orderer's own contract) the caller typed with this verification;
    /// null when neither `case_number` nor `case_title` was given.
    #[schema(required = true)]
    pub case: Option<Case>,
    /// Whether this guarantee was used elsewhere, as of this answer.
    pub duplicate_use: DuplicateUse,
}

/// 案件: the orderer's own contract (its 契約番号 or 工事番号, and name), as typed: NFKC,
/// trimmed, at most 100 characters each. Never from the issuer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"number": "R7-土木-0123", "title": "県道大分臼杵線道路改良工事"}))]
pub struct Case {
    /// 案件番号; null when only the 案件名 was given.
    #[schema(required = true)]
    pub number: Option<String>,
    /// 案件名; null when only the 案件番号 was given.
    #[schema(required = true)]
    pub title: Option<String>,
}

/// The use of this verification's 保証契約番号 elsewhere, counting every verification
/// whose outcome carried a record (`verified` or `rejected`), earlier or later, as of
/// this answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"cases": ["R7-土木-0098"], "other_offices": false}))]
pub struct DuplicateUse {
    /// The other 案件番号 of the caller's own office under which this number was
    /// verified: distinct, sorted, never this verification's own 案件番号. Verifications
    /// without a 案件番号 name none.
    pub cases: Vec<String>,
    /// Whether any other office verified this number (which one is never said).
    pub other_offices: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": "wjcs", "name": "西日本建設業保証株式会社"}))]
pub struct Issuer {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"kid": "wjcs-2025", "valid": true}))]
pub struct Signature {
    pub kid: String,
    pub valid: bool,
}

impl From<VerificationView> for Verification {
    fn from(v: VerificationView) -> Self {
        let VerificationView {
            id,
            client_ref,
            outcome,
            checked_at,
            certificate_number,
            issuer,
            signature,
            certificate,
            rules,
            detail,
            receipt,
            case,
            duplicate_use,
        } = v;
        let case::DuplicateUse {
            cases,
            other_offices,
        } = duplicate_use;
        Self {
            id,
            client_ref,
            outcome,
            checked_at,
            certificate_number,
            issuer: issuer.map(|IssuerRef { id, name }| Issuer { id, name }),
            signature: signature.map(|SignatureRef { kid, valid }| Signature { kid, valid }),
            certificate,
            rules,
            detail,
            receipt,
            case: case.map(|case::Case { number, title }| Case { number, title }),
            duplicate_use: DuplicateUse {
                cases,
                other_offices,
            },
        }
    }
}

/// The 照合 values typed from the contract file; any member may be left out.
// Absent and null alike. (Doc comments here are the OpenAPI document's descriptions.)
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"contract_amount_yen": 123200000, "contractor_name": "株式会社豊後建設", "title": "県道大分臼杵線道路改良工事"}))]
pub struct ExpectedInput {
    /// 請負代金額 in yen.
    #[schema(minimum = 0)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_amount_yen: Option<i64>,
    /// 受注者名.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contractor_name: Option<String>,
    /// 工事名・業務名.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// One lookup: the two values printed on the key notice, and optional 照合 values.
///
/// Both values are normalized as `issuer-protocol.md` §1 says: full-width characters,
/// spaces and hyphens are accepted.
// The body of `POST /api/v1/verifications`, an item of a batch, and what `kakunin batch`
// sends for each row; `input::verification` reads it and checks what serde cannot.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"certificate_number": "W2025000123", "auth_key": "7KQ2-M9XD-H4T8-RB3N", "ref": "row-17", "expected": {"contract_amount_yen": 123200000}}))]
pub struct VerificationInput {
    /// 保証契約番号: 6 to 24 letters and digits, e.g. `W2025000123`.
    // Absent or null reads as empty, which the identifier's own parser refuses with
    // its own message (「保証契約番号を入力してください」…).
    #[serde(default, deserialize_with = "null_as_empty")]
    #[schema(required = true)]
    pub certificate_number: String,
    /// 認証キー: 16 Crockford base32 symbols, printed `XXXX-XXXX-XXXX-XXXX`. Never stored.
    #[serde(default, deserialize_with = "null_as_empty")]
    #[schema(required = true)]
    pub auth_key: String,
    /// The client's own reference (at most 200 characters), echoed in the answer.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub client_ref: Option<String>,
    #[serde(
        default,
        deserialize_with = "optional_object",
        skip_serializing_if = "Option::is_none"
    )]
    pub expected: Option<ExpectedInput>,
    /// 案件番号: the orderer's own contract number this guarantee is accepted for, at
    /// most 100 characters after NFKC; trimmed, and empty is the same as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_number: Option<String>,
    /// 案件名: the name of that contract, at most 100 characters after NFKC; trimmed,
    /// and empty is the same as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_title: Option<String>,
}

/// The auth key is a secret: `Debug` never shows it.
impl std::fmt::Debug for VerificationInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationInput")
            .field("certificate_number", &self.certificate_number)
            .field("auth_key", &"****")
            .field("client_ref", &self.client_ref)
            .field("expected", &self.expected)
            .field("case_number", &self.case_number)
            .field("case_title", &self.case_title)
            .finish()
    }
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// A `T` read from a JSON object only. serde's derive also builds a struct from an array
/// of its fields in order (`["W2025000123"]`), a form the API does not offer and that
/// would read a wrong shape as valid input.
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Only<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Only<T> {
            type Value = T;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }

        d.deserialize_map(Only(std::marker::PhantomData))
            .map(Object)
    }
}

/// An optional member that must be an object when given (absent and null are `None`).
fn optional_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Object<T>>::deserialize(d)?.map(|Object(t)| t))
}

/// 1 to 1000 lookups in one request.
// What `kakunin batch` sends. The service reads the envelope and then each item on its
// own (`input::batch_items`), so that each bad item gets its own error; like this type,
// it refuses members other than `items`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInput {
    #[schema(min_items = 1, max_items = 1000)]
    pub items: Vec<VerificationInput>,
}

/// An item the service could not look up, with the reason as a problem.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"ref": "row-3", "error": {"type": "https://kakunin.invalid/problems/invalid-input", "title": "入力が正しくありません", "status": 422, "detail": "認証キーは16文字です（例: XXXX-XXXX-XXXX-XXXX）。15文字でした。", "field": "auth_key"}}))]
pub struct BatchItemError {
    #[serde(rename = "ref")]
    #[schema(required = true)]
    pub client_ref: Option<String>,
    #[schema(value_type = ProblemDoc)]
    pub error: Problem,
}

/// One result of a batch: a Verification, or an item error.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum BatchResult {
    Verification(Box<Verification>),
    Error(BatchItemError),
}

/// The results, in the order of the items.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchOutput {
    pub results: Vec<BatchResult>,
}

/// One row of the audit log (hash-chained; `kakunin audit verify` checks the chain).
// Not `AuditRow` itself: the API gives `at` as RFC 3339 in Japan time, the row holds naive UTC.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "seq": 42, "at": "2025-04-10T09:30:12.123456+09:00", "actor": "token:keiyaku-batch",
    "office_code": "440001", "action": "verify", "target": "W2025000123", "outcome": "verified",
    "address": "127.0.0.1", "user_agent": "kakunin/0.1.0", "detail": "{\"verification\":\"01JC…\"}",
    "prev_hash": "9f2c…", "hash": "3a7d…"
}))]
pub struct AuditEvent {
    pub seq: i32,
    /// RFC 3339 in Japan time.
    pub at: String,
    /// `user:LOGIN`, `token:NAME` or `cli:USER`.
    pub actor: String,
    pub office_code: String,
    /// e.g. `verify`, `lockout`, `verification.view`, `token.create`.
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub address: String,
    pub user_agent: String,
    /// Free text or JSON; never a secret.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// One page of the audit log, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}
