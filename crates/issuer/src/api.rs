//! The HTTP API of the issuer protocol: `POST /v1/certificates/lookup` (§2),
//! `GET /v1/jwks` (§6) and `GET /healthz`. Handlers only parse, call one operation and
//! answer; errors leave as [`ApiError`] and become problem+json in `problem.rs`.

use actix_web::http::{header, Method};
use actix_web::{mime, web, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use futures::StreamExt;
use serde_json::Value;

use super::app::App;
use super::error::IssuerError;
use super::keyring;
use super::lookup::{self, Outcome};
use super::problem::{ApiError, BODY_FORM};
use super::store;
use crate::db;
use kakunin_protocol::ids::{AuthKey, CertificateNumber};

/// Largest request body accepted (§2 asks the client to send a few hundred bytes).
pub const MAX_BODY: usize = 64 * 1024;

/// Each path is one resource; another method gets 405 problem+json with `Allow`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        "/v1/certificates/lookup",
        [(Method::POST, web::to(lookup))],
    ))
    .service(resource("/v1/jwks", [(Method::GET, web::to(jwks))]))
    .service(resource("/healthz", [(Method::GET, web::to(healthz))]));
}

fn resource(
    path: &str,
    routes: impl IntoIterator<Item = (Method, actix_web::Route)>,
) -> actix_web::Resource {
    kakunin_platform::allow::resource(path, routes, |allow| {
        ApiError::MethodNotAllowed(allow.to_owned()).error_response()
    })
}

/// §2. Logs every attempt with the number (when readable), the client and the result;
/// never the key.
async fn lookup(
    app: web::Data<App>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut client = None;
    let mut number = None;
    let result = answer_lookup(&app, &req, payload, &mut client, &mut number).await;
    let outcome = match &result {
        Ok(_) => "found",
        Err(ApiError::NotFound) => "not_found",
        Err(ApiError::Locked { .. }) => "locked",
        Err(ApiError::Unauthorized) => "unauthorized",
        Err(ApiError::BadRequest(_)) => "bad_request",
        Err(ApiError::TooLarge) => "too_large",
        Err(ApiError::UnsupportedMediaType) => "unsupported_media_type",
        Err(_) => "error",
    };
    tracing::info!(
        certificate_number = number.as_ref().map_or("-", CertificateNumber::as_str),
        client = client.as_deref().unwrap_or("-"),
        result = outcome,
        "照会"
    );
    result
}

async fn answer_lookup(
    app: &App,
    req: &HttpRequest,
    payload: web::Payload,
    client: &mut Option<String>,
    number_out: &mut Option<CertificateNumber>,
) -> Result<HttpResponse, ApiError> {
    *client = Some(authenticate(app, req).await?);
    require_json(req)?;
    let body = read_limited(req, payload).await?;
    let (number, key) = parse_lookup(&body)?;
    *number_out = Some(number.clone());
    match lookup::lookup(app, number, key).await? {
        Outcome::Found(jws) => Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/jose+json"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(jws)),
        Outcome::NotFound => Err(ApiError::NotFound),
        Outcome::Locked { retry_after } => Err(ApiError::Locked { retry_after }),
    }
}

/// The name of the client whose bearer token this is, found by the token's digest.
async fn authenticate(app: &App, req: &HttpRequest) -> Result<String, ApiError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    let digest = super::crypto::sha256(token);
    let found = db::run(&app.pool, move |conn| {
        store::clients::by_token(conn, &digest).map_err(IssuerError::from)
    })
    .await?;
    found.map(|c| c.name).ok_or(ApiError::Unauthorized)
}

/// §2 defines the request as `Content-Type: application/json`. Parameters (`charset`)
/// do not change the media type; another type, `+json` ones included, or none is
/// refused, however JSON-like the body: a client sending `text/plain` is not following
/// the protocol and would fail on another issuer.
fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    match req.mime_type() {
        Ok(Some(m))
            if m.type_() == mime::APPLICATION
                && m.subtype() == mime::JSON
                && m.suffix().is_none() =>
        {
            Ok(())
        }
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

/// Reads the body, refusing more than [`MAX_BODY`] bytes without reading them all.
async fn read_limited(req: &HttpRequest, mut payload: web::Payload) -> Result<Vec<u8>, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(ApiError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::BadRequest("本文を読み取れませんでした。".into()))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ApiError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The two fields of §2, normalized per §1.
fn parse_lookup(body: &[u8]) -> Result<(CertificateNumber, AuthKey), ApiError> {
    let bad = |m: String| ApiError::BadRequest(m);
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
        return Err(bad(format!(
            "本文が JSON オブジェクトではありません。{BODY_FORM}"
        )));
    };
    let field = |name: &str, label: &str| match object.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(bad(format!("{name}（{label}）は文字列で送ってください。"))),
        None => Err(bad(format!("{name}（{label}）がありません。{BODY_FORM}"))),
    };
    let number = CertificateNumber::parse(&field("certificate_number", "保証契約番号")?)
        .map_err(|e| bad(e.to_string()))?;
    let key = AuthKey::parse(&field("auth_key", "認証キー")?).map_err(|e| bad(e.to_string()))?;
    Ok((number, key))
}

/// §6: every key the issuer has signed with or will sign with.
async fn jwks(app: web::Data<App>) -> Result<HttpResponse, ApiError> {
    let keys = keyring::all(&app).await?;
    let set =
        serde_json::json!({ "keys": keys.iter().map(keyring::KeyInfo::jwk).collect::<Vec<_>>() });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/jwk-set+json"))
        .body(set.to_string()))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(r#"{"status":"ok"}"#)
}

/// Every path no route claims.
pub async fn unknown_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::UnknownRoute)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_bodies_are_normalized_and_errors_name_the_field() {
        let (n, k) = parse_lookup(
            "{\"certificate_number\": \"ｗ２０２５－０００１２３\", \"auth_key\": \"7kq2-m9xd-h4t8-rb3n\"}".as_bytes(),
        )
        .unwrap();
        assert_eq!(
            (n.as_str(), k.expose()),
            ("W2025000123", "7KQ2M9XDH4T8RB3N")
        );
        let e = parse_lookup(br#"{"certificate_number": "W2025000123"}"#).unwrap_err();
        assert!(e.to_string().contains("auth_key"), "{e}");
        let e = parse_lookup(
            br#"{"certificate_number": "W2025000123", "auth_key": "7KQ2-SECRET-RB3U"}"#,
        )
        .unwrap_err();
        assert!(!e.to_string().contains("SECRET"), "{e}");
        assert!(parse_lookup(b"[]").is_err());
    }
}
