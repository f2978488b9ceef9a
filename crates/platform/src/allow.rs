//! Resources that answer a method they do not serve with 405 and the `Allow` header
//! RFC 9110 §15.5.6 requires. The header is built from the very routes the resource
//! serves, so it cannot list a method the resource refuses, nor miss one.

use actix_web::http::header::{HeaderValue, ALLOW};
use actix_web::http::Method;
use actix_web::{web, HttpResponse, Resource, Route};

/// The `Allow` value of a resource serving `methods`, in their order: `HEAD` follows
/// `GET`, since [`head_as_get`](crate::headers::head_as_get) answers it wherever `GET`
/// is served.
pub fn allow_value(methods: &[Method]) -> String {
    let mut listed: Vec<&str> = Vec::new();
    for m in methods {
        for name in [m.as_str()]
            .into_iter()
            .chain((m == Method::GET).then_some("HEAD"))
        {
            if !listed.contains(&name) {
                listed.push(name);
            }
        }
    }
    listed.join(", ")
}

/// A resource at `path` serving each `(method, route)` of `routes` (the route without
/// a method guard, e.g. `web::to(handler)`); any other method gets `refuse(allow)`, the
/// program's own 405 answer (problem+json or an error page) given the `Allow` value to
/// quote, with the `Allow` header set on it here.
pub fn resource(
    path: &str,
    routes: impl IntoIterator<Item = (Method, Route)>,
    refuse: fn(&str) -> HttpResponse,
) -> Resource {
    let mut resource = web::resource(path);
    let mut methods = Vec::new();
    for (method, route) in routes {
        resource = resource.route(route.method(method.clone()));
        methods.push(method);
    }
    let allow = allow_value(&methods);
    let header = HeaderValue::from_str(&allow).expect("method names are valid header text");
    resource.default_service(web::to(move || {
        let mut res = refuse(&allow);
        res.headers_mut().insert(ALLOW, header.clone());
        std::future::ready(res)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;
    use actix_web::test::{call_service, init_service, TestRequest};

    #[test]
    fn head_is_listed_after_get_and_nothing_twice() {
        assert_eq!(allow_value(&[Method::POST]), "POST");
        assert_eq!(allow_value(&[Method::GET]), "GET, HEAD");
        assert_eq!(
            allow_value(&[Method::GET, Method::POST, Method::GET]),
            "GET, HEAD, POST"
        );
    }

    #[actix_web::test]
    async fn other_methods_get_the_refusal_with_allow() {
        fn refuse(allow: &str) -> HttpResponse {
            HttpResponse::MethodNotAllowed().body(format!("use {allow}"))
        }
        let app = init_service(actix_web::App::new().service(resource(
            "/x",
            [
                (Method::GET, web::to(HttpResponse::Ok)),
                (Method::POST, web::to(HttpResponse::Created)),
            ],
            refuse,
        )))
        .await;
        let res = call_service(&app, TestRequest::get().uri("/x").to_request()).await;
        assert_eq!(res.status(), StatusCode::OK);
        let res = call_service(&app, TestRequest::post().uri("/x").to_request()).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let res = call_service(&app, TestRequest::delete().uri("/x").to_request()).await;
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers().get(ALLOW).unwrap(), "GET, HEAD, POST");
        let body = actix_web::test::read_body(res).await;
        assert_eq!(body.as_ref(), b"use GET, HEAD, POST");
    }
}
