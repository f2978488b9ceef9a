//! 案件 (case): the orderer's own contract a guarantee is accepted for, as the officer
//! types it (案件番号, 案件名; glossary.md), and what the office's earlier verifications
//! say of the same guarantee's use under other 案件 (duplicate use).
//!
//! Both texts are optional. Each is read with NFKC (full-width digits and letters of an
//! IME become half-width, so `第１２号` and `第12号` are one 案件番号), trimmed, and
//! kept only when something is left; at most [`CASE_TEXT_MAX`] characters after NFKC,
//! with no control characters (they would break a CSV cell or a printed line) and
//! without format characters (a zero-width space would make another 案件番号 that
//! reads the same).

use std::collections::BTreeSet;

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use crate::domain::bounds::{self, CASE_TEXT_MAX};

/// The two texts of a 案件.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseField {
    /// 案件番号 (`case_number`).
    Number,
    /// 案件名 (`case_title`).
    Title,
}

impl CaseField {
    /// The name of the form field and of the API member.
    pub fn name(self) -> &'static str {
        match self {
            CaseField::Number => "case_number",
            CaseField::Title => "case_title",
        }
    }

    /// The name a person reads.
    pub fn label(self) -> &'static str {
        match self {
            CaseField::Number => "案件番号",
            CaseField::Title => "案件名",
        }
    }
}

/// Why a typed 案件 text is refused. The message never quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseInputError {
    #[error("{}は{max}文字以内で入力してください（全角英数字を半角にした後で{chars}文字でした）。", .field.label(), max = CASE_TEXT_MAX)]
    TooLong { field: CaseField, chars: usize },
    #[error("{}に改行やタブなどの制御文字は使えません。", .field.label())]
    Control { field: CaseField },
}

impl CaseInputError {
    pub fn field(&self) -> CaseField {
        match self {
            CaseInputError::TooLong { field, .. } | CaseInputError::Control { field } => *field,
        }
    }
}

/// One typed 案件 text: NFKC, then [`bounds::typed_text`] (format characters dropped,
/// trimmed, control characters refused); `None` when empty.
pub fn case_text(field: CaseField, raw: &str) -> Result<Option<String>, CaseInputError> {
    let normalized: String = raw.nfkc().collect();
    let text = bounds::typed_text(&normalized).map_err(|_| CaseInputError::Control { field })?;
    let text = text.as_str();
    let chars = text.chars().count();
    if chars > CASE_TEXT_MAX {
        return Err(CaseInputError::TooLong { field, chars });
    }
    Ok(Some(text.to_owned()).filter(|t| !t.is_empty()))
}

/// The 案件 of one verification; both parts optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Case {
    /// 案件番号, normalized.
    pub number: Option<String>,
    /// 案件名, normalized.
    pub title: Option<String>,
}

impl Case {
    /// Reads both typed texts, every error at once (form order).
    pub fn from_input(number: &str, title: &str) -> Result<Case, Vec<CaseInputError>> {
        match (
            case_text(CaseField::Number, number),
            case_text(CaseField::Title, title),
        ) {
            (Ok(number), Ok(title)) => Ok(Case { number, title }),
            (n, t) => Err([n.err(), t.err()].into_iter().flatten().collect()),
        }
    }

    /// The 案件 as stored (already normalized); `None` when neither part is.
    pub fn stored(number: Option<&str>, title: Option<&str>) -> Option<Case> {
        let case = Case {
            number: number.map(str::to_owned),
            title: title.map(str::to_owned),
        };
        (!case.is_empty()).then_some(case)
    }

    pub fn is_empty(&self) -> bool {
        self.number.is_none() && self.title.is_none()
    }
}

/// One use of a certificate number: an office, and the 案件番号 under which it
/// verified the number with an outcome that carried a record (`verified` or
/// `rejected`). A verification's own row is one of the uses of its number; it names its
/// own office and its own 案件番号, which [`DuplicateUse::of`] leaves out anyway.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Use {
    pub office_code: String,
    pub case_number: Option<String>,
}

