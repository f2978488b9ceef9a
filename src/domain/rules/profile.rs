//! Rule profiles: every number and list a rule compares against, read from a TOML file.
//!
//! A prefecture or city differs from 大分県 only in these values, so serving another
//! one is a new file under `config/profiles/`, never a code change.

use sha2::Digest as _;
use std::fmt;
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

use kakunin_protocol::payload::{Category, Kind};

/// An exact fraction `num/den`. Amount rules compare in integers only, because a yen of
/// rounding in floating point would flip a rule at its boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ratio {
    pub num: u32,
    pub den: u32,
}

impl Ratio {
    /// ⌈a × num/den⌉: the smallest whole-yen amount that is at least the fraction of `a`.
    pub fn ceil_of(self, a: i64) -> i128 {
        let scaled = i128::from(a) * i128::from(self.num);
        -((-scaled).div_euclid(self.den_wide()))
    }

    /// ⌊a × num/den⌋: the largest whole-yen amount that is at most the fraction of `a`.
    pub fn floor_of(self, a: i64) -> i128 {
        (i128::from(a) * i128::from(self.num)).div_euclid(self.den_wide())
    }

    /// Whether `g ≤ a × num/den`, exactly (`g × den ≤ a × num`).
    pub fn within(self, g: i64, a: i64) -> bool {
        i128::from(g) * self.den_wide() <= i128::from(a) * i128::from(self.num)
    }

    fn den_wide(self) -> i128 {
        // A zero denominator is rejected when the profile loads; max(1) keeps a
        // hand-built Ratio from panicking instead of reporting.
        i128::from(self.den.max(1))
    }
}

impl fmt::Display for Ratio {
    /// Read as Japanese fractions are: `10分の4`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}分の{}", self.den, self.num)
    }
}

/// The 前払金 ceiling for one contract category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryRatio {
    pub category: Category,
    pub ratio: Ratio,
}

/// The values of one rule profile (`rules-oita.md` for 大分県).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Who the profile serves, as shown on screen: `大分県`.
    pub name: String,
    /// Contracts signed before this date stay on paper.
    pub effective_from: NaiveDate,
    /// Contract categories the scheme covers.
    pub categories: Vec<Category>,
    /// Guarantee kinds that may be delivered electronically.
    pub eligible_kinds: Vec<Kind>,
    /// `orderer.name` must start with this.
    pub orderer_prefix: String,
    /// 契約保証: the guarantee must be at least this fraction of 請負代金額.
    pub performance_min: Ratio,
    /// 前払金保証: the usual ceiling per category; a category without one is not checked.
    pub advance_max: Vec<CategoryRatio>,
    /// 中間前払金保証: the ceiling of the guarantee.
    pub intermediate_max: Ratio,
    /// Categories for which 中間前払金 exists at all.
    pub intermediate_categories: Vec<Category>,
    /// 約款 the orderer expects; others only warn. Private to the rules, like
    /// `terms_loose`, so the two are only ever set together, at load.
    pub(super) terms: Vec<String>,
    /// `terms` as they are compared ([`super::checks::loose`]), worked out once at load
    /// rather than for every certificate.
    pub(super) terms_loose: Vec<String>,
    /// The profile file's text as read: kept with each verification's evidence so the
    /// rules in force then can be applied again years later.
    pub text: String,
    /// SHA-256 of `text`, lowercase hex: names this version of the profile.
    pub digest: String,
}

/// The file as written: a TOML date literal is not a string, so it is read as
/// `toml::value::Datetime` and checked to be a plain date.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    effective_from: toml::value::Datetime,
    categories: Vec<Category>,
    eligible_kinds: Vec<Kind>,
    orderer_prefix: String,
    performance_min: Ratio,
    advance_max: Vec<CategoryRatio>,
    intermediate_max: Ratio,
    intermediate_categories: Vec<Category>,
    terms: Vec<String>,
}

/// The profiles built into the binary, by name: a package install that has no
/// `config/profiles/` beside its working directory still serves these. The text is the
/// shipped file's, so a verification's profile digest is the same either way.
pub const BUILT_IN: [(&str, &str); 1] =
    [("oita", include_str!("../../../config/profiles/oita.toml"))];

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("ルールプロファイル {file} を読み込めません: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The profile named by the settings is neither in the profiles folder nor built in.
    #[error("ルールプロファイル「{name}」がありません: {file} がなく、組み込みのプロファイル（{}）にもありません。設定 rules.profile（環境変数 KAKUNIN_PROFILE）と rules.profiles_dir（作業ディレクトリ {cwd} からの相対パス可）を確かめてください", built_in_names())]
    NotFound {
        name: String,
        file: String,
        /// The working directory, which a relative `rules.profiles_dir` starts from.
        cwd: String,
    },
    #[error("ルールプロファイル {file}{}: {message}", at_line(.line))]
    Syntax {
        file: String,
        line: Option<usize>,
        message: String,
    },
    #[error("ルールプロファイル {file} の {key} が不正です: {message}")]
    Invalid {
        file: String,
        key: &'static str,
        message: String,
    },
}

fn built_in_names() -> String {
    BUILT_IN.map(|(name, _)| name).join("、")
}

/// How messages name a built-in profile.
fn built_in_origin(name: &str) -> String {
    format!("（組み込みの {name} プロファイル）")
}

fn at_line(line: &Option<usize>) -> String {
    // `file:line:`, as the settings and the trust registry place their errors.
    line.map(|n| format!(":{n}")).unwrap_or_default()
}

