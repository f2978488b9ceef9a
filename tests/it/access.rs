//! The access walk: every route the server mounts (read from its own route table, so a
//! new route cannot be left out) called by every kind of caller — nobody, each role of
//! office 440001, the same roles of office 440002, and API tokens of each scope of both
//! offices. Only the callers the matrix below names may get through.

use std::collections::BTreeSet;

use kakunin_testkit::client::Browser;
use kakunin_testkit::service::{ServiceProcess, OFFICE, OTHER_OFFICE};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The callers, in the order of the matrix's columns.
const CALLERS: [&str; 11] = [
    "anonymous",
    "officer",
    "supervisor",
    "admin",
    "officer@B",
    "supervisor@B",
    "admin@B",
    "token:verify",
    "token:audit",
    "token:verify@B",
    "token:audit@B",
];

/// Who may get through each route: `Y` reaches the handler's own answer, `-` is turned
/// away (401, 403, 404, or sent to sign in); `?` is a known finding either way. Path parameters name things of office A
/// (440001): a verification, an audit event, a staff account, an API client. Office B's
/// administrator is an administrator: administrators see every office.
///
/// The token callers send only their bearer token and no cookie, so forms (which need
/// the session's or the sign-in page's CSRF token) turn them away too.
#[rustfmt::skip]
const MATRIX: &[(&str, &str, &str)] = &[
    //                                         anon | off sup adm | off sup adm @B | tokens: ver aud ver@B aud@B
    ("GET",  "/healthz",                       "Y   Y Y Y   Y Y Y   Y Y Y Y"),
    ("GET",  "/readyz",                        "Y   Y Y Y   Y Y Y   Y Y Y Y"),
    ("GET",  "/static/app.css",                "Y   Y Y Y   Y Y Y   Y Y Y Y"),
    ("GET",  "/static/app.js",                 "Y   Y Y Y   Y Y Y   Y Y Y Y"),
    ("GET",  "/.well-known/jwks.json",         "Y   Y Y Y   Y Y Y   Y Y Y Y"),
    ("GET",  "/login",                         "Y   Y Y Y   Y Y Y   Y Y Y Y"),
    ("POST", "/login",                         "Y   Y Y Y   Y Y Y   Y Y Y Y"),
    // Signing out ends at the sign-in page whoever asks, so the walk cannot tell it
    // from a refusal; with no session there is nothing to end.
    ("POST", "/logout",                        "-   - - -   - - -   - - - -"),
    ("GET",  "/password",                      "-   Y Y Y   Y Y Y   - - - -"),
    ("POST", "/password",                      "-   Y Y Y   Y Y Y   - - - -"),
    ("GET",  "/",                              "-   Y Y Y   Y Y Y   - - - -"),
    ("POST", "/verify",                        "-   Y Y Y   Y Y Y   - - - -"),
    ("GET",  "/verifications",                 "-   Y Y Y   Y Y Y   - - - -"),
    // Uploaded key notices: the list belongs to the session that uploaded them, so
    // every signed-in staff member reaches their own (empty here) list.
    ("GET",  "/verify/upload",                 "-   Y Y Y   Y Y Y   - - - -"),
    ("POST", "/verify/upload",                 "-   Y Y Y   Y Y Y   - - - -"),
    ("POST", "/verify/upload/all",             "-   Y Y Y   Y Y Y   - - - -"),
    ("POST", "/verify/upload/{index}",         "-   Y Y Y   Y Y Y   - - - -"),
    ("GET",  "/verifications/{id}",            "-   Y Y Y   - - Y   - - - -"),
    ("GET",  "/verifications/{id}/print",      "-   Y Y Y   - - Y   - - - -"),
    ("GET",  "/verifications/{id}/evidence",   "-   Y Y Y   - - Y   - - - -"),
    ("GET",  "/verifications/{id}/receipt",    "-   Y Y Y   - - Y   - - - -"),
    ("GET",  "/verifications/{id}/reverify",   "-   Y Y Y   - - Y   - - - -"),
    // The paper check answers every signed-in staff member; what it finds is their
    // office's (tests/it/paper.rs).
    ("GET",  "/check",                         "-   Y Y Y   Y Y Y   - - - -"),
    ("POST", "/check",                         "-   Y Y Y   Y Y Y   - - - -"),
    ("GET",  "/audit",                         "-   - Y Y   - Y Y   - - - -"),
    ("GET",  "/audit/events/{seq}",            "-   - Y Y   - - Y   - - - -"),
    ("POST", "/audit/export",                  "-   - Y Y   - Y Y   - - - -"),
    ("GET",  "/admin",                         "-   - - Y   - - Y   - - - -"),
    ("GET",  "/admin/users",                   "-   - - Y   - - Y   - - - -"),
    ("POST", "/admin/users",                   "-   - - Y   - - Y   - - - -"),
    ("POST", "/admin/users/{login}/update",    "-   - - Y   - - Y   - - - -"),
    ("POST", "/admin/users/{login}/disable",   "-   - - Y   - - Y   - - - -"),
    ("POST", "/admin/users/{login}/enable",    "-   - - Y   - - Y   - - - -"),
    ("POST", "/admin/users/{login}/reset",     "-   - - Y   - - Y   - - - -"),
    ("GET",  "/admin/offices",                 "-   - - Y   - - Y   - - - -"),
    ("POST", "/admin/offices",                 "-   - - Y   - - Y   - - - -"),
    ("GET",  "/admin/clients",                 "-   - - Y   - - Y   - - - -"),
    ("POST", "/admin/clients",                 "-   - - Y   - - Y   - - - -"),
    ("POST", "/admin/clients/{name}/revoke",   "-   - - Y   - - Y   - - - -"),
    // A form's path opened by address goes back to the form's page, for whoever may
    // use the form.
    ("GET",  "/logout",                        "-   Y Y Y   Y Y Y   - - - -"),
    ("GET",  "/verify",                        "-   Y Y Y   Y Y Y   - - - -"),
    ("GET",  "/verify/upload/all",             "-   Y Y Y   Y Y Y   - - - -"),
    ("GET",  "/verify/upload/{index}",         "-   Y Y Y   Y Y Y   - - - -"),
    ("GET",  "/audit/export",                  "-   - Y Y   - Y Y   - - - -"),
    ("GET",  "/admin/users/{login}/update",    "-   - - Y   - - Y   - - - -"),
    ("GET",  "/admin/users/{login}/disable",   "-   - - Y   - - Y   - - - -"),
    ("GET",  "/admin/users/{login}/enable",    "-   - - Y   - - Y   - - - -"),
    ("GET",  "/admin/users/{login}/reset",     "-   - - Y   - - Y   - - - -"),
    ("GET",  "/admin/clients/{name}/revoke",   "-   - - Y   - - Y   - - - -"),
    ("GET",  "/api/openapi.json",              "Y   Y Y Y   Y Y Y   Y Y Y Y"),
    ("POST", "/api/v1/verifications",          "-   - - -   - - -   Y - Y -"),
    ("POST", "/api/v1/verifications/batch",    "-   - - -   - - -   Y - Y -"),
    ("GET",  "/api/v1/verifications/{id}",     "-   - - -   - - -   Y - - -"),
    ("GET",  "/api/v1/verifications/{id}/evidence", "-   - - -   - - -   Y - - -"),
    ("GET",  "/api/v1/audit/events",           "-   - - -   - - -   - Y - Y"),
];

