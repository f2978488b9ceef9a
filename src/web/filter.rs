//! Reading a page's search filters (the audit log, the history): every field's problem
//! is collected, so one answer names them all, each at its field (`#{field}-error`,
//! `aria-invalid`), with the cursor in the first one as the form shows them.

use std::collections::BTreeMap;

use chrono::NaiveDate;

/// The problems found in one filter form, by field (the form's input name).
pub struct Problems {
    /// The form's fields in the order the page shows them.
    order: &'static [&'static str],
    found: BTreeMap<&'static str, String>,
}

impl Problems {
    pub fn new(order: &'static [&'static str]) -> Self {
        Self {
            order,
            found: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        debug_assert!(
            self.order.contains(&field),
            "{field} is not a field of the form"
        );
        self.found.insert(field, message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// `r`'s value, or none with its message noted at `field`.
    pub fn kept<T>(&mut self, field: &'static str, r: Result<Option<T>, String>) -> Option<T> {
        r.unwrap_or_else(|message| {
            self.add(field, message);
            None
        })
    }

    /// The date typed at `field` (`2025-04-01`), none when empty; `label` names the
    /// field in its message.
    pub fn date(&mut self, field: &'static str, label: &str, typed: &str) -> Option<NaiveDate> {
        let parsed = given(typed, |s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| format!("{label}は 2025-04-01 の形で入力してください"))
        });
        self.kept(field, parsed)
    }

    /// Refuses an end before the start, at `to`: an empty list would read as nothing
    /// having happened in that period.
    pub fn range(&mut self, from: Option<NaiveDate>, to: Option<NaiveDate>) {
        if from.zip(to).is_some_and(|(from, to)| from > to) {
            self.add(
                "to",
                "終了日が開始日より前になっています。開始日以降の日付にしてください",
            );
        }
    }

    /// The messages in the form's order.
    pub fn messages(&self) -> Vec<&str> {
        self.in_order().map(|(_, m)| m.as_str()).collect()
    }

    fn in_order(&self) -> impl Iterator<Item = (&'static str, &String)> + '_ {
        self.order
            .iter()
            .filter_map(|f| self.found.get(f).map(|m| (*f, m)))
    }

    /// Puts the problems where the page's template reads them: `errors` (field →
    /// message) and `first_error` (the field the cursor starts in).
    pub fn show(&self, ctx: &mut tera::Context) {
        ctx.insert("errors", &self.found);
        ctx.insert("first_error", &self.in_order().next().map(|(f, _)| f));
    }

    /// What [`Problems::show`] puts when the filter is fine.
    pub fn none(ctx: &mut tera::Context) {
        ctx.insert("errors", &BTreeMap::<&str, String>::new());
        ctx.insert("first_error", "");
    }
}

/// A filter field read by `parse`, or none when left blank.
pub fn given<T>(
    typed: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match typed.trim() {
        "" => Ok(None),
        s => parse(s).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_come_in_the_forms_order_and_the_cursor_starts_at_the_first() {
        let mut p = Problems::new(&["from", "to", "actor"]);
        p.add("actor", "操作者に改行・タブなどの制御文字は使えません");
        assert_eq!(p.date("from", "開始日", " "), None);
        assert_eq!(p.date("to", "終了日", "2025/04/01"), None);
        assert_eq!(
            p.messages(),
            [
                "終了日は 2025-04-01 の形で入力してください",
                "操作者に改行・タブなどの制御文字は使えません"
            ]
        );
        let mut ctx = tera::Context::new();
        p.show(&mut ctx);
        assert_eq!(ctx.get("first_error"), Some(&serde_json::json!("to")));
    }

    #[test]
    fn a_reversed_range_is_refused_at_its_end() {
        let mut p = Problems::new(&["from", "to"]);
        let from = p.date("from", "開始日", " 2025-04-02 ");
        assert_eq!(from, NaiveDate::from_ymd_opt(2025, 4, 2));
        p.range(from, from);
        assert!(p.is_empty(), "one day is a range");
        p.range(from, NaiveDate::from_ymd_opt(2025, 4, 1));
        assert_eq!(
            p.messages(),
            ["終了日が開始日より前になっています。開始日以降の日付にしてください"]
        );
    }
}
