//! Sign-in names as people type them, for both programs' accounts: the service's staff
//! and the reference issuer's contractors. Typed from paper, often in full width or
//! with Caps Lock on, a login answers to every such spelling of itself.

use unicode_normalization::UnicodeNormalization;

/// The longest login, in characters (ASCII, so also bytes).
pub const MAX: usize = 32;

/// A login as a person typed it: NFKC (full-width `ＢＵＮＧＯ` is `BUNGO`), the blanks
/// around it removed, then ASCII lower case, the form every login is stored in
/// ([`valid`]). Sign-in, account creation and filters read logins through this.
pub fn typed(s: &str) -> String {
    s.nfkc().collect::<String>().trim().to_ascii_lowercase()
}

/// Whether `login` (read by [`typed`]) may name an account: 3 to [`MAX`] lower-case
/// letters, digits, `.`, `-` or `_`.
pub fn valid(login: &str) -> bool {
    (3..=MAX).contains(&login.len())
        && login
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_login_reads_the_same_in_any_width_or_case() {
        for typed in [
            "bungo",
            "BUNGO",
            " Bungo ",
            "ＢＵＮＧＯ",
            "ｂｕｎｇｏ\u{3000}",
        ] {
            assert_eq!(super::typed(typed), "bungo", "{typed:?}");
        }
        assert!(super::valid("officer.1-a_b"));
        for refused in ["ab", "with space", "日本語です", &"a".repeat(33), "Upper"] {
            assert!(!super::valid(refused), "{refused:?}");
        }
    }
}
