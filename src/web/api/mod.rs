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

use actix_web::dev::HttpServiceFactory;
use actix_web::http::header::{HeaderValue, ALLOW};
use actix_web::middleware::from_fn;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
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

/// 405 with `Allow` for a known path, 404 otherwise; both as problem+json.
async fn fallback(req: HttpRequest) -> HttpResponse {
    let allowed = openapi::allowed_methods(req.path());
    if allowed.is_empty() {
        return ApiError::no_such_route().error_response();
    }
    let allowed = allowed.join(", ");
    let mut res = ApiError::method_not_allowed(&allowed).error_response();
    if let Ok(v) = HeaderValue::from_str(&allowed) {
        res.headers_mut().insert(ALLOW, v);
    }
    res
}
