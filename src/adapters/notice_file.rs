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
//! logged. The key is a secret: [`ReadError`] never quotes what was read.
//!
//! The service reads every file in a child process of its own ([`read_confined`]): the
//! decoders inflate what a file compresses, and a PDF of 1 MiB can hold gigabytes of
//! zeros behind chained filters, which neither `pdf-extract` nor `lopdf` bounds. The
//! child (`kakunin read-notice`, [`child_main`]) runs under resource limits
//! (memory as the caller says, [`CHILD_CPU_SECONDS`], no core file, since its memory holds
//! the key) with an empty environment, at most [`CHILDREN`] at once: a file that asks
//! for more ends its own child and is answered [`ReadError::Demanding`], and the
//! service goes on as before.

use std::io::{Cursor, Read, Write};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
/// Serialized between the service and its reading child ([`read_confined`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ReadError {
    #[error("PDF・PNG・JPEG のいずれでもありません")]
    Format,
    #[error("ファイルが壊れているか、読み取れない形式です")]
    Damaged,
    #[error("お知らせの保証契約番号と認証キー（またはQRコード）が見つかりません")]
    NotANotice,
    /// A QR text that starts as a notice's but cannot be read: the [`NoticeError`]'s
    /// message.
    #[error("{0}")]
    Qr(String),
    /// The file needs more memory or time to read than one notice can (see the module
    /// comment): a decompression bomb, or a scan far beyond an A4 page.
    #[error("読み取りに必要なメモリまたは時間が上限を超えました")]
    Demanding,
    /// The reading child could not be started; the service's log says why.
    #[error("今はファイルを読み取れません")]
    Unavailable,
    /// No reader was free in time (others are reading), or the upload's time was up.
    #[error("読み取りが混み合っています。しばらくしてから、このファイルをもう一度アップロードしてください")]
    Busy,
}

impl From<NoticeError> for ReadError {
    fn from(e: NoticeError) -> Self {
        ReadError::Qr(e.to_string())
    }
}

/// The subcommand of `kakunin` that reads one file for [`read_confined`]; hidden from
/// its help.
pub const CHILD_COMMAND: &str = "read-notice";
/// CPU time the reading child may use (`RLIMIT_CPU`), in seconds: a scan of an A4 page
/// reads in well under one.
pub const CHILD_CPU_SECONDS: u64 = 15;
/// How long a file waits for a free reader before it is answered [`ReadError::Busy`].
const WAIT_FOR_READER: Duration = Duration::from_secs(30);
/// Time the service waits for one child, however busy the host: then it is killed.
const CHILD_WAIT: Duration = Duration::from_secs(60);
/// Reading children at once across the service.
pub const CHILDREN: usize = 2;
static RUNNING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CHILDREN);
/// Bytes of a file the child takes from its input: beyond any upload limit.
const CHILD_INPUT_MAX: u64 = 256 << 20;
/// Bytes of the child's answer the service reads: one line of JSON.
const CHILD_OUTPUT_MAX: u64 = 64 << 10;

/// What the child answers, as one line of JSON on its standard output.
#[derive(Serialize, Deserialize)]
enum Answer {
    Read {
        number: String,
        key: String,
        issuer_id: Option<String>,
    },
    Refused(ReadError),
}

