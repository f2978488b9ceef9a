//! Liveness and readiness for load balancers and operators.

use actix_web::{web, HttpResponse};
use diesel::RunQueryDsl;

use super::AppState;
use crate::adapters::db::{self, DbError};

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Ready when the database answers a query.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ok = db::run(&state.verifier.pool, |c| {
        diesel::sql_query("SELECT 1")
            .execute(c)
            .map_err(DbError::from)
    })
    .await
    .is_ok();
    if ok {
        HttpResponse::Ok().content_type("text/plain").body("ready")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unavailable")
    }
}
