//! Rule engine: what an officer must confirm before accepting a certificate (rules-oita.md).
//!
//! Pure: it reads a [`Profile`] and a [`Certificate`] and says, rule by rule, what holds.
//! The numbers come from the profile, never from here, so another prefecture is a file.

mod checks;
mod expected;
pub mod profile;
mod toml_error;

use serde::{Deserialize, Serialize};

use super::code::Code;
use kakunin_protocol::payload::Certificate;

pub use expected::{
    parse_yen_input, typed_text_input, AmountInputError, Expected, ExpectedInputError,
    ExpectedText, TextInputError,
};
pub use profile::{Profile, ProfileError, Ratio};

/// Every rule of `rules-oita.md`, by the id results carry (stored in
/// `verifications.rules`, sent in the API's `rules[].id`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum RuleId {
    ContractDate,
    ContractCategory,
    GuaranteeKind,
    Status,
    Orderer,
    PerformanceAmount,
    AdvanceAmount,
    IntermediateAmount,
    GuaranteePeriod,
    Terms,
    ExpectedContractAmount,
    ExpectedContractor,
    ExpectedTitle,
}

/// In the order the spec lists the rules, which is the order results come in.
impl Code for RuleId {
    const NAME: &'static str = "確認事項の ID";
    const ALL: &'static [RuleId] = &[
        RuleId::ContractDate,
        RuleId::ContractCategory,
        RuleId::GuaranteeKind,
        RuleId::Status,
        RuleId::Orderer,
        RuleId::PerformanceAmount,
        RuleId::AdvanceAmount,
        RuleId::IntermediateAmount,
        RuleId::GuaranteePeriod,
        RuleId::Terms,
        RuleId::ExpectedContractAmount,
        RuleId::ExpectedContractor,
        RuleId::ExpectedTitle,
    ];

    fn as_str(self) -> &'static str {
        match self {
            RuleId::ContractDate => "contract_date",
            RuleId::ContractCategory => "contract_category",
            RuleId::GuaranteeKind => "guarantee_kind",
            RuleId::Status => "status",
            RuleId::Orderer => "orderer",
            RuleId::PerformanceAmount => "performance_amount",
            RuleId::AdvanceAmount => "advance_amount",
            RuleId::IntermediateAmount => "intermediate_amount",
            RuleId::GuaranteePeriod => "guarantee_period",
            RuleId::Terms => "terms",
            RuleId::ExpectedContractAmount => "expected_contract_amount",
            RuleId::ExpectedContractor => "expected_contractor",
            RuleId::ExpectedTitle => "expected_title",
        }
    }
}

impl RuleId {
    /// The rule's name as a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            RuleId::ContractDate => "当初契約日",
            RuleId::ContractCategory => "契約の区分",
            RuleId::GuaranteeKind => "保証の種類",
            RuleId::Status => "保証の状態",
            RuleId::Orderer => "発注者",
            RuleId::PerformanceAmount => "契約保証の保証金額",
            RuleId::AdvanceAmount => "前払金保証の保証金額",
            RuleId::IntermediateAmount => "中間前払金保証の保証金額",
            RuleId::GuaranteePeriod => "保証期間",
            RuleId::Terms => "約款",
            RuleId::ExpectedContractAmount => "請負代金額の照合",
            RuleId::ExpectedContractor => "受注者名の照合",
            RuleId::ExpectedTitle => "工事名・業務名の照合",
        }
    }
}

/// `pad`, not `write_str`: `kakunin record verify` lays its table out with `{:<26}`.
impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

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
    pub id: RuleId,
    pub status: RuleStatus,
    pub message: String,
}

impl RuleResult {
    /// The rule's Japanese name.
    pub fn label(&self) -> &'static str {
        self.id.label()
    }

    fn new(id: RuleId, status: RuleStatus, message: String) -> Self {
        RuleResult {
            id,
            status,
            message,
        }
    }

    fn skip(id: RuleId, message: String) -> Self {
        RuleResult::new(id, RuleStatus::Skip, message)
    }

    /// `Pass` when the rule holds, otherwise the rule's severity (`Fail` or `Warn`).
    fn judged(id: RuleId, severity: RuleStatus, holds: bool, message: String) -> Self {
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
