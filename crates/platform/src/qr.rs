//! QR codes drawn as rectangles, for both programs: the issuer's key notice (a PDF drawn
//! with krilla) and the service's print view (inline SVG). Both draw the same thing —
//! each horizontal run of dark modules as one rectangle inside a white quiet zone — so
//! the runs are computed here once, and each program only paints them.

pub use qrcode::types::QrError;
pub use qrcode::{EcLevel, QrCode};

/// The white border around the symbol, in modules: the 4 that ISO/IEC 18004 asks for,
/// without which phone cameras and `zbarimg` miss a code printed near other ink.
pub const QUIET_ZONE: usize = 4;

/// One horizontal run of dark modules, in module units counted from the symbol's top
/// left corner (the quiet zone not included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub row: usize,
    pub col: usize,
    pub len: usize,
}

/// The dark modules of `qr`, row by row, each maximal horizontal run once.
pub fn dark_runs(qr: &QrCode) -> Vec<Run> {
    let n = qr.width();
    let colors = qr.to_colors();
    let mut runs = Vec::new();
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
            runs.push(Run {
                row,
                col: start,
                len: col - start,
            });
        }
    }
    runs
}

/// `text` as a QR code (error correction M, the notice's level) in an inline SVG
/// element, quiet zone included, scaled by CSS (one viewBox unit is one module).
/// `label` is the image's accessible name (`aria-label`); it is XML-escaped.
///
/// Errors: [`QrError`] when the text is too long for any QR version.
pub fn svg(text: &str, label: &str) -> Result<String, QrError> {
    let qr = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)?;
    let side = qr.width() + 2 * QUIET_ZONE;
    let mut path = String::new();
    for r in dark_runs(&qr) {
        path.push_str(&format!(
            "M{} {}h{}v1h-{}z",
            r.col + QUIET_ZONE,
            r.row + QUIET_ZONE,
            r.len,
            r.len
        ));
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" \
         role=\"img\" aria-label=\"{}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\
         <path d=\"{path}\" fill=\"#000\"/></svg>",
        escape(label)
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_exactly_the_dark_modules() {
        let qr = QrCode::with_error_correction_level(b"KAKUNIN", EcLevel::M).unwrap();
        let n = qr.width();
        let mut painted = vec![false; n * n];
        for r in dark_runs(&qr) {
            for c in r.col..r.col + r.len {
                assert!(!painted[r.row * n + c], "each module once");
                painted[r.row * n + c] = true;
            }
        }
        let dark: Vec<bool> = qr
            .to_colors()
            .iter()
            .map(|c| *c == qrcode::Color::Dark)
            .collect();
        assert_eq!(painted, dark);
    }

    #[test]
    fn svg_has_a_quiet_zone_and_an_escaped_label() {
        let svg = svg("KAKUNIN-RECEIPT/1;X;Y", "照合用 <QR>").unwrap();
        let qr = QrCode::with_error_correction_level(b"KAKUNIN-RECEIPT/1;X;Y", EcLevel::M).unwrap();
        let side = qr.width() + 8;
        assert!(
            svg.contains(&format!("viewBox=\"0 0 {side} {side}\"")),
            "{svg}"
        );
        assert!(svg.contains("aria-label=\"照合用 &lt;QR&gt;\""), "{svg}");
        assert!(svg.contains("M4 4h7v1h-7z"), "the finder's top edge: {svg}");
    }

    #[test]
    fn too_long_is_an_error() {
        assert!(svg(&"x".repeat(4000), "").is_err());
    }
}
