//! The administrator's pages: staff accounts, offices (発注機関) and API clients.
//!
//! Each action calls the same `app::accounts::users` / `app::accounts::tokens` function
//! as the CLI, which checks its input, enforces the last-admin rule and writes the audit
//! row in the same transaction. Handlers here check the role and the CSRF token and
//! render; what the administrator can fix goes back to the form (`FormError`).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::error::{FormError, WebError};
use super::session::Staff;
use super::{html, templates, AppState};
use crate::adapters::db::{self, DbError};
use crate::app::accounts::tokens;
use crate::app::accounts::users;
use crate::domain::access::{Role, Scope};
use crate::domain::bounds;
use crate::domain::code::Code;
use kakunin_protocol::time::jst;

fn when(at: chrono::NaiveDateTime) -> String {
    kakunin_protocol::format::datetime_ja(at.and_utc().with_timezone(&jst()))
}

fn back(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// Renders one of the form pages: the form as typed, with every error to fix (status
/// 422), or the confirmation after a redirect.
fn form_page(
    mut ctx: tera::Context,
    template: &str,
    form: &impl Serialize,
    errors: Vec<String>,
    done: Option<&str>,
) -> Result<HttpResponse, WebError> {
    ctx.insert("form", form);
    ctx.insert("errors", &errors);
    ctx.insert("notice", &done);
    let status = if errors.is_empty() { 200 } else { 422 };
    Ok(html(status, templates::render(template, &ctx)?))
}

/// A form's messages, in its order: each problem of its typed fields, then the choice
/// it lacks (a role, a scope) when `unchosen` names one.
fn messages(problems: Vec<impl std::fmt::Display>, unchosen: Option<&str>) -> Vec<String> {
    problems
        .iter()
        .map(ToString::to_string)
        .chain(unchosen.map(str::to_owned))
        .collect()
}

/// Confirmation after a redirect: a fixed code, so nothing typed is reflected.
#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn notice(done: &Option<String>) -> Option<&'static str> {
    Some(match done.as_deref()? {
        "updated" => "利用者の役割・発注機関を変更しました。",
        "disabled" => "利用者を無効にしました。ログイン中のセッションも終了しました。",
        "enabled" => "利用者を有効にしました。無効にする前のパスワードでログインできます。",
        "office" => "発注機関を保存しました。",
        "revoked" => "API クライアントのトークンを失効させました。",
        _ => return None,
    })
}

#[derive(Serialize)]
struct UserLine {
    login: String,
    name: String,
    role: &'static str,
    role_label: &'static str,
    office_code: String,
    disabled: bool,
    created_at: String,
}

#[derive(Serialize)]
struct RoleChoice {
    value: &'static str,
    label: &'static str,
}

const ROLE_CHOICES: [Role; 3] = [Role::Officer, Role::Supervisor, Role::Admin];

/// The new-user form's fields.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct NewUserForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    office_code: String,
}

async fn users_page(
    state: &AppState,
    staff: &Staff,
    form: &NewUserForm,
    errors: Vec<String>,
    done: Option<&str>,
) -> Result<HttpResponse, WebError> {
    let (list, offices) = db::run(&state.verifier.pool, |c| {
        Ok::<_, DbError>((users::list(c)?, users::list_offices(c)?))
    })
    .await?;
    let lines: Vec<UserLine> = list
        .iter()
        .map(|u| UserLine {
            login: u.login.clone(),
            name: u.name.clone(),
            role: u.role.as_str(),
            role_label: u.role.label(),
            office_code: u.office_code.clone(),
            disabled: u.disabled,
            created_at: when(u.created_at),
        })
        .collect();
    let mut ctx = staff.context();
    ctx.insert("users", &lines);
    ctx.insert("offices", &offices);
    ctx.insert(
        "roles",
        &ROLE_CHOICES
            .iter()
            .map(|r| RoleChoice {
                value: r.as_str(),
                label: r.label(),
            })
            .collect::<Vec<_>>(),
    );
    form_page(ctx, "admin_users.html", form, errors, done)
}

pub async fn users(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<Done>,
) -> Result<HttpResponse, WebError> {
    staff.require(&[Role::Admin])?;
    users_page(
        &state,
        &staff,
        &NewUserForm::default(),
        Vec::new(),
        notice(&q.done),
    )
    .await
}

