//! The service's public receipt keys (`GET /.well-known/jwks.json`) and the evidence
//! downloads of the outcome page: the bundle and the receipt alone.

use actix_web::http::header::CONTENT_DISPOSITION;
use actix_web::{web, HttpResponse};

use super::error::WebError;
use super::session::Staff;
use super::{officer, AppState};
use crate::adapters::db::{self, DbError};
use crate::app::audit::{Action, Actor};
use crate::app::evidence::{
    self,
    bundle::{Bundle, BundleError},
};
use crate::app::verification;
use crate::domain::scope::OfficeScope;

/// The receipt-signing public keys, current and retired (RFC 7517 JWK Set, RFC 8037
/// OKP keys), with each key's validity window (`not_before`, `not_after`, RFC 3339 in
/// Japan time; `null` for the current key) as extra members. No authentication: anyone
/// holding a receipt may check it.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .insert_header(("Cache-Control", "max-age=300"))
        .json(state.verifier.receipts.jwks())
}

/// The evidence bundle of a verification as a download: one JSON file.
pub fn download(bundle: &Bundle) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"evidence-{}.json\"",
                bundle.verification_id
            ),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(serde_json::to_vec_pretty(bundle).expect("a bundle always serializes"))
}

/// Reads the verification in `scope` (auditing the read), assembles its bundle and
/// adds the print view as its summary.
pub async fn bundle(
    state: &web::Data<AppState>,
    actor: Actor,
    id: String,
    scope: OfficeScope,
) -> Result<Option<Result<Bundle, BundleError>>, DbError> {
    let keys = state.verifier.receipts.public();
    let registry = state.verifier.registry.clone();
    db::write(&state.verifier.pool, move |c| {
        let found = evidence::open_bundle(c, &actor, &id, &scope, &keys, &registry)?;
        // The summary names who checked as the page does (a name, not `user:LOGIN`).
        found
            .map(|(mut row, made)| {
                row.actor = crate::app::audit::names::actor_label(c, &row.actor)?;
                Ok::<_, DbError>((row, made))
            })
            .transpose()
    })
    .await
    .map(|found| {
        found.map(|(row, made)| {
            made.map(|mut b| {
                // The bundle stands without its summary (the signed parts are what
                // count), but a missing summary is a fault to see in the log.
                b.summary_html = officer::summary_html(state, &row).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "the evidence bundle's summary did not render");
                    String::new()
                });
                b
            })
        })
    })
}

/// `GET /verifications/{id}/evidence`: the outcome page's download.
pub async fn page_download(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let found = bundle(&state, staff.actor.clone(), id.into_inner(), staff.scope()).await?;
    Ok(download(&found.ok_or(WebError::NotFound)??))
}

/// `GET /verifications/{id}/receipt`: the receipt alone (`docs/receipt.md`), its bytes
/// exactly as signed and stored, for a party that checks it with a JOSE library and
/// the published keys. Audited as a view; 404 when the verification has none.
pub async fn receipt_download(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (actor, scope, id) = (staff.actor.clone(), staff.scope(), id.into_inner());
    let row = db::write(&state.verifier.pool, move |c| {
        verification::open_audited(c, &actor, &id, &scope, Action::VerificationView)
            .map_err(DbError::from)
    })
    .await?
    .ok_or(WebError::NotFound)?;
    let receipt = row.receipt.ok_or(WebError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type("application/jose+json")
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"receipt-{}.json\"", row.id),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(receipt))
}
