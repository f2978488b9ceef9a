//! The demo's calendar: the [`cases`](super::cases) are written as of [`WRITTEN_ON`], in
//! 令和7年度, and seeding moves every date and time in them forward by the days since
//! then. Seeded on a later day, the demo still shows guarantees that are running on the
//! day it is seeded: with the dates as written, every certificate of `make run` would
//! carry the banner's 注意 「保証期間は…に終わっています」, and a new user would learn to
//! read past 注意.
//!
//! Every date and time moves by the same number of days, so what a case exists to show
//! (a 保証期間 that ends before the 工期, an amendment after the first issue, a
//! 契約保証予約 issued before its contract) is kept, and every time stays in the past:
//! the last event of the cases is on the day before [`WRITTEN_ON`]. One date does not
//! move: a case declared to fail `contract_date` (`rules-oita.md`) exists to show a
//! 当初契約日 before 令和7年4月1日, so its 当初契約日 stays as written.

use chrono::{DateTime, Days, FixedOffset, NaiveDate};
use serde_json::Value;

use super::cases::Case;
use crate::error::IssuerError;

/// The day the cases describe: after their last event (an amendment of 2025-11-20) and
/// before the first end of a 保証期間 of a 確認済み case (2025-12-19).
pub const WRITTEN_ON: NaiveDate = match NaiveDate::from_ymd_opt(2025, 11, 21) {
    Some(d) => d,
    None => panic!("WRITTEN_ON is a date"),
};

/// The members of an issue or amendment file that hold a date (`YYYY-MM-DD`, JST),
/// wherever they are nested.
const DATE_MEMBERS: [&str; 3] = ["contract_date", "period_start", "period_end"];

/// How far the demo's dates move: whole days, never backwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calendar {
    days: Days,
}

impl Calendar {
    /// The calendar of a demo seeded on `today` (JST): the days from [`WRITTEN_ON`] to
    /// `today`, or none when `today` is not later.
    pub fn seeded_on(today: NaiveDate) -> Self {
        let days = (today - WRITTEN_ON).num_days().max(0).unsigned_abs();
        Calendar {
            days: Days::new(days),
        }
    }

    /// A case's time (RFC 3339, as written in `cases.rs`), moved.
    pub fn time(&self, written: &str) -> Result<DateTime<FixedOffset>, IssuerError> {
        DateTime::parse_from_rfc3339(written)
            .ok()
            .and_then(|t| t.checked_add_days(self.days))
            .ok_or_else(|| IssuerError::Input(format!("デモデータの日時「{written}」が不正です")))
    }

    /// The case's `issue` file with its dates moved.
    pub fn issue(&self, case: &Case) -> Result<Value, IssuerError> {
        let mut issue = case.issue_json();
        self.move_dates(case, &mut issue)?;
        Ok(issue)
    }

    /// An `amend` file's content (JSON text, as written in `cases.rs`) with its dates moved.
    pub fn amendment(&self, case: &Case, written: &str) -> Result<Value, IssuerError> {
        let mut change: Value = serde_json::from_str(written).map_err(|e| {
            IssuerError::Input(format!(
                "デモデータ {} の変更が不正です: {e}",
                case.number()
            ))
        })?;
        self.move_dates(case, &mut change)?;
        Ok(change)
    }

    fn move_dates(&self, case: &Case, value: &mut Value) -> Result<(), IssuerError> {
        let keeps_contract_date = case.rules.split(',').any(|r| r.trim() == "contract_date");
        let mut result = Ok(());
        walk(value, &mut |member, text| {
            if member == "contract_date" && keeps_contract_date {
                return;
            }
            match NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.checked_add_days(self.days))
            {
                Some(moved) => *text = moved.format("%Y-%m-%d").to_string(),
                None => {
                    result = Err(IssuerError::Input(format!(
                        "デモデータ {} の「{member}」（{text}）が日付ではありません",
                        case.number()
                    )))
                }
            }
        });
        result
    }
}