/// Whether the guarantee of a verification was used elsewhere (`service.md`, "A
/// Verification"): the other 案件番号 of the same office under which its certificate
/// number was verified, and whether any other office verified that number (which one
/// is never said).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DuplicateUse {
    /// Distinct, sorted; never the verification's own 案件番号.
    pub cases: Vec<String>,
    pub other_offices: bool,
}

impl DuplicateUse {
    /// From every use of the number (this verification's own among them). Uses without
    /// a 案件番号 name no case; another office's count for `other_offices` whatever
    /// their case.
    pub fn of(own_office: &str, own_case_number: Option<&str>, uses: &[Use]) -> DuplicateUse {
        let mut cases = BTreeSet::new();
        let mut other_offices = false;
        for u in uses {
            if u.office_code != own_office {
                other_offices = true;
            } else if let Some(n) = u.case_number.as_deref() {
                if Some(n) != own_case_number {
                    cases.insert(n.to_owned());
                }
            }
        }
        DuplicateUse {
            cases: cases.into_iter().collect(),
            other_offices,
        }
    }

    /// Whether anything calls for a caution.
    pub fn any(&self) -> bool {
        !self.cases.is_empty() || self.other_offices
    }

    /// The caution a person reads on the outcome page and on paper; `None` when there
    /// is none.
    pub fn caution(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.cases.is_empty() {
            parts.push(format!(
                "この保証契約番号は、この発注機関の別の案件（案件番号 {}）でも確認されています。",
                self.cases.join("、")
            ));
        }
        if self.other_offices {
            parts.push("この保証契約番号は、他の発注機関でも確認されています。".to_owned());
        }
        (!parts.is_empty()).then(|| {
            parts.push(
                "同じ保証を別の契約に重ねて使っていないか、受注者に確認してください。".to_owned(),
            );
            parts.concat()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_nfkc_trimmed_bounded_and_empty_is_absent() {
        assert_eq!(
            case_text(CaseField::Number, "　第１２号 ")
                .unwrap()
                .as_deref(),
            Some("第12号")
        );
        assert_eq!(case_text(CaseField::Title, "  ").unwrap(), None);
        assert!(case_text(CaseField::Title, &"あ".repeat(100)).is_ok());
        let e = case_text(CaseField::Title, &"あ".repeat(101)).unwrap_err();
        assert_eq!(e.field(), CaseField::Title);
        assert!(e.to_string().starts_with("案件名は100文字以内"), "{e}");
        // ㍻ is one character typed, two after NFKC.
        assert!(case_text(CaseField::Number, &"㍻".repeat(51)).is_err());
        assert!(case_text(CaseField::Number, "a\nb").is_err());
        let both = Case::from_input(&"x".repeat(101), "a\tb").unwrap_err();
        assert_eq!(both.len(), 2);
    }

    #[test]
    fn duplicate_use_names_own_office_cases_only_and_leaves_out_its_own() {
        let u = |office: &str, case: Option<&str>| Use {
            office_code: office.into(),
            case_number: case.map(Into::into),
        };
        let uses = [
            u("A", Some("K-1")),
            u("A", Some("K-2")),
            u("A", Some("K-2")),
            u("A", None),
            u("A", Some("K-3")),
        ];
        let d = DuplicateUse::of("A", Some("K-1"), &uses);
        assert_eq!(d.cases, ["K-2", "K-3"]);
        assert!(!d.other_offices);
        let d = DuplicateUse::of("A", Some("K-2"), &uses);
        assert_eq!(d.cases, ["K-1", "K-3"], "its own case is left out");
        let mut more = uses.to_vec();
        more.push(u("B", Some("K-9")));
        let d = DuplicateUse::of("A", Some("K-1"), &more);
        assert!(d.other_offices);
        assert!(
            !d.cases.contains(&"K-9".to_owned()),
            "never another office's case"
        );
        assert!(d.caution().unwrap().contains("他の発注機関"));
        assert_eq!(
            DuplicateUse::of("A", Some("K-1"), &uses[..1]).caution(),
            None
        );
    }
}
