//! Error policy of the web layer, in one place.
//!
//! - Each layer returns its own errors: the domain's input errors, the use cases'
//!   (`VerifyError`, `AccountError`, `TokenError`, `DamagedRow`, `ExportError`), the
//!   adapters' (`DbError`, diesel's), the API input's [`InvalidInput`]. Handlers pass them on
//!   with `?`; the `From` impls below turn them into [`WebError`] (pages) or
//!   [`ApiError`] (the JSON API), and nowhere else decides a status code or a problem
//!   type.
//! - Pages answer with a Japanese error page; the API answers `application/problem+json`
//!   (RFC 9457) with a Japanese `title` and a `detail` that names the field.
//! - An internal error ([`Internal`]) keeps its cause chain, which is logged once, when
//!   the error is made, with the request id (`X-Request-Id`) as its reference. The person
//!   sees what to do next and that reference, never the cause: the operator finds the
//!   cause in the log by the reference.

use std::error::Error as StdError;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError, UrlencodedError};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use super::templates;
use crate::adapters::db::DbError;
use crate::app::accounts::tokens::TokenError;
use crate::app::accounts::users::AccountError;
use crate::app::audit::query::ExportError;
use crate::app::evidence::bundle::BundleError;
use crate::app::verification::{DamagedRow, VerifyError};
use crate::domain::access::Scope;

/// Seconds of `Retry-After` when the database pool had no free connection in time.
pub const BUSY_RETRY_AFTER: u32 = 5;

/// Input the JSON API refuses: the field (a path such as `expected.contract_amount_yen`,
/// empty for the whole object) and what it should look like, in Japanese. Made by
/// `api::input` and the API's handlers; answered as a 422 problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct InvalidInput {
    pub field: String,
    pub detail: String,
}

impl InvalidInput {
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

/// Any error, with its `source()` chain.
pub type Cause = Box<dyn StdError + Send + Sync + 'static>;

/// An error the person cannot fix. Made once per failure: making it logs the cause
/// chain with the request id, which is then the reference shown to the person.
#[derive(Debug)]
pub struct Internal {
    reference: String,
    cause: Cause,
}

impl Internal {
    /// Logs `cause` and every `source()` below it on one line, with the reference.
    pub fn new(cause: impl Into<Cause>) -> Self {
        let cause = cause.into();
        // Inside a request the reference is its `X-Request-Id`; elsewhere (a background
        // task) a fresh one, so that page and log still match.
        let reference = super::request_id().unwrap_or_else(|| ulid::Ulid::new().to_string());
        tracing::error!(reference = %reference, cause = %chain(cause.as_ref()), "internal error");
        Self { reference, cause }
    }

    /// The id the person quotes to the operator (the request's `X-Request-Id`).
    pub fn reference(&self) -> &str {
        &self.reference
    }
}

impl std::fmt::Display for Internal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "内部エラー（参照番号 {}）", self.reference)
    }
}

impl StdError for Internal {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.cause.as_ref())
    }
}

pub use kakunin_platform::log::chain;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No session: go to the sign-in page, and from there back to `next` (the page
    /// asked for, a local path, see [`super::return_to::return_path`]).
    #[error("ログインが必要です")]
    SignIn { expired: bool, next: Option<String> },
    /// Signed in with an administrator-issued password: replace it first.
    #[error("パスワードを変更してください")]
    PasswordChange,
    #[error("この画面を表示する権限がありません")]
    Forbidden,
    #[error("お探しのページは見つかりません")]
    NotFound,
    /// A page path asked with a method it does not take (a hand-made `PUT /verify`):
    /// 405 with `Allow` (RFC 9110 §15.5.6), `allowed` as the header gives them.
    #[error("このページは {allowed} でのみ開けます。画面のリンクやボタンから操作してください")]
    MethodNotAllowed { allowed: String },
    #[error(
        "フォームの有効期限が切れたか、不正な送信です。画面を開き直してもう一度お試しください"
    )]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    /// A request no form of these pages sends: not a form, or a form too large (the
    /// status says which: 415 or 413).
    #[error("{message}")]
    Unreadable {
        status: StatusCode,
        message: &'static str,
    },
    /// No database connection came free in time: 503 with `Retry-After`.
    #[error("ただいま混み合っています。少し時間をおいて再度お試しください")]
    Busy,
    #[error("内部エラーが発生しました。時間をおいて再度お試しください")]
    Internal(#[source] Internal),
}

impl WebError {
    /// An internal error caused by `cause` (logged now, see [`Internal`]).
    pub fn internal(cause: impl Into<Cause>) -> Self {
        WebError::Internal(Internal::new(cause))
    }
}

