//! The OpenAPI 3.1 document at `GET /api/openapi.json`, generated from the handlers.
//!
//! The document is collected from the very scope the server mounts
//! (utoipa-actix-web), so a route cannot be served without being described. The same
//! document answers 405: a path it knows with a method it does not list.

use std::sync::OnceLock;

use actix_web::dev::ResourceDef;
use actix_web::{get, web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, PathItem};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::OpenApiFactory;

use super::model::{RuleDoc, RuleStatusDoc};
use super::ratelimit::TokenLimiter;
use crate::domain::outcome::Outcome;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kakunin API",
        description = "電子保証の電子証書を発注機関側で確認する API です。\n\n\
            `kakunin token create` で発行した API トークンを `Authorization: Bearer` で送ります。\
            エラーはすべて `application/problem+json`（RFC 9457）で、`title` は日本語、`detail` は直し方、\
            入力の誤りでは `field` が項目を示します。トークンごとに1分あたりのリクエスト数に上限があり\
            （バッチは項目の数で数えます）、超えると 429 と `Retry-After` を返します。\
            データベースの接続が空くのを待ちきれなかったときは 503 と `Retry-After` を返します。",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&BearerScheme),
    components(schemas(Outcome, RuleStatusDoc, RuleDoc)),
    tags(
        (name = "verifications", description = "照会（1件・バッチ）と照会結果"),
        (name = "audit", description = "監査ログ（scope が audit のトークン）"),
        (name = "meta", description = "この API の説明")
    )
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, doc: &mut Document) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("`kakunin token create --name N --office CODE --scope verify|audit` が表示するトークン"))
            .build();
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Every `/api/v1` operation may answer 503 when no database connection came free within
/// `database.pool_timeout_ms` (`WebError::Busy`, mapped once in `web::error`); it is
/// added here rather than in each handler's `responses(...)` so that no route forgets it.
fn document_busy(doc: &mut Document) {
    use utoipa::openapi::{
        ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, ResponseBuilder, Type,
    };
    let busy = ResponseBuilder::new()
        .description("混み合っています（データベースの接続が空きませんでした）。Retry-After の秒数のあとで再試行してください")
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::Integer))
                .description(Some("再試行までの秒数"))
                .build(),
        )
        .build();
    for (template, item) in doc.paths.paths.iter_mut() {
        if !template.starts_with("/api/v1/") {
            continue;
        }
        for op in [&mut item.get, &mut item.post].into_iter().flatten() {
            op.responses
                .responses
                .insert("503".to_owned(), busy.clone().into());
        }
    }
}

/// The whole document: the fixed parts above plus every path of the mounted scope.
pub fn document() -> &'static Document {
    static DOC: OnceLock<Document> = OnceLock::new();
    DOC.get_or_init(|| {
        let scope = super::scope(web::Data::new(TokenLimiter::new(1)));
        let mut doc = ApiDoc::openapi();
        doc.paths.merge(scope.paths());
        document_busy(&mut doc);
        let mut schemas = Vec::new();
        scope.schemas(&mut schemas);
        doc.components
            .get_or_insert_with(Default::default)
            .schemas
            .extend(schemas);
        doc
    })
}

fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        document()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    })
}

/// The methods the document lists for a concrete request path; empty when the path
/// is not one of the API's.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    static ROUTES: OnceLock<Vec<(ResourceDef, Vec<&'static str>)>> = OnceLock::new();
    let routes = ROUTES.get_or_init(|| {
        document()
            .paths
            .paths
            .iter()
            .map(|(template, item)| (ResourceDef::new(template.as_str()), methods(item)))
            .collect()
    });
    routes
        .iter()
        .filter(|(def, _)| def.is_match(path))
        .flat_map(|(_, m)| m.iter().copied())
        .collect()
}

/// The methods the document lists for one of its path templates (`/api/v1/verifications/{id}`).
pub fn allowed_methods_of(template: &str) -> Vec<actix_web::http::Method> {
    document()
        .paths
        .paths
        .get(template)
        .map(methods)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| actix_web::http::Method::from_bytes(m.as_bytes()).ok())
        .collect()
}

fn methods(item: &PathItem) -> Vec<&'static str> {
    [
        ("GET", item.get.is_some()),
        ("POST", item.post.is_some()),
        ("PUT", item.put.is_some()),
        ("PATCH", item.patch.is_some()),
        ("DELETE", item.delete.is_some()),
    ]
    .into_iter()
    .filter_map(|(m, present)| present.then_some(m))
    .collect()
}

/// This document.
#[utoipa::path(
    tag = "meta",
    operation_id = "getOpenApi",
    responses((status = 200, description = "OpenAPI 3.1 の説明", content_type = "application/json", body = Object))
)]
#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_openapi_3_1_with_every_route() {
        let doc: serde_json::Value = serde_json::from_str(document_json()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
        for path in [
            "/api/openapi.json",
            "/api/v1/verifications",
            "/api/v1/verifications/batch",
            "/api/v1/verifications/{id}",
            "/api/v1/audit/events",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }

    #[test]
    fn methods_come_from_the_document() {
        assert_eq!(allowed_methods("/api/v1/verifications"), ["POST"]);
        assert_eq!(allowed_methods("/api/v1/verifications/01ABC"), ["GET"]);
        assert!(allowed_methods("/api/v1/nothing").is_empty());
    }
}
