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

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla::Document;
use qrcode::{EcLevel, QrCode};

/// The environment variable naming the Japanese font file to use.
pub const FONT_ENV: &str = "KAKUNIN_NOTICE_FONT";

/// Japanese fonts tried, in order, when [`FONT_ENV`] is not set.
const JAPANESE_FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
];

/// Fonts for the 認証キー, which must tell `0` from `O`; the Japanese font otherwise.
const KEY_FONT_PATHS: &[&str] = &["/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"];

/// The Debian package that provides the first Japanese font path.
const FONT_PACKAGE: &str = "fonts-ipaexfont-gothic";

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
    pub auth_key: &'a crate::ids::AuthKey,
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
    #[error("お知らせ用の日本語フォントが見つかりません。試したパス: {}。Debian では `apt-get install {package}` でインストールするか、環境変数 {env} にフォントファイルのパスを指定してください。(no Japanese font for the key notice)", list_paths(.tried), package = FONT_PACKAGE, env = FONT_ENV)]
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

/// The fonts of the notice. Load once and share: cloning is cheap.
#[derive(Clone)]
pub struct NoticeFonts {
    japanese: Face,
    key: Face,
}

impl std::fmt::Debug for NoticeFonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoticeFonts")
            .field("japanese", &self.japanese.path)
            .field("key", &self.key.path)
            .finish()
    }
}

