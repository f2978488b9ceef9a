//! The notice's two faces: where they are looked for, how they are loaded, and how wide
//! text set in them is.
//!
//! krilla draws and embeds a face; skrifa reads the same face's `cmap` and `hmtx` so the
//! layout can measure text for wrapping and right-alignment.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use krilla::text::Font;
use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::raw::TableProvider;
use skrifa::{FontRef, GlyphId, MetadataProvider};

use super::{NoticeError, TITLE};

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
pub(super) const FONT_PACKAGE: &str = "fonts-ipaexfont-gothic";

/// Which face of a collection (`.ttc`) is used; 0 for a single font. krilla draws and
/// skrifa measures the same one, so widths match what is printed.
const FACE_INDEX: u32 = 0;

/// The fonts of the notice. Load once and share: cloning is cheap.
#[derive(Clone)]
pub struct NoticeFonts {
    pub(super) japanese: Face,
    pub(super) key: Face,
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
        let m = japanese.measure();
        if !TITLE.chars().all(|c| c == '「' || c == '」' || m.has(c)) {
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
            Some(face) if face.has_all(key_chars()) => face,
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

/// Every character a 保証契約番号 or printed 認証キー can contain.
fn key_chars() -> impl Iterator<Item = char> {
    ('0'..='9').chain('A'..='Z').chain(['-'])
}

/// One loaded font: krilla's handle for drawing, the file's bytes for measuring.
#[derive(Clone)]
pub(super) struct Face {
    path: PathBuf,
    pub(super) font: Font,
    bytes: Arc<Vec<u8>>,
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
        // Checked here, once, so that `measure` can rely on it.
        if Measure::new(&bytes).is_none() {
            return Err(invalid("OpenType/TrueType として読めません"));
        }
        let font = Font::new(bytes.clone().into(), FACE_INDEX)
            .ok_or_else(|| invalid("PDFに埋め込めません"))?;
        Ok(Self {
            path: path.to_path_buf(),
            font,
            bytes,
        })
    }

    /// The face's character map and advances, for measuring many strings.
    pub(super) fn measure(&self) -> Measure<'_> {
        Measure::new(&self.bytes).expect("the font was measurable when it was loaded")
    }

    /// Width of `text` in points at `size`.
    pub(super) fn width(&self, text: &str, size: f32) -> f32 {
        let m = self.measure();
        text.chars().map(|c| m.advance(c)).sum::<f32>() * size
    }

    fn has_all(&self, mut chars: impl Iterator<Item = char>) -> bool {
        let m = self.measure();
        chars.all(|c| m.has(c))
    }
}

/// A face's character map and advance widths, borrowed from its bytes. skrifa's tables
/// borrow the data they read, so [`Face`] keeps the bytes and hands these out per job
/// (one string, one wrap) rather than looking the tables up again for every character.
pub(super) struct Measure<'a> {
    charmap: Charmap<'a>,
    advances: GlyphMetrics<'a>,
    units_per_em: f32,
}

impl<'a> Measure<'a> {
    /// `None` unless the face has a Unicode `cmap`, a nonzero em and advance widths:
    /// without them nothing on the notice could be measured.
    fn new(bytes: &'a [u8]) -> Option<Self> {
        let font = FontRef::from_index(bytes, FACE_INDEX).ok()?;
        let charmap = font.charmap();
        // Unscaled: advances in font units, divided by the em below, so that widths are
        // exact rather than rounded to FreeType's 1/64 of a pixel at each size.
        let advances = font.glyph_metrics(Size::unscaled(), LocationRef::default());
        let units_per_em = font.head().ok()?.units_per_em();
        let has_advances = font.hmtx().is_ok_and(|t| !t.h_metrics().is_empty());
        let measurable = charmap.has_map() && units_per_em != 0 && has_advances;
        measurable.then_some(Self {
            charmap,
            advances,
            units_per_em: f32::from(units_per_em),
        })
    }

    /// Whether the font has a glyph of its own for `c`.
    pub(super) fn has(&self, c: char) -> bool {
        self.charmap.map(c).is_some()
    }

    /// Advance of `c` in em. A character the font lacks measures as `.notdef`, the box
    /// krilla prints in its place.
    pub(super) fn advance(&self, c: char) -> f32 {
        let glyph = self.charmap.map(c).unwrap_or(GlyphId::NOTDEF);
        self.advances.advance_width(glyph).unwrap_or(0.0) / self.units_per_em
    }
}

/// The installed fonts, failing the test with how to install them.
#[cfg(test)]
pub(super) fn installed_fonts() -> NoticeFonts {
    NoticeFonts::load().unwrap_or_else(|e| {
        panic!("{e}\n(`make test` installs fonts-ipaexfont-gothic and fonts-dejavu-core)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let f = installed_fonts();
        assert!(f.key_path().ends_with("DejaVuSansMono.ttf"), "{f:?}");
    }

    #[test]
    fn fonts_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<NoticeFonts>();
    }
}
