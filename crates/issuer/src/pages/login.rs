//! Sign in and sign out. A wrong login and a wrong password read the same and take the
//! same time (an unknown login is checked against a dummy argon2id hash).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{context, html, redirect, PageError};
use crate::app::App;
use crate::crypto;
use crate::db;
use crate::error::IssuerError;
use crate::session::{self, LOGIN_COOKIE, SESSION_COOKIE};
use crate::store;

#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    csrf: String,
}

fn login_page(
    app: &App,
    req: &HttpRequest,
    login: &str,
    error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let (nonce, cookie) = session::login_nonce(req);
    let mut ctx = context(app, None);
    ctx.insert("csrf", &crypto::login_csrf(app.secret()?, &nonce));
    ctx.insert("login", login);
    ctx.insert("error", &error);
    ctx.insert("title", "ログイン");
    let mut res = html(StatusCode::OK, "login.html", &ctx)?;
    if let Some(c) = cookie {
        res.add_cookie(&c).map_err(|_| PageError::Internal)?;
    }
    Ok(res)
}

pub async fn form(app: web::Data<App>, req: HttpRequest) -> Result<HttpResponse, PageError> {
    if session::current(&app, &req).await?.is_some() {
        return Ok(redirect("/certificates"));
    }
    login_page(&app, &req, "", None)
}

pub async fn submit(
    app: web::Data<App>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let nonce = req
        .cookie(LOGIN_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let expected = if nonce.is_empty() {
        String::new()
    } else {
        crypto::login_csrf(app.secret()?, &nonce)
    };
    if !session::csrf_ok(&expected, &form.csrf) {
        return Err(PageError::Csrf);
    }
    let form = form.into_inner();
    let login = form.login.trim().to_owned();
    let contractor_id = check_password(&app, login.clone(), form.password).await?;
    let Some(contractor_id) = contractor_id else {
        tracing::info!(login = %login, "受注者のログインに失敗しました");
        return login_page(
            &app,
            &req,
            &login,
            Some("ログインIDまたはパスワードが違います。"),
        );
    };
    tracing::info!(login = %login, "受注者がログインしました");
    let cookie = session::start(&app, contractor_id).await?;
    let mut res = redirect("/certificates");
    res.add_cookie(&cookie).map_err(|_| PageError::Internal)?;
    res.add_cookie(&session::removal(LOGIN_COOKIE))
        .map_err(|_| PageError::Internal)?;
    Ok(res)
}

/// The contractor id when the password is right. The argon2id check runs on the
/// blocking pool: it takes tens of milliseconds of CPU on purpose.
async fn check_password(
    app: &App,
    login: String,
    password: String,
) -> Result<Option<i32>, IssuerError> {
    db::run(&app.pool, move |conn| {
        let row = store::contractors::by_login(conn, &login)?;
        let hash = row
            .as_ref()
            .map_or(kakunin_platform::password::dummy_hash(), |r| {
                r.password_hash.as_str()
            });
        let ok = kakunin_platform::password::verify(&password, hash);
        Ok(row.filter(|_| ok).map(|r| r.id))
    })
    .await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(
    app: web::Data<App>,
    req: HttpRequest,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let current = session::current(&app, &req)
        .await?
        .ok_or(PageError::SignIn)?;
    if !session::csrf_ok(&current.csrf_token, &form.csrf) {
        return Err(PageError::Csrf);
    }
    session::end(&app, &req).await?;
    let mut res = redirect("/login");
    res.add_cookie(&session::removal(SESSION_COOKIE))
        .map_err(|_| PageError::Internal)?;
    Ok(res)
}
