//! The security headers of every answer of both programs: no sniffing, no framing, no
//! referrer to other sites, a Content-Security-Policy that allows only the program's own
//! resources, and no caching of pages that show certificates or accounts.

use actix_web::middleware::DefaultHeaders;

/// The Content-Security-Policy: pages load only their own style sheet and images, post
/// only to themselves, and may not be framed. No inline script or style is allowed.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; form-action 'self'; frame-ancestors 'none'";

/// Headers added to every answer that does not set them itself.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on
        // a site's own form posts, which an Origin check could not tell from a sandboxed
        // cross-site frame. Other sites still get no referrer.
        .add(("Referrer-Policy", "same-origin"))
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("Cache-Control", "no-store"))
}
