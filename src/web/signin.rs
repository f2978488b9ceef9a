//! Sign-in and sign-out pages.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::error::WebError;
use super::return_to::return_path;
use super::session::{anonymous_actor, client_address, session_cookie, Staff, COOKIE};
use super::AppState;
use crate::adapters::db::{self, DbError};
use crate::app::accounts::session::{self, Lookup};
use crate::app::accounts::{random_token, signin_token, throttle, users};
use crate::app::audit::{self, Action, Actor, AuditOutcome, Event};
use crate::domain::bounds;
use secrecy::ExposeSecret;

#[derive(Deserialize)]
pub struct LoginQuery {
    expired: Option<String>,
    changed: Option<String>,
    /// The page to show after signing in ([`return_path`]).
    next: Option<String>,
}

/// The cookie that carries the sign-in form's nonce ([`signin_token`]).
pub const SIGNIN_COOKIE: &str = "kakunin_signin";

/// What a throttled sign-in says: how long at most, from the throttle's window (failures
/// older than it no longer count).
fn throttled(window_minutes: i64) -> String {
    format!(
        "ログインの失敗が続いたため、しばらくログインできません。最長で{window_minutes}分待ってから、もう一度お試しください。"
    )
}

/// What every refused sign-in says: a typed login is not told apart from a wrong password.
const WRONG: &str = "ログイン名またはパスワードが違います。";

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The nonce cookie, limited to the sign-in path and to the form's lifetime.
fn signin_cookie(nonce: String, secure: bool) -> Cookie<'static> {
    Cookie::build(SIGNIN_COOKIE, nonce)
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(CookieDuration::minutes(signin_token::LIFETIME_MINUTES))
        .finish()
}

/// The sign-in page, with the form's token signed for the request's nonce cookie (a
/// new one when it has none). Writes nothing unless a session cookie comes along (then
/// the session is looked up, which may touch or end it).
pub async fn form(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<LoginQuery>,
) -> Result<HttpResponse, WebError> {
    if let Some(cookie) = req.cookie(COOKIE).map(|c| c.value().to_owned()) {
        let server = state.settings.server.clone();
        let existing = db::run(&state.verifier.pool, move |c| {
            session::lookup(c, &cookie, &server).map_err(DbError::from)
        })
        .await?;
        if let Lookup::Active { user: Some(_), .. } = existing {
            let to = q.next.as_deref().and_then(return_path).unwrap_or("/");
            return Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to))
                .finish());
        }
    }
    let nonce = req
        .cookie(SIGNIN_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|n| signin_token::plausible_nonce(n))
        .unwrap_or_else(random_token);
    let csrf = signin_token::issue(state.verifier.secret.expose_secret(), &nonce, now_unix());
    let mut ctx = tera::Context::new();
    ctx.insert("csrf", &csrf);
    ctx.insert("login", "");
    ctx.insert("errors", &serde_json::json!({}));
    ctx.insert("expired", &q.expired.is_some());
    ctx.insert("changed", &q.changed.is_some());
    ctx.insert(
        "next",
        q.next.as_deref().and_then(return_path).unwrap_or(""),
    );
    Ok(HttpResponse::Ok()
        .cookie(signin_cookie(nonce, state.settings.server.secure_cookies))
        .content_type("text/html; charset=utf-8")
        .body(super::templates::render("login.html", &ctx)?))
}

#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    csrf: String,
    /// The page to show after signing in ([`return_path`]); empty for `/`.
    #[serde(default)]
    next: String,
}

enum Attempt {
    Ok { cookie: String },
    Refused { message: String },
}

/// The anonymous actor of a sign-in, placed in the office of the account it names: a
/// failure (or a throttled try) against an existing account is its office's business,
/// and its supervisor sees it in the office's log. An unknown login stays with no
/// office (administrators only).
fn in_office_of(actor: Actor, user: Option<&users::User>) -> Actor {
    match user {
        Some(u) => Actor::new(
            actor.name,
            u.office_code.clone(),
            actor.address,
            &actor.user_agent,
        ),
        None => actor,
    }
}

