//! The HTTP face of the service: pages for staff, the JSON API, health checks.
//!
//! Handlers are thin: parse, make one domain call, render. Errors map to a page or to
//! problem+json in [`error`] and nowhere else.

pub mod admin;
pub mod api;
pub mod chart;
pub mod error;
pub mod evidence;
pub mod filter;
pub mod health;
pub mod history;
pub mod officer;
pub mod paper;
pub mod password;
pub mod return_to;
pub mod session;
pub mod signin;
pub mod supervisor;
pub mod templates;
pub mod upload;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, FromRequest, Handler, HttpResponse, HttpServer, Responder, Route};
use tracing::Instrument;

use crate::app::verification::Verifier;
use crate::config::Settings;
use crate::domain::access::Role;

/// The own-password form; every page sends there while an administrator-issued
/// password is still in use.
pub const PASSWORD_PATH: &str = "/password";

/// Shared by every worker.
pub struct AppState {
    pub verifier: Verifier,
    pub settings: Arc<Settings>,
    /// Key notices uploaded on the verify page, waiting to be verified (memory only).
    pub uploads: upload::Uploads,
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

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "max-age=3600"))
        .body(templates::SCRIPT)
}

/// 404 for a path no page has; 405 with `Allow` for a page path asked with another
/// method (the API's scope answers its own, as problem+json).
async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, error::WebError> {
    // Built once, as the API's `openapi::allowed_methods` is: anyone may ask for paths
    // no page has, and a pattern with `{id}` compiles a regex.
    static PATHS: std::sync::OnceLock<Vec<(actix_web::dev::ResourceDef, Method)>> =
        std::sync::OnceLock::new();
    let paths = PATHS.get_or_init(|| {
        page_routes()
            .into_iter()
            .map(|r| (actix_web::dev::ResourceDef::new(r.path), r.method))
            .collect()
    });
    let mut methods: Vec<Method> = paths
        .iter()
        .filter(|(def, _)| def.is_match(req.path()))
        .map(|(_, method)| method.clone())
        .collect();
    if methods.is_empty() {
        return Err(error::WebError::NotFound);
    }
    methods.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    // HEAD follows GET: `head_as_get` answers it wherever GET is served.
    Err(error::WebError::MethodNotAllowed {
        allowed: kakunin_platform::allow::allow_value(&methods),
    })
}

tokio::task_local! {
    /// The id of the request being handled, for [`request_id`].
    static REQUEST_ID: String;
}

/// The `X-Request-Id` of the request being handled, when called while handling one: the
/// reference an error page or problem gives (`error::Internal`).
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(String::clone).ok()
}

/// Gives each request an id, carried by every log line of the request and returned
/// in `X-Request-Id` so an officer's report can be matched to the log.
async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = ulid::Ulid::new().to_string();
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %req.path());
    let mut res = REQUEST_ID
        .scope(id.clone(), next.call(req).instrument(span.clone()))
        .await?;
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

/// One page route: its method, its path template (actix syntax, `{id}`) and its handler.
pub struct PageRoute {
    pub method: Method,
    pub path: &'static str,
    route: Route,
}

fn on<F, Args>(method: Method, path: &'static str, handler: F) -> PageRoute
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    PageRoute {
        route: web::route().method(method.clone()).to(handler),
        method,
        path,
    }
}

/// Administrators only, like the pages it leads to: a redirect for anyone would tell an
/// anonymous client that the area exists and where its pages are.
async fn admin_home(staff: session::Staff) -> Result<HttpResponse, error::WebError> {
    staff.require(&[crate::domain::access::Role::Admin])?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/admin/users"))
        .finish())
}

/// A path that only takes a form, opened by address: the page the form lives on, for
/// whoever may use that form. After a form error the address bar shows the form's path
/// (`/verify`), and Enter there must lead back to the form, not to 404. Others are
/// turned away as the form itself would turn them away.
fn form_page(path: &'static str, page: &'static str, roles: &'static [Role]) -> PageRoute {
    let back = move |staff: session::Staff| async move {
        staff.require(roles)?;
        Ok::<_, error::WebError>(
            HttpResponse::SeeOther()
                .insert_header(("Location", page))
                .finish(),
        )
    };
    on(Method::GET, path, back)
}

const STAFF: &[Role] = &[Role::Officer, Role::Supervisor, Role::Admin];
const AUDITORS: &[Role] = &[Role::Supervisor, Role::Admin];
const ADMINS: &[Role] = &[Role::Admin];

