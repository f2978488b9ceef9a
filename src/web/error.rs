//! Error policy of the web layer, in one place.
//!
//! - Domain and database code return their own errors (`VerifyError`, `AccountError`,
//!   `DbError`); handlers convert them with `?` into [`WebError`] (pages) or
//!   [`ApiError`] (the JSON API), and nowhere else decides a status code.
//! - Pages answer with a Japanese error page; the API answers `application/problem+json`
//!   (RFC 9457) with a Japanese `title` and a `detail` that names the field.
//! - Internal causes go to the log with the request id, never to the client: the person
//!   sees what to do next, the operator sees why.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use super::templates;
use crate::adapters::db::DbError;
use crate::app::verification::VerifyError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No session: go to the sign-in page.
    #[error("ログインが必要です")]
    SignIn { expired: bool },
    /// Signed in with an administrator-issued password: replace it first.
    #[error("パスワードを変更してください")]
    PasswordChange,
    #[error("この画面を表示する権限がありません")]
    Forbidden,
    #[error("お探しのページは見つかりません")]
    NotFound,
    #[error(
        "フォームの有効期限が切れたか、不正な送信です。画面を開き直してもう一度お試しください"
    )]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    #[error("内部エラーが発生しました。時間をおいて再度お試しください")]
    Internal(String),
}

impl From<DbError> for WebError {
    fn from(e: DbError) -> Self {
        WebError::Internal(e.to_string())
    }
}

impl From<diesel::result::Error> for WebError {
    fn from(e: diesel::result::Error) -> Self {
        WebError::Internal(e.to_string())
    }
}

impl From<VerifyError> for WebError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::NoIssuer(_) => WebError::BadRequest(e.to_string()),
            VerifyError::Db(db) => db.into(),
            VerifyError::Interrupted => WebError::Internal(e.to_string()),
        }
    }
}

impl From<tera::Error> for WebError {
    fn from(e: tera::Error) -> Self {
        WebError::Internal(format!("template: {e:?}"))
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::SignIn { .. } | WebError::PasswordChange => StatusCode::SEE_OTHER,
            WebError::Forbidden | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let WebError::SignIn { expired } = self {
            let to = if *expired {
                "/login?expired=1"
            } else {
                "/login"
            };
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to))
                .finish();
        }
        if let WebError::PasswordChange = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, super::PASSWORD_PATH))
                .finish();
        }
        if let WebError::Internal(cause) = self {
            tracing::error!(%cause, "internal error");
        }
        let mut ctx = tera::Context::new();
        ctx.insert("status", &self.status_code().as_u16());
        ctx.insert("message", &self.to_string());
        let body = templates::render("error.html", &ctx)
            .unwrap_or_else(|_| "内部エラーが発生しました".to_owned());
        HttpResponse::build(self.status_code())
            .content_type("text/html; charset=utf-8")
            .body(body)
    }
}

pub use kakunin_platform::problem::Problem;

#[derive(Debug, thiserror::Error)]
#[error("{}", .problem.detail)]
pub struct ApiError {
    pub problem: Problem,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            problem: Problem::new(
                status,
                format!("https://kakunin.invalid/problems/{kind}"),
                title,
                detail,
            ),
            retry_after: None,
        }
    }

    pub fn invalid_field(field: &str, detail: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-input",
            "入力が正しくありません",
            detail,
        );
        e.problem.field = Some(field.to_owned());
        e
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "認証が必要です",
            "Authorization: Bearer に有効な API トークンを指定してください",
        )
    }

    pub fn forbidden(detail: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "権限がありません",
            detail,
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "見つかりません",
            "指定された資源はありません",
        )
    }

    /// 429 for an API token over `settings.api.rate_per_minute`.
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "リクエストが多すぎます",
            format!("この API トークンの1分あたりのリクエスト数の上限を超えました。{retry_after}秒後に再度お試しください"),
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// 413 for a JSON body over the API's limit.
    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "リクエストが大きすぎます",
            format!(
                "本文は{} KiB以下にしてください。多くの照会は1000件以下ずつに分けて送ってください",
                limit_bytes / 1024
            ),
        )
    }

    /// 400 for a body that is not JSON at all; `detail` says where it broke.
    pub fn malformed_json(position: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "JSON を読めません",
            format!("本文を JSON として読めません（{position}）。UTF-8 の JSON を送ってください"),
        )
    }

    /// 415 for a body sent without `Content-Type: application/json`.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "形式が正しくありません",
            "Content-Type: application/json を指定して JSON を送ってください",
        )
    }

    /// 405; the caller adds the `Allow` header.
    pub fn method_not_allowed(allowed: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "このメソッドは使えません",
            format!("このパスで使えるメソッドは {allowed} です"),
        )
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "内部エラー",
            "時間をおいて再度お試しください",
        )
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        ApiError::internal(e)
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::internal(e)
    }
}

impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::NoIssuer(_) => {
                ApiError::invalid_field("certificate_number", e.to_string())
            }
            VerifyError::Db(db) => db.into(),
            VerifyError::Interrupted => ApiError::internal(e),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        self.problem.response(self.retry_after)
    }
}
