//! Which offices' verifications and audit events a reader may see.

/// One office (発注機関, by its code), or all of them (administrators).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfficeScope {
    One(String),
    All,
}

impl OfficeScope {
    /// The one office, or `None` for all.
    pub fn office(&self) -> Option<&str> {
        match self {
            OfficeScope::One(code) => Some(code),
            OfficeScope::All => None,
        }
    }
}
