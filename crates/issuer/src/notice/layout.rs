//! Fitting untrusted text into a width: cleaning it to one printable line, wrapping it
//! into a few lines, or shrinking it to fit one.

use super::fonts::Face;

/// Bidirectional formatting characters (embeddings, overrides, isolates, marks).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Untrusted text made printable on one line: control characters become spaces, runs
/// of white space collapse, ends are trimmed, bidirectional controls are dropped.
pub(super) fn clean(s: &str) -> String {
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
pub(super) fn fit_size(face: &Face, text: &str, max: f32, width: f32) -> f32 {
    let w = face.width(text, max);
    if w <= width {
        max
    } else {
        (max * width / w).max(6.0)
    }
}

/// `text` on one line, cut with `…` if it does not fit.
pub(super) fn fit_line(face: &Face, text: &str, size: f32, width: f32) -> String {
    wrap(face, text, size, width, 1).pop().unwrap_or_default()
}

/// Closing punctuation that may hang past the right edge rather than start a line.
const HANGING: &str = "、。，．,.）」』】〕〉》！？!?ー";

/// Greedy line breaking: anywhere between CJK characters, at spaces within Latin
/// words; at most `max_lines` lines, the last cut with `…` if the text is longer.
pub(super) fn wrap(
    face: &Face,
    text: &str,
    size: f32,
    width: f32,
    max_lines: usize,
) -> Vec<String> {
    let m = face.measure();
    let mut lines: Vec<Vec<char>> = Vec::new();
    let mut line: Vec<char> = Vec::new();
    let mut line_w = 0.0;
    for c in text.chars() {
        let cw = m.advance(c) * size;
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
            line_w = line.iter().map(|&ch| m.advance(ch) * size).sum();
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
            let ell = m.advance('…') * size;
            while !last.is_empty()
                && last.iter().map(|&ch| m.advance(ch) * size).sum::<f32>() + ell > width
            {
                last.pop();
            }
            last.push('…');
        }
    }
    lines.into_iter().map(|l| l.into_iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::super::fonts::installed_fonts;
    use super::*;

    #[test]
    fn clean_flattens_controls_and_drops_bidi() {
        assert_eq!(clean("  a\n\tb\u{0}\u{202E}c\u{2067}  "), "a b c");
        assert_eq!(clean(""), "");
    }

    #[test]
    fn wrap_breaks_and_truncates() {
        let f = installed_fonts();
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
}
