//! An audit row's detail, told in Japanese for the supervisor's page and the CSV export.
//!
//! The detail is stored as written when the act happened, and the row's hash covers it,
//! so the stored text never changes: some details are JSON with English member names
//! (a verification's `{"issuer":…,"verification":…}`, an export's filter), some short
//! codes (`verification=… paper=mismatch`, `limit=login`), some Japanese sentences.
//! [`describe`] reads each known form into labelled items and keeps anything else,
//! older or unforeseen, as one item holding the text itself: nothing is ever hidden.
//! Pages show the stored text beside the items, since it is what the hash covers.

use serde::{Deserialize, Serialize};

use super::vocabulary::{Action, AuditOutcome};
use crate::domain::code::Code;

/// One labelled part of a detail: `照会番号` → `01J…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DetailItem {
    pub label: &'static str,
    pub value: String,
}

fn item(label: &'static str, value: impl Into<String>) -> DetailItem {
    DetailItem {
        label,
        value: value.into(),
    }
}

/// The label of a detail this module cannot read otherwise: the text as stored.
pub const AS_STORED: &str = "内容";

/// The detail of a row of `action` as labelled Japanese items: empty for an empty
/// detail, one [`AS_STORED`] item for a text of no known form.
pub fn describe(action: Action, detail: &str) -> Vec<DetailItem> {
    let detail = detail.trim();
    if detail.is_empty() {
        return Vec::new();
    }
    let known = match action {
        Action::Verify => attempt(detail),
        Action::VerificationView | Action::VerificationPrint | Action::PaperCheck => look(detail),
        Action::Lockout => lockout(detail),
        Action::AuditExport => export(detail),
        Action::AuditKeyInit => detail
            .strip_prefix("file=")
            .map(|f| vec![item("鍵ファイル", f)]),
        _ => None,
    };
    known
        .or_else(|| throttle(detail))
        .unwrap_or_else(|| vec![item(AS_STORED, detail)])
}

/// The items on one line, for a CSV cell: `照会番号: 01J…、版: 第2版`.
pub fn one_line(items: &[DetailItem]) -> String {
    items
        .iter()
        .map(|i| {
            if i.label == AS_STORED {
                i.value.clone()
            } else {
                format!("{}: {}", i.label, i.value)
            }
        })
        .collect::<Vec<_>>()
        .join("、")
}

/// A verification attempt's detail (`app::verification`'s `AttemptDetail`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Attempt {
    verification: String,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    revision: Option<i64>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(rename = "ref", default)]
    client_ref: Option<String>,
    #[serde(default)]
    key_fingerprint: Option<String>,
}

fn attempt(detail: &str) -> Option<Vec<DetailItem>> {
    let a: Attempt = serde_json::from_str(detail).ok()?;
    let mut items = vec![item("照会番号", a.verification)];
    items.extend(a.issuer.map(|v| item("保証事業会社", v)));
    items.extend(a.revision.map(|v| item("版", format!("第{v}版"))));
    items.extend(a.kid.map(|v| item("署名鍵", v)));
    items.extend(a.client_ref.map(|v| item("整理番号", v)));
    items.extend(
        a.key_fingerprint
            .map(|v| item("認証キーの指紋（キーそのものではありません）", v)),
    );
    Some(items)
}

/// A look at a stored verification: `verification=ID`, with ` paper=CODE` for the paper
/// check, or why nothing was shown (`other_office`, `no_such_id`).
fn look(detail: &str) -> Option<Vec<DetailItem>> {
    match detail {
        "other_office" => {
            return Some(vec![item(
                AS_STORED,
                "他の発注機関の照会のため表示していません",
            )])
        }
        "no_such_id" => return Some(vec![item(AS_STORED, "この照会番号の記録はありません")]),
        _ => {}
    }
    let mut words = detail.split(' ');
    let id = words.next()?.strip_prefix("verification=")?;
    let mut items = vec![item("照会番号", id)];
    for w in words {
        let paper = match w.strip_prefix("paper=")? {
            "match" => "一致（QRコードの確認記録が保存している記録と同じ）",
            "mismatch" => "不一致（書き換えられたか、別の記録から作られたおそれ）",
            "id_only" => "照会番号のみで照合（QRコードなし）",
            "no_receipt" => "確認記録のない照会のため照合できず",
            _ => return None,
        };
        items.push(item("印刷物の照合", paper));
    }
    Some(items)
}

