//! The text of the key notice's QR code (`issuer-protocol.md` §7):
//! `SURETY/1;{issuer.id};{certificate_number};{auth_key}`.
//!
//! One module both programs use: the reference issuer builds the text with
//! [`NoticeQr::text`], the service recognises it with [`NoticeQr::recognise`] when a
//! scanner types it into a field (or an uploaded notice's QR is decoded).
//!
//! A USB or handheld scanner "types" the text through the keyboard layout of the PC,
//! so what arrives may be full-width (an IME left on), carry a trailing newline or
//! tab, or be upper-/lower-cased by Caps Lock. Recognition therefore applies NFKC and
//! drops white space and format characters (§1 step 2: none can be part of any of the
//! four parts), reads the prefix without regard to case, and leaves the number and the
//! key to their own parsers, which normalise as §1 says. Hyphens are not removed from
//! the whole text: an issuer id may contain one.
//!
//! The text holds the 認証キー, so it is a secret like the key: [`NoticeQr`] shows no
//! part of it in `Debug`, and [`NoticeError`] never quotes it.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::ids::{is_invisible, AuthKey, CertificateNumber, IdError};

/// The scheme and version that open the text.
const PREFIX: &str = "SURETY/1";
/// What any version of the scheme starts with, to tell a notice of another version
/// from text that is no notice at all.
const SCHEME: &str = "SURETY/";

/// The three values of a key notice's QR code, each canonical.
#[derive(Clone, PartialEq, Eq)]
pub struct NoticeQr {
    /// The issuer's id in the trust registry (§5), as printed (not normalised beyond
    /// NFKC and dropping white space).
    pub issuer_id: String,
    pub certificate_number: CertificateNumber,
    pub auth_key: AuthKey,
}

/// Text that starts like a key notice's QR but cannot be read. The messages are in
/// Japanese, say how the text should look and never quote it (it holds the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    #[error("読み取ったQRコードは新しい形式のお知らせのものです。保証契約番号と認証キーを手で入力してください。")]
    Version,
    #[error("読み取ったQRコードの内容が欠けています。もう一度読み取るか、保証契約番号と認証キーを手で入力してください。")]
    Shape,
    #[error("読み取ったQRコードの{}が正しくありません。もう一度読み取るか、手で入力してください。", .0.field().label())]
    Id(IdError),
}

impl NoticeQr {
    /// Builds the notice's values (the issuer's side, from its records).
    pub fn new(issuer_id: &str, certificate_number: CertificateNumber, auth_key: AuthKey) -> Self {
        Self {
            issuer_id: issuer_id.to_owned(),
            certificate_number,
            auth_key,
        }
    }

    /// The QR text of §7, e.g. `SURETY/1;wjcs;W2025000123;7KQ2M9XDH4T8RB3N`. It holds the
    /// key in clear: for the QR code only.
    pub fn text(&self) -> String {
        text_of(
            &self.issuer_id,
            self.certificate_number.as_str(),
            &self.auth_key,
        )
    }

    /// Reads `input` as QR text. `Ok(None)`: the input is not QR text at all (an
    /// ordinary typed number or key); `Err`: it starts as QR text (`SURETY/`, in any
    /// case or width) but is not a readable §7 notice of version 1.
    pub fn recognise(input: &str) -> Result<Option<Self>, NoticeError> {
        let text: String = input.nfkc().filter(|c| !is_invisible(*c)).collect();
        let starts = |p: &str| {
            text.get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p))
        };
        if !starts(SCHEME) {
            return Ok(None);
        }
        if !starts(&format!("{PREFIX};")) {
            return Err(NoticeError::Version);
        }
        let parts: Vec<&str> = text[PREFIX.len() + 1..].split(';').collect();
        let [issuer_id, number, key] = parts[..] else {
            return Err(NoticeError::Shape);
        };
        if issuer_id.is_empty() {
            return Err(NoticeError::Shape);
        }
        Ok(Some(Self {
            issuer_id: issuer_id.to_owned(),
            certificate_number: CertificateNumber::parse(number).map_err(NoticeError::Id)?,
            auth_key: AuthKey::parse(key).map_err(NoticeError::Id)?,
        }))
    }
}

/// Shows the issuer and number; the key stays masked, like [`AuthKey`]'s own `Debug`.
impl fmt::Debug for NoticeQr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoticeQr")
            .field("issuer_id", &self.issuer_id)
            .field("certificate_number", &self.certificate_number)
            .field("auth_key", &self.auth_key)
            .finish()
    }
}

