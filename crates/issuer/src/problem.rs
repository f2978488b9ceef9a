//! The HTTP API's error type and its one mapping to `application/problem+json`
//! (RFC 9457: `type`, `title` in Japanese, `status`, `detail`).
//!
//! Policy: handlers return [`ApiError`]; an [`IssuerError`] becomes `Internal` (500)
//! with a detail that says nothing about the cause, which is logged instead. The 404 of
//! a lookup is a constant: the same bytes and headers whatever the reason.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use kakunin_platform::problem::Problem;
pub use kakunin_platform::problem::PROBLEM_JSON;

use super::error::IssuerError;

/// How a lookup's body should look (issuer-protocol §2), quoted by every answer that
/// refuses one.
pub(crate) const BODY_FORM: &str = r#"{"certificate_number": "W2025000123", "auth_key": "XXXX-XXXX-XXXX-XXXX"} の形で送ってください。"#;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request body is not what §2 asks for; the message says which field and how.
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or wrong bearer token")]
    Unauthorized,
    /// Unknown number or wrong key.
    #[error("no certificate for this number and key")]
    NotFound,
    #[error("lookups of this number are locked")]
    Locked { retry_after: u64 },
    #[error("request body over the limit")]
    TooLarge,
    /// The body is not sent as `application/json` (§2).
    #[error("request body not sent as application/json")]
    UnsupportedMediaType,
    #[error("no such route")]
    UnknownRoute,
    /// 405; holds the `Allow` value, which the answer quotes and carries as a header.
    #[error("method not allowed")]
    MethodNotAllowed(String),
    #[error("internal error")]
    Internal,
}

impl From<IssuerError> for ApiError {
    fn from(e: IssuerError) -> Self {
        tracing::error!(error = %e, "照会の処理に失敗しました");
        ApiError::Internal
    }
}

impl ApiError {
    fn parts(&self) -> (&'static str, &'static str, String) {
        match self {
            ApiError::BadRequest(d) => ("bad-request", "リクエストが不正です", d.clone()),
            ApiError::Unauthorized => (
                "unauthorized",
                "認証が必要です",
                "Authorization: Bearer で、この保証事業会社が発行した照会用トークンを送ってください。".into(),
            ),
            ApiError::NotFound => (
                "not-found",
                "該当する証書がありません",
                "保証契約番号と認証キーの組に一致する証書はありません。".into(),
            ),
            ApiError::Locked { retry_after } => (
                "locked",
                "この保証契約番号の照会は停止中です",
                format!(
                    "誤った認証キーによる照会が続いたため、この保証契約番号の照会を停止しています。{retry_after}秒後に再度お試しください。"
                ),
            ),
            ApiError::TooLarge => (
                "too-large",
                "リクエストが大きすぎます",
                "リクエストの本文は64KiB以内にしてください。".into(),
            ),
            ApiError::UnsupportedMediaType => (
                "unsupported-media-type",
                "本文の形式が違います",
                format!(
                    "Content-Type: application/json を指定して、本文を JSON で送ってください。{}",
                    BODY_FORM
                ),
            ),
            ApiError::UnknownRoute => (
                "unknown-route",
                "ページがありません",
                "このURLには何もありません。".into(),
            ),
            ApiError::MethodNotAllowed(allow) => (
                "method-not-allowed",
                "このメソッドは使えません",
                format!("このURLで使えるHTTPメソッドは {allow} です。"),
            ),
            ApiError::Internal => (
                "internal",
                "保証事業会社側のエラーです",
                "処理中にエラーが発生しました。時間をおいて再度お試しください。".into(),
            ),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound | ApiError::UnknownRoute => StatusCode::NOT_FOUND,
            ApiError::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (slug, title, detail) = self.parts();
        let problem = Problem::new(
            self.status_code(),
            format!("urn:kakunin:issuer:problem:{slug}"),
            title,
            detail,
        );
        let retry_after = match self {
            ApiError::Locked { retry_after } => Some(*retry_after),
            _ => None,
        };
        let mut res = problem.response(retry_after);
        if let ApiError::MethodNotAllowed(allow) = self {
            if let Ok(v) = HeaderValue::from_str(allow) {
                res.headers_mut().insert(header::ALLOW, v);
            }
        }
        res
    }
}