/// Reads `bytes` as [`read`] does, in a child process under limits (module comment) that
/// may hold `memory` bytes (`intake.reader_memory_mib`: the default 1 GiB fits an A4
/// page scanned at 600 dpi in colour, decoded, turned grey and prepared for the QR
/// finder).
pub async fn read_confined(bytes: Vec<u8>, memory: u64) -> Result<ReadNotice, ReadError> {
    let _turn = match tokio::time::timeout(WAIT_FOR_READER, RUNNING.acquire()).await {
        Ok(Ok(turn)) => turn,
        Ok(Err(_)) => return Err(ReadError::Unavailable),
        Err(_) => return Err(ReadError::Busy),
    };
    let exe = std::env::current_exe().map_err(|e| {
        tracing::error!(error = %e, "the program's own path is unknown: no notice can be read");
        ReadError::Unavailable
    })?;
    let mut child = tokio::process::Command::new(exe)
        .arg(CHILD_COMMAND)
        .arg(memory.to_string())
        .env_clear()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            tracing::error!(error = %e, "the notice reader could not be started");
            ReadError::Unavailable
        })?;
    let (Some(mut input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(ReadError::Unavailable);
    };
    let talk = async {
        // A child that dies early closes its input: its exit status tells why.
        let send = async {
            let _ = input.write_all(&bytes).await;
            drop(input);
        };
        let mut answer = Vec::new();
        let mut output = output.take(CHILD_OUTPUT_MAX);
        let receive = output.read_to_end(&mut answer);
        let ((), received) = tokio::join!(send, receive);
        let status = child.wait().await;
        (received, status, answer)
    };
    let Ok((received, status, answer)) = tokio::time::timeout(CHILD_WAIT, talk).await else {
        // Dropping the child kills it (`kill_on_drop`).
        return Err(ReadError::Demanding);
    };
    match status {
        Ok(s) if s.success() && received.is_ok() => {}
        // Killed by its limits (SIGXCPU, SIGKILL) or aborted on an allocation refused.
        Ok(_) => return Err(ReadError::Demanding),
        Err(e) => {
            tracing::error!(error = %e, "the notice reader could not be waited for");
            return Err(ReadError::Unavailable);
        }
    }
    let line = answer.rsplit(|b| *b == b'\n').find(|l| !l.is_empty());
    match line.and_then(|l| serde_json::from_slice::<Answer>(l).ok()) {
        Some(Answer::Read {
            number,
            key,
            issuer_id,
        }) => Ok(ReadNotice {
            number: CertificateNumber::parse(&number).map_err(|_| ReadError::Damaged)?,
            key: AuthKey::parse(&key).map_err(|_| ReadError::Damaged)?,
            issuer_id,
        }),
        Some(Answer::Refused(e)) => Err(e),
        None => Err(ReadError::Damaged),
    }
}

/// The child's side of [`read_confined`]: limits itself to `memory` bytes and
/// [`CHILD_CPU_SECONDS`], reads one file from standard input, answers one line of JSON
/// on standard output. The exit code is 0 whatever the file was; 2 when the limits
/// could not be set (then nothing is read).
pub fn child_main(memory: u64) -> u8 {
    use rlimit::Resource;
    let limited = Resource::CORE
        .set(0, 0)
        .and_then(|()| Resource::DATA.set(memory, memory))
        .and_then(|()| Resource::CPU.set(CHILD_CPU_SECONDS, CHILD_CPU_SECONDS));
    if limited.is_err() {
        return 2;
    }
    let mut bytes = Vec::new();
    if std::io::stdin()
        .take(CHILD_INPUT_MAX)
        .read_to_end(&mut bytes)
        .is_err()
    {
        return 2;
    }
    let answer = match read(&bytes) {
        Ok(n) => Answer::Read {
            number: n.number.as_str().to_owned(),
            key: n.key.expose().to_owned(),
            issuer_id: n.issuer_id,
        },
        Err(e) => Answer::Refused(e),
    };
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut out, &answer)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if written.is_ok() {
        0
    } else {
        2
    }
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
    for img in pdf_images(&doc) {
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
        if let Some(qr) = NoticeQr::recognise(line)? {
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
    let img = limited_reader(bytes, format)
        .decode()
        .map_err(|_| ReadError::Damaged)?;
    from_qr(&img.to_luma8())
}

/// A decoder of `bytes` as `format` that refuses images beyond [`MAX_SIDE`] and
/// allocations beyond [`MAX_ALLOC`]: for uploaded files and the JPEGs inside a PDF.
fn limited_reader(bytes: &[u8], format: image::ImageFormat) -> image::ImageReader<Cursor<&[u8]>> {
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    reader
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
            Err(e) => last = e.into(),
        }
    }
    Err(last)
}

/// The images a PDF embeds that can be decoded here, as grey pixels, each decoded only
/// when the one before held no notice's QR code: at most [`MAX_PDF_IMAGES`] are looked
/// at, and only images of a kind read here count ([`PdfImage::of`]), so that images of
/// other kinds (CCITT, JBIG2, 1-bit, indexed or CMYK) ahead of the QR code cannot hide it.
fn pdf_images(doc: &lopdf::Document) -> impl Iterator<Item = image::GrayImage> + '_ {
    doc.objects
        .values()
        .filter_map(|object| object.as_stream().ok())
        .filter_map(PdfImage::of)
        .take(MAX_PDF_IMAGES)
        .filter_map(PdfImage::decode)
}

