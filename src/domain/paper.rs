//! The paper check (印刷物の照合): the QR code on a printed verification and what a
//! person types or scans at the check page (`docs/receipt.md`, "Paper that can be
//! checked").
//!
//! The QR text is `KAKUNIN-RECEIPT/1;{verification id};{receipt digest}`, the digest
//! being SHA-256 of the receipt's exact bytes, base64url without padding (43
//! characters). Neither part is a secret: the id is printed in text beside the code,
//! and the digest only ties the paper to one signed receipt.
//!
//! A scanner types through the PC's keyboard layout, so reading applies NFKC, drops
//! white space and invisible characters, and reads the prefix and the id without regard
//! to case (a ULID is case-insensitive); the digest is case-sensitive and kept as read.

use unicode_normalization::UnicodeNormalization;

use kakunin_protocol::ids::is_invisible;
use kakunin_protocol::notice::NoticeQr;

/// The scheme and version that open the text.
pub const PREFIX: &str = "KAKUNIN-RECEIPT/1";
/// What any version starts with, to tell a newer paper from text that is no paper.
const SCHEME: &str = "KAKUNIN-RECEIPT/";
/// A ULID: 26 characters of Crockford's base32.
const ID_LEN: usize = 26;
/// SHA-256 in base64url without padding.
const DIGEST_LEN: usize = 43;

/// What the check page was given: a verification id, and the receipt digest when the
/// QR text was scanned (or typed whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperRef {
    /// The verification id, upper case as the service writes it.
    pub verification_id: String,
    /// The receipt digest the paper carries; `None` when only the id was typed.
    pub receipt_digest: Option<String>,
}

/// Why the check page cannot read what it was given. The messages never quote the
/// input: it may be an issuer's notice text, which holds an 認証キー.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaperError {
    #[error("照会番号を入力するか、印刷物のQRコードを読み取ってください")]
    Empty,
    #[error("これは保証事業会社のお知らせのQRコードです。照会画面で読み取ってください（印刷物の照合には、本サービスで印刷した確認結果のQRコードを使います）")]
    IssuerNotice,
    #[error("この版の印刷物のQRコードには対応していません")]
    Version,
    #[error(
        "照会番号は英数字26文字です。印刷物の「照会番号」を見直すか、QRコードを読み取ってください"
    )]
    Id,
    #[error("QRコードの内容が正しくありません（読み取りが途中で切れた可能性があります）。もう一度読み取ってください")]
    Shape,
}

/// The QR text of a printed verification.
pub fn qr_text(verification_id: &str, receipt_digest: &str) -> String {
    format!("{PREFIX};{verification_id};{receipt_digest}")
}

/// Reads the check page's one field: QR text, or a verification id alone.
pub fn read(input: &str) -> Result<PaperRef, PaperError> {
    let text: String = input
        .nfkc()
        .filter(|c| !is_invisible(*c) && !c.is_whitespace())
        .collect();
    if text.is_empty() {
        return Err(PaperError::Empty);
    }
    if !matches!(NoticeQr::recognise(&text), Ok(None)) {
        return Err(PaperError::IssuerNotice);
    }
    let starts = |p: &str| {
        text.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    };
    if !starts(SCHEME) {
        return Ok(PaperRef {
            verification_id: id(&text).ok_or(PaperError::Id)?,
            receipt_digest: None,
        });
    }
    if !starts(&format!("{PREFIX};")) {
        return Err(PaperError::Version);
    }
    let parts: Vec<&str> = text[PREFIX.len() + 1..].split(';').collect();
    let [verification_id, digest] = parts[..] else {
        return Err(PaperError::Shape);
    };
    let digest_ok = digest.len() == DIGEST_LEN
        && digest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !digest_ok {
        return Err(PaperError::Shape);
    }
    Ok(PaperRef {
        verification_id: id(verification_id).ok_or(PaperError::Shape)?,
        receipt_digest: Some(digest.to_owned()),
    })
}

/// A ULID in upper case, or `None`.
fn id(s: &str) -> Option<String> {
    let up = s.to_ascii_uppercase();
    let crockford = |c: char| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c));
    (up.chars().count() == ID_LEN && up.chars().all(crockford)).then_some(up)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01JDQ4Z8T5N6V7W8X9Y0ZABCDE";
    const DIGEST: &str = "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg";

    #[test]
    fn the_qr_text_reads_back() {
        let text = qr_text(ID, DIGEST);
        assert_eq!(text.len(), 17 + 1 + 26 + 1 + 43);
        assert_eq!(
            read(&text),
            Ok(PaperRef {
                verification_id: ID.into(),
                receipt_digest: Some(DIGEST.into()),
            })
        );
    }

    #[test]
    fn a_scanner_through_an_ime_still_reads() {
        let wide: String = format!("{}\n", qr_text(&ID.to_lowercase(), DIGEST))
            .chars()
            .map(|c| match c {
                '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap(),
                c => c,
            })
            .collect();
        let read = read(&wide).unwrap();
        assert_eq!(read.verification_id, ID);
        assert_eq!(read.receipt_digest.as_deref(), Some(DIGEST));
    }

    #[test]
    fn an_id_alone_is_a_typed_paper() {
        let r = read(&format!(" {} ", ID.to_lowercase())).unwrap();
        assert_eq!(r.verification_id, ID);
        assert_eq!(r.receipt_digest, None);
    }

    #[test]
    fn other_text_is_refused_without_being_quoted() {
        assert_eq!(read("  "), Err(PaperError::Empty));
        assert_eq!(read("W2025000001"), Err(PaperError::Id));
        assert_eq!(
            read("SURETY/1;wjcs;W2025000001;ABCD-EFGH-JKLM-NPQR"),
            Err(PaperError::IssuerNotice)
        );
        assert_eq!(
            read(&format!("KAKUNIN-RECEIPT/2;{ID};{DIGEST}")),
            Err(PaperError::Version)
        );
        assert_eq!(
            read(&format!("KAKUNIN-RECEIPT/1;{ID};{}", &DIGEST[..40])),
            Err(PaperError::Shape)
        );
        assert_eq!(
            read(&format!("KAKUNIN-RECEIPT/1;{ID}")),
            Err(PaperError::Shape)
        );
        let e = read("SURETY/1;wjcs;W2025000001;ABCD-EFGH-JKLM-NPQR").unwrap_err();
        assert!(!e.to_string().contains("ABCD"));
    }
}
