//! How dates and amounts read on screen and paper: 和暦 with 西暦 beside it, yen with separators.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};

/// Era start dates (Gregorian), newest first. 明治 counts from 1868-01-25, the Gregorian
/// date of 慶応4年1月1日, because the era was applied retroactively to that year.
const ERAS: [(&str, i32, u32, u32); 5] = [
    ("令和", 2019, 5, 1),
    ("平成", 1989, 1, 8),
    ("昭和", 1926, 12, 25),
    ("大正", 1912, 7, 30),
    ("明治", 1868, 1, 25),
];

/// `令和7年4月1日`. The first year of an era reads 元年; dates before 明治 fall back to 西暦.
pub fn wareki(d: NaiveDate) -> String {
    let key = (d.year(), d.month(), d.day());
    for (era, y, m, day) in ERAS {
        if key >= (y, m, day) {
            let n = d.year() - y + 1;
            let year = if n == 1 {
                "元".to_string()
            } else {
                n.to_string()
            };
            return format!("{era}{year}年{}月{}日", d.month(), d.day());
        }
    }
    format!("西暦{}年{}月{}日", d.year(), d.month(), d.day())
}

/// `令和7年4月1日（2025-04-01）`: both, so nobody has to convert in their head.
pub fn date_ja(d: NaiveDate) -> String {
    // NaiveDate's Display is `%Y-%m-%d`, without parsing a format string each time.
    format!("{}（{d}）", wareki(d))
}

/// `令和7年4月10日 09:30:12`, in Japan time whatever offset the value carries.
pub fn datetime_ja(dt: DateTime<FixedOffset>) -> String {
    let local = dt.with_timezone(&crate::time::jst());
    format!(
        "{} {}",
        wareki(local.date_naive()),
        local.format("%H:%M:%S")
    )
}

/// The one wave dash of every range on screen and paper: `～` (U+FF5E), the one the
/// specs and the 約款 names (`【R7.4.1～】`) use. Both programs write ranges through
/// [`period_ja`], so the service's and the issuer's certificate views agree.
pub const WAVE_DASH: char = '～';

/// `令和7年4月2日（2025-04-02） ～ 令和8年3月13日（2026-03-13）`; a missing end reads
/// `（記載なし）`.
pub fn period_ja(start: Option<NaiveDate>, end: Option<NaiveDate>) -> String {
    let show = |d: Option<NaiveDate>| d.map_or_else(|| "（記載なし）".to_owned(), date_ja);
    format!("{} {WAVE_DASH} {}", show(start), show(end))
}

/// `123,200,000円`.
pub fn yen(a: i64) -> String {
    yen_wide(i128::from(a))
}

/// Like [`yen`], for bounds computed in i128 that may not fit an i64.
pub fn yen_wide(a: i128) -> String {
    let digits = a.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 4);
    if a < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out.push('円');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn reiwa_begins_on_2019_05_01_with_gannen() {
        assert_eq!(wareki(d(2019, 4, 30)), "平成31年4月30日");
        assert_eq!(wareki(d(2019, 5, 1)), "令和元年5月1日");
        assert_eq!(wareki(d(2019, 12, 31)), "令和元年12月31日");
        assert_eq!(wareki(d(2020, 1, 1)), "令和2年1月1日");
        assert_eq!(wareki(d(2025, 4, 1)), "令和7年4月1日");
    }

    #[test]
    fn earlier_eras_switch_on_their_first_day() {
        assert_eq!(wareki(d(1989, 1, 7)), "昭和64年1月7日");
        assert_eq!(wareki(d(1989, 1, 8)), "平成元年1月8日");
        assert_eq!(wareki(d(1926, 12, 24)), "大正15年12月24日");
        assert_eq!(wareki(d(1926, 12, 25)), "昭和元年12月25日");
        assert_eq!(wareki(d(1912, 7, 29)), "明治45年7月29日");
        assert_eq!(wareki(d(1912, 7, 30)), "大正元年7月30日");
        assert_eq!(wareki(d(1868, 1, 25)), "明治元年1月25日");
    }

    #[test]
    fn dates_before_meiji_are_shown_in_seireki() {
        assert_eq!(wareki(d(1868, 1, 24)), "西暦1868年1月24日");
    }

    #[test]
    fn date_shows_wareki_and_iso_side_by_side() {
        assert_eq!(date_ja(d(2025, 4, 1)), "令和7年4月1日（2025-04-01）");
    }

    #[test]
    fn datetime_is_shown_in_japan_time() {
        let utc = DateTime::parse_from_rfc3339("2025-04-10T00:30:12Z").unwrap();
        assert_eq!(datetime_ja(utc), "令和7年4月10日 09:30:12");
        let late = DateTime::parse_from_rfc3339("2019-04-30T15:00:00Z").unwrap();
        assert_eq!(datetime_ja(late), "令和元年5月1日 00:00:00");
    }

    #[test]
    fn yen_has_thousands_separators() {
        assert_eq!(yen(123_200_000), "123,200,000円");
        assert_eq!(yen(0), "0円");
        assert_eq!(yen(999), "999円");
        assert_eq!(yen(1_000), "1,000円");
        assert_eq!(yen(-1_234_567), "-1,234,567円");
        assert_eq!(yen(i64::MIN), "-9,223,372,036,854,775,808円");
    }
}
