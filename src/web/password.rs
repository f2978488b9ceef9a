//! The signed-in user's own password: the form every user can open from the header, and
//! where an administrator-issued password sends its holder before anything else.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::error::WebError;
use super::session::{session_cookie, Staff};
use super::AppState;

use crate::app::accounts::users::{self, AccountError};

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
    confirm: String,
}

pub async fn form(staff: Staff) -> Result<HttpResponse, WebError> {
    page(
        &staff,
        &serde_json::Map::new(),
        actix_web::http::StatusCode::OK,
    )
}

pub async fn submit(
    state: web::Data<AppState>,
    staff: Staff,
    // Read as a `Result` so that the session decides first: someone not signed in is
    // sent to sign in whatever they posted, not told that the form was unreadable.
    form: Result<web::Form<PasswordForm>, actix_web::Error>,
) -> Result<HttpResponse, WebError> {
    let form = form
        .map_err(|_| {
            WebError::BadRequest("フォームを読み取れません。もう一度入力してください".into())
        })?
        .into_inner();
    staff.check_csrf(&form.csrf)?;
    // Everything that can be judged without the stored password is judged at once, so
    // one submission shows every field to fix; the current password is checked (and
    // counted by the throttle) only once the new one could be stored.
    let mut errors = serde_json::Map::new();
    if form.current.is_empty() {
        errors.insert(
            "current".into(),
            "現在のパスワードを入力してください".into(),
        );
    }
    if let Err(weak) = users::password_strength(&form.new) {
        errors.insert("new".into(), weak.into());
    } else if form.new == form.current {
        errors.insert(
            "new".into(),
            "現在のパスワードとは違うパスワードにしてください".into(),
        );
    }
    if form.new != form.confirm {
        errors.insert(
            "confirm".into(),
            "確認のため、新しいパスワードをもう一度同じように入力してください".into(),
        );
    }
    if errors.is_empty() {
        let (actor, login) = (staff.actor.clone(), staff.login.clone());
        let limits = state.settings.signin.clone();
        let changed = users::change_own_password(
            &state.verifier.pool,
            &actor,
            &limits,
            &login,
            form.current.clone(),
            form.new.clone(),
        )
        .await?;
        match changed {
            // Every session of the account ended with the change, this one too.
            Ok(()) => {
                let mut gone = session_cookie(String::new(), state.settings.server.secure_cookies);
                gone.make_removal();
                return Ok(HttpResponse::SeeOther()
                    .cookie(gone)
                    .insert_header((header::LOCATION, "/login?changed=1"))
                    .finish());
            }
            Err(AccountError::WrongPassword) => {
                errors.insert(
                    "current".into(),
                    AccountError::WrongPassword.to_string().into(),
                );
            }
            Err(AccountError::WeakPassword(message)) => {
                errors.insert("new".into(), message.into());
            }
            Err(AccountError::Throttled) => {
                errors.insert("current".into(), AccountError::Throttled.to_string().into());
                return page(
                    &staff,
                    &errors,
                    actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    // Passwords are never sent back: the form comes back empty, with the reasons.
    page(
        &staff,
        &errors,
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
    )
}

fn page(
    staff: &Staff,
    errors: &serde_json::Map<String, serde_json::Value>,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, WebError> {
    let mut ctx = staff.context();
    ctx.insert("errors", errors);
    ctx.insert("forced", &staff.must_change_password);
    ctx.insert("min_length", &kakunin_platform::password::MIN_LENGTH);
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(super::templates::render("password.html", &ctx)?))
}
