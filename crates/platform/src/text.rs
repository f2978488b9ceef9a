//! Free text as a person typed or pasted it, read the same way by both programs: the
//! service's names, 案件 and 照合 texts, and the issuer's contractor and client names.

use kakunin_protocol::ids::is_format;

/// A typed text holds a control character ([`typed_text`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HasControl;

/// A free text as a person typed or pasted it (案件番号・案件名, 照合 texts, 氏名,
/// 発注機関名, 受注者名): trimmed, with its Unicode format characters dropped (zero-width
/// spaces, BOM, bidi overrides, tag characters: invisible, yet `R8\u{200B}-1` and `R8-1`
/// would be two 案件, and U+202E reverses the text after it on every page and printout)
/// and the Hangul fillers, which show as nothing. `Err` when it holds a control character
/// (a line break, a tab, NUL), which would break a CSV cell, a printed line or a message
/// quoting it. An empty `Ok` is for the caller to judge: blank where a name is required.
pub fn typed_text(s: &str) -> Result<String, HasControl> {
    let text: String = s
        .chars()
        .filter(|c| !is_format(*c) && !is_filler(*c))
        .collect();
    let text = text.trim();
    if has_control(text) {
        return Err(HasControl);
    }
    Ok(text.to_owned())
}

/// A control character (a line break, a tab, NUL, ESC) or one of the line and
/// paragraph separators (U+2028, U+2029), which break a line as a control character
/// does though Unicode does not class them so.
pub fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Whether `s` holds a character of [`is_control`]. Such a text is no stored login,
/// id or filter value; PostgreSQL refuses a NUL in a text parameter with an error, so
/// a lookup or a filter checks this before it asks.
pub fn has_control(s: &str) -> bool {
    s.chars().any(is_control)
}

/// Whether `s` reads as nothing: empty once [`typed_text`] has dropped what cannot be
/// seen and trimmed white space (U+3000 included).
pub fn is_blank(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_whitespace() || is_format(c) || is_filler(c))
}

/// The Hangul fillers, letters that show as nothing: a name of fillers alone would
/// read as blank.
fn is_filler(c: char) -> bool {
    matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_drops_format_characters_and_refuses_controls() {
        for (typed, read) in [
            (" R8\u{200B}-1 ", "R8-1"),
            ("\u{FEFF}大分建設", "大分建設"),
            ("\u{202E}abc\u{2066}", "abc"),
            ("A\u{E0041}B", "AB"),
            ("大分　一郎", "大分　一郎"),
        ] {
            assert_eq!(typed_text(typed), Ok(read.to_owned()), "{typed:?}");
        }
        assert_eq!(
            typed_text("\u{3164}"),
            Ok(String::new()),
            "a filler alone is blank"
        );
        for bad in [
            "a\nb",
            "a\tb",
            "a\u{0}b",
            "\u{7F}",
            "大分\u{2028}太郎",
            "a\u{2029}b",
        ] {
            assert_eq!(typed_text(bad), Err(HasControl), "{bad:?}");
        }
    }

    #[test]
    fn blank_is_what_reads_as_nothing() {
        for blank in ["", " ", "\u{3000}\u{3000}", "\u{200B}", "\u{3164} ", "\t\n"] {
            assert!(is_blank(blank), "{blank:?}");
        }
        for text in ["a", "　大分　", "\u{200B}x"] {
            assert!(!is_blank(text), "{text:?}");
        }
    }
}