/// Shows a password or token once; the page is `no-store` like every page.
fn shown_once(
    staff: &Staff,
    title: &str,
    subject: &str,
    secret: &str,
    back_to: &str,
) -> Result<HttpResponse, WebError> {
    let mut ctx = staff.context();
    ctx.insert("title", title);
    ctx.insert("subject", subject);
    ctx.insert("secret", secret);
    ctx.insert("back", back_to);
    Ok(html(200, templates::render("admin_secret.html", &ctx)?))
}

pub async fn create_user(
    state: web::Data<AppState>,
    staff: Staff,
    form: web::Form<NewUserForm>,
) -> Result<HttpResponse, WebError> {
    staff.require(&[Role::Admin])?;
    staff.check_csrf(&form.csrf)?;
    let role = Role::parse(&form.role).ok();
    let errors = messages(
        users::new_user_problems(&form.login, &form.name, &form.office_code),
        role.is_none().then_some("役割を選んでください"),
    );
    let Some(role) = role.filter(|_| errors.is_empty()) else {
        return users_page(&state, &staff, &form, errors, None).await;
    };
    let password = users::generate_password();
    // Hashed before a connection is taken (argon2 must not hold one).
    let pw = users::NewPassword::hashed(password.clone()).await?;
    let (actor, login, name, office) = (
        staff.actor.clone(),
        form.login.trim().to_owned(),
        form.name.clone(),
        form.office_code.trim().to_owned(),
    );
    let created = db::run(&state.verifier.pool, move |c| {
        let new = users::NewUser {
            login: &login,
            name: &name,
            role,
            office_code: &office,
            password: &pw,
            must_change_password: true,
            new_office: None,
        };
        Ok::<_, DbError>(users::add(c, &actor, &new))
    })
    .await?;
    match created {
        Ok(user) => shown_once(
            &staff,
            "利用者を作成しました",
            &format!(
                "{}（{}、{}、発注機関 {}）。本人は初回ログイン時にパスワードを変更します",
                user.login,
                user.name,
                role.label(),
                user.office_code
            ),
            &password,
            "/admin/users",
        ),
        Err(e) => users_page(&state, &staff, &form, vec![e.on_form()?], None).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct UpdateUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    office_code: String,
}

pub async fn update_user(
    state: web::Data<AppState>,
    staff: Staff,
    login: web::Path<String>,
    form: web::Form<UpdateUserForm>,
) -> Result<HttpResponse, WebError> {
    staff.require(&[Role::Admin])?;
    staff.check_csrf(&form.csrf)?;
    let role =
        Role::parse(&form.role).map_err(|_| WebError::BadRequest("役割を選んでください".into()))?;
    let (actor, login, office) = (
        staff.actor.clone(),
        login.into_inner(),
        form.office_code.trim().to_owned(),
    );
    change_account(&state, &staff, "updated", move |c| {
        users::change_role_or_office(c, &actor, &login, role, &office)
    })
    .await
}

/// Runs one change to an account in the pool and answers as every account form does:
/// back to the list with `done` (`/admin/users?done=…`), or the list again with the
/// refusal (an [`AccountError`](crate::app::accounts::users::AccountError)) shown on it.
async fn change_account<T: Send + 'static>(
    state: &AppState,
    staff: &Staff,
    done: &str,
    change: impl FnOnce(&mut db::Conn) -> Result<T, users::AccountError> + Send + 'static,
) -> Result<HttpResponse, WebError> {
    let r = db::run(&state.verifier.pool, move |c| Ok::<_, DbError>(change(c))).await?;
    match r {
        Ok(_) => Ok(back(&format!("/admin/users?done={done}"))),
        Err(e) => {
            let message = e.on_form()?;
            users_page(state, staff, &NewUserForm::default(), vec![message], None).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// A form whose act cannot be taken back by the same button: the first post shows a
/// confirmation page, whose button posts again with `confirm=yes`.
#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

impl ConfirmForm {
    fn confirmed(&self) -> bool {
        self.confirm == "yes"
    }
}

/// The confirmation page: `message` says what will happen, `action` is the form's
/// own path, `back` where やめる leads.
fn confirm_page(
    staff: &Staff,
    title: &str,
    message: &str,
    button: &str,
    action: &str,
    back: &str,
) -> Result<HttpResponse, WebError> {
    let mut ctx = staff.context();
    ctx.insert("title", title);
    ctx.insert("message", message);
    ctx.insert("button", button);
    ctx.insert("action", action);
    ctx.insert("back", back);
    Ok(html(200, templates::render("admin_confirm.html", &ctx)?))
}

pub async fn disable_user(
    state: web::Data<AppState>,
    staff: Staff,
    login: web::Path<String>,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, WebError> {
    staff.require(&[Role::Admin])?;
    staff.check_csrf(&form.csrf)?;
    let (actor, login) = (staff.actor.clone(), login.into_inner());
    if !form.confirmed() {
        return confirm_page(
            &staff,
            "利用者を無効にする",
            &format!("利用者「{login}」を無効にします。ログイン中のセッションも終了します。あとで「有効にする」で戻せます。"),
            "無効にする",
            &format!("/admin/users/{login}/disable"),
            "/admin/users",
        );
    }
    change_account(&state, &staff, "disabled", move |c| {
        users::disable(c, &actor, &login)
    })
    .await
}

pub async fn enable_user(
    state: web::Data<AppState>,
    staff: Staff,
    login: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    staff.require(&[Role::Admin])?;
    staff.check_csrf(&form.csrf)?;
    let (actor, login) = (staff.actor.clone(), login.into_inner());
    change_account(&state, &staff, "enabled", move |c| {
        users::enable(c, &actor, &login)
    })
    .await
}

pub async fn reset_password(
    state: web::Data<AppState>,
    staff: Staff,
    login: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    staff.require(&[Role::Admin])?;
    staff.check_csrf(&form.csrf)?;
    let (actor, login) = (staff.actor.clone(), login.into_inner());
    let shown = login.clone();
    let password = users::generate_password();
    // Hashed before a connection is taken (argon2 must not hold one).
    let new = users::NewPassword::hashed(password.clone()).await?;
    let r = db::run(&state.verifier.pool, move |c| {
        Ok::<_, DbError>(users::reset_password(c, &actor, &login, &new).map(|()| password))
    })
    .await?;
    match r {
        Ok(password) => shown_once(
            &staff,
            "パスワードを再発行しました",
            &format!(
                "{shown}（ログイン中のセッションは終了しました）。本人は次のログイン時にパスワードを変更します"
            ),
            &password,
            "/admin/users",
        ),
        Err(e) => {
            let message = e.on_form()?;
            users_page(&state, &staff, &NewUserForm::default(), vec![message], None).await
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct OfficeForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
}

async fn offices_page(
    state: &AppState,
    staff: &Staff,
    form: &OfficeForm,
    errors: Vec<String>,
    done: Option<&str>,
) -> Result<HttpResponse, WebError> {
    let offices = db::run(&state.verifier.pool, |c| {
        users::list_offices(c).map_err(DbError::from)
    })
    .await?;
    let mut ctx = staff.context();
    ctx.insert("offices", &offices);
    form_page(ctx, "admin_offices.html", form, errors, done)
}

pub async fn offices(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<Done>,
) -> Result<HttpResponse, WebError> {
    staff.require(&[Role::Admin])?;
    offices_page(
        &state,
        &staff,
        &OfficeForm::default(),
        Vec::new(),
        notice(&q.done),
    )
    .await
}

pub async fn save_office(
    state: web::Data<AppState>,
    staff: Staff,
    form: web::Form<OfficeForm>,
) -> Result<HttpResponse, WebError> {
    staff.require(&[Role::Admin])?;
    staff.check_csrf(&form.csrf)?;
    let errors = messages(users::office_problems(&form.code, &form.name), None);
    if !errors.is_empty() {
        return offices_page(&state, &staff, &form, errors, None).await;
    }
    let (actor, code, name) = (
        staff.actor.clone(),
        form.code.trim().to_owned(),
        form.name.clone(),
    );
    let r = db::run(&state.verifier.pool, move |c| {
        Ok::<_, DbError>(users::save_office(c, &actor, &code, &name))
    })
    .await?;
    match r {
        Ok(()) => Ok(back("/admin/offices?done=office")),
        Err(e) => offices_page(&state, &staff, &form, vec![e.on_form()?], None).await,
    }
}

#[derive(Serialize)]
struct ClientLine {
    name: String,
    office_code: String,
    scope: String,
    created_at: String,
    revoked_at: Option<String>,
    last_used_at: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ClientForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    office_code: String,
    #[serde(default)]
    scope: String,
}

async fn clients_page(
    state: &AppState,
    staff: &Staff,
    form: &ClientForm,
    errors: Vec<String>,
    done: Option<&str>,
) -> Result<HttpResponse, WebError> {
    let (list, offices) = db::run(&state.verifier.pool, |c| {
        Ok::<_, DbError>((tokens::list(c)?, users::list_offices(c)?))
    })
    .await?;
    let lines: Vec<ClientLine> = list
        .iter()
        .map(|t| ClientLine {
            name: t.name.clone(),
            office_code: t.office_code.clone(),
            scope: t.scope.as_str().to_owned(),
            created_at: when(t.created_at),
            revoked_at: t.revoked_at.map(when),
            last_used_at: t.last_used_at.map(when),
        })
        .collect();
    let mut ctx = staff.context();
    ctx.insert("clients", &lines);
    ctx.insert("offices", &offices);
    form_page(ctx, "admin_clients.html", form, errors, done)
}

pub async fn clients(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<Done>,
) -> Result<HttpResponse, WebError> {
    staff.require(&[Role::Admin])?;
    clients_page(
        &state,
        &staff,
        &ClientForm::default(),
        Vec::new(),
        notice(&q.done),
    )
    .await
}

pub async fn create_client(
    state: web::Data<AppState>,
    staff: Staff,
    form: web::Form<ClientForm>,
) -> Result<HttpResponse, WebError> {
    staff.require(&[Role::Admin])?;
    staff.check_csrf(&form.csrf)?;
    let scope = Scope::parse(&form.scope).ok();
    let errors = messages(
        tokens::client_problems(&form.name, &form.office_code),
        scope
            .is_none()
            .then_some("権限（照会 / 監査ログの参照）を選んでください"),
    );
    let Some(scope) = scope.filter(|_| errors.is_empty()) else {
        return clients_page(&state, &staff, &form, errors, None).await;
    };
    // Shown as stored: full width read as ASCII, as tokens::create stores it.
    let (actor, name, office) = (
        staff.actor.clone(),
        bounds::typed_code(&form.name),
        bounds::typed_code(&form.office_code),
    );
    let shown = format!("{name}（発注機関 {office}、{}）", scope.label());
    let r = db::run(&state.verifier.pool, move |c| {
        Ok::<_, DbError>(tokens::create(c, &actor, &name, &office, scope, None))
    })
    .await?;
    match r {
        Ok(secret) => shown_once(
            &staff,
            "API クライアントを作成しました",
            &shown,
            &secret,
            "/admin/clients",
        ),
        Err(e) => clients_page(&state, &staff, &form, vec![e.on_form()?], None).await,
    }
}

pub async fn revoke_client(
    state: web::Data<AppState>,
    staff: Staff,
    name: web::Path<String>,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, WebError> {
    staff.require(&[Role::Admin])?;
    staff.check_csrf(&form.csrf)?;
    let (actor, name) = (staff.actor.clone(), name.into_inner());
    if !form.confirmed() {
        return confirm_page(
            &staff,
            "API クライアントを失効させる",
            &format!("API クライアント「{name}」のトークンを失効させます。失効は直ちに効き、元に戻せません（続けて使うには新しいクライアントを作成します）。"),
            "失効させる",
            &format!("/admin/clients/{name}/revoke"),
            "/admin/clients",
        );
    }
    let r = db::run(&state.verifier.pool, move |c| {
        Ok::<_, DbError>(tokens::revoke(c, &actor, &name))
    })
    .await?;
    match r {
        Ok(()) => Ok(back("/admin/clients?done=revoked")),
        Err(e) => {
            let message = e.on_form()?;
            clients_page(&state, &staff, &ClientForm::default(), vec![message], None).await
        }
    }
}