impl From<DbError> for WebError {
    fn from(e: DbError) -> Self {
        match e {
            e if e.is_busy() => {
                tracing::warn!(cause = %chain(&e), "no database connection came free in time");
                WebError::Busy
            }
            e => WebError::internal(e),
        }
    }
}

impl From<diesel::result::Error> for WebError {
    fn from(e: diesel::result::Error) -> Self {
        WebError::internal(e)
    }
}

impl From<DamagedRow> for WebError {
    fn from(e: DamagedRow) -> Self {
        WebError::internal(e)
    }
}

/// A verification without a bundle (no record, or from before receipts) is a 404: the
/// outcome page offers the download only where there is one. A registry or profile gone
/// missing is the operator's fault, an internal error.
impl From<BundleError> for WebError {
    fn from(e: BundleError) -> Self {
        match e {
            BundleError::NoRecord(_) | BundleError::NoReceipt(_) => WebError::NotFound,
            e => WebError::internal(e),
        }
    }
}

impl From<ExportError> for WebError {
    fn from(e: ExportError) -> Self {
        WebError::internal(e)
    }
}

/// A QR code that cannot be made: only a text longer than any QR version holds, which
/// the service's own short texts never are.
impl From<kakunin_platform::qr::QrError> for WebError {
    fn from(e: kakunin_platform::qr::QrError) -> Self {
        WebError::internal(e)
    }
}

impl From<tera::Error> for WebError {
    fn from(e: tera::Error) -> Self {
        WebError::internal(e)
    }
}

impl From<VerifyError> for WebError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::NoIssuer(_) | VerifyError::NoticeIssuer(_) => {
                WebError::BadRequest(e.to_string())
            }
            VerifyError::Db(db) => db.into(),
            VerifyError::Interrupted => WebError::internal(e),
        }
    }
}

/// What the form can show, for errors the person can fix by changing what they typed;
/// every other error stays an error.
pub trait FormError {
    /// The message for the form, or the error page's error.
    fn on_form(self) -> Result<String, WebError>;
}

impl FormError for AccountError {
    fn on_form(self) -> Result<String, WebError> {
        match self {
            AccountError::Db(e) => Err(e.into()),
            e => Ok(e.to_string()),
        }
    }
}

impl FormError for TokenError {
    fn on_form(self) -> Result<String, WebError> {
        match self {
            TokenError::Db(e) => Err(e.into()),
            e => Ok(e.to_string()),
        }
    }
}

/// A form body the extractor cannot read. The pages' own forms always send one it can,
/// so this is a hand-made request or a broken proxy: the page says what was wrong, in
/// Japanese, and never quotes the body (it may hold a password or an auth key).
impl From<UrlencodedError> for WebError {
    fn from(e: UrlencodedError) -> Self {
        match e {
            UrlencodedError::ContentType => WebError::Unreadable {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message: "フォームとして送信されていません（Content-Type は application/x-www-form-urlencoded にしてください）",
            },
            UrlencodedError::Overflow { .. } | UrlencodedError::UnknownLength => {
                WebError::Unreadable {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    message: "フォームの内容が大きすぎます（64 KiB まで）",
                }
            }
            _ => WebError::BadRequest(
                "フォームの内容を読み取れません。画面を開き直してもう一度お試しください".to_owned(),
            ),
        }
    }
}

/// A query string the extractor cannot read (the pages' filters are text, checked by
/// the handler, so this is a hand-made address).
impl From<QueryPayloadError> for WebError {
    fn from(_: QueryPayloadError) -> Self {
        WebError::BadRequest(
            "アドレスの検索条件を読み取れません。画面の検索欄から検索し直してください".to_owned(),
        )
    }
}

/// A path segment that does not parse (`/audit/events/abc`) names no page.
impl From<PathError> for WebError {
    fn from(_: PathError) -> Self {
        WebError::NotFound
    }
}

