//! Rule engine: what an officer must confirm before accepting a certificate (rules-oita.md).
//!
//! Pure: it reads a [`Profile`] and a [`Certificate`] and says, rule by rule, what holds.
//! The numbers come from the profile, never from here, so another prefecture is a file.

mod checks;
mod expected;
pub mod profile;

use serde::{Deserialize, Serialize};

use kakunin_protocol::payload::Certificate;

pub use expected::{parse_yen_input, AmountInputError, Expected};
pub use profile::{Profile, ProfileError, Ratio};

/// Every rule id in the order the spec lists them, with the name a person reads.
pub const RULES: [(&str, &str); 13] = [
    ("contract_date", "当初契約日"),
    ("contract_category", "契約の種類"),
    ("guarantee_kind", "保証の種類"),
    ("status", "保証の状態"),
    ("orderer", "発注者"),
    ("performance_amount", "契約保証の保証金額"),
    ("advance_amount", "前払金保証の保証金額"),
    ("intermediate_amount", "中間前払金保証の保証金額"),
    ("guarantee_period", "保証期間"),
    ("terms", "約款"),
    ("expected_contract_amount", "請負代金額の照合"),
    ("expected_contractor", "受注者名の照合"),
    ("expected_title", "工事名・業務名の照合"),
];

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    Pass,
    Fail,
    Warn,
    Skip,
}

impl RuleStatus {
    pub fn label(self) -> &'static str {
        match self {
            RuleStatus::Pass => "適合",
            RuleStatus::Fail => "不適合",
            RuleStatus::Warn => "注意",
            RuleStatus::Skip => "対象外",
        }
    }

    /// The JSON and CSS name: `pass`, `fail`, `warn`, `skip`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Pass => "pass",
            RuleStatus::Fail => "fail",
            RuleStatus::Warn => "warn",
            RuleStatus::Skip => "skip",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RuleResult {
    pub id: String,
    pub status: RuleStatus,
    pub message: String,
}

impl RuleResult {
    /// The rule's Japanese name, or its id if the id is not one of [`RULES`] (a result
    /// stored by an older version).
    pub fn label(&self) -> &str {
        RULES
            .iter()
            .find(|(id, _)| *id == self.id)
            .map_or(self.id.as_str(), |(_, label)| label)
    }

    fn new(id: &str, status: RuleStatus, message: String) -> Self {
        RuleResult {
            id: id.to_string(),
            status,
            message,
        }
    }

    fn skip(id: &str, message: String) -> Self {
        RuleResult::new(id, RuleStatus::Skip, message)
    }

    /// `Pass` when the rule holds, otherwise the rule's severity (`Fail` or `Warn`).
    fn judged(id: &str, severity: RuleStatus, holds: bool, message: String) -> Self {
        let status = if holds { RuleStatus::Pass } else { severity };
        RuleResult::new(id, status, message)
    }
}

/// Every rule of the profile, then every 照合 rule, in the spec's order.
pub fn evaluate(profile: &Profile, cert: &Certificate, expected: &Expected) -> Vec<RuleResult> {
    vec![
        checks::contract_date(profile, cert),
        checks::contract_category(profile, cert),
        checks::guarantee_kind(profile, cert),
        checks::status(cert),
        checks::orderer(profile, cert),
        checks::performance_amount(profile, cert),
        checks::advance_amount(profile, cert),
        checks::intermediate_amount(profile, cert),
        checks::guarantee_period(cert),
        checks::terms(profile, cert),
        expected::contract_amount(cert, expected),
        expected::contractor(cert, expected),
        expected::title(cert, expected),
    ]
}

/// Whether no rule fails. Warnings do not stop a record; the signature is checked elsewhere.
pub fn passes(results: &[RuleResult]) -> bool {
    results.iter().all(|r| r.status != RuleStatus::Fail)
}

#[cfg(test)]
mod tests;