/// A failed sign-in (wrong password, unknown or disabled login, or a password changed
/// meanwhile): counted for the throttle and audited as a failure, in the caller's write
/// transaction; the form then says only [`WRONG`].
fn refuse(
    c: &mut db::Conn,
    limits: &crate::config::Signin,
    login: &str,
    address: &str,
    actor: &Actor,
) -> Result<Attempt, DbError> {
    throttle::record_failure(c, limits, login, address)?;
    audit::append(
        c,
        actor,
        &Event {
            action: Action::Signin,
            target: login,
            outcome: AuditOutcome::Failure,
            detail: String::new(),
        },
    )?;
    Ok(Attempt::Refused {
        message: WRONG.to_owned(),
    })
}

/// The fields left empty ([`kakunin_platform::password::empty_sign_in_fields`]).
///
/// Such a post is named at its field (422) as on every other form, and is neither
/// counted by the throttle nor audited as a failed sign-in, since it tells nothing
/// about any account and reaches neither the database nor argon2. Only a typed login
/// and password make an attempt.
fn missing(login: &str, password: &str) -> Option<serde_json::Value> {
    kakunin_platform::password::empty_sign_in_fields("ログイン名", login, password)
}

/// The sign-in form again after a refusal: the login as typed (never the password), a
/// fresh token for the same nonce, and either one message for the whole form (`error`)
/// or a message at each field (`errors`).
fn refused_page(
    state: &AppState,
    nonce: &str,
    form: &LoginForm,
    error: Option<&str>,
    errors: &serde_json::Value,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, WebError> {
    let secret = state.verifier.secret.expose_secret();
    let mut ctx = tera::Context::new();
    ctx.insert("csrf", &signin_token::issue(secret, nonce, now_unix()));
    // The login as typed, so nothing is lost, but never more than a login can be.
    ctx.insert(
        "login",
        bounds::cut(form.login.trim(), bounds::LOGIN_MAX * 2),
    );
    ctx.insert("error", &error);
    ctx.insert("errors", errors);
    ctx.insert("expired", &false);
    ctx.insert("changed", &false);
    ctx.insert("next", return_path(&form.next).unwrap_or(""));
    let body = super::templates::render("login.html", &ctx)?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// Checks the form's token, then that both fields were typed (`missing`), then the
/// login's shape (a login no account could have is refused before anything is written
/// or hashed), then the throttle, then the password.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, WebError> {
    let mut form = form.into_inner();
    let secret = state.verifier.secret.expose_secret();
    let nonce = req
        .cookie(SIGNIN_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if !signin_token::verify(secret, &nonce, &form.csrf, now_unix()) {
        return Err(WebError::Csrf);
    }
    // Case is folded rather than refused: the folded login is the one account it can
    // be, and it is what the throttle counts.
    let login = crate::domain::bounds::typed_login(&form.login);
    if let Some(errors) = missing(&login, &form.password) {
        return refused_page(
            &state,
            &nonce,
            &form,
            None,
            &errors,
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let attempt = if !users::valid_login(&login) {
        Attempt::Refused {
            message: WRONG.to_owned(),
        }
    } else {
        let old_session = req
            .cookie(COOKIE)
            .map(|c| c.value().to_owned())
            .unwrap_or_default();
        let address = client_address(&req);
        let actor = anonymous_actor(&req, &format!("user:{login}"));
        let settings = state.settings.clone();
        let pool = state.verifier.pool.clone();
        // Three steps, so that argon2 (tens of milliseconds of a core) never runs while
        // a pooled connection waits on it: a flood of sign-ins must not starve the
        // verifications of connections.
        let (l, a, s, ac) = (
            login.clone(),
            address.clone(),
            settings.clone(),
            actor.clone(),
        );
        let found = db::run(&pool, move |c| {
            let user = users::find(c, &l)?;
            if let Some(why) = throttle::refuses(c, &s.signin, &l, &a)? {
                // In the account's office's log, as its failures are: its supervisor
                // sees that the account is locked out, not only that it failed.
                let ac = in_office_of(ac, user.as_ref());
                throttle::audit_refusal(c, &s.signin, &ac, Action::Signin, &l, why)?;
                return Ok::<_, DbError>(None);
            }
            Ok(Some(user))
        })
        .await?;
        match found {
            None => Attempt::Refused {
                message: throttled(state.settings.signin.window_minutes),
            },
            Some(user) => {
                let stored = user.as_ref().map(|u| u.password_hash.clone());
                let password = std::mem::take(&mut form.password);
                let password_ok = users::password_matches(password, stored).await;
                let login = login.clone();
                let actor = in_office_of(actor, user.as_ref());
                db::run(&pool, move |c| {
                    match user.filter(|u| password_ok && !u.disabled) {
                        Some(u) => c.immediate_transaction(|c| {
                            // The password checked must still be the account's: one changed
                            // meanwhile is a failed sign-in like any wrong password.
                            let now = users::find(c, &u.login)?;
                            if now.as_ref().map(|n| (&n.password_hash, n.disabled))
                                != Some((&u.password_hash, false))
                            {
                                return refuse(c, &settings.signin, &login, &address, &actor);
                            }
                            // Checked again in the write's turn: parallel attempts that all
                            // passed the first check must not get past the limit together.
                            if throttle::refuses(c, &settings.signin, &login, &address)?.is_some() {
                                return Ok(Attempt::Refused {
                                    message: throttled(settings.signin.window_minutes),
                                });
                            }
                            // A fresh session id at sign-in: a session planted before cannot ride along.
                            session::end(c, &old_session)?;
                            let (cookie, _) = session::create(c, Some(u.id), &settings.server)?;
                            let actor = Actor::new(
                                format!("user:{}", u.login),
                                u.office_code.clone(),
                                actor.address.clone(),
                                &actor.user_agent,
                            );
                            audit::append(
                                c,
                                &actor,
                                &Event {
                                    action: Action::Signin,
                                    target: &u.login,
                                    outcome: AuditOutcome::Ok,
                                    detail: String::new(),
                                },
                            )?;
                            Ok::<_, DbError>(Attempt::Ok { cookie })
                        }),
                        None => c.immediate_transaction(|c| {
                            refuse(c, &settings.signin, &login, &address, &actor)
                        }),
                    }
                })
                .await?
            }
        }
    };
    match attempt {
        Attempt::Ok { cookie } => {
            let mut used = signin_cookie(String::new(), state.settings.server.secure_cookies);
            used.make_removal();
            Ok(HttpResponse::SeeOther()
                .cookie(session_cookie(cookie, state.settings.server.secure_cookies))
                .cookie(used)
                .insert_header((header::LOCATION, return_path(&form.next).unwrap_or("/")))
                .finish())
        }
        Attempt::Refused { message } => refused_page(
            &state,
            &nonce,
            &form,
            Some(&message),
            &serde_json::json!({}),
            actix_web::http::StatusCode::UNAUTHORIZED,
        ),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: Staff,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    staff.check_csrf(&form.csrf)?;
    let cookie = req
        .cookie(COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    db::run(&state.verifier.pool, move |c| {
        c.immediate_transaction(|c| {
            session::end(c, &cookie)?;
            audit::append(
                c,
                &staff.actor,
                &Event {
                    action: Action::Signout,
                    target: &staff.login,
                    outcome: AuditOutcome::Ok,
                    detail: String::new(),
                },
            )?;
            Ok::<_, DbError>(())
        })
    })
    .await?;
    let mut gone = session_cookie(String::new(), state.settings.server.secure_cookies);
    gone.make_removal();
    Ok(HttpResponse::SeeOther()
        .cookie(gone)
        .insert_header((header::LOCATION, "/login"))
        .finish())
}
