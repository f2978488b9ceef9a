//! What changed between two verifications of the same certificate (re-verify).

use serde::Serialize;

use kakunin_protocol::format::{date_ja, yen};
use kakunin_protocol::payload::Certificate;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Change {
    pub label: &'static str,
    pub before: String,
    pub after: String,
}

fn opt_date(d: Option<chrono::NaiveDate>) -> String {
    d.map(date_ja).unwrap_or_else(|| "（記載なし）".into())
}

/// Field-by-field differences in revision, status, amounts and periods.
pub fn changes(before: &Certificate, after: &Certificate) -> Vec<Change> {
    let fields: [(&'static str, String, String); 9] = [
        (
            "版",
            format!("第{}版", before.revision),
            format!("第{}版", after.revision),
        ),
        (
            "状態",
            before.status.label().into(),
            after.status.label().into(),
        ),
        (
            "請負代金額",
            yen(before.contract.amount_yen),
            yen(after.contract.amount_yen),
        ),
        (
            "保証金額",
            yen(before.guarantee.amount_yen),
            yen(after.guarantee.amount_yen),
        ),
        (
            "工期（開始）",
            opt_date(before.contract.period_start),
            opt_date(after.contract.period_start),
        ),
        (
            "工期（終了）",
            opt_date(before.contract.period_end),
            opt_date(after.contract.period_end),
        ),
        (
            "保証期間（開始）",
            date_ja(before.guarantee.period_start),
            date_ja(after.guarantee.period_start),
        ),
        (
            "保証期間（終了）",
            date_ja(before.guarantee.period_end),
            date_ja(after.guarantee.period_end),
        ),
        (
            "保証の種類",
            before.kind.label().into(),
            after.kind.label().into(),
        ),
    ];
    fields
        .into_iter()
        .filter(|(_, b, a)| b != a)
        .map(|(label, before, after)| Change {
            label,
            before,
            after,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kakunin_protocol::payload::sample_json;

    #[test]
    fn only_changed_fields_are_listed() {
        let a = Certificate::from_json(sample_json().to_string().as_bytes()).unwrap();
        let mut b = a.clone();
        assert!(changes(&a, &b).is_empty());
        b.revision = 2;
        b.guarantee.amount_yen = 50_000_000;
        let c = changes(&a, &b);
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].label, "保証金額");
        assert_eq!(c[1].before, "49,280,000円");
        assert_eq!(c[1].after, "50,000,000円");
    }
}
