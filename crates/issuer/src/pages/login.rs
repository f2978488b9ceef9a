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

/// The fields left empty ([`kakunin_platform::password::empty_sign_in_fields`]).
///
/// Such a post is named at its field (422) and is no attempt, so the throttle does not
/// count it (a contractor who pressed ログイン too soon is not brought nearer a
/// lock-out) and argon2 is not run for it.
fn missing(login: &str, password: &str) -> Option<serde_json::Value> {
    kakunin_platform::password::empty_sign_in_fields("ログインID", login, password)
}

fn login_page(
    app: &App,
    req: &HttpRequest,
    login: &str,
    error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    login_page_with(
        app,
        req,
        login,
        error,
        &serde_json::json!({}),
        StatusCode::OK,
    )
}

/// The sign-in page: the login as typed (never the password), one message for the
/// whole form (`error`) or one at each field (`errors`).
fn login_page_with(
    app: &App,
    req: &HttpRequest,
    login: &str,
    error: Option<&str>,
    errors: &serde_json::Value,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let (nonce, cookie) = session::login_nonce(req);
    let mut ctx = context(app, None);
    ctx.insert("csrf", &crypto::login_csrf(app.secret()?, &nonce));
    ctx.insert("login", login);
    ctx.insert("error", &error);
    ctx.insert("errors", errors);
    ctx.insert("title", "ログイン");
    let mut res = html(status, "login.html", &ctx)?;
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
    // As the service reads staff logins: `ＢＵＮＧＯ` or Caps Lock's `BUNGO` is `bungo`.
    let login = kakunin_platform::login::typed(&form.login);
    if let Some(errors) = missing(&login, &form.password) {
        return login_page_with(
            &app,
            &req,
            &login,
            None,
            &errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let address = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    // Typed login names are not logged: a password typed into the login field would
    // end up in the log.
    match attempt(&app, login.clone(), address, form.password).await? {
        Attempt::Throttled { wait_secs } => {
            tracing::warn!("受注者のログインを制限しました（失敗が続いています）");
            let message = format!(
                "ログインの失敗が続いたため、しばらくログインできません。約{}分後にもう一度お試しください。",
                (wait_secs.max(1) as u64).div_ceil(60)
            );
            login_page_with(
                &app,
                &req,
                &login,
                Some(&message),
                &serde_json::json!({}),
                StatusCode::TOO_MANY_REQUESTS,
            )
        }
        Attempt::Wrong => {
            tracing::info!("受注者のログインに失敗しました");
            // 401 like the service's own sign-in, so scripts and proxies see a
            // refusal, not a page that merely looks like the form again.
            login_page_with(
                &app,
                &req,
                &login,
                Some("ログインIDまたはパスワードが違います。"),
                &serde_json::json!({}),
                StatusCode::UNAUTHORIZED,
            )
        }
        Attempt::Right(contractor_id) => {
            tracing::info!(contractor_id, "受注者がログインしました");
            let cookie = session::start(&app, contractor_id).await?;
            let mut res = redirect("/certificates");
            res.add_cookie(&cookie).map_err(|_| PageError::Internal)?;
            res.add_cookie(&session::removal(LOGIN_COOKIE))
                .map_err(|_| PageError::Internal)?;
            Ok(res)
        }
    }
}

enum Attempt {
    /// Too many failures for this login or address lately: not even checked.
    Throttled {
        wait_secs: i64,
    },
    Wrong,
    Right(i32),
}

/// One sign-in attempt: the throttle first (so a right password is refused too while
/// it holds), then the password, then the failure recorded. The argon2id check takes
/// tens of milliseconds of CPU on purpose, so it runs on the blocking pool without a
/// database connection, which other requests need meanwhile.
async fn attempt(
    app: &App,
    login: String,
    address: String,
    password: String,
) -> Result<Attempt, IssuerError> {
    // The throttle keeps only a digest of what was typed.
    let login_sha256 = store::signin::login_digest(&login);
    let now = store::unix_now();
    let found = db::run(&app.pool, {
        let (address, digest) = (address.clone(), login_sha256.clone());
        move |conn| {
            if let Some(wait_secs) = store::signin::throttled_for(conn, &digest, &address, now)? {
                return Ok::<_, IssuerError>(Err(wait_secs));
            }
            Ok(Ok(store::contractors::by_login(conn, &login)?))
        }
    })
    .await?;
    let row = match found {
        Err(wait_secs) => return Ok(Attempt::Throttled { wait_secs }),
        Ok(row) => row,
    };
    let ok = tokio::task::spawn_blocking({
        let hash = row
            .as_ref()
            .map_or(kakunin_platform::password::dummy_hash(), |r| {
                r.password_hash.as_str()
            })
            .to_owned();
        move || kakunin_platform::password::verify(&password, &hash)
    })
    .await
    .map_err(|_| IssuerError::Input("ログインの確認が中断されました".into()))?;
    match row.filter(|_| ok) {
        Some(r) => Ok(Attempt::Right(r.id)),
        None => {
            db::run(&app.pool, move |conn| {
                store::signin::record_failure(conn, &login_sha256, &address, now)
                    .map_err(IssuerError::from)
            })
            .await?;
            Ok(Attempt::Wrong)
        }
    }
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
