//! The contractor's pages: sign in, the list of their certificates, the certificate
//! screen that prints on A4 as the 保証証書, 「認証キー」の表示 with the key notice
//! download, and the confirmed re-issue of a key.
//!
//! Error policy of the pages: handlers return [`PageError`], rendered once here as a
//! Japanese error page (or, for a missing session, a redirect to sign in). Causes of
//! internal errors go to the log, never to the page.

mod certificates;
mod login;
mod view;

use actix_web::http::header;
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpResponse, ResponseError};
use tera::Context;

use super::app::App;
use super::error::IssuerError;
use super::notice::NoticeFonts;
use super::session::Session;
use super::templates;

/// The style sheet of every page (the Content-Security-Policy allows no inline style).
pub async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "max-age=3600"))
        .body(templates::STYLE)
}

/// The fonts of the key notice, if they could be loaded at start.
pub struct Fonts(pub Option<NoticeFonts>);

/// Each path is one resource; another method gets a 405 error page with `Allow`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use Method as M;
    cfg.app_data(web::FormConfig::default().error_handler(|_, _| PageError::BadForm.into()))
        .service(resource("/", [(M::GET, web::to(certificates::home))]))
        .service(resource(
            "/login",
            [
                (M::GET, web::to(login::form)),
                (M::POST, web::to(login::submit)),
            ],
        ))
        .service(resource("/logout", [(M::POST, web::to(login::logout))]))
        .service(resource(
            "/certificates",
            [(M::GET, web::to(certificates::list))],
        ))
        .service(resource(
            "/certificates/{number}",
            [(M::GET, web::to(certificates::show))],
        ))
        .service(resource(
            "/certificates/{number}/key",
            [(M::GET, web::to(certificates::key))],
        ))
        .service(resource(
            "/certificates/{number}/rekey",
            [
                (M::GET, web::to(certificates::rekey_confirm)),
                (M::POST, web::to(certificates::rekey)),
            ],
        ))
        .service(resource(
            "/certificates/{number}/notice",
            [(M::POST, web::to(certificates::notice))],
        ));
}

/// A page (or the style sheet) at `path`; see `kakunin_platform::allow`.
pub fn resource(
    path: &str,
    routes: impl IntoIterator<Item = (Method, actix_web::Route)>,
) -> actix_web::Resource {
    kakunin_platform::allow::resource(path, routes, |allow| {
        PageError::MethodNotAllowed(allow.to_owned()).error_response()
    })
}

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("ログインが必要です")]
    SignIn,
    #[error("フォームの有効期限が切れたか、不正な送信です")]
    Csrf,
    #[error("フォームの内容を読み取れません")]
    BadForm,
    #[error("証書が見つかりません")]
    NotFound,
    /// Holds the `Allow` value, which the page quotes.
    #[error("このメソッドは使えません")]
    MethodNotAllowed(String),
    #[error("お知らせを作成できません")]
    NoticeUnavailable,
    /// The key was issued before the issuer kept keys: it can only be re-issued.
    #[error("認証キーを表示できません")]
    KeyNotKept,
    #[error("内部エラー")]
    Internal,
}

impl From<IssuerError> for PageError {
    fn from(e: IssuerError) -> Self {
        tracing::error!(error = %e, "受注者画面の処理に失敗しました");
        PageError::Internal
    }
}

impl From<tera::Error> for PageError {
    fn from(e: tera::Error) -> Self {
        tracing::error!(error = ?e, "画面を表示できません");
        PageError::Internal
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignIn => StatusCode::SEE_OTHER,
            PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::BadForm => StatusCode::BAD_REQUEST,
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            PageError::NoticeUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            PageError::KeyNotKept => StatusCode::CONFLICT,
            PageError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let PageError::SignIn = self {
            return redirect("/login");
        }
        let message = match self {
            PageError::MethodNotAllowed(allow) => {
                return self.page(&format!("このURLはこのHTTPメソッドでは使えません（使えるのは {allow} です）。画面のリンクやボタンから操作してください。"));
            }
            PageError::Csrf => "フォームの有効期限が切れたか、不正な送信です。画面を開き直してから、もう一度操作してください。",
            PageError::BadForm => "フォームの内容を読み取れませんでした。画面を開き直してください。",
            PageError::NotFound => "指定された電子証書は見つかりません。一覧から選んでください。",
            PageError::NoticeUnavailable => "お知らせ（PDF）を作成できません。保証事業会社にお問い合わせください。",
            PageError::KeyNotKept => "この認証キーは保存される前に発行されたため、表示もお知らせの再作成もできません。証書の画面から認証キーを再発行してください。",
            PageError::SignIn | PageError::Internal => "処理中にエラーが発生しました。時間をおいて再度お試しください。",
        };
        self.page(message)
    }
}

impl PageError {
    /// The error page saying `message`, with this error's status.
    fn page(&self, message: &str) -> HttpResponse {
        let mut ctx = Context::new();
        ctx.insert("title", "エラー");
        ctx.insert("message", message);
        ctx.insert("signed_in", &false);
        let body = templates::render("error.html", &ctx)
            .unwrap_or_else(|_| "エラーが発生しました。".to_owned());
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if let PageError::MethodNotAllowed(allow) = self {
            res.insert_header((header::ALLOW, allow.as_str()));
        }
        res.body(body)
    }
}

pub(crate) fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// A page's context with what every page shows: the issuer and the signed-in contractor.
pub(crate) fn context(app: &App, session: Option<&Session>) -> Context {
    let mut ctx = Context::new();
    ctx.insert("issuer_name", &app.issuer.name);
    ctx.insert("signed_in", &session.is_some());
    if let Some(s) = session {
        ctx.insert("contractor_name", &s.name);
        ctx.insert("csrf", &s.csrf_token);
    }
    ctx
}

pub(crate) fn html(
    status: StatusCode,
    name: &str,
    ctx: &Context,
) -> Result<HttpResponse, PageError> {
    let body = templates::render(name, ctx)?;
    Ok(HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}
