//! The page to return to after signing in: carried as `next` from a page asked for
//! without a session ([`asked_page`], by the session extractor) through the sign-in
//! form, and checked again when it is used ([`return_path`]).

use actix_web::http::Method;
use actix_web::HttpRequest;

/// The longest page address carried through the sign-in, in bytes: far beyond any
/// filter of the audit or history pages.
const NEXT_MAX: usize = 2048;

/// `next` when it is a page of this service to return to after signing in: a local path
/// (`/audit?action=verify`), never another site (`//evil.example`, `/\evil.example`,
/// `https://…`), never the sign-in or sign-out itself. Anything else is `None`, and the
/// sign-in leads to `/` as it always did: a forged link can send nobody elsewhere.
pub fn return_path(next: &str) -> Option<&str> {
    let local = next.len() <= NEXT_MAX
        && next.starts_with('/')
        && !next.starts_with("//")
        // Browsers read `\` as `/`; a URI's own path is percent-encoded and never has one.
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    let path = next.split(['?', '#']).next().unwrap_or_default();
    (local && !matches!(path, "/login" | "/logout")).then_some(next)
}

/// The page a request without a session asked for, to return to after signing in: a
/// `GET` (or `HEAD`) of a local path other than `/`. A form's post is not carried:
/// its fields, the auth key among them, are never kept or put in an address.
pub fn asked_page(req: &HttpRequest) -> Option<String> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let asked = req.uri().path_and_query()?.as_str();
    (asked != "/")
        .then(|| return_path(asked))
        .flatten()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::return_path;

    #[test]
    fn only_local_pages_are_returned_to() {
        for page in [
            "/audit?action=verify&from=2025-04-01",
            "/verifications/01JDQ4Z8T5N6V7W8X9Y0ZABCDE",
            "/admin/users",
            "/audit?actor=%E5%A4%A7%E5%88%86",
        ] {
            assert_eq!(return_path(page), Some(page));
        }
        for elsewhere in [
            "",
            "audit",
            "//evil.example/",
            "/\\evil.example",
            "/%0d%0aSet-Cookie:x=1\r\n",
            "https://evil.example/",
            "/ audit",
            "/login",
            "/login?next=/audit",
            "/logout",
            "/監査",
        ] {
            assert_eq!(return_path(elsewhere), None, "{elsewhere:?}");
        }
        assert_eq!(
            return_path(&format!("/audit?to={}", "9".repeat(3000))),
            None
        );
    }
}
