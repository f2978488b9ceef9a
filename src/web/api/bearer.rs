//! `Authorization: Bearer` for the API: the token becomes an [`ApiClient`] (office,
//! scope, audit actor), then the per-token rate applies: one unit here for every
//! request, and a batch takes one more for each item past the first
//! ([`take_items`]) before any of them is sent.
//!
//! This runs as middleware rather than as an extractor so that a request without a
//! valid token is refused before its body is read, and so that 401 and 429 come before
//! any input error. The handlers' extractors ([`VerifyClient`], [`AuditClient`]) only
//! check the scope.

use std::future::{ready, Ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, AUTHORIZATION};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use super::ratelimit::{Refusal, TokenLimiter};
use crate::adapters::db::{self, DbError};
use crate::app::accounts::tokens;
use crate::app::audit::Actor;
use crate::domain::access::Scope;
use crate::web::error::ApiError;
use crate::web::session::{client_address, user_agent};
use crate::web::AppState;

/// The API client a valid, unrevoked token belongs to.
#[derive(Debug, Clone)]
pub struct ApiClient {
    pub token_id: i32,
    pub office_code: String,
    pub scope: Scope,
    /// `token:NAME`, as every audit row of this request names the client.
    pub actor: Actor,
}

/// Authenticates and rate-limits every request of the scope it wraps.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match authorize(&req).await {
        Ok(client) => {
            req.extensions_mut().insert(client);
            next.call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        }
        // Answered here, not returned as Err, so the outer middleware (request id,
        // security headers) still sees an ordinary response.
        Err(e) => Ok(req.error_response(e).map_into_right_body()),
    }
}

async fn authorize(req: &ServiceRequest) -> Result<ApiClient, ApiError> {
    let token = bearer_token(req.headers()).ok_or_else(ApiError::unauthorized)?;
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("AppState missing"))?;
    let limiter = req
        .app_data::<web::Data<TokenLimiter>>()
        .ok_or_else(|| ApiError::internal("TokenLimiter missing"))?;
    // Looked up on every request, never cached: a revoked token stops at once.
    let found = db::read(&state.verifier.pool, move |c| {
        tokens::find(c, &token).map_err(DbError::from)
    })
    .await?;
    let token = found.ok_or_else(ApiError::unauthorized)?;
    let now = db::now_utc();
    if token.use_is_stale(now) {
        let id = token.id;
        db::run(&state.verifier.pool, move |c| {
            tokens::note_use(c, id, now).map_err(DbError::from)
        })
        .await?;
    }
    limiter.take(token.id, 1).await?.map_err(refused)?;
    let http = req.request();
    Ok(ApiClient {
        token_id: token.id,
        office_code: token.office_code.clone(),
        scope: token.scope,
        actor: Actor::new(
            format!("token:{}", token.name),
            token.office_code,
            client_address(http),
            user_agent(http),
        ),
    })
}

/// Takes the units of a batch of `items` beyond the one its request took already:
/// 429 with `Retry-After` when the token's quota has not that many left, 422 when the
/// batch is larger than the quota ever holds. Call before anything is sent.
pub async fn take_items(
    req: &HttpRequest,
    client: &ApiClient,
    items: usize,
) -> Result<(), ApiError> {
    let limiter = req
        .app_data::<web::Data<TokenLimiter>>()
        .ok_or_else(|| ApiError::internal("TokenLimiter missing"))?;
    let items = u32::try_from(items).unwrap_or(u32::MAX);
    if items > limiter.per_minute() {
        return Err(ApiError::batch_over_quota(items, limiter.per_minute()));
    }
    limiter
        .take(client.token_id, items.saturating_sub(1))
        .await?
        .map_err(refused)
}

/// The answer to a refusal of the token's rate.
fn refused(r: Refusal) -> ApiError {
    match r {
        Refusal::Wait {
            seconds,
            per_minute,
        } => ApiError::rate_limited(seconds, per_minute),
        Refusal::TooMany { asked, per_minute } => ApiError::batch_over_quota(asked, per_minute),
    }
}

/// The token of `Authorization: Bearer <token>`; the scheme is case-insensitive
/// (RFC 9110 §11.1). Anything else counts as no token.
fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= 256)
        .then(|| token.to_owned())
}

fn client_with(req: &HttpRequest, scope: Scope) -> Result<ApiClient, ApiError> {
    let client = req
        .extensions()
        .get::<ApiClient>()
        .cloned()
        .ok_or_else(ApiError::unauthorized)?;
    if client.scope != scope {
        return Err(ApiError::scope_refused(scope));
    }
    Ok(client)
}

/// A client whose token has scope `verify`; 403 otherwise.
pub struct VerifyClient(pub ApiClient);

/// A client whose token has scope `audit`; 403 otherwise.
pub struct AuditClient(pub ApiClient);

impl FromRequest for VerifyClient {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(client_with(req, Scope::Verify).map(VerifyClient))
    }
}

impl FromRequest for AuditClient {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(client_with(req, Scope::Audit).map(AuditClient))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn token_of(value: &str) -> Option<String> {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        bearer_token(&h)
    }

    #[test]
    fn only_bearer_tokens_count() {
        assert_eq!(token_of("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(token_of("bearer  abc ").as_deref(), Some("abc"));
        assert_eq!(token_of("Basic abc"), None);
        assert_eq!(token_of("Bearer "), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
