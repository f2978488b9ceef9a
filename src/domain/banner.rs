//! What the banner of an outcome page and the band of its print view say: the outcome,
//! each failed item with the next step that fits it, each 注意 (warn) item, and what
//! the day of the check adds (a 保証期間 already over, another office's certificate).

use chrono::NaiveDate;
use serde::Serialize;

use kakunin_protocol::format::date_ja;
use kakunin_protocol::payload::{Certificate, Status};

use super::outcome::Outcome;
use super::rules::{RuleId, RuleResult, RuleStatus};

/// One line under the banner's title: the item (`保証の状態`) and what to do.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Line {
    pub item: String,
    pub text: String,
}

/// The banner: `failures` (不適合 items, each with its advice) and `cautions` (注意
/// items and the day's warnings), both empty for a clean 確認済み.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Banner {
    pub failures: Vec<Line>,
    pub cautions: Vec<Line>,
}

/// What a failed rule asks the officer to do next, by rule.
pub fn advice(id: RuleId) -> &'static str {
    match id {
        RuleId::ContractDate => "令和7年4月1日より前の契約は電子保証の対象外です。紙の保証証書など従来の方法で確認してください。",
        RuleId::ContractCategory => "この契約の区分は電子保証の対象外です。従来の方法で保証を確認してください。",
        RuleId::GuaranteeKind => "契約保証予約は受け付けられません。契約締結後に、契約保証（本契約）の電子証書を提出するよう受注者に求めてください。",
        RuleId::Status => "この保証は解約されていて効力がありません。受け付けずに、有効な保証の提出を受注者に求めてください。",
        RuleId::Orderer => "発注者が違います。別の発注者あての電子証書でないか、受注者に確認してください。",
        RuleId::PerformanceAmount
        | RuleId::AdvanceAmount
        | RuleId::IntermediateAmount => "保証金額が足りません。保証事業会社で保証金額の変更手続きをするよう受注者に求めてください。",
        RuleId::GuaranteePeriod => "保証期間が工期を覆っていません。保証事業会社で保証期間の変更手続きをするよう受注者に求めてください。",
        RuleId::Terms => "約款が大分県の指定と異なります。受注者に確認してください。",
        RuleId::ExpectedContractAmount
        | RuleId::ExpectedContractor
        | RuleId::ExpectedTitle => "入力した照合の値と電子証書の内容が一致しません。まず入力した値を契約書と見比べ、打ち間違いなら直して再照会してください。入力が正しければ受注者に確認してください。",
    }
}

/// The banner for `outcome` with its rule results; `cert` and `checked_on` (the JST day
/// of the check) add the 保証期間 warning, `office_code` (the checking officer's
/// 発注機関コード) the other-office warning.
pub fn banner(
    outcome: Outcome,
    rules: &[RuleResult],
    cert: Option<&Certificate>,
    checked_on: NaiveDate,
    office_code: &str,
) -> Banner {
    let mut b = Banner::default();
    if !outcome.has_certificate() {
        return b;
    }
    for r in rules {
        match r.status {
            RuleStatus::Fail => b.failures.push(Line {
                item: r.label().to_owned(),
                text: format!("{}。{}", r.message.trim_end_matches('。'), advice(r.id)),
            }),
            RuleStatus::Warn => b.cautions.push(Line {
                item: r.label().to_owned(),
                text: r.message.clone(),
            }),
            RuleStatus::Pass | RuleStatus::Skip => {}
        }
    }
    let Some(c) = cert else { return b };
    // A cancelled guarantee has failed `status` already, and its advice is not to
    // extend a period; the rule `guarantee_period` has the item 保証期間, so this one is
    // named apart.
    if c.status == Status::Active && c.guarantee.period_end < checked_on {
        b.cautions.push(Line {
            item: "保証期間の終了".to_owned(),
            text: format!(
                "保証期間は{}に終わっています（確認日 {}）。保証が今も必要なら、期間の変更を受注者に求めてください。",
                date_ja(c.guarantee.period_end),
                date_ja(checked_on)
            ),
        });
    }
    if let Some(code) = c.orderer.code.as_deref() {
        if code != office_code {
            b.cautions.push(Line {
                item: "発注機関".to_owned(),
                text: format!(
                    "この電子証書の発注機関（{}、コード {code}）は、あなたの発注機関（コード {office_code}）ではありません。",
                    c.orderer.office.as_deref().unwrap_or(&c.orderer.name)
                ),
            });
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use kakunin_protocol::payload::sample_json;

    fn certificate(status: &str, period_end: &str) -> Certificate {
        let mut v = sample_json();
        v["status"] = status.into();
        v["guarantee"]["period_end"] = period_end.into();
        Certificate::from_json(v.to_string().as_bytes()).unwrap()
    }

    fn cautions(outcome: Outcome, c: &Certificate, checked_on: &str) -> Vec<String> {
        let office = c.orderer.code.clone().unwrap_or_default();
        banner(outcome, &[], Some(c), checked_on.parse().unwrap(), &office)
            .cautions
            .into_iter()
            .map(|l| l.item)
            .collect()
    }

    /// An ended 保証期間 is a caution of its own name for a guarantee still in force; a
    /// cancelled one is not told to extend its period.
    #[test]
    fn an_ended_period_is_a_caution_only_while_the_guarantee_is_in_force() {
        let active = certificate("active", "2026-03-13");
        assert_eq!(
            cautions(Outcome::Verified, &active, "2026-03-14"),
            ["保証期間の終了"]
        );
        assert!(cautions(Outcome::Verified, &active, "2026-03-13").is_empty());
        let cancelled = certificate("cancelled", "2026-03-13");
        assert!(cautions(Outcome::Rejected, &cancelled, "2026-12-02").is_empty());
    }
}
