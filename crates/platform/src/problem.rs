//! RFC 9457 problem details: the one error body of both programs' JSON APIs.
//!
//! Each program decides its own `type` URIs and Japanese titles; this module fixes the
//! shape, the media type and the headers that go with a status (`WWW-Authenticate` on
//! 401, `Retry-After` where a wait is known).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde::{Deserialize, Serialize};

/// The media type of a problem body (RFC 9457 §3).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem: `type`, a Japanese `title`, `status`, a `detail` that says what
/// to do, and for invalid input the `field` it concerns (an extension member).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    /// A problem of type URI `kind` (absolute, as RFC 9457 §3.1.1 asks).
    pub fn new(
        status: StatusCode,
        kind: impl Into<String>,
        title: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: kind.into(),
            title: title.into(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
        }
    }

    /// The status as an HTTP status; 500 should the number be out of range.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The answer carrying this problem. `retry_after` (seconds) becomes `Retry-After`;
    /// a 401 says `WWW-Authenticate: Bearer` (RFC 6750 §3).
    pub fn response(&self, retry_after: Option<u64>) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)))
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if self.status == 401 {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if let Some(seconds) = retry_after {
            res.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        res.body(serde_json::to_vec(self).expect("strings and a number always serialize"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    #[test]
    fn a_problem_answers_with_its_media_type_and_headers() {
        let p = Problem::new(
            StatusCode::UNAUTHORIZED,
            "urn:test:unauthorized",
            "認証が必要です",
            "トークンを送ってください",
        );
        let res = p.response(Some(30));
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers().get("content-type").unwrap(), PROBLEM_JSON);
        assert_eq!(res.headers().get("www-authenticate").unwrap(), "Bearer");
        assert_eq!(res.headers().get("retry-after").unwrap(), "30");
        let body = res.into_body().try_into_bytes().unwrap();
        let back: Problem = serde_json::from_slice(&body).unwrap();
        assert_eq!(back, p);
        assert!(!String::from_utf8_lossy(&body).contains("field"));
    }
}
