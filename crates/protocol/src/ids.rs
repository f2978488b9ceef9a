//! The two values an officer types from the key notice: 保証契約番号 and 認証キー.
//!
//! Both can only be built by parsing, which applies the normalization of
//! `issuer-protocol.md` §1, so every other module handles canonical values only.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Crockford base32 alphabet used by the 認証キー.
const CROCKFORD: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Hyphen-like characters removed by normalization (after NFKC, U+FF70 is U+30FC).
const HYPHENS: [char; 10] = [
    '-', '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}', '\u{2015}', '\u{2212}',
    '\u{30FC}', '\u{FF70}',
];

/// Which typed field was wrong; the web form and the API use it to point at the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    CertificateNumber,
    AuthKey,
}

impl Field {
    /// The form and JSON field name.
    pub fn name(self) -> &'static str {
        match self {
            Field::CertificateNumber => "certificate_number",
            Field::AuthKey => "auth_key",
        }
    }

    /// The label printed on the key notice.
    pub fn label(self) -> &'static str {
        match self {
            Field::CertificateNumber => "保証契約番号",
            Field::AuthKey => "認証キー",
        }
    }
}

/// Invalid typed input. The message names the field and the expected form, and never
/// repeats what was typed (for the auth key that would leak a secret). Counts are of
/// what the officer typed: when normalization dropped hyphens or spaces, the message
/// says that it counted without them, so a typed `W-2025` (6 characters) is never
/// called "5文字" without a word of why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{}が入力されていません。", .0.label())]
    Empty(Field),
    #[error("保証契約番号は英大文字と数字で6～24文字です（例: W2025000123）。{}", Counted(*.found, *.dropped))]
    NumberLength {
        /// Letters and digits left after normalization.
        found: usize,
        /// Whether normalization dropped hyphens, spaces or invisible characters.
        dropped: bool,
    },
    #[error("保証契約番号に使えない文字{}があります。英字と数字だけで入力してください（例: W2025000123）。", Shown(*.ch))]
    NumberChar { ch: char },
    #[error("認証キーは英数字16文字です（例: XXXX-XXXX-XXXX-XXXX）。{}", Counted(*.found, *.dropped))]
    KeyLength {
        /// Symbols left after normalization.
        found: usize,
        /// Whether normalization dropped hyphens, spaces or invisible characters.
        dropped: bool,
    },
    #[error("認証キーに使えない文字が含まれています。お知らせに印字された英数字（U は使われません）を入力してください（例: XXXX-XXXX-XXXX-XXXX）。")]
    KeyChar,
}

/// "入力は5文字でした。" or, when normalization dropped characters, what was counted.
struct Counted(usize, bool);

/// A character as a message names it: `「/」`, or `（制御文字 U+0001）` for one that
/// would show as nothing between the brackets.
struct Shown(char);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        if c.is_control() {
            write!(f, "（制御文字 U+{:04X}）", u32::from(c))
        } else if is_format(c) || c.is_whitespace() {
            write!(f, "（見えない文字 U+{:04X}）", u32::from(c))
        } else {
            write!(f, "「{c}」")
        }
    }
}

impl fmt::Display for Counted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Counted(n, false) => write!(f, "入力は{n}文字でした。"),
            Counted(n, true) => write!(f, "ハイフン・空白を除いた英数字は{n}文字でした。"),
        }
    }
}

/// Whether normalization removed characters from `input` (beyond NFKC's own folding):
/// then a count of the normalized form is not the count of what was typed.
fn dropped_any(input: &str, normalized: &str) -> bool {
    input.nfkc().count() != normalized.chars().count()
}

impl IdError {
    pub fn field(&self) -> Field {
        match self {
            IdError::Empty(f) => *f,
            IdError::NumberLength { .. } | IdError::NumberChar { .. } => Field::CertificateNumber,
            IdError::KeyLength { .. } | IdError::KeyChar => Field::AuthKey,
        }
    }
}

/// Steps 1–3 of §1: NFKC; drop white space, Unicode format characters (general
/// category Cf: zero-width spaces and joiners, BOM, soft hyphen, bidi controls, which
/// text pasted from a PDF carries) and hyphen-likes; upper-case ASCII.
///
/// A last NFKC pass keeps the function idempotent: dropping a space can bring a letter
/// and a combining mark together (`a¯` → `a` + U+0304), which NFKC would then compose.
/// Such strings are rejected by both parsers anyway; canonical values are unaffected.
pub fn normalize(input: &str) -> String {
    input
        .nfkc()
        .filter(|c| !is_invisible(*c) && !HYPHENS.contains(c))
        .map(|c| c.to_ascii_uppercase())
        .nfkc()
        .collect()
}

/// White space or a Unicode format character (general category Cf): what step 2 of §1
/// removes besides hyphens. Text typed from paper or pasted from a PDF carries both
/// without anyone seeing them, so every comparison of typed text drops them.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace() || is_format(c)
}

