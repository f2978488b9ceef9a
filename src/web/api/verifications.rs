//! `/api/v1/verifications`: one lookup, a batch, and reading one back.
//!
//! Every lookup goes through [`Verifier::verify`], the web form's code path: the same
//! outcomes, rules, lockouts and audit rows, whichever way a request arrives.

use actix_web::http::header::LOCATION;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde_json::value::RawValue;

use super::bearer::VerifyClient;
use super::input;
use super::model::ProblemDoc;
use super::model::{
    BatchInput, BatchItemError, BatchOutput, BatchResult, Verification, VerificationInput,
};
use crate::adapters::db::{self, DbError};
use crate::app::audit::Action;
use crate::app::verification::{self, VerificationRow, VerificationView, Verifier};
use crate::domain::case::DuplicateUse;
use crate::domain::scope::OfficeScope;
use crate::web::error::ApiError;
use crate::web::AppState;

fn view(
    row: &VerificationRow,
    verifier: &Verifier,
    duplicate_use: DuplicateUse,
) -> Result<Verification, ApiError> {
    Ok(VerificationView::new(row, &verifier.registry, duplicate_use)?.into())
}

/// The duplicate use of each row's guarantee, in order, in one query.
async fn duplicate_uses(
    verifier: &Verifier,
    rows: Vec<VerificationRow>,
) -> Result<(Vec<VerificationRow>, Vec<DuplicateUse>), ApiError> {
    Ok(db::run(&verifier.pool, move |c| {
        let uses = verification::duplicate_uses(c, &rows.iter().collect::<Vec<_>>())?;
        Ok::<_, DbError>((rows, uses))
    })
    .await?)
}

/// Looks up one certificate.
///
/// Answers 201 with the stored Verification for every outcome, `not_found` and
/// `issuer_unavailable` included: the attempt itself is the created resource.
#[utoipa::path(
    tag = "verifications",
    operation_id = "createVerification",
    request_body(content = VerificationInput, description = "保証契約番号と認証キー（全角・ハイフン可）、任意で照合値"),
    responses(
        (status = 201, description = "照会しました（結果は outcome）", body = Verification,
            headers(("Location" = String, description = "/api/v1/verifications/{id}"))),
        (status = 400, description = "本文が JSON ではありません", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "トークンがない、または失効しています", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "トークンの scope が verify ではありません", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "本文が 1 MiB を超えています", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type が application/json ではありません", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "入力が正しくありません（field が項目を示します）", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "トークンごとの上限を超えました", body = ProblemDoc, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "再試行までの秒数"))),
    ),
    security(("bearer" = []))
)]
#[post("/verifications")]
pub async fn create(
    state: web::Data<AppState>,
    client: VerifyClient,
    body: web::Json<Box<RawValue>>,
) -> Result<HttpResponse, ApiError> {
    let request = input::verification(&body)?;
    let (row, duplicate_use) = state
        .verifier
        .verify_with_use(&client.0.actor, request)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/api/v1/verifications/{}", row.id)))
        .json(view(&row, &state.verifier, duplicate_use)?))
}

