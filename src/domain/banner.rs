//! What the banner of an outcome page and the band of its print view say: the outcome,
//! each failed item with the next step that fits it, each 注意 (warn) item, and what
//! the day of the check adds (a 保証期間 already over, another office's certificate).

use chrono::NaiveDate;
use serde::Serialize;

use kakunin_protocol::format::{date_ja, wareki};
use kakunin_protocol::payload::{Certificate, Kind, Status};

use super::outcome::Outcome;
use super::rules::{Profile, RuleId, RuleResult, RuleStatus};
use super::view::shown;

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

/// What a failed rule asks the officer to do next. The advice follows the reason the
/// rule failed, not only its id: `intermediate_amount` fails for a guarantee above the
/// ceiling *or* for a contract category without 中間前払金, and neither is fixed by
/// raising the amount. Dates, kinds and the orderer's name come from `profile`, as the
/// rules' own messages do (`rules-oita.md`: the numbers live in the profile file).
fn advice(id: RuleId, profile: &Profile, cert: Option<&Certificate>) -> String {
    const CHECK_WITH_CONTRACTOR: &str = "受注者に確認してください。";
    match id {
        RuleId::ContractDate => format!(
            "{}より前の契約は電子保証の対象外です。紙の保証証書など従来の方法で確認してください。",
            wareki(profile.effective_from)
        ),
        RuleId::ContractCategory => {
            "この契約の区分は電子保証の対象外です。従来の方法で保証を確認してください。".to_owned()
        }
        RuleId::GuaranteeKind => match cert.map(|c| c.kind) {
            Some(Kind::PerformanceReservation) | None => "契約保証予約は受け付けられません。契約締結後に、契約保証（本契約）の電子証書を提出するよう受注者に求めてください。".to_owned(),
            Some(kind) => format!(
                "{}は{}の電子保証の対象外です。従来の方法で保証を確認してください。",
                kind.label(),
                profile.name
            ),
        },
        RuleId::Status => "この保証は解約されていて効力がありません。受け付けずに、有効な保証の提出を受注者に求めてください。".to_owned(),
        RuleId::Orderer => format!("発注者が違います。別の発注者あての電子証書でないか、{CHECK_WITH_CONTRACTOR}"),
        RuleId::PerformanceAmount => "保証金額が足りません。保証事業会社で保証金額の変更手続きをするよう受注者に求めてください。".to_owned(),
        RuleId::AdvanceAmount => "保証金額が前払金の通常の上限を超えています。発注機関の前払率と契約書の前払金額を見比べてください。".to_owned(),
        RuleId::IntermediateAmount => {
            let category_has_it = cert.is_some_and(|c| {
                profile
                    .intermediate_categories
                    .contains(&c.contract.category)
            });
            if category_has_it {
                format!("保証金額が中間前払金の上限を超えています。契約書の中間前払金額と見比べ、{CHECK_WITH_CONTRACTOR}")
            } else {
                format!("この契約の区分には中間前払金がないため、受け付けられません。{CHECK_WITH_CONTRACTOR}")
            }
        }
        RuleId::GuaranteePeriod => "保証期間が工期を覆っていません。保証事業会社で保証期間の変更手続きをするよう受注者に求めてください。".to_owned(),
        RuleId::Terms => format!("約款が{}の指定と異なります。{CHECK_WITH_CONTRACTOR}", profile.name),
        RuleId::ExpectedContractAmount
        | RuleId::ExpectedContractor
        | RuleId::ExpectedTitle => format!("入力した照合の値と電子証書の内容が一致しません。まず入力した値を契約書と見比べ、打ち間違いなら直して再照会してください。入力が正しければ{CHECK_WITH_CONTRACTOR}"),
    }
}

