//! Contractor sign-in sessions and CSRF tokens.
//!
//! Sessions are server-side: the cookie carries a random 256-bit id, the `sessions`
//! table keeps its SHA-256 (a copy of the database gives no usable cookie), the
//! contractor, a per-session CSRF token and the expiry. Server-side so that signing out
//! really ends a session, which a signed cookie could not. The cookie is `HttpOnly`,
//! `SameSite=Strict`, `Path=/`; it has no `Secure` flag because the reference issuer
//! listens on plain HTTP (put it behind TLS before exposing it beyond loopback).
//!
//! Before sign-in there is no session, so the sign-in form's CSRF token is the HMAC,
//! under the issuer secret, of a random pre-login cookie: a double submit that a page
//! on another site can neither read nor forge.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::HttpRequest;

use super::app::App;
use super::crypto;
use super::error::IssuerError;
use super::store::{self, sessions::SessionRow};
use crate::db;

pub const SESSION_COOKIE: &str = "kakunin_issuer_session";
pub const LOGIN_COOKIE: &str = "kakunin_issuer_login";
/// A working day: long enough to issue and print, short enough to not linger.
const SESSION_SECS: i64 = 8 * 3600;

/// The signed-in contractor.
pub type Session = SessionRow;

fn cookie(name: &'static str, value: String, max_age: CookieDuration) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(max_age)
        .finish()
}

/// A cookie that removes `name` from the browser.
pub fn removal(name: &'static str) -> Cookie<'static> {
    cookie(name, String::new(), CookieDuration::ZERO)
}

/// Starts a session for a contractor; returns the cookie to set.
pub async fn start(app: &App, contractor_id: i32) -> Result<Cookie<'static>, IssuerError> {
    let id = crypto::random_token();
    let digest = crypto::sha256(&id);
    let csrf = crypto::random_token();
    let expires = store::unix_now() + SESSION_SECS;
    db::run(&app.pool, move |conn| {
        store::sessions::insert(conn, &digest, contractor_id, &csrf, expires)
            .map_err(IssuerError::from)
    })
    .await?;
    Ok(cookie(
        SESSION_COOKIE,
        id,
        CookieDuration::seconds(SESSION_SECS),
    ))
}

/// The session of this request, if it has a live one.
pub async fn current(app: &App, req: &HttpRequest) -> Result<Option<Session>, IssuerError> {
    let Some(c) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let digest = crypto::sha256(c.value());
    let now = store::unix_now();
    db::run(&app.pool, move |conn| {
        store::sessions::find(conn, &digest, now).map_err(IssuerError::from)
    })
    .await
}

/// Ends the session of this request, if any.
pub async fn end(app: &App, req: &HttpRequest) -> Result<(), IssuerError> {
    let Some(c) = req.cookie(SESSION_COOKIE) else {
        return Ok(());
    };
    let digest = crypto::sha256(c.value());
    db::run(&app.pool, move |conn| {
        store::sessions::delete(conn, &digest).map_err(IssuerError::from)
    })
    .await
}

/// Whether a posted CSRF token is the expected one (constant time).
pub fn csrf_ok(expected: &str, posted: &str) -> bool {
    !expected.is_empty() && crypto::same(expected.as_bytes(), posted.as_bytes())
}

/// The pre-login cookie value of this request, or a fresh one with its cookie to set.
pub fn login_nonce(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    match req.cookie(LOGIN_COOKIE) {
        Some(c) if !c.value().is_empty() => (c.value().to_owned(), None),
        _ => {
            let value = crypto::random_token();
            let c = cookie(LOGIN_COOKIE, value.clone(), CookieDuration::hours(1));
            (value, Some(c))
        }
    }
}
