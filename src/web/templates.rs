//! Page templates, embedded in the binary so it runs from any directory.
//!
//! Every name ends in `.html`, which is what turns Tera's autoescape on: strings from
//! issuers and users are always escaped. The one markup marked `safe` is the print
//! view's QR code, an SVG that `kakunin_platform::qr` draws from the paper's own text
//! (numbers, and a fixed label it escapes).

use std::sync::LazyLock;

use tera::{Context, Tera};

static TERA: LazyLock<Tera> = LazyLock::new(|| {
    let mut tera = Tera::default();
    tera.add_raw_templates(vec![
        ("base.html", include_str!("../../templates/base.html")),
        ("error.html", include_str!("../../templates/error.html")),
        ("login.html", include_str!("../../templates/login.html")),
        (
            "password.html",
            include_str!("../../templates/password.html"),
        ),
        ("verify.html", include_str!("../../templates/verify.html")),
        ("upload.html", include_str!("../../templates/upload.html")),
        (
            "certificate_table.html",
            include_str!("../../templates/certificate_table.html"),
        ),
        (
            "certificate.html",
            include_str!("../../templates/certificate.html"),
        ),
        (
            "verification.html",
            include_str!("../../templates/verification.html"),
        ),
        ("print.html", include_str!("../../templates/print.html")),
        ("history.html", include_str!("../../templates/history.html")),
        ("check.html", include_str!("../../templates/check.html")),
        ("audit.html", include_str!("../../templates/audit.html")),
        (
            "audit_event.html",
            include_str!("../../templates/audit_event.html"),
        ),
        (
            "admin_nav.html",
            include_str!("../../templates/admin_nav.html"),
        ),
        (
            "admin_users.html",
            include_str!("../../templates/admin_users.html"),
        ),
        (
            "admin_offices.html",
            include_str!("../../templates/admin_offices.html"),
        ),
        (
            "admin_clients.html",
            include_str!("../../templates/admin_clients.html"),
        ),
        (
            "admin_confirm.html",
            include_str!("../../templates/admin_confirm.html"),
        ),
        (
            "admin_secret.html",
            include_str!("../../templates/admin_secret.html"),
        ),
    ])
    .expect("embedded templates parse");
    tera
});

pub const STYLE: &str = include_str!("../../templates/app.css");
/// The one script of the pages (busy submit buttons); the pages work without it.
pub const SCRIPT: &str = include_str!("../../templates/app.js");

/// Renders `name`; the header's nav marks the page's own entry (`aria-current`), chosen
/// here from the template so no handler has to say it.
pub fn render(name: &str, ctx: &Context) -> Result<String, tera::Error> {
    let nav = match name {
        "verify.html" | "verification.html" => "verify",
        "history.html" => "history",
        "check.html" => "check",
        n if n.starts_with("audit") => "audit",
        n if n.starts_with("admin") => "admin",
        _ => "",
    };
    let mut ctx = ctx.clone();
    ctx.insert("nav", nav);
    TERA.render(name, &ctx)
}

#[cfg(test)]
mod tests {
    #[test]
    fn issuer_strings_are_escaped() {
        let mut ctx = tera::Context::new();
        ctx.insert("status", &404);
        ctx.insert("message", "<script>alert(1)</script>");
        let html = super::render("error.html", &ctx).unwrap();
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