impl NoticeFonts {
    /// Finds the Japanese font at `$KAKUNIN_NOTICE_FONT` if set (and then only there),
    /// else at the usual Debian paths (IPAex Gothic first); and DejaVu Sans Mono for the
    /// key, falling back to the Japanese font.
    pub fn load() -> Result<Self, NoticeError> {
        match std::env::var_os(FONT_ENV).filter(|v| !v.is_empty()) {
            Some(path) => Self::load_from(Path::new(&path), None),
            None => {
                // The first path that exists and loads; else the first failure, if any.
                let tried: Vec<PathBuf> = JAPANESE_FONT_PATHS.iter().map(PathBuf::from).collect();
                let mut first_error = None;
                for path in tried.iter().filter(|p| p.is_file()) {
                    match Self::load_from(path, None) {
                        Ok(fonts) => return Ok(fonts),
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
                Err(first_error.unwrap_or(NoticeError::FontNotFound { tried }))
            }
        }
    }

    /// Loads the Japanese font from `japanese` and the key font from `key`, or, when
    /// `key` is `None`, from DejaVu Sans Mono if installed, else the Japanese font.
    pub fn load_from(japanese: &Path, key: Option<&Path>) -> Result<Self, NoticeError> {
        if !japanese.is_file() {
            return Err(NoticeError::FontNotFound {
                tried: vec![japanese.to_path_buf()],
            });
        }
        let japanese = Face::load(japanese)?;
        if !TITLE
            .chars()
            .all(|c| c == '「' || c == '」' || japanese.metrics.has(c))
        {
            return Err(NoticeError::FontInvalid {
                path: japanese.path.clone(),
                reason: "日本語の文字がありません",
            });
        }
        let key = match key {
            Some(path) => Some(Face::load(path)?),
            None => KEY_FONT_PATHS
                .iter()
                .map(Path::new)
                .filter(|p| p.is_file())
                .find_map(|p| Face::load(p).ok()),
        };
        let key = match key {
            Some(face) if key_chars().all(|c| face.metrics.has(c)) => face,
            _ => japanese.clone(),
        };
        Ok(Self { japanese, key })
    }

    /// The path of the Japanese font in use.
    pub fn japanese_path(&self) -> &Path {
        &self.japanese.path
    }

    /// The path of the font the key is printed in.
    pub fn key_path(&self) -> &Path {
        &self.key.path
    }
}

fn key_chars() -> impl Iterator<Item = char> {
    ('0'..='9').chain('A'..='Z').chain(['-'])
}

/// One loaded font: krilla's handle for drawing, our metrics for measuring.
#[derive(Clone)]
struct Face {
    path: PathBuf,
    font: Font,
    metrics: Arc<Metrics>,
}

impl Face {
    fn load(path: &Path) -> Result<Self, NoticeError> {
        let bytes = std::fs::read(path).map_err(|source| NoticeError::FontRead {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |reason| NoticeError::FontInvalid {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = Arc::new(bytes);
        let metrics = Metrics::parse(bytes.clone())
            .ok_or_else(|| invalid("OpenType/TrueType として読めません"))?;
        let font = Font::new(bytes.into(), 0).ok_or_else(|| invalid("PDFに埋め込めません"))?;
        Ok(Self {
            path: path.to_path_buf(),
            font,
            metrics: Arc::new(metrics),
        })
    }

    /// Width of `text` in points at `size`.
    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.metrics.advance(c)).sum::<f32>() * size
    }
}

/// The text of the QR code: `SURETY/1;{issuer_id};{certificate_number};{auth_key}`.
pub fn qr_text(n: &Notice) -> String {
    format!(
        "SURETY/1;{};{};{}",
        n.issuer_id,
        n.certificate_number,
        n.auth_key.expose()
    )
}

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 56.7; // 20 mm
const RIGHT: f32 = PAGE_W - MARGIN;
const CONTENT_W: f32 = RIGHT - MARGIN;

/// Renders the notice as a one-page A4 PDF.
pub fn render(n: &Notice, fonts: &NoticeFonts) -> Result<Vec<u8>, NoticeError> {
    let qr = QrCode::with_error_correction_level(qr_text(n).as_bytes(), EcLevel::M)?;

    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(TITLE.to_string())
            .language("ja".to_string())
            .creator("kakunin".to_string()),
    );
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
        .ok_or_else(|| NoticeError::Pdf("invalid page size".into()))?;
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();
    let mut p = Painter {
        s: &mut surface,
        jp: &fonts.japanese,
        key: &fonts.key,
    };

    // Title and rule.
    let title_size = 17.0;
    let w = p.jp.width(TITLE, title_size);
    p.text(p.jp, (PAGE_W - w) / 2.0, 82.0, title_size, TITLE);
    p.fill_rect(MARGIN, 94.0, CONTENT_W, 1.2, 0);
    p.fill_rect(MARGIN, 97.0, CONTENT_W, 0.4, 0);

    // Date and issuer, right-aligned.
    let date = format!("発行日　{}", japanese_date(n.issued_on));
    p.text_right(p.jp, RIGHT, 124.0, 10.5, &date);
    let issuer = fit_line(p.jp, &clean(n.issuer_name), 12.0, CONTENT_W * 0.75);
    p.text_right(p.jp, RIGHT, 144.0, 12.0, &issuer);

    // Introduction.
    let mut y = 174.0;
    for line in INTRO.iter().flat_map(|s| wrap(p.jp, s, 10.5, CONTENT_W, 2)) {
        p.text(p.jp, MARGIN, y, 10.5, &line);
        y += 16.0;
    }

    // The key box: number and key on the left, QR code on the right.
    let box_top = y + 4.0;
    let box_h = 156.0;
    let qr_size = 136.0;
    p.stroke_rect(MARGIN, box_top, CONTENT_W, box_h, 1.0);
    let qr_x = RIGHT - 10.0 - qr_size;
    let qr_y = box_top + (box_h - qr_size) / 2.0;
    p.qr(&qr, qr_x, qr_y, qr_size);
    let inner_x = MARGIN + 16.0;
    let inner_w = qr_x - 12.0 - inner_x;

    p.text(
        p.jp,
        inner_x,
        box_top + 24.0,
        10.0,
        crate::ids::Field::CertificateNumber.label(),
    );
    let number = clean(n.certificate_number);
    let size = fit_size(p.key, &number, 18.0, inner_w);
    p.text(p.key, inner_x, box_top + 50.0, size, &number);

    p.text(
        p.jp,
        inner_x,
        box_top + 80.0,
        10.0,
        crate::ids::Field::AuthKey.label(),
    );
    let key = n.auth_key.printed();
    let size = fit_size(p.key, &key, 26.0, inner_w);
    p.text(p.key, inner_x, box_top + 114.0, size, &key);
    let hint_size = fit_size(p.jp, KEY_HINT, 8.0, inner_w);
    p.text_gray(p.jp, inner_x, box_top + 138.0, hint_size, KEY_HINT, 80);

    // Particulars.
    y = box_top + box_h + 22.0;
    p.text(p.jp, MARGIN, y, 11.0, "記");
    y += 10.0;
    let rows: [(&str, &str, usize); 4] = [
        ("保証の種類", n.kind_label, 2),
        ("工事名／業務名", n.title, 4),
        ("発注者", n.orderer_name, 2),
        ("受注者", n.contractor_name, 2),
    ];
    let label_w = 112.0;
    let value_x = MARGIN + label_w + 10.0;
    let value_w = RIGHT - 10.0 - value_x;
    let (size, leading, pad) = (10.5, 16.0, 7.0);
    p.fill_rect(MARGIN, y, CONTENT_W, 0.8, 0);
    for (label, value, max_lines) in rows {
        let lines = wrap(p.jp, &clean(value), size, value_w, max_lines);
        let h = lines.len().max(1) as f32 * leading + 2.0 * pad;
        p.fill_rect(MARGIN, y + 0.4, label_w, h - 0.8, 235);
        p.text(p.jp, MARGIN + 8.0, y + pad + 12.0, size, label);
        for (i, line) in lines.iter().enumerate() {
            p.text(
                p.jp,
                value_x,
                y + pad + 12.0 + i as f32 * leading,
                size,
                line,
            );
        }
        y += h;
        p.fill_rect(MARGIN, y - 0.4, CONTENT_W, 0.8, 0);
    }

    // The bearer-secret warning, boxed.
    y += 22.0;
    let warn: Vec<String> = BEARER_NOTE
        .iter()
        .flat_map(|s| wrap(p.jp, s, 10.5, CONTENT_W - 28.0, 2))
        .collect();
    let warn_h = 30.0 + warn.len() as f32 * 16.0;
    p.stroke_rect(MARGIN, y, CONTENT_W, warn_h, 1.6);
    p.text(p.jp, MARGIN + 14.0, y + 20.0, 11.0, "【ご注意】");
    for (i, line) in warn.iter().enumerate() {
        p.text(p.jp, MARGIN + 14.0, y + 38.0 + i as f32 * 16.0, 10.5, line);
    }
    y += warn_h + 24.0;

    // One line for the orderer.
    for line in wrap(p.jp, ORDERER_NOTE, 10.0, CONTENT_W, 2) {
        p.text(p.jp, MARGIN, y, 10.0, &line);
        y += 15.0;
    }

    // Footer.
    p.fill_rect(MARGIN, PAGE_H - 62.0, CONTENT_W, 0.4, 120);
    let footer = fit_line(p.jp, &clean(n.issuer_name), 8.5, CONTENT_W * 0.6);
    p.text_gray(p.jp, MARGIN, PAGE_H - 48.0, 8.5, &footer, 90);
    let number = fit_line(p.key, &number, 8.5, CONTENT_W * 0.35);
    let w = p.key.width(&number, 8.5);
    p.text_gray(p.key, RIGHT - w, PAGE_H - 48.0, 8.5, &number, 90);

    surface.finish();
    page.finish();
    document
        .finish()
        .map_err(|e| NoticeError::Pdf(e.to_string()))
}

/// Drawing helpers over a krilla surface, y pointing down, text at its baseline.
struct Painter<'s, 'a, 'f> {
    s: &'s mut Surface<'a>,
    jp: &'f Face,
    key: &'f Face,
}

impl Painter<'_, '_, '_> {
    fn text(&mut self, face: &Face, x: f32, y: f32, size: f32, text: &str) {
        self.text_gray(face, x, y, size, text, 0);
    }

