//! The profile rules of rules-oita.md: what the certificate itself must say.

use chrono::NaiveDate;
use unicode_normalization::UnicodeNormalization;

use super::{Profile, RuleId, RuleResult, RuleStatus};
use kakunin_protocol::format::{date_ja, yen, yen_wide};
use kakunin_protocol::payload::{Category, Certificate, Kind, Status};

const FAIL: RuleStatus = RuleStatus::Fail;
const WARN: RuleStatus = RuleStatus::Warn;

pub(super) fn contract_date(p: &Profile, c: &Certificate) -> RuleResult {
    let date = c.contract.contract_date;
    let holds = date >= p.effective_from;
    let relation = if holds { "以降" } else { "より前" };
    let message = format!(
        "当初契約日 {}は適用開始日 {}{relation}です",
        date_ja(date),
        date_ja(p.effective_from)
    );
    RuleResult::judged(RuleId::ContractDate, FAIL, holds, message)
}

pub(super) fn contract_category(p: &Profile, c: &Certificate) -> RuleResult {
    let category = c.contract.category;
    let holds = p.categories.contains(&category);
    let message = if holds {
        format!(
            "契約の区分「{}」は{}の電子保証の対象です",
            category.label(),
            p.name
        )
    } else {
        format!(
            "契約の区分「{}」は{}の電子保証の対象外です（対象: {}）",
            category.label(),
            p.name,
            category_list(&p.categories)
        )
    };
    RuleResult::judged(RuleId::ContractCategory, FAIL, holds, message)
}

pub(super) fn guarantee_kind(p: &Profile, c: &Certificate) -> RuleResult {
    let holds = p.eligible_kinds.contains(&c.kind);
    let message = match (holds, c.kind) {
        (true, kind) => format!("保証の種類「{}」は電子保証の対象です", kind.label()),
        // The wording of the seed flyer's Q&A, which officers will recognise.
        (false, Kind::PerformanceReservation) => "契約保証予約は電子保証の対象外です".to_string(),
        (false, kind) => format!(
            "保証の種類「{}」は{}の電子保証の対象外です",
            kind.label(),
            p.name
        ),
    };
    RuleResult::judged(RuleId::GuaranteeKind, FAIL, holds, message)
}

pub(super) fn status(c: &Certificate) -> RuleResult {
    let holds = c.status == Status::Active;
    let message = if holds {
        format!("保証の状態は「{}」です", c.status.label())
    } else {
        format!(
            "保証の状態は「{}」です。この保証は何も保証しません",
            c.status.label()
        )
    };
    RuleResult::judged(RuleId::Status, FAIL, holds, message)
}

pub(super) fn orderer(p: &Profile, c: &Certificate) -> RuleResult {
    let holds = c.orderer.name.starts_with(&p.orderer_prefix);
    // Quoted as the certificate's rows show it: a bidi control written out.
    let name = crate::domain::view::shown(&c.orderer.name);
    let message = if holds {
        format!("発注者「{name}」は{}の発注機関です", p.name)
    } else {
        format!(
            "発注者「{name}」は{}の発注機関ではありません（発注者名が「{}」で始まるものが対象です）",
            p.name, p.orderer_prefix
        )
    };
    RuleResult::judged(RuleId::Orderer, FAIL, holds, message)
}

pub(super) fn performance_amount(p: &Profile, c: &Certificate) -> RuleResult {
    const ID: RuleId = RuleId::PerformanceAmount;
    if c.kind != Kind::Performance {
        return not_this_kind(ID, c.kind, Kind::Performance);
    }
    let (g, a) = (c.guarantee.amount_yen, c.contract.amount_yen);
    let min = p.performance_min.ceil_of(a);
    let holds = i128::from(g) >= min;
    let relation = if holds {
        "以上です"
    } else {
        "に足りません"
    };
    let message = format!(
        "保証金額 {}は請負代金額 {}の{}（{}）{relation}",
        yen(g),
        yen(a),
        p.performance_min,
        yen_wide(min)
    );
    RuleResult::judged(ID, FAIL, holds, message)
}

pub(super) fn advance_amount(p: &Profile, c: &Certificate) -> RuleResult {
    const ID: RuleId = RuleId::AdvanceAmount;
    if c.kind != Kind::AdvancePayment {
        return not_this_kind(ID, c.kind, Kind::AdvancePayment);
    }
    let category = c.contract.category;
    let Some(ratio) = p.advance_max_for(category) else {
        return RuleResult::skip(
            ID,
            format!(
                "契約の区分「{}」には前払金の上限割合が定められていないため確認しません",
                category.label()
            ),
        );
    };
    let (g, a) = (c.guarantee.amount_yen, c.contract.amount_yen);
    let holds = ratio.within(g, a);
    let head = format!(
        "保証金額 {}は請負代金額 {}の{}（{}）",
        yen(g),
        yen(a),
        ratio,
        yen_wide(ratio.floor_of(a))
    );
    let message = if holds {
        format!("{head}以内です（{}）", category.label())
    } else {
        // Only a warning: agencies set their own 前払率, so the officer must look.
        format!(
            "{head}を超えています。{}の前払金は通常{ratio}までです。発注機関の前払率を確認してください",
            category.label()
        )
    };
    RuleResult::judged(ID, WARN, holds, message)
}

