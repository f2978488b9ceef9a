//! Which accepted guarantees need a look (`kakunin watch`): given the record an office
//! accepted (its last `verified` verification of a number) and the records it saw of
//! the same number since, the reasons to look at it again.
//!
//! A reason is one of:
//! - a **newer revision** seen since that was not accepted (a later verification of the
//!   office returned a higher revision, and none of them was `verified`: the office
//!   holds an older revision than the issuer's, and the newer one failed a rule);
//! - a **cancellation** (解約・失効): seen since, or in the accepted record itself (a
//!   profile that does not check the status accepts one);
//! - the **guarantee period** (保証期間) ending within the given number of days, today
//!   (Japan time) included. A period that has already ended is not listed: the work is
//!   usually done by then, and a list that never shrinks would stop being read.

use chrono::NaiveDate;

use kakunin_protocol::format::date_ja;
use kakunin_protocol::payload::{Certificate, Status};

/// Why an accepted guarantee needs a look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A later verification returned this higher revision (the highest seen), on this
    /// Japan-time day.
    NewerRevision {
        revision: u32,
        accepted: u32,
        seen_on: NaiveDate,
    },
    /// A later verification's record says 解約・失効, first seen on this day.
    Cancelled { seen_on: NaiveDate },
    /// The guarantee period ends on `end`, `days_left` days from today (0: today).
    PeriodEnds { end: NaiveDate, days_left: i64 },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::NewerRevision {
                revision,
                accepted,
                seen_on,
            } => write!(
                f,
                "{}の照会で新しい版（第{revision}版）が返されました。受理したのは第{accepted}版で、新しい版は確認済みになっていません",
                date_ja(*seen_on)
            ),
            Reason::Cancelled { seen_on } => write!(
                f,
                "{}の照会で解約・失効と記録されています",
                date_ja(*seen_on)
            ),
            Reason::PeriodEnds { end, days_left: 0 } => {
                write!(f, "保証期間は本日{}までです", date_ja(*end))
            }
            Reason::PeriodEnds { end, days_left } => write!(
                f,
                "保証期間は{}までです（あと{days_left}日）",
                date_ja(*end)
            ),
        }
    }
}

/// A record seen after the accepted one, with the Japan-time day it was seen.
pub struct SeenSince<'a> {
    pub seen_on: NaiveDate,
    pub certificate: &'a Certificate,
}

/// The reasons to look at an accepted guarantee again, in the order of the list above;
/// empty when there is none. `accepted_on` is the Japan-time day it was accepted;
/// `later` are the office's records of the same number after it, oldest first.
pub fn reasons(
    accepted: &Certificate,
    accepted_on: NaiveDate,
    later: &[SeenSince<'_>],
    today: NaiveDate,
    days: u32,
) -> Vec<Reason> {
    let mut found = Vec::new();
    let newest = later
        .iter()
        .filter(|s| s.certificate.revision > accepted.revision)
        .fold(None::<&SeenSince<'_>>, |best, s| match best {
            Some(b) if b.certificate.revision >= s.certificate.revision => Some(b),
            _ => Some(s),
        });
    if let Some(s) = newest {
        found.push(Reason::NewerRevision {
            revision: s.certificate.revision,
            accepted: accepted.revision,
            seen_on: s.seen_on,
        });
    }
    let cancelled_on = if accepted.status == Status::Cancelled {
        Some(accepted_on)
    } else {
        later
            .iter()
            .find(|s| s.certificate.status == Status::Cancelled)
            .map(|s| s.seen_on)
    };
    if let Some(seen_on) = cancelled_on {
        found.push(Reason::Cancelled { seen_on });
    }
    let end = accepted.guarantee.period_end;
    let days_left = (end - today).num_days();
    if (0..=i64::from(days)).contains(&days_left) {
        found.push(Reason::PeriodEnds { end, days_left });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(revision: u32, status: Status, end: &str) -> Certificate {
        let mut v: serde_json::Value = serde_json::json!({
            "schema": "surety-certificate/1", "certificate_number": "W2025000001",
            "revision": revision, "status": "active", "kind": "performance",
            "issued_at": "2025-04-10T09:00:00+09:00",
            "issuer": {"id": "wjcs", "name": "西日本建設業保証株式会社"},
            "orderer": {"name": "大分県"}, "contractor": {"name": "株式会社豊後建設"},
            "contract": {"category": "construction", "title": "県道", "contract_date": "2025-04-01", "amount_yen": 1000},
            "guarantee": {"amount_yen": 100, "period_start": "2025-04-01", "period_end": end}
        });
        v["status"] = serde_json::to_value(status).unwrap();
        serde_json::from_value(v).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_period_counts_from_today_both_ends_included_and_an_ended_one_is_not_listed() {
        let accepted = cert(1, Status::Active, "2026-12-31");
        let at = |today, days| reasons(&accepted, day("2026-04-01"), &[], day(today), days);
        assert_eq!(
            at("2026-12-01", 30),
            [Reason::PeriodEnds {
                end: day("2026-12-31"),
                days_left: 30
            }]
        );
        assert!(at("2026-12-01", 29).is_empty());
        assert!(at("2027-01-01", 30).is_empty(), "already ended");
        assert_eq!(
            at("2026-12-31", 0)[0].to_string(),
            "保証期間は本日令和8年12月31日（2026-12-31）までです"
        );
    }

    #[test]
    fn a_newer_revision_and_a_cancellation_seen_since_are_named() {
        let accepted = cert(1, Status::Active, "2030-03-31");
        let (r2, r3) = (
            cert(2, Status::Active, "2030-03-31"),
            cert(3, Status::Cancelled, "2030-03-31"),
        );
        let later = [
            SeenSince {
                seen_on: day("2026-05-01"),
                certificate: &r3,
            },
            SeenSince {
                seen_on: day("2026-06-01"),
                certificate: &r2,
            },
        ];
        let found = reasons(&accepted, day("2026-04-01"), &later, day("2026-12-01"), 30);
        assert_eq!(
            found,
            [
                Reason::NewerRevision {
                    revision: 3,
                    accepted: 1,
                    seen_on: day("2026-05-01")
                },
                Reason::Cancelled {
                    seen_on: day("2026-05-01")
                },
            ]
        );
        assert!(found[0].to_string().contains("第3版"));
        let none = reasons(&accepted, day("2026-04-01"), &[], day("2026-12-01"), 30);
        assert!(none.is_empty());
        let cancelled = cert(1, Status::Cancelled, "2030-03-31");
        assert_eq!(
            reasons(&cancelled, day("2026-04-01"), &[], day("2026-12-01"), 30),
            [Reason::Cancelled {
                seen_on: day("2026-04-01")
            }],
            "an accepted record that is itself cancelled"
        );
    }
}
