//! The certificate as a person reads it: labelled rows in the order of a 保証証書.
//!
//! One list feeds the outcome page, the print view and the offline check, so the three
//! never disagree on a label or a format.

use serde::Serialize;

use kakunin_protocol::format::{date_ja, datetime_ja, period_ja, yen};
use kakunin_protocol::payload::Certificate;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Row {
    pub label: &'static str,
    pub value: String,
}

fn period(start: Option<chrono::NaiveDate>, end: Option<chrono::NaiveDate>) -> String {
    match (start, end) {
        (None, None) => "（記載なし）".to_owned(),
        (s, e) => period_ja(s, e),
    }
}

fn or_blank(s: &Option<String>) -> String {
    s.as_deref()
        .map_or_else(|| "（記載なし）".to_owned(), shown)
}

/// An issuer's text as it may be shown: each Unicode format character (general category
/// Cf, [`kakunin_protocol::ids::is_format`]), Hangul filler
/// ([`kakunin_platform::text::is_hidden`]) and control character (ESC, which `kakunin
/// record verify` would otherwise send to the terminal) written out as `〔U+202E〕`; a
/// line break or tab is a space. They are invisible, and a bidi control (U+202E and its kind) would reverse the rest of a cell
/// on screen and on paper, so a signed 受注者 could be read as another; written out,
/// the officer sees that the record holds something odd instead of being misled by it.
/// Everything else is shown as signed (the templates escape it for HTML).
pub fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // §4 does not forbid a line break in a text: a two-line address or 約款
            // reads on one line, as the cell and the printed row have one.
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' | '\t' | '\u{2028}' | '\u{2029}' => out.push(' '),
            c if kakunin_platform::text::is_hidden(c) || kakunin_platform::text::is_control(c) => {
                out.push_str(&format!("〔U+{:04X}〕", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// The rows of the certificate, labels in Japanese, values formatted (和暦, 円).
pub fn certificate_rows(c: &Certificate) -> Vec<Row> {
    let orderer = match &c.orderer.office {
        Some(office) => format!("{} {}", shown(&c.orderer.name), shown(office)),
        None => shown(&c.orderer.name),
    };
    let contractor = [
        c.contractor.address.as_deref(),
        Some(c.contractor.name.as_str()),
        c.contractor.representative.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(shown)
    .collect::<Vec<_>>()
    .join(" ");
    let title_label = match c.contract.category {
        kakunin_protocol::payload::Category::ConstructionConsulting => "業務名",
        _ => "工事名",
    };
    vec![
        Row {
            label: "保証事業会社",
            value: shown(&c.issuer.name),
        },
        Row {
            label: "保証契約番号",
            value: c.certificate_number.clone(),
        },
        Row {
            label: "版",
            value: format!("第{}版（{}）", c.revision, c.status.label()),
        },
        Row {
            label: "保証の種類",
            value: c.kind.label().to_owned(),
        },
        Row {
            label: "発注者",
            value: orderer,
        },
        Row {
            label: "受注者",
            value: contractor,
        },
        Row {
            label: "契約の区分",
            value: c.contract.category.label().to_owned(),
        },
        Row {
            label: title_label,
            value: shown(&c.contract.title),
        },
        Row {
            label: "工事場所",
            value: or_blank(&c.contract.location),
        },
        Row {
            label: "当初契約日",
            value: date_ja(c.contract.contract_date),
        },
        Row {
            label: "工期",
            value: period(c.contract.period_start, c.contract.period_end),
        },
        Row {
            label: "請負代金額",
            value: yen(c.contract.amount_yen),
        },
        Row {
            label: "保証金額",
            value: yen(c.guarantee.amount_yen),
        },
        Row {
            label: "保証期間",
            value: period(Some(c.guarantee.period_start), Some(c.guarantee.period_end)),
        },
        Row {
            label: "約款",
            value: or_blank(&c.contract.terms),
        },
        Row {
            label: "発行日時",
            value: datetime_ja(c.issued_at),
        },
    ]
}

/// 変更履歴 lines: "第2版 令和7年5月1日（2025-05-01） 保証金額の変更".
pub fn change_lines(c: &Certificate) -> Vec<String> {
    c.changes
        .iter()
        .map(|ch| {
            format!(
                "第{}版 {} {}",
                ch.revision,
                date_ja(ch.date),
                shown(&ch.summary)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn format_characters_are_written_out_and_the_rest_is_kept() {
        assert_eq!(
            super::shown("\u{202E}県大分市 株式会社\u{200B}豊後"),
            "〔U+202E〕県大分市 株式会社〔U+200B〕豊後"
        );
        assert_eq!(super::shown("株式会社\u{3164}"), "株式会社〔U+3164〕");
        assert_eq!(super::shown("大分市\u{1B}[2J"), "大分市〔U+001B〕[2J");
        assert_eq!(
            super::shown("大分県大分市\r\n府内町\n1番\u{2028}1号"),
            "大分県大分市 府内町 1番 1号"
        );
        assert_eq!(super::shown("株式会社豊後建設 <b>"), "株式会社豊後建設 <b>");
    }
}
