//! HTTP clients as the programs' users are: a browser-like one for the pages (cookies,
//! CSRF tokens read from the forms) and a script-like one for the JSON API (a bearer
//! token, no cookies, no redirects).

use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use crate::html::Html;

/// A cookie-keeping HTTP client that fills in the CSRF token of a form, as a browser
/// submitting it would.
pub struct Browser {
    /// The program's URL, without a trailing `/`.
    pub base: String,
    pub http: reqwest::Client,
}

impl Browser {
    /// Follows redirects (up to 5) like a browser: a response is the page finally shown.
    pub fn new(base: &str) -> Self {
        Self::with_redirects(base, reqwest::redirect::Policy::limited(5))
    }

    /// Shows every redirect (303 and its `Location`, `Set-Cookie`) instead of following it.
    pub fn without_redirects(base: &str) -> Self {
        Self::with_redirects(base, reqwest::redirect::Policy::none())
    }

    fn with_redirects(base: &str, policy: reqwest::redirect::Policy) -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(policy)
            .build()
            .expect("client");
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    /// `GET path`, parsed.
    pub async fn page(&self, path: &str) -> Html {
        Html::of(self.get(path).await).await
    }

    /// `GET path`, as text.
    pub async fn text(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    /// Posts `form` as it is (no CSRF token added).
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    /// Posts a `multipart/form-data` body as a browser sends a form with file inputs:
    /// `fields` as text parts, `files` as `(input name, file name, bytes)` parts (no
    /// CSRF token added).
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> reqwest::Response {
        self.multipart(path, fields, files, false).await
    }

    /// As [`post_multipart`](Self::post_multipart), but the file parts before the text
    /// parts, as a browser sends a form whose file input comes before its other fields.
    pub async fn post_multipart_files_first(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> reqwest::Response {
        self.multipart(path, fields, files, true).await
    }

    async fn multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
        files_first: bool,
    ) -> reqwest::Response {
        let boundary = "----kakunin-testkit-7f3a9c";
        let mut text = Vec::new();
        for (name, value) in fields {
            text.extend(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        let mut attached = Vec::new();
        for (name, file, bytes) in files {
            attached.extend(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                    .as_bytes(),
            );
            attached.extend_from_slice(bytes);
            attached.extend(b"\r\n");
        }
        let mut body = if files_first {
            [attached, text].concat()
        } else {
            [text, attached].concat()
        };
        body.extend(format!("--{boundary}--\r\n").as_bytes());
        self.http
            .post(self.url(path))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .expect("POST multipart")
    }

    /// The CSRF token of the forms on `path`.
    pub async fn csrf(&self, path: &str) -> String {
        self.page(path).await.csrf()
    }

    /// Opens `form_page`, then posts `fields` and that page's CSRF token to `action`: a
    /// user filling in the form on `form_page` and sending it.
    pub async fn submit(
        &self,
        form_page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let csrf = self.csrf(form_page).await;
        let mut form = fields.to_vec();
        form.push(("csrf", &csrf));
        self.post(action, &form).await
    }

    /// Fills in the sign-in form at `/login`.
    pub async fn sign_in(&self, login: &str, password: &str) -> reqwest::Response {
        self.submit(
            "/login",
            "/login",
            &[("login", login), ("password", password)],
        )
        .await
    }

    /// Submits the service's verify form; gives the final response (the outcome page
    /// `/verifications/{id}` when the input was valid).
    pub async fn verify(
        &self,
        number: &str,
        key: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![("certificate_number", number), ("auth_key", key)];
        form.extend_from_slice(extra);
        self.submit("/", "/verify", &form).await
    }

    /// As [`verify`](Self::verify), the outcome page parsed, with its verification id.
    pub async fn verify_page(&self, number: &str, key: &str) -> (String, Html) {
        let res = self.verify(number, key, &[]).await;
        let id = verification_id(&res);
        (id, Html::of(res).await)
    }
}

/// The verification id of an outcome page URL `/verifications/{id}`.
pub fn verification_id(res: &reqwest::Response) -> String {
    res.url()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// An API client as a script is: a bearer token (or none), no cookies, no redirects.
pub struct ApiClient {
    pub base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(base: &str, token: Option<&str>) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.map(str::to_owned),
            http,
        }
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        let rb = self.http.post(format!("{}{path}", self.base)).json(body);
        self.auth(rb).send().await.expect("POST")
    }

    /// As [`post`](Self::post), giving the transport error (a refused or cut
    /// connection) instead of panicking on it: for a test that kills the server.
    pub async fn try_post(&self, path: &str, body: &Value) -> reqwest::Result<reqwest::Response> {
        let rb = self.http.post(format!("{}{path}", self.base)).json(body);
        self.auth(rb).send().await
    }

    /// Posts a body of any content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        self.auth(rb).send().await.expect("POST")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        let rb = self.http.get(format!("{}{path}", self.base));
        self.auth(rb).send().await.expect("GET")
    }

    /// `GET path` read as JSON, whatever the status.
    pub async fn get_json(&self, path: &str) -> Value {
        self.get(path).await.json().await.expect("JSON body")
    }

    pub async fn request(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        let rb = self.http.request(method, format!("{}{path}", self.base));
        self.auth(rb).send().await.expect("request")
    }

    /// `POST /api/v1/verifications` of one item; the created Verification (201 asserted).
    pub async fn verify(&self, item: &Value) -> Value {
        let res = self.post("/api/v1/verifications", item).await;
        assert_eq!(res.status(), 201, "POST /api/v1/verifications {item}");
        res.json().await.expect("Verification")
    }

    /// Posts a batch that must be accepted (200) and gives its `results`.
    pub async fn batch(&self, items: &[impl serde::Serialize]) -> Vec<Value> {
        let res = self
            .post("/api/v1/verifications/batch", &json!({ "items": items }))
            .await;
        assert_eq!(res.status(), 200);
        let mut body: Value = res.json().await.expect("batch JSON");
        serde_json::from_value(body["results"].take()).expect("results")
    }
}

/// One item of the service's verification API.
pub fn item(number: &str, key: &str, r: &str) -> Value {
    json!({"certificate_number": number, "auth_key": key, "ref": r})
}

/// The `Content-Type` of a response, or "".
pub fn content_type(h: &HeaderMap) -> &str {
    h.get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Asserts an RFC 9457 problem answer (status, `application/problem+json`, non-empty
/// `type`, `title` and `detail`) and returns it.
pub async fn problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status, "status of {}", res.url());
    assert_eq!(content_type(res.headers()), "application/problem+json");
    let p: Value = res.json().await.expect("problem json");
    assert_eq!(p["status"], status, "{p}");
    for member in ["type", "title", "detail"] {
        assert!(
            p[member].as_str().is_some_and(|s| !s.is_empty()),
            "{member} in {p}"
        );
    }
    p
}
