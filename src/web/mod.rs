//! The HTTP face of the service: pages for staff, the JSON API, health checks.
//!
//! Handlers are thin: parse, make one domain call, render. Errors map to a page or to
//! problem+json in [`error`] and nowhere else.

pub mod admin;
pub mod api;
pub mod chart;
pub mod error;
pub mod health;
pub mod history;
pub mod officer;
pub mod password;
pub mod session;
pub mod signin;
pub mod supervisor;
pub mod templates;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, DefaultHeaders, Next};
use actix_web::{web, App, HttpResponse, HttpServer};
use tracing::Instrument;

use crate::app::verification::Verifier;
use crate::config::Settings;

/// The own-password form; every page sends there while an administrator-issued
/// password is still in use.
pub const PASSWORD_PATH: &str = "/password";

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
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    Ok(res)
}

/// Refuses a cross-site form post even before its CSRF token is looked at: browsers
/// send `Origin` on POST, and it must name this host. API clients send no
/// `Origin` and authenticate with bearer tokens, so they pass through.
async fn same_origin(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    let unsafe_method = !matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    if unsafe_method {
        let origin = req
            .headers()
            .get(actix_web::http::header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        let host = req.connection_info().host().to_owned();
        // `null` is sent by privacy modes and sandboxed frames alike; it proves nothing
        // either way, so such posts rest on the CSRF token alone.
        if let Some(origin) = origin.filter(|o| *o != "null") {
            let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
            if origin_host != host {
                tracing::warn!(%origin, %host, "cross-origin post refused");
                let res = actix_web::ResponseError::error_response(&error::WebError::Csrf);
                return Ok(req.into_response(res).map_into_right_body());
            }
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/static/app.css", web::get().to(style))
        .route("/login", web::get().to(signin::form))
        .route("/login", web::post().to(signin::submit))
        .route("/logout", web::post().to(signin::logout))
        .route(PASSWORD_PATH, web::get().to(password::form))
        .route(PASSWORD_PATH, web::post().to(password::submit))
        .route("/", web::get().to(officer::form))
        .route("/verify", web::post().to(officer::submit))
        .route("/verifications", web::get().to(history::list))
        .route("/verifications/{id}", web::get().to(officer::show))
        .route("/verifications/{id}/print", web::get().to(officer::print))
        .route(
            "/verifications/{id}/reverify",
            web::get().to(officer::reverify),
        )
        .route("/audit", web::get().to(supervisor::list))
        .route("/audit/events/{seq}", web::get().to(supervisor::event))
        .route("/audit/export", web::post().to(supervisor::export))
        .route(
            "/admin",
            web::get().to(|| async {
                HttpResponse::SeeOther()
                    .insert_header(("Location", "/admin/users"))
                    .finish()
            }),
        )
        .route("/admin/users", web::get().to(admin::users))
        .route("/admin/users", web::post().to(admin::create_user))
        .route(
            "/admin/users/{login}/update",
            web::post().to(admin::update_user),
        )
        .route(
            "/admin/users/{login}/disable",
            web::post().to(admin::disable_user),
        )
        .route(
            "/admin/users/{login}/reset",
            web::post().to(admin::reset_password),
        )
        .route("/admin/offices", web::get().to(admin::offices))
        .route("/admin/offices", web::post().to(admin::save_office))
        .route("/admin/clients", web::get().to(admin::clients))
        .route("/admin/clients", web::post().to(admin::create_client))
        .route(
            "/admin/clients/{name}/revoke",
            web::post().to(admin::revoke_client),
        );
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
                    // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null`
                    // on our own form posts, which the Origin check could not tell from
                    // a sandboxed cross-site frame. Other sites still get no referrer.
                    .add(("Referrer-Policy", "same-origin"))
                    .add((
                        "Content-Security-Policy",
                        "default-src 'self'; form-action 'self'; frame-ancestors 'none'",
                    ))
                    .add(("Cache-Control", "no-store")),
            )
            .wrap(from_fn(same_origin))
            .wrap(from_fn(request_id))
            .configure(routes)
            .service(api.service())
            .default_service(web::to(not_found))
    })
    .bind(bind)?
    .run()
    .await
}
