//! Japan time: every date on screen and paper, and every date of the payload
//! (`issuer-protocol.md` §4: "Dates are `YYYY-MM-DD` (Japan time)"), is in JST.

use chrono::{DateTime, FixedOffset, Utc};

/// UTC+09:00. Japan has no daylight saving time, so a fixed offset is exact.
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset")
}

/// The current time in Japan.
pub fn now_jst() -> DateTime<FixedOffset> {
    Utc::now().with_timezone(&jst())
}

/// A stored UTC time (tables keep UTC without an offset) as Japan time.
pub fn utc_to_jst(at: chrono::NaiveDateTime) -> DateTime<FixedOffset> {
    at.and_utc().with_timezone(&jst())
}

/// 00:00 of the Japan-time day `d`, as UTC without an offset: the lower bound of that
/// day in a table that stores UTC.
pub fn jst_day_start_utc(d: chrono::NaiveDate) -> chrono::NaiveDateTime {
    d.and_hms_opt(0, 0, 0).expect("midnight exists") - chrono::Duration::hours(9)
}

/// The Japan-time day of a stored UTC time.
pub fn jst_date_of_utc(at: chrono::NaiveDateTime) -> chrono::NaiveDate {
    utc_to_jst(at).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn a_japan_day_starts_at_15_utc_the_day_before() {
        let d = NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
        let start = jst_day_start_utc(d);
        assert_eq!(start.to_string(), "2025-03-31 15:00:00");
        assert_eq!(jst_date_of_utc(start), d);
        assert_eq!(
            jst_date_of_utc(start - chrono::Duration::seconds(1)),
            d.pred_opt().unwrap()
        );
        assert_eq!(utc_to_jst(start).to_rfc3339(), "2025-04-01T00:00:00+09:00");
    }
}
