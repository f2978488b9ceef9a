//! Sign-in and sign-out pages.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::error::WebError;
use super::session::{anonymous_actor, client_address, session_cookie, Staff, COOKIE};
use super::AppState;
use crate::adapters::db::{self, DbError};
use crate::app::accounts::session::{self, Lookup};
use crate::app::accounts::{constant_time_eq, throttle, users};
use crate::app::audit::{self, Actor, Event};
use kakunin_platform::password;

#[derive(Deserialize)]
pub struct LoginQuery {
    expired: Option<String>,
    changed: Option<String>,
}

pub async fn form(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<LoginQuery>,
) -> Result<HttpResponse, WebError> {
    let cookie = req.cookie(COOKIE).map(|c| c.value().to_owned());
    let idle = state.settings.server.session_idle_minutes;
    // Reuse a pre-sign-in session when there is one; otherwise start one for the CSRF token.
    let existing = db::run(&state.verifier.pool, move |c| match cookie {
        Some(v) => session::lookup(c, &v, idle).map_err(DbError::from),
        None => Ok(Lookup::Missing),
    })
    .await?;
    let (new_cookie, csrf) = match existing {
        Lookup::Active { user: Some(_), .. } => {
            return Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/"))
                .finish());
        }
        Lookup::Active {
            session,
            user: None,
        } => (None, session.csrf),
        _ => {
            let (cookie, csrf) = db::run(&state.verifier.pool, move |c| {
                session::create(c, None, idle).map_err(DbError::from)
            })
            .await?;
            (Some(cookie), csrf)
        }
    };
    let mut ctx = tera::Context::new();
    ctx.insert("csrf", &csrf);
    ctx.insert("login", "");
    ctx.insert("expired", &q.expired.is_some());
    ctx.insert("changed", &q.changed.is_some());
    let mut resp = HttpResponse::Ok();
    if let Some(c) = new_cookie {
        resp.cookie(session_cookie(c, state.settings.server.secure_cookies));
    }
    Ok(resp
        .content_type("text/html; charset=utf-8")
        .body(super::templates::render("login.html", &ctx)?))
}

#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    csrf: String,
}

enum Attempt {
    Ok { cookie: String },
    Refused { csrf: String, message: &'static str },
    BadCsrf,
}

pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let cookie = req
        .cookie(COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let address = client_address(&req);
    let actor = anonymous_actor(&req, &format!("user:{}", form.login.trim()));
    let settings = state.settings.clone();
    let login = form.login.trim().to_owned();
    let attempt = db::run(&state.verifier.pool, move |c| {
        let idle = settings.server.session_idle_minutes;
        let csrf = match session::lookup(c, &cookie, idle)? {
            Lookup::Active { session, .. } if constant_time_eq(&session.csrf, &form.csrf) => session.csrf,
            _ => return Ok(Attempt::BadCsrf),
        };
        if throttle::refuses(c, &settings.signin, &login, &address)? {
            audit::append(c, &actor, &Event { action: "signin", target: &login, outcome: "throttled", detail: String::new() })?;
            return Ok(Attempt::Refused { csrf, message: "ログインの失敗が続いたため、しばらくログインできません。時間をおいてお試しください。" });
        }
        let user = users::find(c, &login)?;
        let stored = user.as_ref().map(|u| u.password_hash.as_str()).unwrap_or(password::dummy_hash());
        let password_ok = password::verify(&form.password, stored);
        match user.filter(|u| password_ok && !u.disabled) {
            Some(u) => c.immediate_transaction(|c| {
                // A fresh session id at sign-in: a token planted before cannot ride along.
                session::end(c, &cookie)?;
                let (cookie, _) = session::create(c, Some(u.id), idle)?;
                let actor = Actor::new(format!("user:{}", u.login), u.office_code.clone(), actor.address.clone(), &actor.user_agent);
                audit::append(c, &actor, &Event { action: "signin", target: &u.login, outcome: "ok", detail: String::new() })?;
                Ok::<_, DbError>(Attempt::Ok { cookie })
            }),
            None => c.immediate_transaction(|c| {
                throttle::record_failure(c, &login, &address)?;
                audit::append(c, &actor, &Event { action: "signin", target: &login, outcome: "failure", detail: String::new() })?;
                Ok(Attempt::Refused { csrf, message: "ログイン名またはパスワードが違います。" })
            }),
        }
    })
    .await?;
    match attempt {
        Attempt::Ok { cookie } => Ok(HttpResponse::SeeOther()
            .cookie(session_cookie(cookie, state.settings.server.secure_cookies))
            .insert_header((header::LOCATION, "/"))
            .finish()),
        Attempt::Refused { csrf, message } => {
            let mut ctx = tera::Context::new();
            ctx.insert("csrf", &csrf);
            ctx.insert("login", form.login.trim());
            ctx.insert("error", message);
            ctx.insert("expired", &false);
            ctx.insert("changed", &false);
            let body = super::templates::render("login.html", &ctx)?;
            Ok(HttpResponse::Unauthorized()
                .content_type("text/html; charset=utf-8")
                .body(body))
        }
        Attempt::BadCsrf => Err(WebError::Csrf),
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
                    action: "signout",
                    target: &staff.login,
                    outcome: "ok",
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