fn expected(row: &str) -> Vec<Option<bool>> {
    let cells: Vec<Option<bool>> = row
        .split_whitespace()
        .map(|c| (c != "?").then_some(c == "Y"))
        .collect();
    assert_eq!(cells.len(), CALLERS.len(), "a cell per caller in {row:?}");
    cells
}

/// A caller as the walk uses it: a client that does not follow redirects, its CSRF
/// token (a form page's, for sessions and the anonymous sign-in form), its bearer token.
struct Caller {
    http: reqwest::Client,
    csrf: Option<String>,
    bearer: Option<String>,
}

impl Caller {
    /// A browser-like caller, signed in as `login` when given.
    async fn browser(service: &ServiceProcess, login: Option<&str>) -> Self {
        let b = Browser::without_redirects(&service.base_url);
        let form_page = match login {
            Some(login) => {
                let res = b.sign_in(login, kakunin_testkit::service::PASSWORD).await;
                assert_eq!(res.status(), 303, "sign-in of {login}");
                "/"
            }
            None => "/login",
        };
        let csrf = b.csrf(form_page).await;
        Self {
            http: b.http,
            csrf: Some(csrf),
            bearer: None,
        }
    }

    fn token(token: String) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            http,
            csrf: None,
            bearer: Some(token),
        }
    }

    /// Calls the route; forms get only the CSRF token (so an admitted caller sees the
    /// form's own complaint, not a change), JSON bodies are `{}`.
    async fn call(&self, base: &str, method: &Method, path: &str) -> reqwest::Response {
        let mut rb = self.http.request(method.clone(), format!("{base}{path}"));
        if let Some(t) = &self.bearer {
            rb = rb.bearer_auth(t);
        }
        if *method == Method::POST {
            rb = if path.starts_with("/api/") {
                rb.json(&json!({}))
            } else {
                let mut form = vec![];
                if let Some(c) = &self.csrf {
                    form.push(("csrf", c.as_str()));
                }
                rb.form(&form)
            };
        }
        rb.send().await.expect("request")
    }
}

