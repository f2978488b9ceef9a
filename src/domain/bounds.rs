//! How long each value that reaches storage may be, in one place.
//!
//! Every text a request can put into a table has a bound here; the parsers refuse a
//! longer value with an error naming the field, and [`crate::app::audit::append`] cuts
//! what it stores to these bounds as a last line of defence, so that no request, signed
//! in or not, can grow the permanent audit log by more than a few hundred bytes a row.
//! Lengths are counted in characters (Unicode scalar values), after NFKC where the
//! value is compared that way (the 照合 fields).

use unicode_normalization::UnicodeNormalization;

/// A login: `a-z 0-9 . - _`, 3 to 32 characters (`users::valid_login`).
pub const LOGIN_MAX: usize = kakunin_platform::login::MAX;
/// A person's name (氏名) or an office's name (発注機関名).
pub const NAME_MAX: usize = 100;
/// An office code (発注機関コード).
pub const OFFICE_CODE_MAX: usize = 16;
/// An API token's name.
pub const TOKEN_NAME_MAX: usize = 64;
/// A 照合 text (受注者名, 工事名・業務名), counted after NFKC; the same for the verify
/// form and the API.
pub const EXPECTED_TEXT_MAX: usize = 500;
/// A 案件番号 or 案件名, counted after NFKC (`domain::case`); the same for the verify
/// form, the API and `kakunin batch`.
pub const CASE_TEXT_MAX: usize = 100;
/// A client's `ref`.
pub const REF_MAX: usize = 200;
/// A text filter of the audit log (actor, target), which an export stores in its row.
pub const FILTER_MAX: usize = 200;
/// A verification id asked for by URL (a ULID is 26).
pub const ID_MAX: usize = 64;
/// The user agent kept with an audit row.
pub const USER_AGENT_MAX: usize = 200;
/// An audit row's actor (`user:LOGIN`, `token:NAME`, `cli:USER`).
pub const AUDIT_ACTOR_MAX: usize = 80;
/// An audit row's target.
pub const AUDIT_TARGET_MAX: usize = 200;
/// An audit row's detail (free text or JSON; the longest written today, a verification's
/// with a 200-character `ref`, stays well below).
pub const AUDIT_DETAIL_MAX: usize = 2000;

/// Whether `s` has at most `max` characters.
pub fn fits(s: &str, max: usize) -> bool {
    s.chars().nth(max).is_none()
}

/// A code or login as a person typed it, read as the ASCII it stands for: NFKC (so
/// full-width `４４０００１` is `440001`), blanks around it removed. Office codes, logins
/// and API client names are typed from paper like the 保証契約番号.
pub fn typed_code(s: &str) -> String {
    s.nfkc().collect::<String>().trim().to_owned()
}

/// A login as a person typed it: [`typed_code`], then lower case, since every login is
/// (`users::valid_login`): `OFFICER1` with Caps Lock, or `ＯＦＦＩＣＥＲ１`, is `officer1`.
/// Sign-in, account creation, the CLI's `--login` and the audit log's actor filter read
/// logins through this, so one account answers to whichever case was typed.
pub fn typed_login(s: &str) -> String {
    kakunin_platform::login::typed(s)
}

pub use kakunin_platform::text::{
    escape_invisible, has_control, is_control, typed_text, HasControl,
};

/// Whether `s` has at most `max` characters once NFKC-normalized (NFKC can lengthen a
/// text: `㍻` is `平成`).
pub fn fits_nfkc(s: &str, max: usize) -> bool {
    s.nfkc().nth(max).is_none()
}

/// `s` cut to its first `max` characters.
pub fn cut(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `s` as the audit log keeps a value a request brought (a URL's id, a user agent, a
/// filter): [`escape_invisible`], then cut to `max` characters. NUL, ESC or CR LF in a
/// URL reach the log this way rather than raw, where they would vanish on the
/// supervisor's page, drive a terminal that shows the CSV, or read as a second line;
/// the hash chain covers what is stored.
pub fn audited(s: &str, max: usize) -> String {
    cut(&escape_invisible(s), max).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audited_values_show_what_cannot_be_seen() {
        assert_eq!(audited("01JD3Q", 64), "01JD3Q");
        assert_eq!(audited("a\u{0}b", 64), "a<U+0000>b");
        assert_eq!(audited("\u{1B}[31mRED", 64), "<U+001B>[31mRED");
        assert_eq!(audited("\r\n9999,evil", 64), "<U+000D><U+000A>9999,evil");
        assert_eq!(audited("R8\u{200B}-1\u{2028}", 64), "R8<U+200B>-1<U+2028>");
        assert_eq!(audited("大分県庁", 3), "大分県");
        assert_eq!(audited("\u{0}abc", 5), "<U+00");
    }

    #[test]
    fn bounds_count_characters_not_bytes() {
        assert!(fits("大分県", 3));
        assert!(!fits("大分県庁", 3));
        assert_eq!(cut("大分県庁", 3), "大分県");
        assert_eq!(cut("ab", 3), "ab");
        // ㍻ is one character typed, two compared.
        assert!(fits("㍻", 1));
        assert!(!fits_nfkc("㍻", 1));
    }
}
