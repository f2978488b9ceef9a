//! Uploaded key notices (「電子証書閲覧用『認証キー』等のお知らせ」, `issuer-protocol.md`
//! §7) read into the 保証契約番号 and 認証キー they carry.
//!
//! Formats, told apart by their first bytes (never by the file name):
//! - **PDF**: the text layer (`pdf-extract`) when it holds the QR text or both the
//!   number and the key next to their labels; otherwise the QR code of an image the PDF
//!   embeds (a scanned notice saved as PDF: JPEG or 8-bit grey/RGB images, via `lopdf`).
//! - **PNG, JPEG**: a scan or photo of the paper notice; the QR code is found and decoded
//!   with `rqrr` (a 200 dpi FAX scan turned a few degrees reads).
//!
//! Everything happens in memory on bytes the caller holds; nothing is written or
//! logged. The key is a secret: [`ReadError`] never quotes what was read. Decoding is
//! CPU work of up to a few hundred milliseconds: call it off the async workers.

use std::io::Cursor;

use kakunin_protocol::ids::{AuthKey, CertificateNumber};
use kakunin_protocol::notice::{NoticeError, NoticeQr};
use unicode_normalization::UnicodeNormalization;

/// The largest image (pixels on a side) decoded: an A4 page at 600 dpi fits.
const MAX_SIDE: u32 = 8000;
/// Memory an image decoder may allocate, in bytes.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;
/// Images looked at inside one PDF.
const MAX_PDF_IMAGES: usize = 8;

/// What a notice says: the number and key, and the issuer id when it came from the QR
/// code (the text layer names the issuer only by its name).
#[derive(Debug, Clone)]
pub struct ReadNotice {
    pub number: CertificateNumber,
    pub key: AuthKey,
    pub issuer_id: Option<String>,
}

/// Why a file gave no notice. The messages are Japanese and never quote the contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("PDF・PNG・JPEG のいずれでもありません")]
    Format,
    #[error("ファイルが壊れているか、読み取れない形式です")]
    Damaged,
    #[error("お知らせの保証契約番号と認証キー（またはQRコード）が見つかりません")]
    NotANotice,
    #[error("{0}")]
    Qr(NoticeError),
}

/// Reads one uploaded file.
pub fn read(bytes: &[u8]) -> Result<ReadNotice, ReadError> {
    if bytes.starts_with(b"%PDF-") {
        read_pdf(bytes)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        read_image(bytes, image::ImageFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        read_image(bytes, image::ImageFormat::Jpeg)
    } else {
        Err(ReadError::Format)
    }
}

fn read_pdf(bytes: &[u8]) -> Result<ReadNotice, ReadError> {
    // pdf-extract panics on some malformed files instead of returning an error.
    let text = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(bytes))
        .map_err(|_| ReadError::Damaged)?;
    if let Ok(text) = &text {
        if let Some(found) = from_text(text)? {
            return Ok(found);
        }
    }
    let doc = lopdf::Document::load_mem(bytes).map_err(|_| ReadError::Damaged)?;
    let mut last = ReadError::NotANotice;
    for img in pdf_images(&doc).into_iter().take(MAX_PDF_IMAGES) {
        match from_qr(&img) {
            Ok(found) => return Ok(found),
            Err(e @ ReadError::Qr(_)) => last = e,
            Err(_) => {}
        }
    }
    Err(last)
}

/// The QR text, or 保証契約番号 and 認証キー each after its label, in a PDF's text.
fn from_text(text: &str) -> Result<Option<ReadNotice>, ReadError> {
    let text: String = text.nfkc().collect();
    if let Some(start) = text.find("SURETY/") {
        let line = text[start..].split_whitespace().next().unwrap_or("");
        if let Some(qr) = NoticeQr::recognise(line).map_err(ReadError::Qr)? {
            return Ok(Some(from_notice(qr)));
        }
    }
    let after = |label: &str, parse: &dyn Fn(&str) -> bool| -> Option<String> {
        text.match_indices(label).find_map(|(i, _)| {
            // After NFKC a full-width colon is `:`; the value runs to the first other
            // character (the text layer may put the next label right after it).
            let rest =
                text[i + label.len()..].trim_start_matches(|c: char| c == ':' || c.is_whitespace());
            let token: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            parse(&token).then_some(token)
        })
    };
    let number = after("保証契約番号", &|t| {
        CertificateNumber::parse(t).is_ok()
    });
    let key = after("認証キー", &|t| {
        t.len() >= 16 && AuthKey::parse(t).is_ok()
    });
    match (number, key) {
        (Some(n), Some(k)) => Ok(Some(ReadNotice {
            number: CertificateNumber::parse(&n).map_err(|_| ReadError::NotANotice)?,
            key: AuthKey::parse(&k).map_err(|_| ReadError::NotANotice)?,
            issuer_id: None,
        })),
        _ => Ok(None),
    }
}

fn from_notice(qr: NoticeQr) -> ReadNotice {
    ReadNotice {
        number: qr.certificate_number,
        key: qr.auth_key,
        issuer_id: Some(qr.issuer_id),
    }
}

fn read_image(bytes: &[u8], format: image::ImageFormat) -> Result<ReadNotice, ReadError> {
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|_| ReadError::Damaged)?;
    from_qr(&img.to_luma8())
}