/// The banner for `outcome` with its rule results; `cert` and `checked_on` (the JST day
/// of the check) add the 保証期間 warning, `office_code` (the checking officer's
/// 発注機関コード) the other-office warning; `profile` (the rule profile in force) the
/// names and dates of the advice.
pub fn banner(
    outcome: Outcome,
    rules: &[RuleResult],
    cert: Option<&Certificate>,
    checked_on: NaiveDate,
    office_code: &str,
    profile: &Profile,
) -> Banner {
    let mut b = Banner::default();
    if !outcome.has_certificate() {
        return b;
    }
    for r in rules {
        match r.status {
            RuleStatus::Fail => b.failures.push(Line {
                item: r.label().to_owned(),
                text: format!(
                    "{}。{}",
                    r.message.trim_end_matches('。'),
                    advice(r.id, profile, cert)
                ),
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
                // Quotes the issuer's text, so written as every other such line is.
                text: format!(
                    "この電子証書の発注機関（{}、コード {}）は、あなたの発注機関（コード {office_code}）ではありません。",
                    shown(c.orderer.office.as_deref().unwrap_or(&c.orderer.name)),
                    shown(code)
                ),
            });
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::profile::fixtures::{fukuoka, oita};
    use crate::domain::rules::{evaluate, Expected};
    use kakunin_protocol::payload::sample_json;
    use serde_json::Value;

    /// The sample certificate (a 前払金保証 for a 建設工事) with some members replaced.
    fn edited(edit: impl FnOnce(&mut Value)) -> Certificate {
        let mut v = sample_json();
        edit(&mut v);
        Certificate::from_json(v.to_string().as_bytes()).unwrap()
    }

    /// The banner's failure lines for `c` checked under `profile`, as `(item, text)`.
    fn failures(profile: &Profile, c: &Certificate) -> Vec<(String, String)> {
        let rules = evaluate(profile, c, &Expected::default());
        let office = c.orderer.code.clone().unwrap_or_default();
        let day = "2025-06-01".parse().unwrap();
        banner(Outcome::Rejected, &rules, Some(c), day, &office, profile)
            .failures
            .into_iter()
            .map(|l| (l.item, l.text))
            .collect()
    }

    fn intermediate(category: &str, amount_yen: u64) -> Certificate {
        edited(|v| {
            v["kind"] = "intermediate_advance_payment".into();
            v["contract"]["category"] = category.into();
            v["guarantee"]["amount_yen"] = amount_yen.into();
        })
    }

    /// A 中間前払金保証 fails for being too large or for a category without 中間前払金;
    /// the advice must not tell the officer to have it raised (it said 保証金額が足りません).
    #[test]
    fn a_failed_intermediate_guarantee_is_not_advised_to_be_raised() {
        let p = oita();
        let contract = sample_json()["contract"]["amount_yen"].as_u64().unwrap();
        let too_large = failures(&p, &intermediate("construction", contract / 2));
        assert_eq!(too_large.len(), 1, "{too_large:?}");
        assert_eq!(too_large[0].0, "中間前払金保証の保証金額");
        assert!(
            too_large[0].1.contains("を超えています"),
            "{}",
            too_large[0].1
        );
        assert!(
            too_large[0].1.contains("中間前払金の上限を超えています"),
            "{}",
            too_large[0].1
        );
        assert!(!too_large[0].1.contains("足りません"), "{}", too_large[0].1);

        let consulting = failures(&p, &intermediate("construction_consulting", contract / 10));
        assert_eq!(consulting.len(), 1, "{consulting:?}");
        assert!(
            consulting[0].1.contains("中間前払金がない"),
            "{}",
            consulting[0].1
        );
        assert!(
            !consulting[0].1.contains("足りません"),
            "{}",
            consulting[0].1
        );
    }

    /// A 契約保証 below the minimum is the one amount failure whose fix is raising it.
    #[test]
    fn a_performance_guarantee_below_the_minimum_is_advised_to_be_raised() {
        let p = oita();
        let short = edited(|v| {
            v["kind"] = "performance".into();
            v["guarantee"]["amount_yen"] = 1.into();
        });
        let lines = failures(&p, &short);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].1.ends_with("保証金額が足りません。保証事業会社で保証金額の変更手続きをするよう受注者に求めてください。"), "{}", lines[0].1);
    }

    /// Another prefecture is another profile file: its date, its name and its kinds in
    /// the advice, not 大分県's.
    #[test]
    fn the_advice_names_the_profile_in_force() {
        let fukuoka = fukuoka();
        let theirs = |v: &mut Value| v["orderer"]["name"] = "福岡県県土整備部".into();
        let early = edited(|v| {
            theirs(v);
            v["contract"]["contract_date"] = "2025-09-30".into();
        });
        let lines = failures(&fukuoka, &early);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].1.contains("令和7年10月1日より前の契約は"),
            "{}",
            lines[0].1
        );

        let kind = edited(|v| {
            theirs(v);
            v["kind"] = "intermediate_advance_payment".into();
            v["contract"]["contract_date"] = "2025-10-01".into();
        });
        let texts: Vec<String> = failures(&fukuoka, &kind).into_iter().map(|l| l.1).collect();
        assert!(
            texts
                .iter()
                .any(|t| t.contains("中間前払金保証は福岡県の電子保証の対象外です")),
            "{texts:?}"
        );
        assert!(
            !texts.iter().any(|t| t.contains("契約保証予約")),
            "{texts:?}"
        );
        assert!(Outcome::Verified
            .next_step(&fukuoka.name)
            .contains("福岡県の確認事項"));
    }

    fn certificate(status: &str, period_end: &str) -> Certificate {
        let mut v = sample_json();
        v["status"] = status.into();
        v["guarantee"]["period_end"] = period_end.into();
        Certificate::from_json(v.to_string().as_bytes()).unwrap()
    }

    fn cautions(outcome: Outcome, c: &Certificate, checked_on: &str) -> Vec<String> {
        let office = c.orderer.code.clone().unwrap_or_default();
        banner(
            outcome,
            &[],
            Some(c),
            checked_on.parse().unwrap(),
            &office,
            &oita(),
        )
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

    /// The caution naming another office quotes the certificate's 発注機関: a bidi
    /// control in it is written out, as in the certificate's rows, not obeyed.
    #[test]
    fn another_offices_caution_writes_out_a_bidi_control() {
        let c = edited(|v| {
            v["orderer"]["office"] = "土木\u{202E}事務所".into();
            v["orderer"]["code"] = "OITA-99".into();
        });
        let day = "2025-06-01".parse().unwrap();
        let b = banner(Outcome::Verified, &[], Some(&c), day, "OITA-01", &oita());
        let line = b.cautions.iter().find(|l| l.item == "発注機関").unwrap();
        assert!(line.text.contains("土木〔U+202E〕事務所"), "{}", line.text);
        assert!(!line.text.contains('\u{202E}'), "{}", line.text);
    }
}
