//! Free text as a person typed or pasted it, read the same way by both programs: the
//! service's names, 案件 and 照合 texts, and the issuer's contractor and client names.

use std::borrow::Cow;

use kakunin_protocol::ids::is_format;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// A typed text holds a control character ([`typed_text`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HasControl;

/// A free text as a person typed or pasted it (案件番号・案件名, 照合 texts, 氏名,
/// 発注機関名, 受注者名): trimmed, with its Unicode format characters dropped (zero-width
/// spaces, BOM, bidi overrides, tag characters: invisible, yet `R8\u{200B}-1` and `R8-1`
/// would be two 案件, and U+202E reverses the text after it on every page and printout)
/// and the Hangul fillers, which show as nothing. `Err` when it holds a control character
/// (a line break, a tab, NUL), which would break a CSV cell, a printed line or a message
/// quoting it. A text that reads as nothing ([`is_blank`]: combining marks alone, for
/// one) is empty, for the caller to judge: blank where a name is required.
pub fn typed_text(s: &str) -> Result<String, HasControl> {
    let text: String = s.chars().filter(|c| !is_hidden(*c)).collect();
    let text = text.trim();
    if has_control(text) {
        return Err(HasControl);
    }
    if is_blank(text) {
        return Ok(String::new());
    }
    Ok(text.to_owned())
}

/// A character that takes no room and shows nothing though it is no white space: a
/// format character (general category Cf) or a Hangul filler.
pub fn is_hidden(c: char) -> bool {
    is_format(c) || is_filler(c)
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

/// Whether `s` reads as nothing: white space (U+3000 included), [`is_hidden`]
/// characters and combining marks with nothing to combine with (general categories Mn
/// and Me: U+0301, variation selectors, U+034F), in any number, or nothing at all.
pub fn is_blank(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_whitespace()
            || is_hidden(c)
            || matches!(
                c.general_category(),
                GeneralCategory::NonspacingMark | GeneralCategory::EnclosingMark
            )
    })
}

/// `s` with each control, format or line-separator character written as `<U+XXXX>`,
/// so that a page, a message, a terminal or a CSV shows that something was there
/// instead of obeying it (ESC clears a terminal, U+202E reverses a line); borrowed when
/// there is none.
pub fn escape_invisible(s: &str) -> Cow<'_, str> {
    let hidden = |c: char| is_control(c) || is_format(c);
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut shown = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if hidden(c) {
            shown.push_str(&format!("<U+{:04X}>", u32::from(c)));
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// What keeps a text from being used verbatim, signed into a record or printed as
/// given, as a Japanese phrase to follow the field's name (「受注者名」+ phrase), if
/// anything: a control character (it breaks the printed line and the CSV cell), an
/// [`is_hidden`] character (U+202E reverses what follows it on every page), or, when
/// `required`, nothing that reads ([`is_blank`]). Unlike [`typed_text`] nothing is
/// dropped: the text is refused, naming the character.
pub fn verbatim_problem(text: &str, required: bool) -> Option<String> {
    if let Some(c) = text.chars().find(|c| is_control(*c)) {
        return Some(format!(
            "に改行・タブなどの制御文字（U+{:04X}）があります。1行の文字列で書いてください。",
            u32::from(c)
        ));
    }
    if let Some(c) = text.chars().find(|c| is_hidden(*c)) {
        return Some(format!(
            "に見えない文字（U+{:04X}）があります。取り除いてください。",
            u32::from(c)
        ));
    }
    if required && is_blank(text) {
        return Some("が空です。空白だけでなく、内容を書いてください。".to_owned());
    }
    None
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
        for blank in [
            "",
            " ",
            "\u{3000}\u{3000}",
            "\u{200B}",
            "\u{3164} ",
            "\t\n",
            "\u{301}",
            "\u{3000}\u{301}\u{302}",
            "\u{34F}\u{FE0F}\u{E0100}\u{17B4}",
        ] {
            assert!(is_blank(blank), "{blank:?}");
            assert_eq!(
                typed_text(blank.trim_matches(['\t', '\n'])),
                Ok(String::new()),
                "{blank:?}"
            );
        }
        for text in ["a", "　大分　", "\u{200B}x", "e\u{301}", "ガ"] {
            assert!(!is_blank(text), "{text:?}");
        }
        assert_eq!(typed_text(" e\u{301} "), Ok("e\u{301}".to_owned()));
    }

    #[test]
    fn escaped_text_shows_what_would_be_obeyed() {
        assert_eq!(escape_invisible("title"), "title");
        assert_eq!(escape_invisible("ti\u{1B}[2Jtle"), "ti<U+001B>[2Jtle");
        assert_eq!(escape_invisible("a\u{202E}b\n"), "a<U+202E>b<U+000A>");
    }
}
