//! The two identifier fields as an officer fills them: typed from the key notice, or
//! scanned from its QR code (`issuer-protocol.md` §7) by a scanner that types the QR
//! text into whichever field has focus (usually 保証契約番号) and presses Enter.
//!
//! The form and the API read their fields with [`read_ids`], so a scan works the same
//! on both. The QR text holds the key: nothing here quotes it back, and
//! [`shown_number`] gives what the form may show again in 保証契約番号.

use kakunin_protocol::ids::{AuthKey, CertificateNumber, Field};
use kakunin_protocol::notice::NoticeQr;

/// The identifiers to verify, and, when they came from a scanned QR code, the issuer id
/// it names (which the registry must route the number to).
#[derive(Debug, Clone)]
pub struct Ids {
    pub number: CertificateNumber,
    pub key: AuthKey,
    pub scanned: Option<Scanned>,
}

/// Where a scanned QR text was found, and the issuer it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    pub issuer_id: String,
    pub field: Field,
}

/// A field's error: which field, and the Japanese message (never quoting the field).
pub type FieldError = (Field, String);

/// Reads 保証契約番号 and 認証キー, either of which may hold the QR text.
///
/// With QR text in one field, the other may be left empty or hold the same value
/// (typed, or the same scan twice); a different value is an error on that field, since
/// the officer could not tell which one was verified. Without QR text, both fields are
/// parsed as §1 says. Every field's error is returned, in form order.
pub fn read_ids(number_field: &str, key_field: &str) -> Result<Ids, Vec<FieldError>> {
    let scan =
        |field: Field, text: &str| NoticeQr::recognise(text).map_err(|e| (field, e.to_string()));
    match (
        scan(Field::CertificateNumber, number_field),
        scan(Field::AuthKey, key_field),
    ) {
        (Err(n), Err(k)) => Err(vec![n, k]),
        (Err(e), _) | (_, Err(e)) => Err(vec![e]),
        (Ok(None), Ok(None)) => typed(number_field, key_field),
        (Ok(Some(qr)), Ok(None)) => {
            with_other(qr, Field::CertificateNumber, Field::AuthKey, key_field)
        }
        (Ok(None), Ok(Some(qr))) => {
            with_other(qr, Field::AuthKey, Field::CertificateNumber, number_field)
        }
        (Ok(Some(a)), Ok(Some(b))) if a == b => Ok(from_scan(a, Field::CertificateNumber)),
        (Ok(Some(_)), Ok(Some(_))) => Err(vec![(
            Field::AuthKey,
            "2つの欄に別々のお知らせのQRコードが読み取られました。1枚ずつ照会してください。".into(),
        )]),
    }
}

/// Whether the form carried a key that the officer must give again when the form comes
/// back with an error (the key is never shown again): typed into 認証キー, or inside QR
/// text scanned into 保証契約番号, of which the form shows only the number. A key typed
/// into 保証契約番号 (the two fields swapped) is not counted: that field's own message
/// says what became of it.
pub fn key_given(number_field: &str, key_field: &str) -> bool {
    !key_field.trim().is_empty() || matches!(NoticeQr::recognise(number_field), Ok(Some(_)))
}

/// What the form may show again in 保証契約番号 after an error: the number of scanned
/// QR text (never the text, which holds the key), nothing for unreadable QR text, or
/// what was typed.
pub fn shown_number(number_field: &str) -> String {
    if looks_like_printed_key(number_field) || could_be_key(number_field) {
        return String::new();
    }
    match NoticeQr::recognise(number_field) {
        Ok(None) if holds_key(number_field) => String::new(),
        Ok(None) => number_field.to_owned(),
        Ok(Some(qr)) => qr.certificate_number.to_string(),
        Err(_) => String::new(),
    }
}

/// What the number field says when it holds the key as the notice prints it.
pub const KEY_IN_NUMBER: &str = "保証契約番号の欄に、認証キーの形（XXXX-XXXX-XXXX-XXXX）の値が入力されています。お知らせの「保証契約番号」（例: W2025000123）を入力してください。番号そのものがこの形で印字されているときは、ハイフンを除いて入力してください。";

/// What the number says when it holds the key beside it (pasted together from the
/// notice). The form then shows the field empty ([`shown_number`]); the message quotes
/// nothing of it, on the form and in the API alike.
pub const KEY_BESIDE_NUMBER: &str = "保証契約番号に認証キーも含まれています。保証契約番号（例: W2025000123）だけを入力し、認証キーは別の欄に入力してください。";

