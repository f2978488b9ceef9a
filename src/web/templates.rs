//! Page templates, embedded in the binary so it runs from any directory.
//!
//! Every name ends in `.html`, which is what turns Tera's autoescape on: strings from
//! issuers and users are always escaped. Nothing here marks data `safe`.

use std::sync::LazyLock;

use tera::{Context, Tera};

static TERA: LazyLock<Tera> = LazyLock::new(|| {
    let mut tera = Tera::default();
    tera.add_raw_templates(vec![
        (
            "service/base.html",
            include_str!("../../templates/service/base.html"),
        ),
        (
            "service/error.html",
            include_str!("../../templates/service/error.html"),
        ),
        (
            "service/login.html",
            include_str!("../../templates/service/login.html"),
        ),
        (
            "service/password.html",
            include_str!("../../templates/service/password.html"),
        ),
        (
            "service/verify.html",
            include_str!("../../templates/service/verify.html"),
        ),
        (
            "service/certificate.html",
            include_str!("../../templates/service/certificate.html"),
        ),
        (
            "service/verification.html",
            include_str!("../../templates/service/verification.html"),
        ),
        (
            "service/print.html",
            include_str!("../../templates/service/print.html"),
        ),
        (
            "service/history.html",
            include_str!("../../templates/service/history.html"),
        ),
        (
            "service/audit.html",
            include_str!("../../templates/service/audit.html"),
        ),
        (
            "service/audit_event.html",
            include_str!("../../templates/service/audit_event.html"),
        ),
        (
            "service/admin_nav.html",
            include_str!("../../templates/service/admin_nav.html"),
        ),
        (
            "service/admin_users.html",
            include_str!("../../templates/service/admin_users.html"),
        ),
        (
            "service/admin_offices.html",
            include_str!("../../templates/service/admin_offices.html"),
        ),
        (
            "service/admin_clients.html",
            include_str!("../../templates/service/admin_clients.html"),
        ),
        (
            "service/admin_secret.html",
            include_str!("../../templates/service/admin_secret.html"),
        ),
    ])
    .expect("embedded templates parse");
    tera
});

pub const STYLE: &str = include_str!("../../templates/service/app.css");

pub fn render(name: &str, ctx: &Context) -> Result<String, tera::Error> {
    TERA.render(name, ctx)
}

#[cfg(test)]
mod tests {
    #[test]
    fn issuer_strings_are_escaped() {
        let mut ctx = tera::Context::new();
        ctx.insert("status", &404);
        ctx.insert("message", "<script>alert(1)</script>");
        let html = super::render("service/error.html", &ctx).unwrap();
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
