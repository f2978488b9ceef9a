//! The contractor pages' Tera templates, embedded in the binary so that it runs from any
//! directory. Every name ends in `.html`, which is what turns Tera's autoescape on:
//! payload strings come from other parties and are never marked `safe`.

use std::sync::LazyLock;

use tera::{Context, Tera};

const TEMPLATES: [(&str, &str); 7] = [
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("list.html", include_str!("../templates/list.html")),
    (
        "certificate.html",
        include_str!("../templates/certificate.html"),
    ),
    ("error.html", include_str!("../templates/error.html")),
    ("key.html", include_str!("../templates/key.html")),
    ("rekey.html", include_str!("../templates/rekey.html")),
];

static TERA: LazyLock<Result<Tera, String>> = LazyLock::new(|| {
    let mut tera = Tera::default();
    tera.add_raw_templates(TEMPLATES.to_vec())
        .map_err(|e| format!("{e:?}"))?;
    Ok(tera)
});

/// Renders an embedded template.
pub fn render(name: &str, context: &Context) -> Result<String, tera::Error> {
    match &*TERA {
        Ok(tera) => tera.render(name, context),
        Err(e) => Err(tera::Error::msg(format!(
            "テンプレートを読み込めません: {e}"
        ))),
    }
}

/// The contractor pages' style sheet, served at `/static/issuer.css`.
pub const STYLE: &str = include_str!("../templates/issuer.css");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_and_escape_payload_strings() {
        let mut ctx = Context::new();
        ctx.insert("title", "エラー");
        ctx.insert("message", "<script>alert(1)</script>");
        ctx.insert("signed_in", &false);
        let html = render("error.html", &ctx).unwrap();
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>alert"));
    }
}