/// An image a PDF embeds, of a kind read here.
enum PdfImage<'a> {
    /// `DCTDecode`: the stream is a JPEG file.
    Jpeg(&'a [u8]),
    /// 8-bit DeviceGray (1 channel) or DeviceRGB (3), uncompressed or Flate.
    Raw {
        stream: &'a lopdf::Stream,
        width: u32,
        height: u32,
        channels: usize,
    },
}

impl<'a> PdfImage<'a> {
    /// The image `stream` holds, judged from its dictionary alone (nothing inflated);
    /// `None` for any other stream or kind, or a raw image beyond [`MAX_SIDE`].
    fn of(stream: &'a lopdf::Stream) -> Option<Self> {
        let dict = &stream.dict;
        let name = |k: &[u8]| dict.get(k).and_then(|o| o.as_name()).ok();
        if name(b"Subtype") != Some(b"Image") {
            return None;
        }
        let filters = stream.filters().unwrap_or_default();
        if filters.iter().any(|f| f == b"DCTDecode") {
            return Some(PdfImage::Jpeg(&stream.content));
        }
        let int = |k: &[u8]| dict.get(k).and_then(|o| o.as_i64()).ok();
        let (width, height) = (
            u32::try_from(int(b"Width")?).ok()?,
            u32::try_from(int(b"Height")?).ok()?,
        );
        let sized = (1..=MAX_SIDE).contains(&width) && (1..=MAX_SIDE).contains(&height);
        if !sized || int(b"BitsPerComponent")? != 8 || !filters.iter().all(|f| f == b"FlateDecode")
        {
            return None;
        }
        let channels = match name(b"ColorSpace")? {
            b"DeviceGray" => 1,
            b"DeviceRGB" => 3,
            _ => return None,
        };
        Some(PdfImage::Raw {
            stream,
            width,
            height,
            channels,
        })
    }

    /// The image as grey pixels; `None` when its data does not decode.
    fn decode(self) -> Option<image::GrayImage> {
        match self {
            PdfImage::Jpeg(bytes) => limited_reader(bytes, image::ImageFormat::Jpeg)
                .decode()
                .ok()
                .map(|i| i.to_luma8()),
            PdfImage::Raw {
                stream,
                width,
                height,
                channels,
            } => {
                let data = stream.decompressed_content().ok()?;
                let need = width as usize * height as usize * channels;
                let data = data.get(..need)?.to_vec();
                if channels == 1 {
                    image::GrayImage::from_raw(width, height, data)
                } else {
                    image::RgbImage::from_raw(width, height, data)
                        .map(|i| image::DynamicImage::ImageRgb8(i).to_luma8())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Images of kinds not read here do not count towards the eight looked at.
    #[test]
    fn only_images_of_a_readable_kind_are_candidates() {
        use lopdf::{dictionary, Stream};
        let image = |mut d: lopdf::Dictionary| {
            d.set("Subtype", "Image");
            d.set("Width", 8);
            d.set("Height", 8);
            Stream::new(d, Vec::new())
        };
        let readable = [
            dictionary! {"Filter" => "DCTDecode"},
            dictionary! {"Filter" => "FlateDecode", "BitsPerComponent" => 8, "ColorSpace" => "DeviceGray"},
            dictionary! {"BitsPerComponent" => 8, "ColorSpace" => "DeviceRGB"},
        ];
        let other = [
            dictionary! {"Filter" => "CCITTFaxDecode", "BitsPerComponent" => 1},
            dictionary! {"Filter" => "JBIG2Decode"},
            dictionary! {"Filter" => "FlateDecode", "BitsPerComponent" => 1, "ColorSpace" => "DeviceGray"},
            dictionary! {"Filter" => "FlateDecode", "BitsPerComponent" => 8, "ColorSpace" => "DeviceCMYK"},
        ];
        assert!(readable
            .into_iter()
            .all(|d| PdfImage::of(&image(d)).is_some()));
        assert!(!other.into_iter().any(|d| PdfImage::of(&image(d)).is_some()));
    }

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
