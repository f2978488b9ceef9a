//! A stand-in issuer: `wiremock` answering `POST /v1/certificates/lookup` as a test
//! scripts it, with records signed by a test key that its registry trusts. For what the
//! real issuer will not do on demand: a record with any content, a wrong status, a
//! strange body, a slow answer, or no answer at all.
//!
//! ```ignore
//! let issuer = StandIn::start().await;
//! issuer.answer_record("W2025000123", issuer.certificate("W2025000123")).await;
//! issuer.answer_all(ResponseTemplate::new(503)).await;     // every other lookup
//! let service = ServiceProcess::start(&issuer.registry_toml());
//! ```

use std::time::Duration;

use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request};

/// Re-exported so a test scripts answers without a dependency of its own.
pub use wiremock::{self, ResponseTemplate};

/// The issuer id the stand-in plays (`W` numbers, as the demo's).
pub const ISSUER_ID: &str = "wjcs";
/// The key id of the stand-in's signing key.
pub const KID: &str = "standin-2025";
/// The bearer token the stand-in expects.
pub const TOKEN: &str = "standin-token-0123456789";
/// The lookup path of `issuer-protocol.md` §2.
pub const LOOKUP: &str = "/v1/certificates/lookup";

/// A running stand-in issuer. Dropping it stops the server (it is not pooled, so a
/// dropped stand-in is an issuer that is down).
pub struct StandIn {
    server: MockServer,
    key: SigningKey,
}

impl StandIn {
    /// Starts a stand-in on a loopback port it binds itself, with a fresh signing key.
    /// Until a test says otherwise it answers nothing but 404 (wiremock's default).
    pub async fn start() -> Self {
        StandIn {
            server: MockServer::builder().start().await,
            key: SigningKey::generate(&mut rand_core::OsRng),
        }
    }

    /// `http://127.0.0.1:{port}`, without a trailing `/`.
    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    /// A trust registry with this stand-in as issuer [`ISSUER_ID`]: its URL, its token
    /// inline and its key, valid from 2025-01-01 (JST) on.
    pub fn registry_toml(&self) -> String {
        self.issuer_block(ISSUER_ID, &self.base_url(), "^W[0-9]{10}$")
    }

    /// One `[[issuer]]` block with this stand-in's token and key but another `id`, `url`
    /// and `number_pattern`: appended to [`registry_toml`](Self::registry_toml), a second
    /// issuer (a [`crate::raw::RawIssuer`], say) next to this one.
    pub fn issuer_block(&self, id: &str, url: &str, number_pattern: &str) -> String {
        format!(
            "[[issuer]]\nid = \"{id}\"\nname = \"西日本建設業保証株式会社\"\n\
             base_url = \"{url}\"\ntoken = \"{TOKEN}\"\nnumber_pattern = \"{number_pattern}\"\n\n{}\n",
            kakunin_protocol::registry::key_block(
                // A kid names one key of one issuer in the registry.
                &if id == ISSUER_ID {
                    KID.to_owned()
                } else {
                    format!("{id}-{KID}")
                },
                &self.key.verifying_key(),
                chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00+09:00")
                    .expect("a fixed date"),
            )
        )
    }

    /// The example certificate of `issuer-protocol.md` §4 as this issuer's, numbered
    /// `number`: a test changes what it needs before signing.
    pub fn certificate(&self, number: &str) -> Value {
        let mut c = kakunin_protocol::payload::sample_json();
        c["certificate_number"] = json!(number);
        c["issuer"]["id"] = json!(ISSUER_ID);
        c
    }

    /// `payload` serialized and signed with the stand-in's key: a JWS of §3.
    pub fn sign(&self, payload: &Value) -> String {
        let bytes = serde_json::to_vec(payload).expect("JSON");
        kakunin_protocol::jws::sign(&bytes, KID, &self.key)
    }

    /// The stand-in's signing key, for a test that signs bytes that are not a payload.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// A 200 `application/jose+json` answer carrying `payload` signed (see [`sign`](Self::sign)).
    pub fn record_response(&self, payload: &Value) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_raw(self.sign(payload), "application/jose+json")
    }

    /// Answers lookups of `number` (with the right token, whatever the key) with
    /// `payload` signed.
    pub async fn answer_record(&self, number: &str, payload: Value) {
        self.answer_number(number, self.record_response(&payload))
            .await;
    }

    /// Answers lookups of `number` (with the right token) with `response`: any status,
    /// body, header or delay.
    pub async fn answer_number(&self, number: &str, response: ResponseTemplate) {
        lookup()
            .and(body_partial_json(json!({ "certificate_number": number })))
            .respond_with(response)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// Answers every lookup that no more specific answer took with `response`.
    pub async fn answer_all(&self, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(LOOKUP))
            .respond_with(response)
            .with_priority(10)
            .mount(&self.server)
            .await;
    }

    /// Answers every lookup with `status` after `delay`: an issuer that is slow, or
    /// (with a delay beyond the service's timeout) one that hangs.
    pub async fn answer_all_after(&self, status: u16, delay: Duration) {
        self.answer_all(ResponseTemplate::new(status).set_delay(delay))
            .await;
    }

    /// The lookups received so far, in order.
    pub async fn lookups(&self) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .expect("request recording is on")
            .into_iter()
            .filter(|r| r.url.path() == LOOKUP)
            .collect()
    }

    /// The wiremock server itself, for a test that mounts its own mocks.
    pub fn server(&self) -> &MockServer {
        &self.server
    }
}

/// A lookup as the service sends it: `POST`, the lookup path, the stand-in's token.
fn lookup() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(LOOKUP))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
}
