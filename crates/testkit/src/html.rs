//! Pages read as a browser reads them: parsed HTML queried with CSS selectors
//! (`scraper`), not searched as a string. The source is kept for failure messages and
//! for the few checks that are about the bytes sent (a secret must not appear in them).

use std::fmt;

use scraper::{ElementRef, Selector};

/// A parsed page.
pub struct Html {
    doc: scraper::Html,
    source: String,
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("CSS selector {css:?}: {e}"))
}

/// The text of an element as a reader sees it: its text nodes joined, runs of white
/// space made one space, trimmed.
pub fn text_of(e: ElementRef<'_>) -> String {
    e.text()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl Html {
    pub fn parse(source: &str) -> Self {
        Html {
            doc: scraper::Html::parse_document(source),
            source: source.to_owned(),
        }
    }

    /// Reads and parses a response's body.
    pub async fn of(res: reqwest::Response) -> Self {
        Self::parse(&res.text().await.expect("page body"))
    }

    /// The page as sent.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every element matching `css`, in document order.
    pub fn all(&self, css: &str) -> Vec<ElementRef<'_>> {
        self.doc.select(&selector(css)).collect()
    }

    /// The first element matching `css`; panics with the page when there is none.
    pub fn one(&self, css: &str) -> ElementRef<'_> {
        self.doc
            .select(&selector(css))
            .next()
            .unwrap_or_else(|| panic!("no `{css}` on the page:\n{}", self.source))
    }

    /// How many elements match `css`.
    pub fn count(&self, css: &str) -> usize {
        self.doc.select(&selector(css)).count()
    }

    pub fn has(&self, css: &str) -> bool {
        self.count(css) > 0
    }

    /// The text of the first element matching `css` (see [`text_of`]).
    pub fn text(&self, css: &str) -> String {
        text_of(self.one(css))
    }

    /// The texts of every element matching `css`.
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.all(css).into_iter().map(text_of).collect()
    }

    /// The whole visible text of the page's `<body>`, for messages whose place on the
    /// page does not matter.
    pub fn body(&self) -> String {
        self.text("body")
    }

    /// Attribute `name` of the first element matching `css`.
    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.one(css).attr(name).map(str::to_owned)
    }

    /// Attribute `name` of every element matching `css` that has it.
    pub fn attrs(&self, css: &str, name: &str) -> Vec<String> {
        self.all(css)
            .into_iter()
            .filter_map(|e| e.attr(name).map(str::to_owned))
            .collect()
    }

    /// The text of the `<td>` in the table row whose `<th>` reads `label` (the
    /// certificate tables of both programs are such label/value rows).
    pub fn row(&self, label: &str) -> Option<String> {
        let th = selector("th");
        let td = selector("td");
        self.all("tr").into_iter().find_map(|tr| {
            let head = tr.select(&th).next().map(text_of)?;
            if head != label {
                return None;
            }
            tr.select(&td).next().map(text_of)
        })
    }

    /// The first `css` element holding an `inner` element whose text is `text` (say the
    /// table row, `tr`, of the cell `td.name` reading `当初契約日`).
    pub fn holding(&self, css: &str, inner: &str, text: &str) -> Option<ElementRef<'_>> {
        let inner = selector(inner);
        self.all(css)
            .into_iter()
            .find(|e| e.select(&inner).any(|i| text_of(i) == text))
    }

    /// The value the form field `name` (an `<input>`) holds.
    pub fn field(&self, name: &str) -> Option<String> {
        self.all(&format!("input[name=\"{name}\"]"))
            .first()
            .and_then(|e| e.attr("value"))
            .map(str::to_owned)
    }

    /// The CSRF token of the page's forms (every form of a session carries the same).
    pub fn csrf(&self) -> String {
        self.field("csrf")
            .unwrap_or_else(|| panic!("no csrf field on the page:\n{}", self.source))
    }
}

impl fmt::Display for Html {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl fmt::Debug for Html {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}