impl Profile {
    /// Reads and checks a profile file; errors name the file so startup fails legibly.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            file: file.clone(),
            source,
        })?;
        Profile::from_toml_str(&text, &file)
    }

    /// Where [`load_named`](Self::load_named) looks for profile `name` in `dir`.
    pub fn file_in(dir: &Path, name: &str) -> std::path::PathBuf {
        dir.join(format!("{name}.toml"))
    }

    /// The profile `name` of the settings: `{dir}/{name}.toml` when that file is there,
    /// else the built-in copy of that name ([`BUILT_IN`]), so that a service started
    /// outside the source tree still runs with the shipped profile. A file that is there
    /// always wins (a prefecture's edited copy is never replaced in silence); a name
    /// that is neither is [`ProfileError::NotFound`], naming the settings to check.
    pub fn load_named(dir: &Path, name: &str) -> Result<Profile, ProfileError> {
        let path = Self::file_in(dir, name);
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match BUILT_IN.iter().find(|(n, _)| *n == name) {
                    Some((_, text)) => Profile::from_toml_str(text, &built_in_origin(name)),
                    None => Err(ProfileError::NotFound {
                        name: name.to_owned(),
                        file: path.display().to_string(),
                        cwd: std::env::current_dir()
                            .map(|d| d.display().to_string())
                            .unwrap_or_else(|_| "?".to_owned()),
                    }),
                }
            }
            _ => Profile::load(&path),
        }
    }

    /// Parses and checks a profile; `origin` names where the text came from in errors.
    pub fn from_toml_str(s: &str, origin: &str) -> Result<Profile, ProfileError> {
        let raw: RawProfile = toml::from_str(s).map_err(|e| ProfileError::Syntax {
            file: origin.to_string(),
            line: e.span().map(|r| line_of(s, r.start)),
            message: super::toml_error::japanese(&e, s),
        })?;
        let invalid = |key, message: &str| ProfileError::Invalid {
            file: origin.to_string(),
            key,
            message: message.to_string(),
        };
        let effective_from = plain_date(&raw.effective_from)
            .ok_or_else(|| invalid("effective_from", "日付（例: 2025-04-01）で書いてください"))?;
        if raw.name.trim().is_empty() {
            return Err(invalid("name", "空です"));
        }
        // An empty prefix would let every orderer pass.
        if raw.orderer_prefix.trim().is_empty() {
            return Err(invalid("orderer_prefix", "空です"));
        }
        let ratios = raw
            .advance_max
            .iter()
            .map(|c| ("advance_max", c.ratio))
            .chain([
                ("performance_min", raw.performance_min),
                ("intermediate_max", raw.intermediate_max),
            ]);
        for (key, ratio) in ratios {
            if ratio.den == 0 {
                return Err(invalid(key, "den（分母）は1以上にしてください"));
            }
        }
        for (i, c) in raw.advance_max.iter().enumerate() {
            if raw.advance_max[..i]
                .iter()
                .any(|p| p.category == c.category)
            {
                return Err(invalid("advance_max", "同じ category が2回あります"));
            }
        }
        Ok(Profile {
            name: raw.name,
            effective_from,
            categories: raw.categories,
            eligible_kinds: raw.eligible_kinds,
            orderer_prefix: raw.orderer_prefix,
            performance_min: raw.performance_min,
            advance_max: raw.advance_max,
            intermediate_max: raw.intermediate_max,
            intermediate_categories: raw.intermediate_categories,
            terms_loose: raw.terms.iter().map(|t| super::checks::loose(t)).collect(),
            terms: raw.terms,
            text: s.to_owned(),
            digest: hex::encode(sha2::Sha256::digest(s.as_bytes())),
        })
    }

    /// The 前払金 ceiling for a category, if the profile sets one.
    pub fn advance_max_for(&self, category: Category) -> Option<Ratio> {
        self.advance_max
            .iter()
            .find(|c| c.category == category)
            .map(|c| c.ratio)
    }
}

fn line_of(s: &str, byte: usize) -> usize {
    s.get(..byte).unwrap_or(s).matches('\n').count() + 1
}

fn plain_date(dt: &toml::value::Datetime) -> Option<NaiveDate> {
    match (dt.date, dt.time, dt.offset) {
        (Some(d), None, None) => {
            NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
        }
        _ => None,
    }
}

/// Profiles for tests of the rules and of what the pages say about them.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::Profile;

    /// The shipped `config/profiles/oita.toml`.
    pub(crate) fn oita() -> Profile {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/profiles/oita.toml");
        Profile::load(&path).expect("the shipped profile loads")
    }

    /// Another prefecture: another start date, name, orderer, kinds and ratios.
    pub(crate) const FUKUOKA: &str = r#"
name = "福岡県"
effective_from = 2025-10-01
categories = ["construction"]
eligible_kinds = ["performance", "advance_payment"]
orderer_prefix = "福岡県"
performance_min = { num = 3, den = 10 }
intermediate_max = { num = 2, den = 10 }
intermediate_categories = []
terms = ["福岡県工事請負契約約款"]
[[advance_max]]
category = "construction"
ratio = { num = 1, den = 2 }
"#;

    /// [`FUKUOKA`] loaded.
    pub(crate) fn fukuoka() -> Profile {
        Profile::from_toml_str(FUKUOKA, "fukuoka.toml").expect("the test profile loads")
    }
}
