//! The HTTP face of the service: pages for staff, the JSON API, health checks.
//!
//! Handlers are thin: parse, make one domain call, render. Errors map to a page or to
//! problem+json in [`error`] and nowhere else.

pub mod api;
pub mod error;
pub mod health;
pub mod history;
pub mod officer;
pub mod session;
pub mod signin;
pub mod templates;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, DefaultHeaders, Next};
use actix_web::{web, App, HttpResponse, HttpServer};
use tracing::Instrument;

use crate::config::Settings;
use crate::verifications::Verifier;

/// Shared by every worker.
pub struct AppState {
    pub verifier: Verifier,
    pub settings: Arc<Settings>,
}

pub fn html(status: u16, body: String) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
        .content_type("text/html; charset=utf-8")
        .body(body)
}

async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "max-age=3600"))
        .body(templates::STYLE)
}

async fn not_found() -> Result<HttpResponse, error::WebError> {
    Err(error::WebError::NotFound)
}

/// Gives each request an id, carried by every log line of the request and returned
/// in `X-Request-Id` so an officer's report can be matched to the log.
async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = ulid::Ulid::new().to_string();
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %req.path());
    let mut res = next.call(req).instrument(span.clone()).await?;
    span.in_scope(|| tracing::info!(status = res.status().as_u16(), "handled"));
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HeaderName::from_static("x-request-id"), v);
    }
    Ok(res)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/static/app.css", web::get().to(style))
        .route("/login", web::get().to(signin::form))
        .route("/login", web::post().to(signin::submit))
        .route("/logout", web::post().to(signin::logout))
        .route("/", web::get().to(officer::form))
        .route("/verify", web::post().to(officer::submit))
        .route("/verifications", web::get().to(history::list))
        .route("/verifications/{id}", web::get().to(officer::show))
        .route("/verifications/{id}/print", web::get().to(officer::print))
        .route("/verifications/{id}/reverify", web::get().to(officer::reverify));
}

/// Runs the server until it is stopped.
pub async fn serve(state: AppState) -> std::io::Result<()> {
    let bind = state.settings.server.bind.clone();
    // The API's rate limiter is shared by every worker, so it is built out here.
    let api = api::Api::new(&state.settings);
    let state = web::Data::new(state);
    tracing::info!(%bind, "kakunin listening");
    HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::FormConfig::default().limit(64 * 1024))
            .wrap(
                DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("X-Frame-Options", "DENY"))
                    .add(("Referrer-Policy", "no-referrer"))
                    .add(("Content-Security-Policy", "default-src 'self'; form-action 'self'; frame-ancestors 'none'"))
                    .add(("Cache-Control", "no-store")),
            )
            .wrap(from_fn(request_id))
            .configure(routes)
            .service(api.service())
            .default_service(web::to(not_found))
    })
    .bind(bind)?
    .run()
    .await
}
