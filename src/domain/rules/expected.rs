//! 照合: what the officer typed from the contract file, compared with the certificate.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::checks::loose;
use super::{RuleId, RuleResult, RuleStatus};
use crate::domain::bounds::{self, EXPECTED_TEXT_MAX};
use kakunin_protocol::format::yen;
use kakunin_protocol::payload::Certificate;

/// The values the officer typed. `None` and empty strings both mean "not typed", and
/// the matching rule is then skipped.
#[derive(Default, Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Expected {
    pub contract_amount_yen: Option<i64>,
    pub contractor_name: Option<String>,
    pub title: Option<String>,
}

impl Expected {
    /// From the three form fields as typed: the amount can be malformed, a text too
    /// long ([`typed_text_input`]). Every field's error at once, in form order.
    pub fn from_input(
        contract_amount: &str,
        contractor_name: &str,
        title: &str,
    ) -> Result<Expected, Vec<ExpectedInputError>> {
        let amount = parse_yen_input(contract_amount).map_err(ExpectedInputError::Amount);
        let contractor = typed_text_input(ExpectedText::ContractorName, contractor_name)
            .map_err(ExpectedInputError::Text);
        let title = typed_text_input(ExpectedText::Title, title).map_err(ExpectedInputError::Text);
        match (amount, contractor, title) {
            (Ok(contract_amount_yen), Ok(contractor_name), Ok(title)) => Ok(Expected {
                contract_amount_yen,
                contractor_name,
                title,
            }),
            (a, c, t) => Err([a.err(), c.err(), t.err()].into_iter().flatten().collect()),
        }
    }
}

/// The two 照合 texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedText {
    ContractorName,
    Title,
}

impl ExpectedText {
    /// As the verify form names the field.
    pub fn form_field(self) -> &'static str {
        match self {
            ExpectedText::ContractorName => "expected_contractor",
            ExpectedText::Title => "expected_title",
        }
    }

    /// As the API names the member of `expected`.
    pub fn api_member(self) -> &'static str {
        match self {
            ExpectedText::ContractorName => "contractor_name",
            ExpectedText::Title => "title",
        }
    }

    fn label(self) -> &'static str {
        match self {
            ExpectedText::ContractorName => "受注者名",
            ExpectedText::Title => "工事名・業務名",
        }
    }
}

/// A typed 照合 text that cannot be used: longer than [`EXPECTED_TEXT_MAX`] characters
/// after NFKC, or holding a control character. The message never quotes the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextInputError {
    pub field: ExpectedText,
    pub control: bool,
}

impl std::fmt::Display for TextInputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.control {
            write!(
                f,
                "{}に改行やタブなどの制御文字は使えません。",
                self.field.label()
            )
        } else {
            write!(
                f,
                "{}は{EXPECTED_TEXT_MAX}文字以内で入力してください。",
                self.field.label(),
            )
        }
    }
}

impl std::error::Error for TextInputError {}

/// A field of the verify form's 照合 part that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpectedInputError {
    #[error(transparent)]
    Amount(AmountInputError),
    #[error(transparent)]
    Text(TextInputError),
}

impl ExpectedInputError {
    /// The form field the error belongs to.
    pub fn form_field(&self) -> &'static str {
        match self {
            ExpectedInputError::Amount(e) => e.field(),
            ExpectedInputError::Text(e) => e.field.form_field(),
        }
    }
}

/// A typed 照合 text: [`bounds::typed_text`] (format characters dropped, trimmed,
/// control characters refused), `None` when empty, refused when longer than
/// [`EXPECTED_TEXT_MAX`] characters after NFKC (how it is compared). The one reader
/// for the verify form and the API alike.
pub fn typed_text_input(field: ExpectedText, s: &str) -> Result<Option<String>, TextInputError> {
    let s = bounds::typed_text(s).map_err(|_| TextInputError {
        field,
        control: true,
    })?;
    if !bounds::fits_nfkc(&s, EXPECTED_TEXT_MAX) {
        return Err(TextInputError {
            field,
            control: false,
        });
    }
    Ok(Some(s).filter(|s| !s.is_empty()))
}

/// The typed 請負代金額 could not be read as yen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountInputError {
    #[error("請負代金額「{input}」を金額として読めません。「123,200,000」または「123200000円」のように数字で入力してください。")]
    Malformed { input: String },
    #[error("請負代金額「{input}」は大きすぎます。「123,200,000」または「123200000円」のように円単位で入力してください。")]
    TooLarge { input: String },
}

