//! Liveness and readiness for load balancers and operators.

use actix_web::{web, HttpResponse};
use std::time::Duration;

use super::AppState;
use crate::adapters::db;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Ready when the database answers a query within two seconds (a load balancer's
/// check should not wait for the pool's whole timeout). A PostgreSQL server that went
/// away and came back makes it ready again without a restart: broken connections are
/// replaced on the next check.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let now = chrono::Utc::now().with_timezone(&kakunin_protocol::time::jst());
    if let Some(kid) = state.verifier.receipts.missing_kid() {
        // Another node rotated the receipt keys and this one did not get the new set.
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(format!(
                "receipt key {kid} of this installation is not held by this node"
            ));
    }
    if !state.verifier.receipts.can_sign_at(now) {
        // Every receipt key this node can read has retired (a rotation elsewhere whose
        // new key did not reach it): its receipts would not verify.
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("no receipt signing key in force");
    }
    let ok = db::ping(&state.verifier.pool, Duration::from_secs(2)).await;
    if ok {
        HttpResponse::Ok().content_type("text/plain").body("ready")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unavailable")
    }
}
