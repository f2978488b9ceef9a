//! Closed vocabularies stored and sent as text: outcomes, rule ids, staff roles, API
//! token scopes (and, in `app::audit`, the audit log's actions and outcomes).
//!
//! Each is an enum whose text is fixed for good: the database, the audit chain's hashes,
//! the exports and the API all hold these exact strings, so a variant's text never
//! changes. Text that is not one of them is an [`UnknownCode`], never a default: a row
//! written by a newer version, or edited by hand, is reported rather than read as
//! something it is not.

/// One closed vocabulary. `as_str` and `ALL` are the whole of it; `parse` is their inverse.
pub trait Code: Copy + Eq + 'static {
    /// What the codes name, in Japanese, for messages (「役割」).
    const NAME: &'static str;
    /// Every code, in the order lists and menus show them.
    const ALL: &'static [Self];

    /// The stored text, e.g. `supervisor`.
    fn as_str(self) -> &'static str;

    /// The code whose text is exactly `text` (no trimming, no case folding: the stored
    /// text is compared byte for byte, as the audit chain hashes it).
    fn parse(text: &str) -> Result<Self, UnknownCode> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == text)
            .ok_or_else(|| UnknownCode {
                name: Self::NAME,
                value: text.to_owned(),
            })
    }
}

/// Text that is none of a vocabulary's codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}「{value}」はこの版の kakunin が知らない値です")]
pub struct UnknownCode {
    /// The vocabulary, in Japanese (「役割」).
    pub name: &'static str,
    /// The text as found.
    pub value: String,
}

/// Asserts what every vocabulary must hold: texts are unique, each parses back to its
/// code, and a near miss (other case, surrounding space) is refused.
#[cfg(test)]
pub(crate) fn assert_round_trips<C: Code + std::fmt::Debug>() {
    let mut seen = std::collections::HashSet::new();
    for &code in C::ALL {
        let text = code.as_str();
        assert!(seen.insert(text), "{text} is used twice");
        assert_eq!(C::parse(text), Ok(code));
        assert!(
            C::parse(&text.to_uppercase()).is_err(),
            "{text} in capitals"
        );
        assert!(
            C::parse(&format!(" {text}")).is_err(),
            "{text} with a space"
        );
    }
    let err = C::parse("no-such-code").unwrap_err();
    assert_eq!(err.value, "no-such-code");
    assert!(err.to_string().contains(C::NAME));
}