/// Whether `text` is written as the notice prints a 認証キー: four groups of four letters
/// and digits (`7KQ2-M9XD-H4T8-RB3N`, full-width or spaced too) that make a valid key.
/// Typed into 保証契約番号 (the two fields swapped), it would pass as a 16-character
/// number, be echoed in messages and stored as the number looked up. 保証契約番号 are
/// not printed so (§1's example is `W2025000123`), so it is refused instead and never
/// shown again; a number that really is printed so passes typed without hyphens, as
/// the message says.
pub fn looks_like_printed_key(text: &str) -> bool {
    use unicode_normalization::UnicodeNormalization;
    let text: String = text.nfkc().collect();
    let groups: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|g| !g.is_empty())
        .collect();
    groups.len() == 4 && groups.iter().all(|g| g.len() == 4) && could_be_key(&groups.concat())
}

/// Whether `text` holds a 認証キー beside other text: the number and the key pasted
/// together from the notice (`W2025000123 7KQ2-M9XD-H4T8-RB3N`, or the notice's labelled
/// lines). Such a field fails as a number, and must not come back in the form or the
/// batch output with the key inside. A key is a run of 16 letters and digits, or four
/// consecutive runs of four, that [`could_be_key`] accepts.
fn holds_key(text: &str) -> bool {
    use unicode_normalization::UnicodeNormalization;
    let text: String = text.nfkc().collect();
    let groups: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|g| !g.is_empty())
        .collect();
    groups.iter().any(|g| g.len() == 16 && could_be_key(g))
        || groups
            .windows(4)
            .any(|w| w.iter().all(|g| g.len() == 4) && could_be_key(&w.concat()))
}

/// Whether `text` reads as a 認証キー (16 symbols of its alphabet once §1's steps are
/// done), whatever else it may be: a 16-character 保証契約番号 typed without hyphens
/// cannot be told from a key, so such a text is not quoted in messages nor shown again
/// in the form after an error.
pub fn could_be_key(text: &str) -> bool {
    AuthKey::parse(text).is_ok()
}

fn typed(number_field: &str, key_field: &str) -> Result<Ids, Vec<FieldError>> {
    if looks_like_printed_key(number_field) {
        let key = AuthKey::parse(key_field).err();
        return Err(
            std::iter::once((Field::CertificateNumber, KEY_IN_NUMBER.to_owned()))
                .chain(key.map(|e| (e.field(), e.to_string())))
                .collect(),
        );
    }
    let number = CertificateNumber::parse(number_field);
    let key = AuthKey::parse(key_field);
    if number.is_err() && holds_key(number_field) {
        return Err(
            std::iter::once((Field::CertificateNumber, KEY_BESIDE_NUMBER.to_owned()))
                .chain(key.err().map(|e| (e.field(), e.to_string())))
                .collect(),
        );
    }
    match (number, key) {
        (Ok(number), Ok(key)) => Ok(Ids {
            number,
            key,
            scanned: None,
        }),
        (number, key) => Err([number.err(), key.err()]
            .into_iter()
            .flatten()
            .map(|e| (e.field(), e.to_string()))
            .collect()),
    }
}

fn from_scan(qr: NoticeQr, field: Field) -> Ids {
    Ids {
        number: qr.certificate_number,
        key: qr.auth_key,
        scanned: Some(Scanned {
            issuer_id: qr.issuer_id,
            field,
        }),
    }
}

