//! The key notice PDF (電子証書閲覧用「認証キー」等のお知らせ), issuer protocol §7.
//!
//! One A4 page in Japanese that the contractor prints and hands to the orderer: the
//! issuer, 保証契約番号, 認証キー (in a font that tells `0` from `O`), the guarantee's
//! particulars, and a QR code whose text is [`qr_text`]. The fonts are embedded (krilla
//! subsets them), so the PDF prints the same anywhere.
//!
//! Every string in a [`Notice`] is data from another party. Nothing is interpreted:
//! control characters become spaces, glyphs missing from the font print as the font's
//! `.notdef` box, and over-long values are wrapped and, past a few lines, cut with `…`.
//!
//! This file holds what the notice says; `fonts` finds and measures the faces, `layout`
//! fits untrusted text into a width, and `page` paints it all with krilla.

mod fonts;
mod layout;
mod page;

use std::path::PathBuf;

use chrono::NaiveDate;
use qrcode::{EcLevel, QrCode};

pub use fonts::{NoticeFonts, FONT_ENV};

const TITLE: &str = "電子証書閲覧用「認証キー」等のお知らせ";
/// The bearer-secret warning, one sentence a line.
const BEARER_NOTE: &[&str] = &[
    "このお知らせを持つ人は誰でも電子証書を閲覧できます。",
    "発注機関へ提出する以外に渡さないでください。",
];
const ORDERER_NOTE: &str =
    "発注機関の方へ：保証契約番号と認証キーを閲覧画面に入力するか、QRコードを読み取ってください。";
const INTRO: &[&str] = &[
    "下記の電子証書を閲覧するための保証契約番号と認証キーをお知らせします。",
    "本書を印刷し、発注機関へ提出してください。",
];
const KEY_HINT: &str = "英字の O・I・L・U は使っていません（0 は数字のゼロ、1 は数字のイチです）。";

/// What the key notice shows. All strings are untrusted display data.
pub struct Notice<'a> {
    /// The issuer's id in the trust registry, e.g. `wjcs`.
    pub issuer_id: &'a str,
    /// 保証事業会社の名称, e.g. 西日本建設業保証株式会社.
    pub issuer_name: &'a str,
    /// 保証契約番号, canonical form, e.g. `W2025000123`.
    pub certificate_number: &'a str,
    /// 認証キー.
    pub auth_key: &'a kakunin_protocol::ids::AuthKey,
    /// 保証の種類: 契約保証 / 前払金保証 / ….
    pub kind_label: &'a str,
    /// 工事名／業務名.
    pub title: &'a str,
    /// 発注者.
    pub orderer_name: &'a str,
    /// 受注者.
    pub contractor_name: &'a str,
    /// 発行日.
    pub issued_on: NaiveDate,
}