    fn text_gray(&mut self, face: &Face, x: f32, y: f32, size: f32, text: &str, gray: u8) {
        if text.is_empty() {
            return;
        }
        self.s.set_fill(Some(gray_fill(gray)));
        self.s.set_stroke(None);
        self.s.draw_text(
            Point::from_xy(x, y),
            face.font.clone(),
            size,
            text,
            false,
            // Always left to right: a value must not reorder what is printed around it.
            TextDirection::LeftToRight,
        );
    }

    fn text_right(&mut self, face: &Face, right: f32, y: f32, size: f32, text: &str) {
        let w = face.width(text, size);
        self.text(face, right - w, y, size, text);
    }

    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, gray: u8) {
        let Some(rect) = Rect::from_xywh(x, y, w, h) else {
            return;
        };
        let mut pb = PathBuilder::new();
        pb.push_rect(rect);
        if let Some(path) = pb.finish() {
            self.s.set_stroke(None);
            self.s.set_fill(Some(gray_fill(gray)));
            self.s.draw_path(&path);
        }
    }

    fn stroke_rect(&mut self, x: f32, y: f32, w: f32, h: f32, width: f32) {
        let Some(rect) = Rect::from_xywh(x, y, w, h) else {
            return;
        };
        let mut pb = PathBuilder::new();
        pb.push_rect(rect);
        if let Some(path) = pb.finish() {
            self.s.set_fill(None);
            self.s.set_stroke(Some(Stroke {
                width,
                ..Stroke::default()
            }));
            self.s.draw_path(&path);
            self.s.set_stroke(None);
        }
    }

    /// The QR code in a `size`-point square, including a white 4-module quiet zone.
    /// Dark modules are drawn as one filled rectangle per horizontal run.
    fn qr(&mut self, qr: &QrCode, x: f32, y: f32, size: f32) {
        const QUIET: usize = 4;
        let n = qr.width();
        let module = size / (n + 2 * QUIET) as f32;
        self.fill_rect(x, y, size, size, 255);
        let colors = qr.to_colors();
        let mut pb = PathBuilder::new();
        for (row, cells) in colors.chunks(n).enumerate() {
            let mut col = 0;
            while col < n {
                if cells[col] != qrcode::Color::Dark {
                    col += 1;
                    continue;
                }
                let start = col;
                while col < n && cells[col] == qrcode::Color::Dark {
                    col += 1;
                }
                if let Some(rect) = Rect::from_xywh(
                    x + (QUIET + start) as f32 * module,
                    y + (QUIET + row) as f32 * module,
                    (col - start) as f32 * module,
                    module,
                ) {
                    pb.push_rect(rect);
                }
            }
        }
        if let Some(path) = pb.finish() {
            self.s.set_stroke(None);
            self.s.set_fill(Some(Fill {
                rule: FillRule::NonZero,
                ..gray_fill(0)
            }));
            self.s.draw_path(&path);
        }
    }
}

