//! A rule profile's TOML errors in Japanese, worded as the settings' are
//! (`crate::config`): the key, what may be written there, what was found.
//!
//! `toml` reports serde's errors as English text only (``unknown field `x`, expected one
//! of …``), so the text is read back by serde's fixed phrasings; a message of another
//! shape (a syntax error of the TOML itself) is kept, after 「TOML として読めません」.
//! The key is found from the error's place in the file.

use toml_edit::{ImDocument, Item, TableLike, Value};

/// The Japanese message for `e`, met while reading `text`.
pub fn japanese(e: &toml::de::Error, text: &str) -> String {
    let message = e.message().trim();
    let key = e
        .span()
        .and_then(|s| key_at(text, s.start))
        .unwrap_or_default();
    let dotted = key.join(".");
    let parent = key
        .split_last()
        .map(|(_, p)| p.join("."))
        .unwrap_or_default();
    let under = |name: &str| {
        if parent.is_empty() {
            name.to_owned()
        } else {
            format!("{parent}.{name}")
        }
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, allowed) = rest.split_once('`').unwrap_or((rest, ""));
        return format!(
            "{} という項目はありません（書ける項目: {}）",
            under(field),
            quoted(allowed).join(", ")
        );
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        // The place of a missing key is the table that lacks it.
        let name = if dotted.is_empty() {
            field.to_owned()
        } else {
            format!("{dotted}.{field}")
        };
        return format!("{name} がありません");
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (found, allowed) = rest.split_once('`').unwrap_or((rest, ""));
        return format!(
            "{dotted} に「{found}」は書けません（書ける値: {}）",
            quoted(allowed).join(", ")
        );
    }
    if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
    {
        if let Some((found, expected)) = rest.rsplit_once(", expected ") {
            return format!(
                "{dotted} は {} で書いてください（{}でした）",
                expected_kind(expected),
                found_kind(found)
            );
        }
    }
    if let Some(rest) = message.strip_prefix("duplicate key `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return format!("{} が二度書かれています", under(field));
    }
    format!("TOML として読めません: {message}")
}

/// The names between backquotes in serde's list (`` `a`, `b` ``).
fn quoted(list: &str) -> Vec<&str> {
    list.split('`').skip(1).step_by(2).collect()
}

/// What serde expected, in the words of the settings' messages.
fn expected_kind(expected: &str) -> String {
    match expected {
        "a TOML datetime" | "local date" => "日付（例: 2025-04-01、引用符なし）".to_owned(),
        "a boolean" => "true か false".to_owned(),
        "a string" => "\"…\" で囲んだ文字列".to_owned(),
        "a sequence" => "[…] で囲んだ並び".to_owned(),
        e if e.starts_with("struct ") || e == "a map" => "表".to_owned(),
        e if e.starts_with("enum ") => "決められた値の文字列".to_owned(),
        "an integer" | "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => {
            "整数".to_owned()
        }
        e => e.to_owned(),
    }
}

/// What was found, as serde's `Unexpected` writes it (`string "x"`, `integer `5``).
fn found_kind(found: &str) -> String {
    if let Some(s) = found
        .strip_prefix("string \"")
        .and_then(|s| s.strip_suffix('"'))
    {
        return format!("文字列「{s}」");
    }
    for prefix in ["integer `", "boolean `", "floating point `"] {
        if let Some(v) = found.strip_prefix(prefix).and_then(|s| s.strip_suffix('`')) {
            return v.to_owned();
        }
    }
    match found {
        "sequence" => "配列".to_owned(),
        "map" => "表".to_owned(),
        f => f.to_owned(),
    }
}

/// The dotted path of the key at `offset` of `text` (its name or its value), down to
/// the innermost key that holds it; entries of an array of tables are not numbered.
fn key_at(text: &str, offset: usize) -> Option<Vec<String>> {
    let doc = ImDocument::parse(text).ok()?;
    let mut path = Vec::new();
    descend(doc.as_table(), offset, &mut path);
    Some(path)
}

fn descend(table: &dyn TableLike, offset: usize, path: &mut Vec<String>) {
    for (key, item) in table.iter() {
        let Some((k, _)) = table.get_key_value(key) else {
            continue;
        };
        let within = |span: Option<std::ops::Range<usize>>| {
            span.is_some_and(|s| s.start <= offset && offset < s.end.max(s.start + 1))
        };
        let here = within(k.span()) || within(item.span()) || within_item(item, offset);
        if !here {
            continue;
        }
        path.push(key.to_owned());
        match item {
            Item::Table(t) => descend(t, offset, path),
            Item::ArrayOfTables(a) => {
                if let Some(t) = a.iter().find(|t| within(t.span()) || contains(*t, offset)) {
                    descend(t, offset, path);
                }
            }
            Item::Value(Value::InlineTable(t)) => descend(t, offset, path),
            Item::Value(Value::Array(a)) => {
                for v in a.iter() {
                    if let Value::InlineTable(t) = v {
                        if within(t.span()) {
                            descend(t, offset, path);
                        }
                    }
                }
            }
            _ => {}
        }
        return;
    }
}

/// Whether a table (whose own span may be missing, as for a `[header]` table) holds a
/// key or value at `offset`.
fn contains(table: &dyn TableLike, offset: usize) -> bool {
    table.iter().any(|(key, item)| {
        table
            .get_key_value(key)
            .and_then(|(k, _)| k.span())
            .is_some_and(|s| s.start <= offset && offset < s.end)
            || within_item(item, offset)
    })
}

fn within_item(item: &Item, offset: usize) -> bool {
    match item {
        Item::Table(t) => {
            t.span()
                .is_some_and(|s| s.start <= offset && offset < s.end)
                || contains(t, offset)
        }
        Item::ArrayOfTables(a) => a.iter().any(|t| contains(t, offset)),
        other => other
            .span()
            .is_some_and(|s| s.start <= offset && offset < s.end.max(s.start + 1)),
    }
}