/// Errors loading the fonts or rendering the notice.
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error("お知らせ用の日本語フォントが見つかりません。試したパス: {}。Debian では `apt-get install {package}` でインストールするか、環境変数 {env} にフォントファイルのパスを指定してください。", list_paths(.tried), package = fonts::FONT_PACKAGE, env = FONT_ENV)]
    FontNotFound { tried: Vec<PathBuf> },
    #[error("フォントファイル {} を読み込めません: {source}", .path.display())]
    FontRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("フォントファイル {} は使えません: {reason}", .path.display())]
    FontInvalid { path: PathBuf, reason: &'static str },
    #[error("QRコードを作成できません: {0}")]
    Qr(#[from] qrcode::types::QrError),
    #[error("PDFを作成できません: {0}")]
    Pdf(String),
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The text of the QR code: `SURETY/1;{issuer_id};{certificate_number};{auth_key}`,
/// built by the module the service reads it with.
pub fn qr_text(n: &Notice) -> String {
    kakunin_protocol::notice::text_of(n.issuer_id, n.certificate_number, n.auth_key)
}

/// Renders the notice as a one-page A4 PDF.
pub fn render(n: &Notice, fonts: &NoticeFonts) -> Result<Vec<u8>, NoticeError> {
    // Encoded first: an identifier too long for any QR version is the caller's error,
    // reported before any PDF work is done.
    let qr = QrCode::with_error_correction_level(qr_text(n).as_bytes(), EcLevel::M)?;
    page::render(n, &qr, fonts)
}

#[cfg(test)]
mod tests {
    use super::fonts::installed_fonts as fonts;
    use super::*;
    use kakunin_protocol::ids::AuthKey;
    use std::path::Path;
    use std::process::Command;

    const NUMBER: &str = "W2025000123";
    const KEY: &str = "7KQ2M9XDH4T8RB3N";

    fn sample<'a>(key: &'a AuthKey) -> Notice<'a> {
        Notice {
            issuer_id: "wjcs",
            issuer_name: "西日本建設業保証株式会社",
            certificate_number: NUMBER,
            auth_key: key,
            kind_label: "前払金保証",
            title: "県道大分臼杵線道路改良工事",
            orderer_name: "大分県",
            contractor_name: "株式会社豊後建設",
            issued_on: NaiveDate::from_ymd_opt(2025, 4, 3).unwrap(),
        }
    }

    /// Runs a poppler or zbar tool; a missing binary fails the test, never skips it.
    fn run(tool: &str, args: &[&std::ffi::OsStr]) -> String {
        let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
            panic!(
                "cannot run `{tool}` ({e}): the key notice tests need poppler-utils \
                 (pdftotext, pdftoppm, pdffonts) and zbar-tools (zbarimg); \
                 `make test` installs them"
            )
        });
        assert!(
            out.status.success(),
            "`{tool}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn write_pdf(dir: &tempfile::TempDir, notice: &Notice) -> PathBuf {
        let pdf = render(notice, &fonts()).expect("render");
        assert!(pdf.starts_with(b"%PDF-"));
        let path = dir.path().join("notice.pdf");
        std::fs::write(&path, pdf).unwrap();
        path
    }

    fn rasterize(pdf: &Path, prefix: &Path) -> PathBuf {
        run(
            "pdftoppm",
            &[
                "-r".as_ref(),
                "150".as_ref(),
                "-png".as_ref(),
                "-singlefile".as_ref(),
                pdf.as_os_str(),
                prefix.as_os_str(),
            ],
        );
        prefix.with_extension("png")
    }

    #[test]
    fn qr_text_is_the_section_7_form() {
        let key = AuthKey::parse(KEY).unwrap();
        assert_eq!(
            qr_text(&sample(&key)),
            "SURETY/1;wjcs;W2025000123;7KQ2M9XDH4T8RB3N"
        );
    }

    #[test]
    fn text_layer_has_number_key_title_orderer_and_issuer() {
        let key = AuthKey::parse(KEY).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pdf = write_pdf(&dir, &sample(&key));
        let text = run(
            "pdftotext",
            &["-layout".as_ref(), pdf.as_os_str(), "-".as_ref()],
        );
        for want in [
            NUMBER,
            "7KQ2-M9XD-H4T8-RB3N",
            TITLE,
            "大分県",
            "西日本建設業保証株式会社",
            "前払金保証",
            "県道大分臼杵線道路改良工事",
            "株式会社豊後建設",
            "令和7年4月3日（2025-04-03）",
            BEARER_NOTE[0],
            BEARER_NOTE[1],
            "発注機関の方へ",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
    }

    #[test]
    fn qr_decodes_to_the_section_7_text() {
        let key = AuthKey::parse(KEY).unwrap();
        let notice = sample(&key);
        let dir = tempfile::tempdir().unwrap();
        let pdf = write_pdf(&dir, &notice);
        let png = rasterize(&pdf, &dir.path().join("page"));
        let decoded = run(
            "zbarimg",
            &["--raw".as_ref(), "-q".as_ref(), png.as_os_str()],
        );
        assert_eq!(decoded.trim_end_matches('\n'), qr_text(&notice));
        // Keep a sample for eyes.
        let _ = std::fs::copy(&png, "/tmp/notice-sample.png");
    }

    #[test]
    fn fonts_are_embedded() {
        let key = AuthKey::parse(KEY).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pdf = write_pdf(&dir, &sample(&key));
        let listing = run("pdffonts", &[pdf.as_os_str()]);
        // name type encoding emb sub uni: the emb column is the third from the end.
        let embedded: Vec<&str> = listing
            .lines()
            .skip(2)
            .filter(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols.len() >= 4 && cols[cols.len() - 3] == "yes"
            })
            .collect();
        assert!(!embedded.is_empty(), "no embedded font:\n{listing}");
        assert!(
            listing.lines().skip(2).all(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols.len() < 4 || cols[cols.len() - 3] == "yes"
            }),
            "a font is not embedded:\n{listing}"
        );
    }

    #[test]
    fn hostile_and_overlong_strings_render() {
        let key = AuthKey::parse(KEY).unwrap();
        let long = "長い工事名".repeat(200);
        let weird = "\u{0}\n\t\u{202E}مرحبا 𠮷野家 🏗️ e\u{301} \u{FFFF}\u{10FFFF}Ｗｉｄｅ ABCDEFGHIJKLMNOPQRSTUVWXYZ".repeat(20);
        let notice = Notice {
            issuer_id: "ｗｊｃｓ;\n",
            issuer_name: &weird,
            certificate_number: "",
            auth_key: &key,
            kind_label: &weird,
            title: &long,
            orderer_name: "",
            contractor_name: &weird,
            issued_on: NaiveDate::from_ymd_opt(1900, 1, 1).unwrap(),
        };
        let pdf = render(&notice, &fonts()).expect("render");
        assert!(pdf.starts_with(b"%PDF-"));
    }

    #[test]
    fn qr_too_long_is_an_error_not_a_panic() {
        let key = AuthKey::parse(KEY).unwrap();
        let id = "x".repeat(4000);
        let mut notice = sample(&key);
        notice.issuer_id = &id;
        assert!(matches!(render(&notice, &fonts()), Err(NoticeError::Qr(_))));
    }
}