/// A lock: `該当なし 5回/60分 → 60分ロック` (before 2026-12-02, `not_found …`).
fn lockout(detail: &str) -> Option<Vec<DetailItem>> {
    let rest = detail
        .strip_prefix("該当なし ")
        .or_else(|| detail.strip_prefix("not_found "))?;
    let (count, rest) = rest.split_once("回/")?;
    let (window, lock) = rest.split_once("分 → ")?;
    let lock = lock.strip_suffix("分ロック")?;
    let [count, window, lock] = [count, window, lock].map(|n| n.parse::<u32>().ok());
    Some(vec![
        item("理由", format!("{}分間に該当なしが{}回", window?, count?)),
        item("ロックの長さ", format!("{}分", lock?)),
    ])
}

/// A refused sign-in's limit: `limit=login` or `limit=address`.
fn throttle(detail: &str) -> Option<Vec<DetailItem>> {
    let why = match detail.strip_prefix("limit=")? {
        "login" => "同じログイン名での失敗が続いたため",
        "address" => "同じ接続元からの失敗が続いたため",
        _ => return None,
    };
    Some(vec![item("制限", why)])
}

/// An export's record (`export::start`): rows, the head it stops at, its filter.
#[derive(Deserialize)]
struct Export {
    rows: i64,
    until_seq: i64,
    #[serde(default)]
    filter: Filter,
}

#[derive(Deserialize, Default)]
struct Filter {
    office: Option<String>,
    from: Option<String>,
    to: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    target: Option<String>,
}

