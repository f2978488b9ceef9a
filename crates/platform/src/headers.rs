//! The security headers of every answer of both programs: no sniffing, no framing, no
//! referrer to other sites, a Content-Security-Policy that allows only the program's own
//! resources, and no caching of pages that show certificates or accounts.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{DefaultHeaders, Next};

/// The Content-Security-Policy: pages load only their own style sheet and images, post
/// only to themselves, and may not be framed. No inline script or style is allowed.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; form-action 'self'; frame-ancestors 'none'";

/// `Strict-Transport-Security`: browsers that once reached the program over https keep
/// to https for a year (RFC 6797). Sent only where cookies are marked Secure, i.e. the
/// program is reached over https; over plain http a browser ignores it anyway.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// Headers added to every answer that does not set them itself.
pub fn security_headers() -> DefaultHeaders {
    base_headers()
}

/// [`security_headers`], plus [`STRICT_TRANSPORT_SECURITY`] when `https` (the
/// `secure_cookies` setting) is on.
pub fn security_headers_for(https: bool) -> DefaultHeaders {
    let headers = base_headers();
    if https {
        headers.add(("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY))
    } else {
        headers
    }
}

fn base_headers() -> DefaultHeaders {
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

/// Answers `HEAD` as `GET` would, without the body (RFC 9110 §9.3.2), on every route:
/// routes are declared for `GET` only, so a `HEAD` is routed as a `GET` and its body
/// dropped. Wrap it around the whole app (`from_fn(head_as_get)`).
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.method() != Method::HEAD {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    req.head_mut().method = Method::GET;
    let res = next.call(req).await?;
    Ok(res.map_body(|_, _| BoxBody::new(())))
}