pub(super) fn intermediate_amount(p: &Profile, c: &Certificate) -> RuleResult {
    const ID: RuleId = RuleId::IntermediateAmount;
    if c.kind != Kind::IntermediateAdvancePayment {
        return not_this_kind(ID, c.kind, Kind::IntermediateAdvancePayment);
    }
    let category = c.contract.category;
    if !p.intermediate_categories.contains(&category) {
        let message = format!(
            "中間前払金は{}のみが対象です。この契約は「{}」です",
            category_list(&p.intermediate_categories),
            category.label()
        );
        return RuleResult::new(ID, FAIL, message);
    }
    let (g, a) = (c.guarantee.amount_yen, c.contract.amount_yen);
    let ratio = p.intermediate_max;
    let holds = ratio.within(g, a);
    let relation = if holds {
        "以内です"
    } else {
        "を超えています"
    };
    let message = format!(
        "保証金額 {}は請負代金額 {}の{}（{}）{relation}",
        yen(g),
        yen(a),
        ratio,
        yen_wide(ratio.floor_of(a))
    );
    RuleResult::judged(ID, FAIL, holds, message)
}

pub(super) fn guarantee_period(c: &Certificate) -> RuleResult {
    const ID: RuleId = RuleId::GuaranteePeriod;
    let (cs, ce) = (c.contract.period_start, c.contract.period_end);
    let (gs, ge) = (c.guarantee.period_start, c.guarantee.period_end);
    if cs.is_none() && ce.is_none() {
        return RuleResult::skip(ID, "工期が記載されていないため確認しません".to_string());
    }
    let mut gaps = Vec::new();
    if let Some(cs) = cs.filter(|cs| gs > *cs) {
        gaps.push(format!(
            "保証期間の始期 {}が工期の始期 {}より後です",
            date_ja(gs),
            date_ja(cs)
        ));
    }
    if let Some(ce) = ce.filter(|ce| ge < *ce) {
        gaps.push(format!(
            "保証期間の終期 {}が工期の終期 {}より前です",
            date_ja(ge),
            date_ja(ce)
        ));
    }
    let holds = gaps.is_empty();
    let message = if holds {
        format!(
            "保証期間 {}は工期 {}を含んでいます",
            span(Some(gs), Some(ge)),
            span(cs, ce)
        )
    } else {
        gaps.join("。")
    };
    RuleResult::judged(ID, WARN, holds, message)
}

pub(super) fn terms(p: &Profile, c: &Certificate) -> RuleResult {
    let expected = p.terms.join("、");
    let Some(terms) = c.contract.terms.as_deref() else {
        let message = format!("約款が記載されていません（想定: {expected}）");
        return RuleResult::new(RuleId::Terms, WARN, message);
    };
    // Width variants (～ vs ~, full-width letters) are the same 約款.
    let given = loose(terms);
    let holds = p.terms_loose.contains(&given);
    let terms = crate::domain::view::shown(terms);
    let message = if holds {
        format!("約款「{terms}」は{}の想定する約款です", p.name)
    } else {
        format!("約款「{terms}」は想定の約款（{expected}）と異なります。契約書で確認してください")
    };
    RuleResult::judged(RuleId::Terms, WARN, holds, message)
}

fn not_this_kind(id: RuleId, kind: Kind, applies_to: Kind) -> RuleResult {
    RuleResult::skip(
        id,
        format!(
            "{}にのみ適用します（この証書は{}）",
            applies_to.label(),
            kind.label()
        ),
    )
}

fn category_list(categories: &[Category]) -> String {
    let labels: Vec<&str> = categories.iter().map(|c| c.label()).collect();
    labels.join("、")
}

fn span(start: Option<NaiveDate>, end: Option<NaiveDate>) -> String {
    kakunin_protocol::format::period_ja(start, end)
}

/// NFKC without white space, invisible format characters and Hangul fillers: how two
/// spellings of the same text are compared. The typed side has lost the last two
/// already ([`crate::domain::bounds::typed_text`]); the record's side must too, or a
/// signed `株式会社\u{3164}` could never be matched.
pub(super) fn loose(s: &str) -> String {
    s.nfkc()
        .filter(|c| !c.is_whitespace() && !kakunin_platform::text::is_hidden(*c))
        .collect()
}
