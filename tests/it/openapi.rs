//! `GET /api/openapi.json`: the document names every route of service.md and nothing
//! else, each documented route is served, and the service's real answers fit its schemas.

use std::collections::BTreeSet;

use kakunin_testkit::client::{item, ApiClient};
use kakunin_testkit::issuer::unknown_key;
use kakunin_testkit::service::ServiceProcess;
use serde_json::{json, Value};

use super::batch::mixed_batch;
use super::{problem, start};

async fn document(service: &ServiceProcess) -> Value {
    let res = service.anonymous_api().get("/api/openapi.json").await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The (method, path) pairs the document describes.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), p.clone()))
        })
        .collect()
}

/// A JSON Schema for one response of the document, its `$ref`s resolved against the
/// document's own components.
fn response_schema(
    doc: &Value,
    path: &str,
    method: &str,
    status: &str,
    media: &str,
) -> jsonschema::Validator {
    let schema = &doc["paths"][path][method]["responses"][status]["content"][media]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status} {media} has a schema"
    );
    let mut root = schema.clone();
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["components"] = doc["components"].clone();
    jsonschema::validator_for(&root)
        .unwrap_or_else(|e| panic!("schema of {method} {path} {status}: {e}"))
}

fn assert_valid(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the OpenAPI schema: {errors:#?}\n{instance}"
    );
}

#[tokio::test]
async fn the_document_describes_exactly_the_routes_of_service_md_with_their_errors() {
    let service = ServiceProcess::start("");
    let doc = document(&service).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "description": doc["components"]["securitySchemes"]["bearer"]["description"]})
    );
    let expected: BTreeSet<(String, String)> = [
        ("get", "/api/openapi.json"),
        ("post", "/api/v1/verifications"),
        ("post", "/api/v1/verifications/batch"),
        ("get", "/api/v1/verifications/{id}"),
        ("get", "/api/v1/verifications/{id}/evidence"),
        ("get", "/api/v1/audit/events"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    let documented = operations(&doc);
    assert_eq!(documented, expected);
    for (method, path) in &documented {
        let op = &doc["paths"][path][method];
        let least = if path.contains("/v1/") { 4 } else { 1 };
        assert!(
            op["responses"].as_object().unwrap().len() >= least,
            "{method} {path} documents its errors"
        );
        if path.contains("/v1/") {
            assert_eq!(op["security"], json!([{"bearer": []}]), "{method} {path}");
            for status in ["401", "403", "429", "503"] {
                assert!(
                    op["responses"][status]["content"]["application/problem+json"].is_object(),
                    "{method} {path} {status}"
                );
            }
            assert!(
                op["responses"]["503"]["headers"]["Retry-After"].is_object(),
                "{method} {path}: a busy database answers 503 with Retry-After"
            );
        }
    }
    for name in [
        "Verification",
        "VerificationInput",
        "BatchInput",
        "BatchOutput",
        "Problem",
        "AuditPage",
    ] {
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "schema {name}"
        );
    }
}

#[tokio::test]
async fn every_documented_route_is_served_and_nothing_else() {
    let service = ServiceProcess::start("");
    let doc = document(&service).await;
    let verify = service.api("keiyaku", "verify");
    let audit = service.api("kansa", "audit");
    for (method, path) in &operations(&doc) {
        let path = path.replace("{id}", "01ARZ3NDEKTSV4RRFFQ69G5FAV");
        let client = if path.contains("audit") {
            &audit
        } else {
            &verify
        };
        let res = client
            .request(method.to_uppercase().parse().unwrap(), &path)
            .await;
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_ne!(
            body["type"], "https://kakunin.invalid/problems/no-such-route",
            "{method} {path}"
        );
    }
    for path in [
        "/api/v1/tokens",
        "/api/v2/verifications",
        "/api/openapi.yaml",
        "/api",
    ] {
        let p = problem(verify.get(path).await, 404).await;
        assert_eq!(
            p["type"], "https://kakunin.invalid/problems/no-such-route",
            "{path}"
        );
    }
    let res = verify
        .request(
            reqwest::Method::DELETE,
            "/api/v1/verifications/01ARZ3NDEKTSV4RRFFQ69G5FAV",
        )
        .await;
    assert_eq!(res.headers()["allow"], "GET, HEAD");
    problem(res, 405).await;
    let res = verify.get("/api/v1/verifications").await;
    assert_eq!(res.headers()["allow"], "POST");
    problem(res, 405).await;
}

