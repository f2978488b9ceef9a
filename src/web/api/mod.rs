//! The JSON API for API clients (`service.md` "HTTP API"): bearer tokens, single and
//! batch verification, the audit log, and the OpenAPI document.
//!
//! Everything under `/api` answers errors as `application/problem+json`, the body
//! parser's errors and unknown paths (404) or methods (405) included: the extractor
//! configs and the default services below map each to an [`ApiError`].

pub mod audit;
pub mod bearer;
pub mod input;
pub mod model;
pub mod openapi;
pub mod ratelimit;
pub mod verifications;

use actix_web::body::MessageBody;
use actix_web::dev::HttpServiceFactory;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{HeaderValue, ALLOW};
use actix_web::middleware::{from_fn, Next};
use actix_web::HttpMessage;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures::StreamExt;
use utoipa_actix_web::{scope as doc_scope, OpenApiFactory};

use self::ratelimit::TokenLimiter;
use crate::config::Settings;
use crate::web::error::ApiError;

/// Largest JSON body: a full batch of 1000 items is about 120 KiB.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What the API shares across workers; build it once, before the server starts.
#[derive(Clone)]
pub struct Api {
    limiter: web::Data<TokenLimiter>,
}

impl Api {
    /// `pool` on PostgreSQL: the rate limit's buckets are kept there, shared by every
    /// node; `None` keeps them in this process's memory (one node on SQLite).
    pub fn new(settings: &Settings, shared: Option<crate::adapters::db::DbPool>) -> Self {
        let rate = settings.api.rate_per_minute;
        let limiter = match shared {
            Some(pool) => TokenLimiter::shared(rate, pool),
            None => TokenLimiter::new(rate),
        };
        Self {
            limiter: web::Data::new(limiter),
        }
    }

    /// The `/api` scope, to mount with `App::service` in every worker.
    pub fn service(&self) -> impl HttpServiceFactory + OpenApiFactory + 'static {
        scope(self.limiter.clone())
    }
}

/// Every API route. The OpenAPI document is collected from this same value.
fn scope(limiter: web::Data<TokenLimiter>) -> impl HttpServiceFactory + OpenApiFactory + 'static {
    doc_scope::scope("/api")
        .app_data(
            web::JsonConfig::default()
                .limit(BODY_LIMIT)
                .error_handler(|e, _| ApiError::from(e).into()),
        )
        .app_data(web::QueryConfig::default().error_handler(|e, _| ApiError::from(e).into()))
        .app_data(web::PathConfig::default().error_handler(|e, _| ApiError::from(e).into()))
        .service(openapi::openapi_json)
        .service(
            doc_scope::scope("/v1")
                .app_data(limiter)
                .wrap(from_fn(bearer::authenticate))
                .wrap(from_fn(without_bom))
                // `batch` before `{id}`: the first matching resource wins.
                .service(verifications::batch)
                .service(verifications::create)
                .service(verifications::evidence)
                .service(verifications::show)
                .service(audit::events)
                .default_service(web::to(fallback)),
        )
        .default_service(web::to(fallback))
}

/// The UTF-8 byte order mark, which RFC 8259 §8.1 lets a parser ignore.
const BOM: &[u8] = kakunin_platform::cli::UTF8_BOM;

/// Passes the body on without a leading UTF-8 byte order mark. Windows tools put one
/// before the JSON they save (PowerShell 5's `Out-File -Encoding utf8`, Notepad), and
/// serde_json refuses it with a syntax error at line 1, column 1 that says nothing of
/// why; RFC 8259 §8.1 allows ignoring it, so the API does. Nothing else is changed, and
/// a mark anywhere but at the start is still an error.
async fn without_bom(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() != actix_web::http::Method::POST {
        return next.call(req).await;
    }
    let mut body = req.take_payload();
    let head = async move {
        let mut head = web::BytesMut::new();
        while head.len() < BOM.len() {
            match body.next().await {
                Some(Ok(chunk)) => head.extend_from_slice(&chunk),
                Some(Err(e)) => return (Err(e), body),
                None => break,
            }
        }
        if head.starts_with(BOM) {
            let _ = head.split_to(BOM.len());
        }
        (Ok(head.freeze()), body)
    };
    let stream = futures::stream::once(head)
        .flat_map(|(head, rest)| futures::stream::once(async move { head }).chain(rest));
    let stream: std::pin::Pin<Box<dyn futures::Stream<Item = Result<web::Bytes, PayloadError>>>> =
        Box::pin(stream);
    req.set_payload(Payload::from(stream));
    next.call(req).await
}

/// 405 with `Allow` for a known path, 404 otherwise; both as problem+json.
async fn fallback(req: HttpRequest) -> HttpResponse {
    let allowed: Vec<actix_web::http::Method> = openapi::allowed_methods(req.path())
        .into_iter()
        .filter_map(|m| actix_web::http::Method::from_bytes(m.as_bytes()).ok())
        .collect();
    if allowed.is_empty() {
        return ApiError::no_such_route().error_response();
    }
    // HEAD follows GET, as on the pages and the issuer's resources.
    let allowed = kakunin_platform::allow::allow_value(&allowed);
    let mut res = ApiError::method_not_allowed(&allowed).error_response();
    if let Ok(v) = HeaderValue::from_str(&allowed) {
        res.headers_mut().insert(ALLOW, v);
    }
    res
}