/// Looks up 1 to 1000 certificates; the results keep the order of the items.
///
/// An item with bad input gets `{ref, error}` and the others go on. Issuer calls run
/// concurrently, at most `api.batch_concurrency` at a time, over one connection pool;
/// every item is stored and audited as a single lookup would be.
#[utoipa::path(
    tag = "verifications",
    operation_id = "createVerificationBatch",
    request_body(content = BatchInput, description = "1～1000件の照会"),
    responses(
        (status = 200, description = "項目と同じ順の結果", body = BatchOutput),
        (status = 400, description = "本文が JSON ではありません", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "トークンがない、または失効しています", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "トークンの scope が verify ではありません", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "本文が 1 MiB を超えています", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type が application/json ではありません", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "items が1～1000件の配列ではない、またはトークンの1分あたりの上限より多い件数です", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "トークンごとの照会件数の上限を超えました（バッチは項目の数で数えます）。何も照会していません", body = ProblemDoc, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "再試行までの秒数"))),
    ),
    security(("bearer" = []))
)]
#[post("/verifications/batch")]
pub async fn batch(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: VerifyClient,
    body: web::Json<Box<RawValue>>,
) -> Result<web::Json<BatchOutput>, ApiError> {
    let items = input::batch_items(&body)?;
    // Every item counts against the token's quota, before any issuer is asked.
    super::bearer::take_items(&req, &client.0, items.len()).await?;
    // Valid items go to the verifier; each bad one keeps its place and its problem.
    let mut requests = Vec::with_capacity(items.len());
    let problems: Vec<Option<ApiError>> = items
        .iter()
        .map(|item| match input::verification(item) {
            Ok(request) => {
                requests.push(request);
                None
            }
            Err(e) => Some(e.into()),
        })
        .collect();
    let verified = state
        .verifier
        .verify_batch(
            &client.0.actor,
            requests,
            state.settings.api.batch_concurrency,
        )
        .await?;
    // The duplicate use of every stored item, in one query after the whole batch: an
    // item's answer then counts the batch's other items too.
    let stored: Vec<VerificationRow> = verified.iter().flatten().cloned().collect();
    let (_, uses) = duplicate_uses(&state.verifier, stored).await?;
    let mut uses = uses.into_iter();
    let mut verified = verified.into_iter();
    let results = problems
        .into_iter()
        .zip(items)
        .map(|(problem, item)| {
            let outcome = match problem {
                None => verified
                    .next()
                    .expect("one result for each valid item")
                    .map_err(ApiError::from)
                    .and_then(|row| {
                        let duplicate_use = uses.next().expect("one use for each stored item");
                        view(&row, &state.verifier, duplicate_use)
                    }),
                Some(e) => Err(e),
            };
            match outcome {
                Ok(v) => BatchResult::Verification(Box::new(v)),
                Err(e) => BatchResult::Error(BatchItemError {
                    client_ref: input::ref_of(item),
                    error: e.problem,
                }),
            }
        })
        .collect();
    Ok(web::Json(BatchOutput { results }))
}

/// Reads one Verification of the client's own office; any other id is 404.
#[utoipa::path(
    tag = "verifications",
    operation_id = "getVerification",
    params(("id" = String, Path, description = "Verification の id（ULID）")),
    responses(
        (status = 200, description = "Verification", body = Verification),
        (status = 401, description = "トークンがない、または失効しています", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "トークンの scope が verify ではありません", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "この発注機関の照会にその id はありません", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "トークンごとの上限を超えました", body = ProblemDoc, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "再試行までの秒数"))),
    ),
    security(("bearer" = []))
)]
#[get("/verifications/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    client: VerifyClient,
    id: web::Path<String>,
) -> Result<web::Json<Verification>, ApiError> {
    let VerifyClient(client) = client;
    let scope = OfficeScope::One(client.office_code.clone());
    let found = state
        .verifier
        .open(
            &client.actor,
            id.into_inner(),
            scope,
            Action::VerificationView,
            |c, row| Ok(verification::duplicate_uses(c, &[row])?.remove(0)),
        )
        .await?;
    let (row, duplicate_use) = found.ok_or_else(ApiError::not_found)?;
    Ok(web::Json(view(&row, &state.verifier, duplicate_use)?))
}

/// The evidence bundle (証拠一式) of one Verification of the client's own office.
///
/// One JSON file (`application/json`, not a ZIP): `format` (`kakunin-evidence/1`),
/// `verification_id`, `issuer_jws` (the issuer's JWS exactly as received, as text),
/// `receipt` (the service's receipt, as text), `receipt_keys` (the service's keys with
/// their validity), `registry_entry` (the issuer's keys in the trust registry),
/// `profile` (`digest`, `text` of the rule profile checked with), `expected` (the 照合
/// values) and `summary_html` (the certificate page). `kakunin evidence verify FILE`
/// checks it without the database (`docs/receipt.md`).
#[utoipa::path(
    tag = "verifications",
    operation_id = "getVerificationEvidence",
    params(("id" = String, Path, description = "Verification の id（ULID）")),
    responses(
        (status = 200, description = "証拠一式（1つの JSON ファイル）", body = Object, content_type = "application/json"),
        (status = 401, description = "トークンがない、または失効しています", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "トークンの scope が verify ではありません", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "この発注機関の照会にその id はない、または電子証書のない照会です", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "トークンごとの上限を超えました", body = ProblemDoc, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "再試行までの秒数"))),
    ),
    security(("bearer" = []))
)]
#[get("/verifications/{id}/evidence")]
pub async fn evidence(
    state: web::Data<AppState>,
    client: VerifyClient,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let VerifyClient(client) = client;
    let scope = OfficeScope::One(client.office_code.clone());
    let found = crate::web::evidence::bundle(&state, client.actor, id.into_inner(), scope).await?;
    Ok(crate::web::evidence::download(
        &found.ok_or_else(ApiError::not_found)??,
    ))
}