/// A rejected Verification as `POST /api/v1/verifications` answers it.
async fn rejected_verification(
    issuer: &kakunin_testkit::issuer::IssuerProcess,
    api: &ApiClient,
) -> Value {
    let k = issuer.demo_key("W2025000005");
    api.verify(&item(&k.certificate_number, &k.auth_key, "s"))
        .await
}

#[tokio::test]
async fn verifications_and_batches_fit_the_documents_schemas() {
    let (issuer, service) = start();
    let doc = document(&service).await;
    let verify = service.api("keiyaku", "verify");
    let created = response_schema(
        &doc,
        "/api/v1/verifications",
        "post",
        "201",
        "application/json",
    );
    let v = rejected_verification(&issuer, &verify).await;
    assert_valid(&created, &v, "a rejected Verification");
    let nf = verify
        .verify(&item("W2099000009", &unknown_key(9), "s"))
        .await;
    assert_valid(&created, &nf, "a not_found Verification");
    let shown = response_schema(
        &doc,
        "/api/v1/verifications/{id}",
        "get",
        "200",
        "application/json",
    );
    let again = verify
        .get_json(&format!(
            "/api/v1/verifications/{}",
            v["id"].as_str().unwrap()
        ))
        .await;
    assert_valid(&shown, &again, "a read Verification");

    let batch_schema = response_schema(
        &doc,
        "/api/v1/verifications/batch",
        "post",
        "200",
        "application/json",
    );
    let items: Vec<Value> = mixed_batch(&issuer)
        .into_iter()
        .take(40)
        .map(|(v, _)| v)
        .collect();
    let out = verify
        .post("/api/v1/verifications/batch", &json!({"items": items}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert!(out["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r.get("error").is_some()));
    assert_valid(&batch_schema, &out, "a batch result");
}

#[tokio::test]
async fn problems_and_audit_pages_fit_the_documents_schemas() {
    let (issuer, service) = start();
    let doc = document(&service).await;
    let verify = service.api("keiyaku", "verify");
    let audit = service.api("kansa", "audit");
    rejected_verification(&issuer, &verify).await;
    let problem_schema = response_schema(
        &doc,
        "/api/v1/verifications",
        "post",
        "422",
        "application/problem+json",
    );
    let p = verify
        .post("/api/v1/verifications", &json!({"certificate_number": "x"}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_valid(&problem_schema, &p, "a 422 problem");
    let unauthorized = response_schema(
        &doc,
        "/api/v1/audit/events",
        "get",
        "401",
        "application/problem+json",
    );
    let p = service
        .anonymous_api()
        .get_json("/api/v1/audit/events")
        .await;
    assert_valid(&unauthorized, &p, "a 401 problem");
    let events = response_schema(
        &doc,
        "/api/v1/audit/events",
        "get",
        "200",
        "application/json",
    );
    let page = audit.get_json("/api/v1/audit/events?limit=50").await;
    assert!(!page["events"].as_array().unwrap().is_empty());
    assert_valid(&events, &page, "an audit page");
}

#[tokio::test]
async fn the_schemas_are_strict_enough_to_refuse_a_wrong_answer() {
    let (issuer, service) = start();
    let doc = document(&service).await;
    let created = response_schema(
        &doc,
        "/api/v1/verifications",
        "post",
        "201",
        "application/json",
    );
    let v = rejected_verification(&issuer, &service.api("keiyaku", "verify")).await;
    assert!(created.is_valid(&v), "the real answer fits");
    let mut wrong = v.clone();
    wrong["outcome"] = json!("probably_fine");
    assert!(
        !created.is_valid(&wrong),
        "an unknown outcome is refused by the schema"
    );
    let mut wrong = v.clone();
    wrong.as_object_mut().unwrap().remove("checked_at");
    assert!(
        !created.is_valid(&wrong),
        "a missing member is refused by the schema"
    );
}