/// Whether a response is a refusal of the caller rather than the handler's own answer.
fn turned_away(res: &reqwest::Response) -> bool {
    let to_sign_in = res.status().is_redirection()
        && res
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .is_some_and(|l| l.starts_with("/login"));
    to_sign_in
        || matches!(
            res.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
        )
}

#[tokio::test]
async fn only_the_intended_callers_get_through_any_route() {
    // The table is the app's own: a route added to the server and not to the matrix
    // fails here.
    let served: BTreeSet<(String, String)> = kakunin::web::route_table()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect();
    let listed: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(served, listed, "the matrix lists exactly the served routes");

    let (issuer, service) = super::start();
    for (login, role, office) in [
        ("officer", "officer", OFFICE),
        ("supervisor", "supervisor", OFFICE),
        ("admin", "admin", OFFICE),
        ("officer-b", "officer", OTHER_OFFICE),
        ("supervisor-b", "supervisor", OTHER_OFFICE),
        ("admin-b", "admin", OTHER_OFFICE),
        ("target", "officer", OFFICE),
    ] {
        service.add_user(login, role, office);
    }
    // Office A's things the parameterised routes name.
    let verify_a = service.create_token("verify-a", OFFICE, "verify");
    let audit_a = service.create_token("audit-a", OFFICE, "audit");
    let verify_b = service.create_token("verify-b", OTHER_OFFICE, "verify");
    let audit_b = service.create_token("audit-b", OTHER_OFFICE, "audit");
    service.create_token("target-client", OFFICE, "verify");
    let keys = issuer.found_keys();
    let key = &keys[0];
    let v = kakunin_testkit::client::ApiClient::new(&service.base_url, Some(&verify_a))
        .verify(&kakunin_testkit::client::item(
            &key.certificate_number,
            &key.auth_key,
            "walk",
        ))
        .await;
    let id = v["id"].as_str().unwrap().to_owned();
    let events = kakunin_testkit::client::ApiClient::new(&service.base_url, Some(&audit_a))
        .get_json("/api/v1/audit/events?limit=1")
        .await;
    let seq = events["events"][0]["seq"].to_string();

    let callers = vec![
        Caller::browser(&service, None).await,
        Caller::browser(&service, Some("officer")).await,
        Caller::browser(&service, Some("supervisor")).await,
        Caller::browser(&service, Some("admin")).await,
        Caller::browser(&service, Some("officer-b")).await,
        Caller::browser(&service, Some("supervisor-b")).await,
        Caller::browser(&service, Some("admin-b")).await,
        Caller::token(verify_a),
        Caller::token(audit_a),
        Caller::token(verify_b),
        Caller::token(audit_b),
    ];

    // Signing out ends the session the rest of the walk needs: it goes last.
    let mut rows: Vec<_> = MATRIX.iter().collect();
    rows.sort_by_key(|(m, p, _)| (*m, *p) == ("POST", "/logout"));
    let mut wrong = Vec::new();
    for (method, template, row) in rows {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let path = template
            .replace("{id}", &id)
            .replace("{seq}", &seq)
            .replace("{login}", "target")
            .replace("{name}", "target-client")
            .replace("{index}", "0");
        for ((caller, who), allowed) in callers.iter().zip(CALLERS).zip(expected(row)) {
            let res = caller.call(&service.base_url, &method, &path).await;
            let status = res.status();
            assert!(
                !status.is_server_error(),
                "{method} {template} as {who}: {status}"
            );
            let through = !turned_away(&res);
            if allowed.is_some_and(|a| a != through) {
                wrong.push(format!(
                    "{method} {template} as {who}: {status} ({})",
                    if allowed == Some(true) {
                        "should get through"
                    } else {
                        "should be turned away"
                    }
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "access differs from the matrix:\n{}",
        wrong.join("\n")
    );
}