fn export(detail: &str) -> Option<Vec<DetailItem>> {
    let e: Export = serde_json::from_str(detail).ok()?;
    let f = e.filter;
    let mut terms = Vec::new();
    terms.extend(f.office.map(|v| format!("発注機関 {v}")));
    match (f.from, f.to) {
        (None, None) => {}
        (from, to) => terms.push(format!(
            "期間 {}～{}",
            from.unwrap_or_default(),
            to.unwrap_or_default()
        )),
    }
    terms.extend(f.actor.map(|v| format!("操作者 {v}")));
    terms.extend(f.action.map(|v| {
        let label = Action::parse(&v).map_or(v.as_str(), |a| a.label());
        format!("操作 {label}")
    }));
    terms.extend(f.outcome.map(|v| {
        let label = AuditOutcome::parse(&v).map_or(v.as_str(), |o| o.label());
        format!("結果 {label}")
    }));
    terms.extend(f.target.map(|v| format!("対象 {v}")));
    Some(vec![
        item("件数", format!("{}件", e.rows)),
        item("最後の番号", format!("{}番", e.until_seq)),
        item(
            "条件",
            if terms.is_empty() {
                "なし（すべて）".to_owned()
            } else {
                terms.join("、")
            },
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(items: &[DetailItem]) -> Vec<(&str, &str)> {
        items.iter().map(|i| (i.label, i.value.as_str())).collect()
    }

    #[test]
    fn a_verification_attempt_is_told_in_japanese() {
        // As `AttemptDetail` writes it: every member, nulls included.
        let stored = r#"{"issuer":"wjcs","key_fingerprint":"3f9a","kid":"wjcs-2025","ref":"row-3","revision":2,"verification":"01JDQ4Z8T5"}"#;
        assert_eq!(
            labels(&describe(Action::Verify, stored)),
            [
                ("照会番号", "01JDQ4Z8T5"),
                ("保証事業会社", "wjcs"),
                ("版", "第2版"),
                ("署名鍵", "wjcs-2025"),
                ("整理番号", "row-3"),
                ("認証キーの指紋（キーそのものではありません）", "3f9a"),
            ]
        );
        let miss = r#"{"issuer":null,"key_fingerprint":"3f9a","kid":null,"ref":null,"revision":null,"verification":"01JDQ"}"#;
        assert_eq!(
            labels(&describe(Action::Verify, miss)),
            [
                ("照会番号", "01JDQ"),
                ("認証キーの指紋（キーそのものではありません）", "3f9a")
            ]
        );
    }

    #[test]
    fn looks_and_paper_checks_are_told_in_japanese() {
        assert_eq!(
            labels(&describe(Action::VerificationView, "verification=01J")),
            [("照会番号", "01J")]
        );
        let check = describe(Action::PaperCheck, "verification=01J paper=mismatch");
        assert_eq!(check[1].label, "印刷物の照合");
        assert!(check[1].value.starts_with("不一致"), "{check:?}");
        assert_eq!(
            labels(&describe(Action::VerificationPrint, "other_office")),
            [(AS_STORED, "他の発注機関の照会のため表示していません")]
        );
    }

    #[test]
    fn a_lock_reads_alike_in_its_old_and_new_words() {
        for stored in [
            "not_found 5回/60分 → 30分ロック",
            "該当なし 5回/60分 → 30分ロック",
        ] {
            assert_eq!(
                labels(&describe(Action::Lockout, stored)),
                [("理由", "60分間に該当なしが5回"), ("ロックの長さ", "30分")]
            );
        }
    }

    #[test]
    fn an_export_names_its_filter_by_the_labels_of_its_codes() {
        let stored = r#"{"filter":{"action":"verify","actor":"officer","from":"2025-04-01","office":"440001","outcome":"not_found","target":null,"to":null},"rows":12,"until_seq":345}"#;
        let items = describe(Action::AuditExport, stored);
        assert_eq!(
            one_line(&items),
            "件数: 12件、最後の番号: 345番、条件: 発注機関 440001、期間 2025-04-01～、操作者 officer、操作 照会、結果 該当なし"
        );
        let all = r#"{"filter":{"action":null,"actor":null,"from":null,"office":null,"outcome":null,"target":null,"to":null},"rows":0,"until_seq":1}"#;
        assert_eq!(
            describe(Action::AuditExport, all)[2].value,
            "なし（すべて）"
        );
    }

    #[test]
    fn limits_and_key_files_are_told_in_japanese() {
        assert_eq!(
            labels(&describe(Action::Signin, "limit=address")),
            [("制限", "同じ接続元からの失敗が続いたため")]
        );
        assert_eq!(
            labels(&describe(
                Action::AuditKeyInit,
                "file=/etc/kakunin/audit.key"
            )),
            [("鍵ファイル", "/etc/kakunin/audit.key")]
        );
    }

    /// Japanese sentences, empty details and anything of no known form are kept as
    /// they are: a row is never shown as less than it holds.
    #[test]
    fn other_details_are_kept_as_stored() {
        assert!(describe(Action::Signin, "").is_empty());
        assert_eq!(
            labels(&describe(Action::UserAdd, "役割: 監督者、発注機関: 440001")),
            [(AS_STORED, "役割: 監督者、発注機関: 440001")]
        );
        for (action, odd) in [
            (Action::Verify, r#"{"issuer":"wjcs"}"#),
            (Action::Verify, r#"{"verification":"01J","extra":1}"#),
            (Action::PaperCheck, "verification=01J paper=maybe"),
            (Action::Lockout, "not_found 五回"),
            (Action::AuditExport, "{}"),
        ] {
            assert_eq!(labels(&describe(action, odd)), [(AS_STORED, odd)], "{odd}");
        }
        assert_eq!(
            one_line(&describe(Action::UserAdd, "名称: 本庁")),
            "名称: 本庁"
        );
    }
}