/// Outside a form that can show it, an account error the person could fix is a 400 page.
impl From<AccountError> for WebError {
    fn from(e: AccountError) -> Self {
        e.on_form().map_or_else(|e| e, WebError::BadRequest)
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::SignIn { .. } | WebError::PasswordChange => StatusCode::SEE_OTHER,
            WebError::Forbidden | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Unreadable { status, .. } => *status,
            WebError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let WebError::SignIn { expired, next } = self {
            let mut query = Vec::new();
            if *expired {
                query.push(("expired", "1"));
            }
            if let Some(next) = next {
                query.push(("next", next.as_str()));
            }
            let to = match serde_urlencoded::to_string(&query) {
                Ok(q) if !q.is_empty() => format!("/login?{q}"),
                _ => "/login".to_owned(),
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
        let reference = match self {
            WebError::Internal(internal) => Some(internal.reference()),
            _ => None,
        };
        let mut ctx = tera::Context::new();
        ctx.insert("status", &self.status_code().as_u16());
        ctx.insert("message", &self.to_string());
        ctx.insert("reference", &reference);
        let body = templates::render("error.html", &ctx).unwrap_or_else(|e| {
            // The page itself failed: say so in the log, and still give the reference.
            tracing::error!(cause = %chain(&e), "error page");
            match reference {
                Some(r) => format!("内部エラーが発生しました（参照番号 {r}）"),
                None => "エラーが発生しました".to_owned(),
            }
        });
        let mut res = HttpResponse::build(self.status_code());
        match self {
            WebError::Busy => {
                res.insert_header((header::RETRY_AFTER, BUSY_RETRY_AFTER.to_string()));
            }
            WebError::MethodNotAllowed { allowed } => {
                res.insert_header((header::ALLOW, allowed.as_str()));
            }
            _ => {}
        }
        res.content_type("text/html; charset=utf-8").body(body)
    }
}

pub use kakunin_platform::problem::Problem;

/// An API error: the problem it answers with. Built only here, so the API's statuses,
/// problem types and titles are all in this file.
#[derive(Debug, thiserror::Error)]
#[error("{}", .problem.detail)]
pub struct ApiError {
    pub problem: Problem,
    /// Seconds, for `Retry-After` (u32: a wait is minutes, and the error stays small).
    pub retry_after: Option<u32>,
    /// The logged cause of a 500 (boxed: most errors have none, and `Result`s carry it).
    #[source]
    internal: Option<Box<Internal>>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            problem: Problem::new(
                status,
                format!("https://kakunin.invalid/problems/{kind}"),
                title,
                detail,
            ),
            retry_after: None,
            internal: None,
        }
    }

    /// 422 for input that `field` (a path such as `expected.contract_amount_yen`; empty
    /// for the body as a whole) does not allow.
    fn invalid_field(field: &str, detail: impl Into<String>) -> Self {
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

    /// 403 for a token whose scope is not `needed`.
    pub fn scope_refused(needed: Scope) -> Self {
        let detail = match needed {
            Scope::Verify => "このトークンの権限（scope）では照会できません。scope が verify のトークンを使ってください",
            Scope::Audit => "このトークンの権限（scope）では監査ログを参照できません。scope が audit のトークンを使ってください",
        };
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
            "この発注機関の照会に、その照会番号（id）はありません",
        )
    }

    /// 404 for a path the API does not have.
    pub fn no_such_route() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "no-such-route",
            "見つかりません",
            "この API にそのパスはありません。使えるパスは GET /api/openapi.json で確認できます",
        )
    }

    /// 429 for an API token over `settings.api.rate_per_minute` (`per_minute`
    /// lookups, a batch counting its items): retry after `seconds`.
    pub fn rate_limited(seconds: u64, per_minute: u32) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "リクエストが多すぎます",
            format!("この API トークンの照会件数の上限（1分あたり{per_minute}件。バッチは項目の数で数えます）を超えました。{seconds}秒後に再度お試しください"),
        );
        e.retry_after = Some(u32::try_from(seconds).unwrap_or(u32::MAX));
        e
    }

    /// 422 for a batch of `asked` items that a quota of `per_minute` can never hold.
    pub fn batch_over_quota(asked: u32, per_minute: u32) -> Self {
        Self::invalid_field(
            "items",
            format!("このバッチは{asked}件ですが、この API トークンの照会件数の上限は1分あたり{per_minute}件です。{per_minute}件以下ずつに分けて送ってください"),
        )
    }

    /// 503 when no database connection came free within `database.pool_timeout_ms`:
    /// the service is busy, not broken, so the client is told when to try again.
    pub fn busy() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "混み合っています",
            format!("ただいま混み合っています。{BUSY_RETRY_AFTER}秒ほどおいて再度お試しください"),
        );
        e.retry_after = Some(BUSY_RETRY_AFTER);
        e
    }

    /// 413 for a JSON body over the API's limit.
    fn payload_too_large(limit_bytes: usize) -> Self {
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

    /// 400 for a body that is not JSON at all; `position` says where it broke.
    fn malformed_json(position: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "JSON を読めません",
            format!("本文を JSON として読めません（{position}）。UTF-8 の JSON を送ってください"),
        )
    }

    /// 415 for a body sent without `Content-Type: application/json`.
    fn unsupported_media_type() -> Self {
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

    /// 500: the cause is logged now (see [`Internal`]); the detail gives the reference.
    pub fn internal(cause: impl Into<Cause>) -> Self {
        let internal = Internal::new(cause);
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "内部エラー",
            format!(
                "時間をおいて再度お試しください。続く場合は、参照番号 {} をシステム管理者にお伝えください",
                internal.reference()
            ),
        );
        e.internal = Some(Box::new(internal));
        e
    }
}