/// Decodes every QR code in `img`; the first that is a notice's wins.
fn from_qr(img: &image::GrayImage) -> Result<ReadNotice, ReadError> {
    let mut prepared = rqrr::PreparedImage::prepare(img.clone());
    let mut last = ReadError::NotANotice;
    for grid in prepared.detect_grids() {
        let Ok((_, content)) = grid.decode() else {
            continue;
        };
        match NoticeQr::recognise(&content) {
            Ok(Some(qr)) => return Ok(from_notice(qr)),
            Ok(None) => {}
            Err(e) => last = ReadError::Qr(e),
        }
    }
    Err(last)
}

/// The images a PDF embeds that can be decoded here, as grey pixels.
fn pdf_images(doc: &lopdf::Document) -> Vec<image::GrayImage> {
    let mut out = Vec::new();
    for object in doc.objects.values() {
        let Ok(stream) = object.as_stream() else {
            continue;
        };
        let dict = &stream.dict;
        let is = |k: &[u8], v: &[u8]| dict.get(k).and_then(|o| o.as_name()).ok() == Some(v);
        if !is(b"Subtype", b"Image") {
            continue;
        }
        let filters = stream.filters().unwrap_or_default();
        let img = if filters.iter().any(|f| f == b"DCTDecode") {
            let mut reader = image::ImageReader::with_format(
                Cursor::new(&stream.content),
                image::ImageFormat::Jpeg,
            );
            let mut limits = image::Limits::default();
            limits.max_image_width = Some(MAX_SIDE);
            limits.max_image_height = Some(MAX_SIDE);
            limits.max_alloc = Some(MAX_ALLOC);
            reader.limits(limits);
            reader.decode().ok().map(|i| i.to_luma8())
        } else {
            raw_image(stream, dict)
        };
        if let Some(img) = img {
            out.push(img);
        }
    }
    out
}

/// An 8-bit DeviceGray or DeviceRGB image (uncompressed or Flate).
fn raw_image(stream: &lopdf::Stream, dict: &lopdf::Dictionary) -> Option<image::GrayImage> {
    let int = |k: &[u8]| dict.get(k).and_then(|o| o.as_i64()).ok();
    let (w, h) = (
        u32::try_from(int(b"Width")?).ok()?,
        u32::try_from(int(b"Height")?).ok()?,
    );
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE || int(b"BitsPerComponent")? != 8 {
        return None;
    }
    let channels = match dict.get(b"ColorSpace").and_then(|o| o.as_name()).ok()? {
        b"DeviceGray" => 1,
        b"DeviceRGB" => 3,
        _ => return None,
    };
    let data = stream.decompressed_content().ok()?;
    let need = w as usize * h as usize * channels;
    if data.len() < need {
        return None;
    }
    if channels == 1 {
        image::GrayImage::from_raw(w, h, data[..need].to_vec())
    } else {
        image::RgbImage::from_raw(w, h, data[..need].to_vec())
            .map(|i| image::DynamicImage::ImageRgb8(i).to_luma8())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_files_are_told_apart_by_their_bytes() {
        assert_eq!(read(b"hello").unwrap_err(), ReadError::Format);
        assert_eq!(
            read(b"\x89PNG\r\n\x1a\nbroken").unwrap_err(),
            ReadError::Damaged
        );
        assert_eq!(read(b"%PDF-1.7 broken").unwrap_err(), ReadError::Damaged);
    }

    #[test]
    fn the_text_layer_gives_number_and_key_after_their_labels() {
        let text = "保証契約番号 W2025000123\n認証キー 7KQ2-M9XD-H4T8-RB3N\n";
        let found = from_text(text).unwrap().unwrap();
        assert_eq!(found.number.as_str(), "W2025000123");
        assert_eq!(found.key.expose(), "7KQ2M9XDH4T8RB3N");
        assert!(found.issuer_id.is_none());
        assert!(from_text("保証契約番号 W2025000123").unwrap().is_none());
        // Labels in running text first, values right after their labels.
        let text = "保証契約番号と認証キーをお知らせします。保証契約番号：W2025000123認証キー\n7KQ2-M9XD-H4T8-RB3N英字の";
        let found = from_text(text).unwrap().unwrap();
        assert_eq!(found.number.as_str(), "W2025000123");
        assert_eq!(found.key.expose(), "7KQ2M9XDH4T8RB3N");
    }

    #[test]
    fn a_qr_code_in_an_image_is_read() {
        let code = qrcode::QrCode::new(b"SURETY/1;wjcs;W2025000123;7KQ2M9XDH4T8RB3N").unwrap();
        let (width, colors) = (code.width() as u32, code.to_colors());
        let (scale, quiet) = (6, 4);
        let side = (width + 2 * quiet) * scale;
        let img = image::GrayImage::from_fn(side, side, |x, y| {
            let (mx, my) = (x / scale, y / scale);
            let dark = (quiet..width + quiet).contains(&mx)
                && (quiet..width + quiet).contains(&my)
                && colors[((my - quiet) * width + mx - quiet) as usize] == qrcode::Color::Dark;
            image::Luma([if dark { 0 } else { 255 }])
        });
        let found = from_qr(&img).unwrap();
        assert_eq!(found.issuer_id.as_deref(), Some("wjcs"));
        assert_eq!(found.key.expose(), "7KQ2M9XDH4T8RB3N");
    }
}