/// The QR text of §7 from values an issuer holds: `certificate_number` in canonical
/// form (as stored), the key as parsed. Holds the key in clear: for the QR code only.
pub fn text_of(issuer_id: &str, certificate_number: &str, auth_key: &AuthKey) -> String {
    format!(
        "{PREFIX};{issuer_id};{certificate_number};{}",
        auth_key.expose()
    )
}

/// [`NoticeQr::recognise`] under the name the fuzz target uses.
pub fn parse_notice_qr(input: &str) -> Result<Option<NoticeQr>, NoticeError> {
    NoticeQr::recognise(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TEXT: &str = "SURETY/1;wjcs;W2025000123;7KQ2M9XDH4T8RB3N";

    /// The officer reads these beside the form: Japanese only (issue K12).
    #[test]
    fn every_refusal_is_in_japanese_only() {
        for text in [
            "SURETY/2;wjcs;W2025000123;7KQ2M9XDH4T8RB3N",
            "SURETY/1;wjcs;W2025000123",
            "SURETY/1;wjcs;X1;7KQ2M9XDH4T8RB3N",
            "SURETY/1;wjcs;W2025000123;7KQ2",
        ] {
            let e = NoticeQr::recognise(text).unwrap_err();
            let message = e.to_string();
            assert!(
                !message.chars().any(|c| c.is_ascii_lowercase()),
                "{message}"
            );
        }
    }

    #[test]
    fn builds_and_reads_the_section_7_text() {
        let qr = NoticeQr::recognise(TEXT).unwrap().unwrap();
        assert_eq!(qr.issuer_id, "wjcs");
        assert_eq!(qr.certificate_number.as_str(), "W2025000123");
        assert_eq!(qr.auth_key.expose(), "7KQ2M9XDH4T8RB3N");
        assert_eq!(qr.text(), TEXT);
    }

    #[test]
    fn scanner_typing_through_an_ime_or_caps_lock_is_read() {
        for typed in [
            "ＳＵＲＥＴＹ／１；ｗｊｃｓ；Ｗ２０２５０００１２３；７ＫＱ２Ｍ９ＸＤＨ４Ｔ８ＲＢ３Ｎ\r\n",
            "surety/1;wjcs;w2025000123;7kq2m9xdh4t8rb3n\n",
            "\u{FEFF}SURETY/1;wjcs;W2025000123;7KQ2-M9XD-H4T8-RB3N\t",
        ] {
            let qr = NoticeQr::recognise(typed).unwrap().unwrap();
            assert_eq!(qr.certificate_number.as_str(), "W2025000123");
            assert_eq!(qr.auth_key.expose(), "7KQ2M9XDH4T8RB3N");
        }
    }

    #[test]
    fn ordinary_input_is_not_qr_text() {
        for typed in ["W2025000123", "7KQ2-M9XD-H4T8-RB3N", "", "SURE"] {
            assert_eq!(NoticeQr::recognise(typed).unwrap(), None);
        }
    }

    #[test]
    fn broken_qr_text_is_an_error_that_does_not_quote_it() {
        assert_eq!(
            NoticeQr::recognise("SURETY/2;wjcs;W2025000123;7KQ2M9XDH4T8RB3N").unwrap_err(),
            NoticeError::Version
        );
        assert_eq!(
            NoticeQr::recognise("SURETY/1;wjcs;W2025000123").unwrap_err(),
            NoticeError::Shape
        );
        assert_eq!(
            NoticeQr::recognise("SURETY/1;;W2025000123;7KQ2M9XDH4T8RB3N").unwrap_err(),
            NoticeError::Shape
        );
        let e = NoticeQr::recognise("SURETY/1;wjcs;W2025000123;7KQ2M9XDH4T8RB3U").unwrap_err();
        assert!(matches!(e, NoticeError::Id(IdError::KeyChar)));
        assert!(e.to_string().contains("認証キー"));
        assert!(!e.to_string().contains("7KQ2"));
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let qr = NoticeQr::recognise(TEXT).unwrap().unwrap();
        assert!(!format!("{qr:?}").contains("7KQ2"));
    }

    proptest! {
        #[test]
        fn text_round_trips(key in "[0-9A-HJKMNP-TV-Z]{16}", number in "[A-Z0-9]{6,24}", issuer in "[a-z][a-z0-9-]{0,15}") {
            let qr = NoticeQr::new(&issuer, CertificateNumber::parse(&number).unwrap(), AuthKey::parse(&key).unwrap());
            prop_assert_eq!(NoticeQr::recognise(&qr.text()).unwrap(), Some(qr));
        }

        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = NoticeQr::recognise(&s);
        }
    }
}