/// A Unicode format character (general category Cf: zero-width spaces and joiners, BOM,
/// soft hyphen, bidi controls, tag characters): invisible, yet it makes two texts that
/// read alike differ, and a bidi control reorders what follows it on screen.
pub fn is_format(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
}

/// A canonical 保証契約番号: `^[A-Z0-9]{6,24}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertificateNumber(String);

impl CertificateNumber {
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let s = normalize(input);
        if s.is_empty() {
            return Err(IdError::Empty(Field::CertificateNumber));
        }
        if let Some(ch) = s
            .chars()
            .find(|c| !c.is_ascii_uppercase() && !c.is_ascii_digit())
        {
            return Err(IdError::NumberChar { ch });
        }
        let n = s.chars().count();
        if !(6..=24).contains(&n) {
            return Err(IdError::NumberLength {
                found: n,
                dropped: dropped_any(input, &s),
            });
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CertificateNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A canonical 認証キー: 16 Crockford base32 symbols. It is a bearer secret, so it is
/// held in a [`SecretString`] (Debug shows `[REDACTED]`, the text is wiped on drop),
/// Display masks it, and only [`AuthKey::expose`] gives the value, for the wire.
#[derive(Clone, Debug)]
pub struct AuthKey(SecretString);

/// Two keys are equal when their canonical forms are.
impl PartialEq for AuthKey {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for AuthKey {}

impl AuthKey {
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let s: String = normalize(input)
            .chars()
            .map(|c| match c {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            })
            .collect();
        if s.is_empty() {
            return Err(IdError::Empty(Field::AuthKey));
        }
        let n = s.chars().count();
        if n != 16 {
            return Err(IdError::KeyLength {
                found: n,
                dropped: dropped_any(input, &s),
            });
        }
        if !s.chars().all(|c| CROCKFORD.contains(c)) {
            return Err(IdError::KeyChar);
        }
        Ok(Self(s.into()))
    }

    /// A fresh key of 80 bits from the OS random source.
    pub fn generate() -> Self {
        use rand_core::{OsRng, RngCore};
        let mut bytes = [0u8; 10];
        OsRng.fill_bytes(&mut bytes);
        let alphabet = CROCKFORD.as_bytes();
        let mut bits: u128 = 0;
        for b in bytes {
            bits = (bits << 8) | u128::from(b);
        }
        let s = (0..16)
            .rev()
            .map(|i| alphabet[((bits >> (i * 5)) & 0x1f) as usize] as char)
            .collect::<String>();
        Self(s.into())
    }

    /// The canonical value, for the lookup request and for keyed hashing only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The printed form `XXXX-XXXX-XXXX-XXXX`, for the key notice.
    pub fn printed(&self) -> String {
        let s = self.expose();
        format!("{}-{}-{}-{}", &s[0..4], &s[4..8], &s[8..12], &s[12..16])
    }
}

impl fmt::Display for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****-****-****-****")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn full_width_number_with_spaces_and_hyphens_is_canonical() {
        let n = CertificateNumber::parse("ｗ２０２５－０００　１２３").unwrap();
        assert_eq!(n.as_str(), "W2025000123");
    }

    #[test]
    fn invisible_characters_pasted_from_a_pdf_are_removed() {
        // Zero-width space, ZWNJ, ZWJ, word joiner, BOM, soft hyphen, LRM, RLO, PDF.
        let number = "\u{FEFF}W2025\u{200B}000\u{00AD}123\u{2060}";
        assert_eq!(
            CertificateNumber::parse(number).unwrap().as_str(),
            "W2025000123"
        );
        let key = "7KQ2\u{200C}M9XD\u{200D}H4T8\u{200E}\u{202E}RB3N\u{202C}";
        assert_eq!(AuthKey::parse(key).unwrap().expose(), "7KQ2M9XDH4T8RB3N");
        assert_eq!(
            CertificateNumber::parse("\u{200B}\u{FEFF}").unwrap_err(),
            IdError::Empty(Field::CertificateNumber)
        );
    }

    #[test]
    fn number_errors_name_the_field_and_the_form() {
        let e = CertificateNumber::parse("W12").unwrap_err();
        assert_eq!(e.field(), Field::CertificateNumber);
        assert!(e.to_string().contains("保証契約番号"));
        assert!(e.to_string().contains("6～24"));
        let e = CertificateNumber::parse("W2025/000123").unwrap_err();
        assert!(matches!(e, IdError::NumberChar { ch: '/' }));
        assert!(e.to_string().contains("使えない文字「/」"), "{e}");
        let e = CertificateNumber::parse("W2025\u{1}000123").unwrap_err();
        assert!(e.to_string().contains("制御文字 U+0001"), "{e}");
        let e = CertificateNumber::parse("W2025\u{7F}000123").unwrap_err();
        assert!(e.to_string().contains("制御文字 U+007F"), "{e}");
        assert_eq!(
            CertificateNumber::parse(" ー ").unwrap_err(),
            IdError::Empty(Field::CertificateNumber)
        );
    }

