//! 照合: what the officer typed from the contract file, compared with the certificate.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::checks::loose;
use super::{RuleResult, RuleStatus};
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
    /// From the three form fields as typed; only the amount can be malformed.
    pub fn from_input(
        contract_amount: &str,
        contractor_name: &str,
        title: &str,
    ) -> Result<Expected, AmountInputError> {
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(Expected {
            contract_amount_yen: parse_yen_input(contract_amount)?,
            contractor_name: text(contractor_name),
            title: text(title),
        })
    }
}

/// The typed 請負代金額 could not be read as yen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountInputError {
    #[error("請負代金額「{input}」を金額として読めません。「123,200,000」または「123200000円」のように数字で入力してください。(expected_contract_amount must be yen in digits, e.g. 123,200,000 or 123200000円)")]
    Malformed { input: String },
    #[error("請負代金額「{input}」は大きすぎます。「123,200,000」または「123200000円」のように円単位で入力してください。(expected_contract_amount is too large)")]
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
    const ID: &str = "expected_contract_amount";
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
    const ID: &str = "expected_contractor";
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
    let message = format!("証書の受注者名「{actual}」は入力された「{typed}」と{relation}");
    RuleResult::judged(ID, RuleStatus::Fail, holds, message)
}

pub(super) fn title(c: &Certificate, e: &Expected) -> RuleResult {
    const ID: &str = "expected_title";
    let Some(typed) = typed_text(&e.title) else {
        return not_typed(ID, "工事名・業務名");
    };
    let actual = &c.contract.title;
    let holds = loose(actual) == loose(typed);
    let message = if holds {
        format!("証書の工事名・業務名「{actual}」は入力された「{typed}」と一致します")
    } else {
        format!("証書の工事名・業務名「{actual}」は入力された「{typed}」と一致しません。契約書で確認してください")
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

fn not_typed(id: &str, field: &str) -> RuleResult {
    RuleResult::skip(id, format!("{field}が入力されていないため照合しません"))
}
