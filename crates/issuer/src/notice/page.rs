//! Painting the notice with krilla: one A4 page, top to bottom, in points with y
//! pointing down and text placed at its baseline.

use chrono::NaiveDate;
use kakunin_platform::qr::{dark_runs, QrCode, QUIET_ZONE};
use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::surface::Surface;
use krilla::text::TextDirection;
use krilla::Document;

use super::fonts::{Face, NoticeFonts};
use super::layout::{clean, fit_line, fit_size, wrap};
use super::{Notice, NoticeError, BEARER_NOTE, INTRO, KEY_HINT, ORDERER_NOTE, TITLE};
use kakunin_protocol::format;
use kakunin_protocol::ids::Field;

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 56.7; // 20 mm
const RIGHT: f32 = PAGE_W - MARGIN;
const CONTENT_W: f32 = RIGHT - MARGIN;

/// The notice as a one-page PDF, with `qr` already encoded from its [`super::qr_text`].
pub(super) fn render(n: &Notice, qr: &QrCode, fonts: &NoticeFonts) -> Result<Vec<u8>, NoticeError> {
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

    // Each section starts where the one above ended, so a long value pushes the rest
    // down instead of overprinting it.
    let y = heading(&mut p, n);
    let y = key_box(&mut p, n, qr, y);
    let y = particulars(&mut p, n, y);
    let y = warning(&mut p, y);
    orderer_note(&mut p, y);
    footer(&mut p, n);

    surface.finish();
    page.finish();
    document
        .finish()
        .map_err(|e| NoticeError::Pdf(e.to_string()))
}

/// The date line, e.g. 発行日　令和7年4月3日（2025-04-03）, in the same form as every
/// other date kakunin shows.
fn issue_date(d: NaiveDate) -> String {
    format!("発行日　{}", format::date_ja(d))
}

/// Title, date, issuer and introduction. Returns the y below the introduction.
fn heading(p: &mut Painter, n: &Notice) -> f32 {
    let title_size = 17.0;
    let w = p.jp.width(TITLE, title_size);
    p.text(p.jp, (PAGE_W - w) / 2.0, 82.0, title_size, TITLE);
    p.fill_rect(MARGIN, 94.0, CONTENT_W, 1.2, 0);
    p.fill_rect(MARGIN, 97.0, CONTENT_W, 0.4, 0);

    // Date and issuer, right-aligned.
    p.text_right(p.jp, RIGHT, 124.0, 10.5, &issue_date(n.issued_on));
    let issuer = fit_line(p.jp, &clean(n.issuer_name), 12.0, CONTENT_W * 0.75);
    p.text_right(p.jp, RIGHT, 144.0, 12.0, &issuer);

    let mut y = 174.0;
    for line in INTRO.iter().flat_map(|s| wrap(p.jp, s, 10.5, CONTENT_W, 2)) {
        p.text(p.jp, MARGIN, y, 10.5, &line);
        y += 16.0;
    }
    y
}

/// The key box: number and key on the left, QR code on the right. Returns its bottom.
fn key_box(p: &mut Painter, n: &Notice, qr: &QrCode, y: f32) -> f32 {
    let box_top = y + 4.0;
    let box_h = 156.0;
    let qr_size = 136.0;
    p.stroke_rect(MARGIN, box_top, CONTENT_W, box_h, 1.0);
    let qr_x = RIGHT - 10.0 - qr_size;
    let qr_y = box_top + (box_h - qr_size) / 2.0;
    p.qr(qr, qr_x, qr_y, qr_size);
    let inner_x = MARGIN + 16.0;
    let inner_w = qr_x - 12.0 - inner_x;

    // Number and key are shrunk, never wrapped or cut: every character must print.
    let label = Field::CertificateNumber.label();
    p.text(p.jp, inner_x, box_top + 24.0, 10.0, label);
    let number = clean(n.certificate_number);
    let size = fit_size(p.key, &number, 18.0, inner_w);
    p.text(p.key, inner_x, box_top + 50.0, size, &number);

    p.text(p.jp, inner_x, box_top + 80.0, 10.0, Field::AuthKey.label());
    let key = n.auth_key.printed();
    let size = fit_size(p.key, &key, 26.0, inner_w);
    p.text(p.key, inner_x, box_top + 114.0, size, &key);
    let hint_size = fit_size(p.jp, KEY_HINT, 8.0, inner_w);
    p.text_gray(p.jp, inner_x, box_top + 138.0, hint_size, KEY_HINT, 80);

    box_top + box_h
}

/// 記 and the table of particulars, each row as tall as its wrapped value. Returns the
/// y of the table's last rule.
fn particulars(p: &mut Painter, n: &Notice, y: f32) -> f32 {
    let mut y = y + 22.0;
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
            let baseline = y + pad + 12.0 + i as f32 * leading;
            p.text(p.jp, value_x, baseline, size, line);
        }
        y += h;
        p.fill_rect(MARGIN, y - 0.4, CONTENT_W, 0.8, 0);
    }
    y
}

/// The bearer-secret warning, boxed. Returns the y for the next line of text.
fn warning(p: &mut Painter, y: f32) -> f32 {
    let y = y + 22.0;
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
    y + warn_h + 24.0
}

/// One line for the orderer.
fn orderer_note(p: &mut Painter, mut y: f32) {
    for line in wrap(p.jp, ORDERER_NOTE, 10.0, CONTENT_W, 2) {
        p.text(p.jp, MARGIN, y, 10.0, &line);
        y += 15.0;
    }
}

/// Issuer on the left, number on the right, at a fixed distance from the page's bottom.
fn footer(p: &mut Painter, n: &Notice) {
    p.fill_rect(MARGIN, PAGE_H - 62.0, CONTENT_W, 0.4, 120);
    let issuer = fit_line(p.jp, &clean(n.issuer_name), 8.5, CONTENT_W * 0.6);
    p.text_gray(p.jp, MARGIN, PAGE_H - 48.0, 8.5, &issuer, 90);
    let number = fit_line(p.key, &clean(n.certificate_number), 8.5, CONTENT_W * 0.35);
    let w = p.key.width(&number, 8.5);
    p.text_gray(p.key, RIGHT - w, PAGE_H - 48.0, 8.5, &number, 90);
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
    /// Dark modules are drawn as one filled rectangle per horizontal run
    /// (`kakunin_platform::qr`, which the service's print view draws from too).
    fn qr(&mut self, qr: &QrCode, x: f32, y: f32, size: f32) {
        let module = size / (qr.width() + 2 * QUIET_ZONE) as f32;
        self.fill_rect(x, y, size, size, 255);
        let mut pb = PathBuilder::new();
        for run in dark_runs(qr) {
            if let Some(rect) = Rect::from_xywh(
                x + (QUIET_ZONE + run.col) as f32 * module,
                y + (QUIET_ZONE + run.row) as f32 * module,
                run.len as f32 * module,
                module,
            ) {
                pb.push_rect(rect);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_date_is_wareki_with_seireki() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            issue_date(d(2025, 4, 3)),
            "発行日　令和7年4月3日（2025-04-03）"
        );
        assert_eq!(
            issue_date(d(2019, 5, 1)),
            "発行日　令和元年5月1日（2019-05-01）"
        );
        assert_eq!(
            issue_date(d(2019, 4, 30)),
            "発行日　平成31年4月30日（2019-04-30）"
        );
        // Before 明治 there is no era to name: `format` says 西暦 instead.
        assert_eq!(
            issue_date(d(1868, 1, 24)),
            "発行日　西暦1868年1月24日（1868-01-24）"
        );
    }
}