impl AmountInputError {
    /// The form and JSON field the error belongs to.
    pub fn field(&self) -> &'static str {
        "expected_contract_amount"
    }
}

/// Reads a typed 請負代金額: digits with optional `,` grouping, spaces and a final `円`,
/// half- or full-width. Empty means not typed. Misplaced commas are refused rather than
/// ignored, since they usually mean a mistyped amount.
pub fn parse_yen_input(s: &str) -> Result<Option<i64>, AmountInputError> {
    let compact: String = s
        .nfkc()
        .filter(|c| !kakunin_protocol::ids::is_invisible(*c))
        .collect();
    if compact.is_empty() {
        return Ok(None);
    }
    let malformed = || AmountInputError::Malformed {
        input: s.trim().to_string(),
    };
    let number = compact.strip_suffix('円').unwrap_or(&compact);
    if !well_grouped(number) {
        return Err(malformed());
    }
    let digits: String = number.chars().filter(|c| *c != ',').collect();
    digits
        .parse::<i64>()
        .map(Some)
        .map_err(|_| AmountInputError::TooLarge {
            input: s.trim().to_string(),
        })
}

/// `123200000` or `123,200,000`: ASCII digits, and commas only every three digits.
fn well_grouped(number: &str) -> bool {
    let all_digits = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
    let mut groups = number.split(',');
    let Some(first) = groups.next() else {
        return false;
    };
    if !number.contains(',') {
        return all_digits(first);
    }
    first.len() <= 3 && all_digits(first) && groups.all(|g| g.len() == 3 && all_digits(g))
}

pub(super) fn contract_amount(c: &Certificate, e: &Expected) -> RuleResult {
    const ID: RuleId = RuleId::ExpectedContractAmount;
    let Some(typed) = e.contract_amount_yen else {
        return not_typed(ID, "請負代金額");
    };
    let actual = c.contract.amount_yen;
    let holds = actual == typed;
    let relation = if holds {
        "一致します"
    } else {
        "一致しません"
    };
    let message = format!(
        "証書の請負代金額 {}は入力された{}と{relation}",
        yen(actual),
        yen(typed)
    );
    RuleResult::judged(ID, RuleStatus::Fail, holds, message)
}

pub(super) fn contractor(c: &Certificate, e: &Expected) -> RuleResult {
    const ID: RuleId = RuleId::ExpectedContractor;
    let Some(typed) = typed_text(&e.contractor_name) else {
        return not_typed(ID, "受注者名");
    };
    let actual = &c.contractor.name;
    let holds = company_name(actual) == company_name(typed);
    let relation = if holds {
        "一致します"
    } else {
        "一致しません"
    };
    let shown = crate::domain::view::shown(actual);
    let message = format!("証書の受注者名「{shown}」は入力された「{typed}」と{relation}");
    RuleResult::judged(ID, RuleStatus::Fail, holds, message)
}

pub(super) fn title(c: &Certificate, e: &Expected) -> RuleResult {
    const ID: RuleId = RuleId::ExpectedTitle;
    let Some(typed) = typed_text(&e.title) else {
        return not_typed(ID, "工事名・業務名");
    };
    let actual = &c.contract.title;
    let holds = loose(actual) == loose(typed);
    let shown = crate::domain::view::shown(actual);
    let message = if holds {
        format!("証書の工事名・業務名「{shown}」は入力された「{typed}」と一致します")
    } else {
        format!("証書の工事名・業務名「{shown}」は入力された「{typed}」と一致しません。契約書で確認してください")
    };
    RuleResult::judged(ID, RuleStatus::Warn, holds, message)
}

/// A company name as compared: NFKC, no spaces, and the abbreviated legal forms spelled
/// out. NFKC turns ㈱ into (株), and the explicit ㈱ case covers a normalizer that doesn't.
fn company_name(s: &str) -> String {
    loose(s)
        .replace("(株)", "株式会社")
        .replace('㈱', "株式会社")
        .replace("(有)", "有限会社")
        .replace('㈲', "有限会社")
}

fn typed_text(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn not_typed(id: RuleId, field: &str) -> RuleResult {
    RuleResult::skip(id, format!("{field}が入力されていないため照合しません"))
}