/// Every page route, in the order actix matches them. [`routes`] mounts exactly these,
/// and [`route_table`] lists them, so a test walking the table cannot miss a route.
pub fn page_routes() -> Vec<PageRoute> {
    use Method as M;
    vec![
        on(M::GET, "/healthz", health::healthz),
        on(M::GET, "/readyz", health::readyz),
        on(M::GET, "/static/app.css", style),
        on(M::GET, "/static/app.js", script),
        on(M::GET, "/.well-known/jwks.json", evidence::jwks),
        on(M::GET, "/login", signin::form),
        on(M::POST, "/login", signin::submit),
        on(M::POST, "/logout", signin::logout),
        on(M::GET, PASSWORD_PATH, password::form),
        on(M::POST, PASSWORD_PATH, password::submit),
        on(M::GET, "/", officer::form),
        on(M::POST, "/verify", officer::submit),
        on(M::POST, "/verify/upload", upload::upload),
        on(M::GET, "/verify/upload", upload::list),
        on(M::POST, "/verify/upload/all", upload::verify_all),
        on(M::POST, "/verify/upload/{index}", upload::verify_one),
        on(M::GET, "/verifications", history::list),
        on(M::GET, "/verifications/{id}", officer::show),
        on(M::GET, "/verifications/{id}/print", officer::print),
        on(
            M::GET,
            "/verifications/{id}/evidence",
            evidence::page_download,
        ),
        on(
            M::GET,
            "/verifications/{id}/receipt",
            evidence::receipt_download,
        ),
        on(M::GET, "/verifications/{id}/reverify", officer::reverify),
        on(M::GET, "/check", paper::form),
        on(M::POST, "/check", paper::submit),
        on(M::GET, "/audit", supervisor::list),
        on(M::GET, "/audit/events/{seq}", supervisor::event),
        on(M::POST, "/audit/export", supervisor::export),
        on(M::GET, "/admin", admin_home),
        on(M::GET, "/admin/users", admin::users),
        on(M::POST, "/admin/users", admin::create_user),
        on(M::POST, "/admin/users/{login}/update", admin::update_user),
        on(M::POST, "/admin/users/{login}/disable", admin::disable_user),
        on(M::POST, "/admin/users/{login}/enable", admin::enable_user),
        on(M::POST, "/admin/users/{login}/reset", admin::reset_password),
        on(M::GET, "/admin/offices", admin::offices),
        on(M::POST, "/admin/offices", admin::save_office),
        on(M::GET, "/admin/clients", admin::clients),
        on(M::POST, "/admin/clients", admin::create_client),
        on(
            M::POST,
            "/admin/clients/{name}/revoke",
            admin::revoke_client,
        ),
        form_page("/logout", "/", STAFF),
        form_page("/verify", "/", STAFF),
        form_page("/verify/upload/all", "/verify/upload", STAFF),
        form_page("/verify/upload/{index}", "/verify/upload", STAFF),
        form_page("/audit/export", "/audit", AUDITORS),
        form_page("/admin/users/{login}/update", "/admin/users", ADMINS),
        form_page("/admin/users/{login}/disable", "/admin/users", ADMINS),
        form_page("/admin/users/{login}/enable", "/admin/users", ADMINS),
        form_page("/admin/users/{login}/reset", "/admin/users", ADMINS),
        form_page("/admin/clients/{name}/revoke", "/admin/clients", ADMINS),
    ]
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    for r in page_routes() {
        cfg.route(r.path, r.route);
    }
}

/// Every route the server answers, pages and API: `(method, path template)`, the API's
/// read from its OpenAPI document (which is collected from the mounted scope).
pub fn route_table() -> Vec<(Method, String)> {
    let mut table: Vec<(Method, String)> = page_routes()
        .into_iter()
        .map(|r| (r.method, r.path.to_owned()))
        .collect();
    for (path, _) in api::openapi::document().paths.paths.iter() {
        for m in api::openapi::allowed_methods_of(path) {
            table.push((m, path.clone()));
        }
    }
    table
}

/// Runs the server until it is stopped.
pub async fn serve(state: AppState) -> std::io::Result<()> {
    let bind = state.settings.server.bind.clone();
    // The API's rate limiter is shared by every worker, so it is built out here.
    let on_postgres =
        crate::adapters::db::Location::parse(&state.settings.database.url).is_postgres();
    let api = api::Api::new(
        &state.settings,
        on_postgres.then(|| state.verifier.pool.clone()),
    );
    let secure = state.settings.server.secure_cookies;
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            // Extractor failures as Japanese pages; the API's scope sets its own.
            .app_data(
                web::FormConfig::default()
                    .limit(64 * 1024)
                    .error_handler(|e, _| error::WebError::from(e).into()),
            )
            .app_data(
                web::QueryConfig::default().error_handler(|e, _| error::WebError::from(e).into()),
            )
            .app_data(
                web::PathConfig::default().error_handler(|e, _| error::WebError::from(e).into()),
            )
            .wrap(kakunin_platform::headers::security_headers_for(secure))
            .wrap(from_fn(same_origin))
            .wrap(from_fn(request_id_header))
            .wrap(from_fn(kakunin_platform::headers::head_as_get))
            .configure(routes)
            .service(api.service())
            .default_service(web::to(not_found))
    })
    .bind(&bind)
    .map_err(|e| {
        kakunin_platform::cli::listen_error(&bind, "設定 server.bind / 環境変数 KAKUNIN_BIND", &e)
    })?;
    // The address actually bound (port 0 asks the system for a free one): scripts and the
    // test kit read this line from standard output; logs go to standard error.
    for addr in server.addrs() {
        tracing::info!(%bind, %addr, "kakunin listening");
        println!("待ち受けています: http://{addr}/");
    }
    server.run().await
}