    #[test]
    fn key_maps_o_i_l_and_accepts_katakana_long_vowel_as_hyphen() {
        let k = AuthKey::parse("7kq2ｰm9xd　h4t8－rb3n").unwrap();
        assert_eq!(k.expose(), "7KQ2M9XDH4T8RB3N");
        let k = AuthKey::parse("OIL0-0000-0000-0000").unwrap();
        assert_eq!(k.expose(), "0110000000000000");
    }

    #[test]
    fn key_errors_do_not_echo_the_key() {
        let e = AuthKey::parse("7KQ2-M9XD-H4T8-RB3U").unwrap_err();
        assert_eq!(e, IdError::KeyChar);
        assert!(!e.to_string().contains("RB3U"));
        assert_eq!(
            AuthKey::parse("7KQ2M9XD").unwrap_err(),
            IdError::KeyLength {
                found: 8,
                dropped: false
            }
        );
    }

    #[test]
    fn counts_in_errors_say_what_was_counted() {
        // Six characters typed, five left once the hyphen is gone: the message must not
        // tell the officer that they typed five.
        let e = CertificateNumber::parse("W-2025").unwrap_err().to_string();
        assert!(e.contains("ハイフン・空白を除いた英数字は5文字"), "{e}");
        let e = CertificateNumber::parse("W2025").unwrap_err().to_string();
        assert!(e.contains("入力は5文字"), "{e}");
        let e = AuthKey::parse("7KQ2-M9XD").unwrap_err().to_string();
        assert!(e.contains("ハイフン・空白を除いた英数字は8文字"), "{e}");
        // Full width is folded, not dropped: ＷＡ１２３ was typed as five characters.
        let e = CertificateNumber::parse("ＷＡ１２３")
            .unwrap_err()
            .to_string();
        assert!(e.contains("入力は5文字"), "{e}");
    }

    #[test]
    fn messages_are_japanese_only() {
        for e in [
            CertificateNumber::parse("").unwrap_err(),
            CertificateNumber::parse("W12").unwrap_err(),
            CertificateNumber::parse("W2025/000123").unwrap_err(),
            AuthKey::parse("7KQ2").unwrap_err(),
            AuthKey::parse("7KQ2-M9XD-H4T8-RB3U").unwrap_err(),
        ] {
            let text = e.to_string();
            assert!(
                !text.contains("must") && !text.contains(e.field().name()),
                "no developer sentence or field code for the officer: {text}"
            );
        }
    }

    #[test]
    fn key_never_shows_itself() {
        let k = AuthKey::parse("7KQ2M9XDH4T8RB3N").unwrap();
        assert!(!format!("{k:?}").contains("7KQ2"));
        assert!(!format!("{k:#?}").contains("7KQ2"));
        assert!(!format!("{k}").contains("7KQ2"));
        assert!(!format!("{:?}", Some(k.clone())).contains("7KQ2"));
        assert_eq!(k.printed(), "7KQ2-M9XD-H4T8-RB3N");
    }

    #[test]
    fn generated_keys_parse_and_differ() {
        let a = AuthKey::generate();
        let b = AuthKey::generate();
        assert_ne!(a, b);
        assert_eq!(AuthKey::parse(a.expose()).unwrap(), a);
    }

    fn to_full_width(s: &str) -> String {
        s.chars()
            .map(|c| match c {
                '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap(),
                ' ' => '\u{3000}',
                c => c,
            })
            .collect()
    }

    proptest! {
        #[test]
        fn normalization_is_idempotent(s in "\\PC{0,40}") {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once.clone());
        }

        #[test]
        fn full_width_equals_half_width(s in "[A-Za-z0-9 -]{0,30}") {
            prop_assert_eq!(normalize(&to_full_width(&s)), normalize(&s));
        }

        #[test]
        fn any_typing_of_a_valid_key_parses_to_it(
            key in "[0-9A-HJKMNP-TV-Z]{16}",
            sep in prop::sample::select(vec!["", "-", " ", "　", "－", "ー", "‐"]),
            lower in any::<bool>(),
            confusable in any::<bool>(),
        ) {
            let canonical = AuthKey::parse(&key).unwrap();
            let mut typed: String = key
                .chars()
                .map(|c| match (confusable, c) {
                    (true, '0') => 'O',
                    (true, '1') => 'l',
                    _ => c,
                })
                .collect();
            if lower { typed = typed.to_lowercase(); }
            let typed = format!("{}{sep}{}{sep}{}{sep}{}", &typed[0..4], &typed[4..8], &typed[8..12], &typed[12..16]);
            prop_assert_eq!(AuthKey::parse(&typed).unwrap(), canonical.clone());
            prop_assert_eq!(AuthKey::parse(&to_full_width(&typed)).unwrap(), canonical);
        }
    }
}