fn gray_fill(gray: u8) -> Fill {
    Fill {
        paint: luma::Color::new(gray).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

/// Bidirectional formatting characters (embeddings, overrides, isolates, marks).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Untrusted text made printable on one line: control characters become spaces, runs
/// of white space collapse, ends are trimmed, bidirectional controls are dropped.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars().filter(|&c| !is_bidi_control(c)) {
        if c.is_control() || c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    out
}

/// The largest size up to `max` at which `text` fits in `width` (at least 6 pt).
fn fit_size(face: &Face, text: &str, max: f32, width: f32) -> f32 {
    let w = face.width(text, max);
    if w <= width {
        max
    } else {
        (max * width / w).max(6.0)
    }
}

/// `text` on one line, cut with `…` if it does not fit.
fn fit_line(face: &Face, text: &str, size: f32, width: f32) -> String {
    wrap(face, text, size, width, 1).pop().unwrap_or_default()
}

/// Closing punctuation that may hang past the right edge rather than start a line.
const HANGING: &str = "、。，．,.）」』】〕〉》！？!?ー";

/// Greedy line breaking: anywhere between CJK characters, at spaces within Latin
/// words; at most `max_lines` lines, the last cut with `…` if the text is longer.
fn wrap(face: &Face, text: &str, size: f32, width: f32, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<Vec<char>> = Vec::new();
    let mut line: Vec<char> = Vec::new();
    let mut line_w = 0.0;
    for c in text.chars() {
        let cw = face.metrics.advance(c) * size;
        if line.is_empty() && c == ' ' {
            continue;
        }
        if line_w + cw > width && !line.is_empty() && !HANGING.contains(c) {
            // Carry a trailing Latin word to the next line if there is a space before it.
            let mut carry = Vec::new();
            if c.is_ascii_alphanumeric() {
                if let Some(sp) = line.iter().rposition(|&ch| ch == ' ') {
                    if sp > 0 && line[sp + 1..].iter().all(|ch| ch.is_ascii_graphic()) {
                        carry = line.split_off(sp + 1);
                        line.pop();
                    }
                }
            }
            lines.push(std::mem::take(&mut line));
            line = carry;
            line_w = line.iter().map(|&ch| face.metrics.advance(ch) * size).sum();
            if c == ' ' {
                continue;
            }
        }
        line.push(c);
        line_w += cw;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if max_lines > 0 && lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            let ell = face.metrics.advance('…') * size;
            while !last.is_empty()
                && last
                    .iter()
                    .map(|&ch| face.metrics.advance(ch) * size)
                    .sum::<f32>()
                    + ell
                    > width
            {
                last.pop();
            }
            last.push('…');
        }
    }
    lines.into_iter().map(|l| l.into_iter().collect()).collect()
}