/// QR text in `field`; `other` holds what was typed in the other field.
fn with_other(
    qr: NoticeQr,
    field: Field,
    other_field: Field,
    other: &str,
) -> Result<Ids, Vec<FieldError>> {
    if kakunin_protocol::ids::normalize(other).is_empty() {
        return Ok(from_scan(qr, field));
    }
    let agrees = match other_field {
        Field::CertificateNumber => {
            CertificateNumber::parse(other).is_ok_and(|n| n == qr.certificate_number)
        }
        Field::AuthKey => AuthKey::parse(other).is_ok_and(|k| k == qr.auth_key),
    };
    if agrees {
        return Ok(from_scan(qr, field));
    }
    let message = match other_field {
        Field::CertificateNumber => format!(
            "保証契約番号が、読み取ったQRコードの番号（{}）と違います。この欄を空にするか、番号を直してください。",
            qr.certificate_number
        ),
        Field::AuthKey => "認証キーが、読み取ったQRコードの認証キーと違います。この欄を空にするか、キーを直してください。".into(),
    };
    Err(vec![(other_field, message)])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key typed into 保証契約番号 (the fields swapped) is refused there and never
    /// shown again; numbers, even long ones with hyphens, are read as ever.
    #[test]
    fn a_key_in_the_number_field_is_refused_and_not_shown() {
        for swapped in [
            "7KQ2/M9XD/H4T8/RB3N",
            "7KQ2_M9XD_H4T8_RB3N",
            "7KQ2-M9XD-H4T8-RB3N",
            "７ＫＱ２－Ｍ９ＸＤ－Ｈ４Ｔ８－ＲＢ３Ｎ",
            "7kq2 m9xd h4t8 rb3n",
        ] {
            let errors = read_ids(swapped, "7KQ2-M9XD-H4T8-RB3N").unwrap_err();
            assert_eq!(
                errors,
                [(Field::CertificateNumber, KEY_IN_NUMBER.to_owned())]
            );
            assert_eq!(shown_number(swapped), "");
        }
        let errors = read_ids("7KQ2-M9XD-H4T8-RB3N", "").unwrap_err();
        assert_eq!(errors[1].0, Field::AuthKey, "the key field's own error too");
        for number in [
            "W2025000123",
            "W-2025-000123",
            "AB12-CD34-EF56",
            "W202500012345678",
        ] {
            assert!(!looks_like_printed_key(number), "{number}");
            assert!(read_ids(number, "7KQ2-M9XD-H4T8-RB3N").is_ok(), "{number}");
        }
    }

    const QR: &str = "SURETY/1;wjcs;W2025000123;7KQ2M9XDH4T8RB3N";

    #[test]
    fn qr_text_in_either_field_gives_number_key_and_issuer() {
        for (n, k, field) in [
            (QR, "", Field::CertificateNumber),
            ("", QR, Field::AuthKey),
            (
                &format!("{QR}\r\n")[..],
                "7KQ2-M9XD-H4T8-RB3N",
                Field::CertificateNumber,
            ),
            ("ｗ２０２５０００１２３", QR, Field::AuthKey),
            (QR, QR, Field::CertificateNumber),
        ] {
            let ids = read_ids(n, k).unwrap();
            assert_eq!(ids.number.as_str(), "W2025000123");
            assert_eq!(ids.key.expose(), "7KQ2M9XDH4T8RB3N");
            assert_eq!(
                ids.scanned,
                Some(Scanned {
                    issuer_id: "wjcs".into(),
                    field
                })
            );
        }
    }

    #[test]
    fn a_different_value_beside_a_scan_is_refused_without_quoting_the_key() {
        let e = read_ids(QR, "AAAA-AAAA-AAAA-AAAA").unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, Field::AuthKey);
        assert!(!e[0].1.contains("7KQ2"));
        let e = read_ids("W2025000999", QR).unwrap_err();
        assert_eq!(e[0].0, Field::CertificateNumber);
        assert!(e[0].1.contains("W2025000123"));
        let other = "SURETY/1;wjcs;W2025000999;7KQ2M9XDH4T8RB3N";
        assert_eq!(read_ids(QR, other).unwrap_err()[0].0, Field::AuthKey);
    }

    /// The officer reads these on the form: Japanese only, no developer's gloss in
    /// English after them (issue K12).
    #[test]
    fn a_scan_conflict_is_explained_in_japanese_only() {
        let other = "SURETY/1;wjcs;W2025000999;7KQ2M9XDH4T8RB3N";
        for (n, k) in [
            (QR, "AAAA-AAAA-AAAA-AAAA"),
            ("W2025000999", QR),
            (QR, other),
        ] {
            for (_, message) in read_ids(n, k).unwrap_err() {
                assert!(
                    !message.chars().any(|c| c.is_ascii_lowercase()),
                    "{message}"
                );
            }
        }
    }

    #[test]
    fn typed_fields_still_report_each_error() {
        let e = read_ids("W1", "").unwrap_err();
        assert_eq!(
            e.iter().map(|(f, _)| *f).collect::<Vec<_>>(),
            [Field::CertificateNumber, Field::AuthKey]
        );
        assert!(read_ids("W2025000123", "7KQ2M9XDH4T8RB3N")
            .unwrap()
            .scanned
            .is_none());
    }

    /// The number and the key pasted together into 保証契約番号 (from the notice's text)
    /// fail as a number; the form must not show the key again in that field.
    #[test]
    fn a_number_pasted_with_its_key_is_not_shown_again() {
        for pasted in [
            "W2025000123 7KQ2-M9XD-H4T8-RB3N",
            "W2025000123　７ＫＱ２－Ｍ９ＸＤ－Ｈ４Ｔ８－ＲＢ３Ｎ",
            "保証契約番号 W2025000123 認証キー 7KQ2-M9XD-H4T8-RB3N",
            "W2025000123;7KQ2M9XDH4T8RB3N",
        ] {
            let errors = read_ids(pasted, "").unwrap_err();
            assert!(
                errors.contains(&(Field::CertificateNumber, KEY_BESIDE_NUMBER.to_owned())),
                "{pasted}: {errors:?}"
            );
            assert_eq!(shown_number(pasted), "", "{pasted}");
        }
        for typo in ["W2025〇000123", "W-2025-000123", "W20250001234567890"] {
            assert_eq!(shown_number(typo), typo);
        }
    }

    #[test]
    fn the_form_shows_the_number_of_a_scan_never_its_text() {
        assert_eq!(shown_number(QR), "W2025000123");
        assert_eq!(shown_number("SURETY/1;wjcs;W20"), "");
        assert_eq!(shown_number("ｗ２０２５"), "ｗ２０２５");
    }
}
