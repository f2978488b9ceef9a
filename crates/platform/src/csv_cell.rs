//! CSV cells that a spreadsheet will not run: every CSV either program writes (the
//! audit export, `kakunin batch`'s results, the demo's key list) passes its cells
//! through [`neutralise`].

use std::borrow::Cow;

/// Keeps a spreadsheet from running a cell as a formula (CSV injection, OWASP): a cell
/// that starts with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`. A lone `-` (the
/// audit log's "none") cannot be a formula and stays as it is.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') if cell != "-" => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for bad in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(neutralise(bad).starts_with('\''), "{bad:?}");
        }
        for ok in ["-", "user:taro", "大分", "", "1-2"] {
            assert_eq!(neutralise(ok), ok);
        }
    }
}