/// 和暦 with the 西暦 in parentheses, e.g. 令和7年4月3日（2025年4月3日）.
fn japanese_date(d: NaiveDate) -> String {
    let western = format!("{}年{}月{}日", d.year(), d.month(), d.day());
    let era = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
    let (name, base) = if Some(d) >= era(2019, 5, 1) {
        ("令和", 2018)
    } else if Some(d) >= era(1989, 1, 8) {
        ("平成", 1988)
    } else if Some(d) >= era(1926, 12, 25) {
        ("昭和", 1925)
    } else {
        return western;
    };
    let year = d.year() - base;
    let year = if year == 1 {
        "元".to_string()
    } else {
        year.to_string()
    };
    format!("{name}{year}年{}月{}日（{western}）", d.month(), d.day())
}

/// Just enough of an OpenType font to measure text: `cmap` (formats 4 and 12),
/// `hmtx`, `head`. Every read is bounds-checked; unknown characters measure as the
/// `.notdef` glyph, as krilla draws them.
struct Metrics {
    data: Arc<Vec<u8>>,
    units_per_em: f32,
    hmtx: usize,
    num_h_metrics: usize,
    cmap: Cmap,
}

enum Cmap {
    Format4 { offset: usize, seg_count: usize },
    Format12 { offset: usize, groups: usize },
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(
        d.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        d.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

impl Metrics {
    fn parse(data: Arc<Vec<u8>>) -> Option<Self> {
        let d = data.as_slice();
        // A collection: use its first font, as krilla does with index 0.
        let font = if d.get(0..4)? == b"ttcf" {
            u32_at(d, 12)? as usize
        } else {
            0
        };
        let num_tables = u16_at(d, font + 4)? as usize;
        let table = |tag: &[u8; 4]| -> Option<usize> {
            (0..num_tables).find_map(|i| {
                let rec = font + 12 + 16 * i;
                (d.get(rec..rec + 4)? == tag).then(|| u32_at(d, rec + 8).map(|o| o as usize))?
            })
        };
        let units_per_em = u16_at(d, table(b"head")? + 18)?;
        let num_h_metrics = u16_at(d, table(b"hhea")? + 34)? as usize;
        let hmtx = table(b"hmtx")?;
        let cmap_at = table(b"cmap")?;
        let mut best: Option<Cmap> = None;
        for i in 0..u16_at(d, cmap_at + 2)? as usize {
            let rec = cmap_at + 4 + 8 * i;
            let (platform, encoding) = (u16_at(d, rec)?, u16_at(d, rec + 2)?);
            let offset = cmap_at + u32_at(d, rec + 4)? as usize;
            let unicode = platform == 0 || (platform == 3 && (encoding == 1 || encoding == 10));
            if !unicode {
                continue;
            }
            match u16_at(d, offset)? {
                12 => {
                    let groups = u32_at(d, offset + 12)? as usize;
                    best = Some(Cmap::Format12 { offset, groups });
                }
                4 if best.is_none() => {
                    let seg_count = u16_at(d, offset + 6)? as usize / 2;
                    best = Some(Cmap::Format4 { offset, seg_count });
                }
                _ => {}
            }
        }
        if units_per_em == 0 || num_h_metrics == 0 {
            return None;
        }
        Some(Self {
            units_per_em: f32::from(units_per_em),
            hmtx,
            num_h_metrics,
            cmap: best?,
            data,
        })
    }

    fn glyph(&self, c: char) -> u32 {
        self.lookup(u32::from(c)).unwrap_or(0)
    }

    fn has(&self, c: char) -> bool {
        self.glyph(c) != 0
    }

    fn lookup(&self, cp: u32) -> Option<u32> {
        let d = self.data.as_slice();
        match self.cmap {
            Cmap::Format12 { offset, groups } => {
                let (mut lo, mut hi) = (0, groups);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    let g = offset + 16 + 12 * mid;
                    let (start, end) = (u32_at(d, g)?, u32_at(d, g + 4)?);
                    if cp < start {
                        hi = mid;
                    } else if cp > end {
                        lo = mid + 1;
                    } else {
                        return u32_at(d, g + 8)?.checked_add(cp - start);
                    }
                }
                None
            }
            Cmap::Format4 { offset, seg_count } => {
                let cp = u16::try_from(cp).ok()?;
                let ends = offset + 14;
                let starts = ends + 2 * seg_count + 2;
                let deltas = starts + 2 * seg_count;
                let ranges = deltas + 2 * seg_count;
                let seg =
                    (0..seg_count).find(|&i| u16_at(d, ends + 2 * i).is_some_and(|e| e >= cp))?;
                let start = u16_at(d, starts + 2 * seg)?;
                if cp < start {
                    return None;
                }
                let delta = u16_at(d, deltas + 2 * seg)?;
                let range_at = ranges + 2 * seg;
                let range = u16_at(d, range_at)? as usize;
                let glyph = if range == 0 {
                    cp.wrapping_add(delta)
                } else {
                    let g = u16_at(d, range_at + range + 2 * usize::from(cp - start))?;
                    if g == 0 {
                        0
                    } else {
                        g.wrapping_add(delta)
                    }
                };
                Some(u32::from(glyph))
            }
        }
    }

    /// Advance of `c` in em.
    fn advance(&self, c: char) -> f32 {
        let glyph = (self.glyph(c) as usize).min(self.num_h_metrics - 1);
        let units = u16_at(&self.data, self.hmtx + 4 * glyph).unwrap_or(0);
        f32::from(units) / self.units_per_em
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AuthKey;
    use std::process::Command;

    const NUMBER: &str = "W2025000123";
    const KEY: &str = "7KQ2M9XDH4T8RB3N";

    fn fonts() -> NoticeFonts {
        NoticeFonts::load().unwrap_or_else(|e| {
            panic!("{e}\n(`make test` installs fonts-ipaexfont-gothic and fonts-dejavu-core)")
        })
    }

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
            "令和7年4月3日",
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

    #[test]
    fn missing_font_names_the_path_and_package() {
        let e = NoticeFonts::load_from(Path::new("/nonexistent/font.ttf"), None).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("/nonexistent/font.ttf"), "{msg}");
        assert!(msg.contains(FONT_PACKAGE), "{msg}");
        assert!(msg.contains(FONT_ENV), "{msg}");
    }

    #[test]
    fn key_font_tells_zero_from_oh() {
        let f = fonts();
        assert!(f.key_path().ends_with("DejaVuSansMono.ttf"), "{f:?}");
    }

    #[test]
    fn clean_flattens_controls_and_drops_bidi() {
        assert_eq!(clean("  a\n\tb\u{0}\u{202E}c\u{2067}  "), "a b c");
        assert_eq!(clean(""), "");
    }

    #[test]
    fn wrap_breaks_and_truncates() {
        let f = fonts();
        let lines = wrap(&f.japanese, &"あ".repeat(30), 10.0, 100.0, 2);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].chars().count(), 10);
        assert!(lines[1].ends_with('…'));
        let lines = wrap(&f.japanese, "alpha beta gamma delta", 10.0, 60.0, 0);
        assert!(lines.iter().all(|l| !l.starts_with(' ')), "{lines:?}");
        assert!(
            lines.iter().any(|l| l == "gamma" || l.starts_with("gamma")),
            "{lines:?}"
        );
    }

    #[test]
    fn dates_in_wareki() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            japanese_date(d(2025, 4, 3)),
            "令和7年4月3日（2025年4月3日）"
        );
        assert_eq!(
            japanese_date(d(2019, 5, 1)),
            "令和元年5月1日（2019年5月1日）"
        );
        assert_eq!(
            japanese_date(d(2019, 4, 30)),
            "平成31年4月30日（2019年4月30日）"
        );
        assert_eq!(japanese_date(d(1900, 1, 1)), "1900年1月1日");
    }

    #[test]
    fn fonts_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<NoticeFonts>();
    }
}