impl From<InvalidInput> for ApiError {
    fn from(e: InvalidInput) -> Self {
        ApiError::invalid_field(&e.field, e.detail)
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            e if e.is_busy() => {
                tracing::warn!(cause = %chain(&e), "no database connection came free in time");
                ApiError::busy()
            }
            e => ApiError::internal(e),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::internal(e)
    }
}

impl From<BundleError> for ApiError {
    fn from(e: BundleError) -> Self {
        match e {
            BundleError::NoRecord(_) | BundleError::NoReceipt(_) => Self::new(
                StatusCode::NOT_FOUND,
                "no-evidence",
                "証拠一式がありません",
                e.to_string(),
            ),
            e => ApiError::internal(e),
        }
    }
}

impl From<DamagedRow> for ApiError {
    fn from(e: DamagedRow) -> Self {
        ApiError::internal(e)
    }
}

impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::NoIssuer(_) => {
                ApiError::invalid_field("certificate_number", e.to_string())
            }
            VerifyError::NoticeIssuer(field) => {
                ApiError::invalid_field(field.name(), e.to_string())
            }
            VerifyError::Db(db) => db.into(),
            VerifyError::Interrupted => ApiError::internal(e),
        }
    }
}

/// The JSON body extractor's errors: too large, wrong media type, not JSON.
impl From<JsonPayloadError> for ApiError {
    fn from(e: JsonPayloadError) -> Self {
        match e {
            JsonPayloadError::OverflowKnownLength { limit, .. }
            | JsonPayloadError::Overflow { limit } => ApiError::payload_too_large(limit),
            JsonPayloadError::ContentType => ApiError::unsupported_media_type(),
            // serde_json's position only: its message could quote the body, auth keys included.
            JsonPayloadError::Deserialize(e) => {
                ApiError::malformed_json(&format!("{}行{}列", e.line(), e.column()))
            }
            JsonPayloadError::Payload(_) => {
                ApiError::malformed_json("本文を最後まで受信できませんでした")
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

/// A query string the extractor cannot read at all (the values themselves are text and
/// checked by the handler). serde's message is English and may quote the query, so it
/// is not passed on.
impl From<QueryPayloadError> for ApiError {
    fn from(_: QueryPayloadError) -> Self {
        ApiError::invalid_field(
            "",
            "クエリ文字列を読めません（名前=値 を & でつないだ形で、各名前は1回ずつにしてください）",
        )
    }
}

/// A path segment that does not parse names no resource.
impl From<PathError> for ApiError {
    fn from(_: PathError) -> Self {
        ApiError::not_found()
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.problem.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.problem.response(self.retry_after.map(u64::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What r2d2 gives when no connection came free in time.
    fn pool_timeout() -> DbError {
        let manager = diesel::r2d2::ConnectionManager::<diesel::SqliteConnection>::new(":memory:");
        let pool = diesel::r2d2::Pool::builder()
            .max_size(1)
            .connection_timeout(std::time::Duration::from_millis(10))
            .build(manager)
            .unwrap();
        let _held = pool.get().unwrap();
        match pool.get() {
            Err(e) => DbError::from(e),
            Ok(_) => panic!("the only connection is held"),
        }
    }

    #[test]
    fn a_pool_timeout_is_busy_with_retry_after_not_internal() {
        let res = ApiError::from(pool_timeout()).error_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "5");
        let res = WebError::from(pool_timeout()).error_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "5");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn the_chain_names_every_cause_once() {
        let e = Outer(Inner(std::io::Error::other("disk on fire")));
        assert_eq!(chain(&e), "outer: inner: disk on fire");
    }

    #[test]
    fn an_internal_problem_shows_its_reference_and_no_cause() {
        let e = ApiError::internal(std::io::Error::other("no such table: verifications"));
        let reference = e.internal.as_ref().unwrap().reference().to_owned();
        assert_eq!(e.problem.status, 500);
        assert!(
            e.problem.detail.contains(&reference),
            "{}",
            e.problem.detail
        );
        assert!(!e.problem.detail.contains("no such table"));
        // The cause stays reachable for the log through `source()`.
        assert!(chain(&e).contains("no such table"), "{}", chain(&e));
    }

    #[test]
    fn an_internal_page_shows_its_reference_and_no_cause() {
        let e = WebError::internal(std::io::Error::other("no such table: users"));
        let WebError::Internal(internal) = &e else {
            unreachable!()
        };
        let reference = internal.reference().to_owned();
        let res = e.error_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = actix_web::body::MessageBody::try_into_bytes(res.into_body()).unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains(&reference), "{body}");
        assert!(!body.contains("no such table"), "{body}");
    }
}