/// Calls `f` with every string held by a member named in [`DATE_MEMBERS`].
fn walk(value: &mut Value, f: &mut impl FnMut(&str, &mut String)) {
    match value {
        Value::Object(members) => {
            for (name, v) in members.iter_mut() {
                match v {
                    Value::String(text) if DATE_MEMBERS.contains(&name.as_str()) => f(name, text),
                    other => walk(other, f),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| walk(v, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::cases::{Later, CASES};
    use super::*;

    fn date(v: &Value, path: &[&str]) -> NaiveDate {
        let text = path
            .iter()
            .fold(v, |v, p| &v[p])
            .as_str()
            .unwrap_or_else(|| panic!("{path:?} in {v}"));
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn events(cal: &Calendar, case: &Case) -> Vec<DateTime<FixedOffset>> {
        let mut at = vec![cal.time(case.issued_at).unwrap()];
        for later in case.later {
            let (Later::Amend { at: t, .. } | Later::Cancel { at: t }) = later;
            at.push(cal.time(t).unwrap());
        }
        at
    }

    #[test]
    fn seeded_on_or_before_the_day_written_nothing_moves() {
        for today in [WRITTEN_ON, WRITTEN_ON - Days::new(400)] {
            let cal = Calendar::seeded_on(today);
            for case in &CASES {
                assert_eq!(cal.issue(case).unwrap(), case.issue_json());
                assert_eq!(
                    cal.time(case.issued_at).unwrap(),
                    DateTime::parse_from_rfc3339(case.issued_at).unwrap()
                );
            }
        }
    }

    /// What the calendar is for: seeded any later day, every 確認済み case's 保証期間
    /// is running on that day, and nothing happened after it.
    #[test]
    fn seeded_later_every_verified_guarantee_runs_and_every_event_is_past() {
        for today in ["2025-12-18", "2026-12-02", "2031-02-28"] {
            let today: NaiveDate = today.parse().unwrap();
            let cal = Calendar::seeded_on(today);
            for case in &CASES {
                let issue = cal.issue(case).unwrap();
                let last = *events(&cal, case).iter().max().unwrap();
                assert!(last.date_naive() < today, "{} on {today}", case.number());
                if case.outcome == "verified" {
                    let start = date(&issue, &["guarantee", "period_start"]);
                    let end = date(&issue, &["guarantee", "period_end"]);
                    assert!(
                        start <= today && today <= end,
                        "{} on {today}",
                        case.number()
                    );
                }
            }
        }
    }

    /// Every date moves by the same days, in the file and in its amendments, except the
    /// 当初契約日 of the case that exists to show one before 令和7年4月1日.
    #[test]
    fn every_date_moves_alike_but_a_contract_date_the_case_is_about() {
        let cal = Calendar::seeded_on("2026-12-02".parse().unwrap());
        let days = ("2026-12-02".parse::<NaiveDate>().unwrap() - WRITTEN_ON).num_days();
        let moved = |before: NaiveDate, after: NaiveDate| (after - before).num_days();
        for case in &CASES {
            let (was, now) = (case.issue_json(), cal.issue(case).unwrap());
            for path in [
                ["guarantee", "period_start"],
                ["guarantee", "period_end"],
                ["contract", "period_start"],
                ["contract", "period_end"],
            ] {
                assert_eq!(moved(date(&was, &path), date(&now, &path)), days);
            }
            let contract_date = |v: &Value| date(v, &["contract", "contract_date"]);
            let expected = if case.rules == "contract_date" {
                0
            } else {
                days
            };
            assert_eq!(
                moved(contract_date(&was), contract_date(&now)),
                expected,
                "{}",
                case.number()
            );
            for later in case.later {
                if let Later::Amend { change, .. } = later {
                    let (was, now): (Value, Value) = (
                        serde_json::from_str(change).unwrap(),
                        cal.amendment(case, change).unwrap(),
                    );
                    if let Some(end) = was["contract"].get("period_end") {
                        let end: NaiveDate = end.as_str().unwrap().parse().unwrap();
                        assert_eq!(moved(end, date(&now, &["contract", "period_end"])), days);
                    }
                    assert_eq!(was["summary"], now["summary"], "other members stay");
                }
            }
        }
        let early = CASES.iter().find(|c| c.rules == "contract_date").unwrap();
        assert_eq!(
            date(&cal.issue(early).unwrap(), &["contract", "contract_date"]),
            NaiveDate::from_ymd_opt(2025, 3, 31).unwrap(),
            "still before the profile's effective_from"
        );
    }

    #[test]
    fn a_member_that_is_not_a_date_is_refused_with_its_name() {
        let cal = Calendar::seeded_on("2026-12-02".parse().unwrap());
        let err = cal
            .amendment(&CASES[0], r#"{"guarantee": {"period_end": "R8.3.13"}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("period_end"), "{err}");
    }
}
