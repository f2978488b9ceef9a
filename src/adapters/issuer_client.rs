//! The lookup call of `issuer-protocol.md` §2, as the relying party makes it.
//!
//! One `reqwest::Client` (and its connection pool) serves every request and every
//! batch. Redirects are never followed: a redirect could send the auth key elsewhere.

use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;

use kakunin_protocol::ids::{AuthKey, CertificateNumber};
use kakunin_protocol::jws::MAX_ENVELOPE_BYTES;
use kakunin_protocol::registry::TrustedIssuer;
use secrecy::ExposeSecret;

/// What an issuer answered, already sorted into the cases the service distinguishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200: the envelope bytes, not yet verified.
    Record(Vec<u8>),
    NotFound,
    Locked {
        retry_after: Option<u64>,
    },
    /// A 200 whose body passed 1 MiB: not a record, whatever it is.
    Oversized,
    /// Timeout, connection failure, 5xx, or an answer the protocol does not allow
    /// (including 400/401, which mean our request or our token is wrong).
    Unavailable(String),
}

#[derive(Clone)]
pub struct IssuerClient {
    http: reqwest::Client,
}

impl IssuerClient {
    pub fn new(connect_timeout: Duration, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .user_agent(concat!("kakunin/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a client with static settings always builds");
        Self { http }
    }

    pub async fn lookup(
        &self,
        issuer: &TrustedIssuer,
        number: &CertificateNumber,
        key: &AuthKey,
    ) -> Answer {
        let Some(token) = issuer.token.as_ref() else {
            return Answer::Unavailable(format!(
                "発行者 {} のトークンが設定されていません（{}）",
                issuer.id,
                issuer.token_env.as_deref().unwrap_or("token_env")
            ));
        };
        let Some(url) = issuer.lookup_url() else {
            return Answer::Unavailable(format!(
                "発行者 {} の base_url が URL ではありません",
                issuer.id
            ));
        };
        let body = LookupBody {
            certificate_number: number.as_str(),
            auth_key: key.expose(),
        };
        let body = serde_json::to_vec(&body).expect("two strings always serialize");
        let sent = self
            .http
            .post(url.clone())
            .bearer_auth(token.expose_secret())
            .header(ACCEPT, "application/jose+json")
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            // reqwest errors can carry the URL but never the body, so the key stays out.
            Err(e) if e.is_timeout() => {
                return Answer::Unavailable("応答がありません（タイムアウト）".into())
            }
            Err(e) if e.is_connect() => return Answer::Unavailable("接続できません".into()),
            Err(_) => return Answer::Unavailable("通信に失敗しました".into()),
        };
        match response.status() {
            StatusCode::OK => match read_limited(response).await {
                Ok(Some(bytes)) => Answer::Record(bytes),
                Ok(None) => Answer::Oversized,
                Err(reason) => Answer::Unavailable(reason),
            },
            StatusCode::NOT_FOUND => Answer::NotFound,
            StatusCode::TOO_MANY_REQUESTS => Answer::Locked {
                retry_after: response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok()),
            },
            s if s.is_server_error() => {
                Answer::Unavailable(format!("発行者の障害です（HTTP {}）", s.as_u16()))
            }
            StatusCode::UNAUTHORIZED => Answer::Unavailable(
                "発行者が認証を拒否しました（トークンの設定を確認してください）".into(),
            ),
            s => Answer::Unavailable(format!("想定外の応答です（HTTP {}）", s.as_u16())),
        }
    }
}

/// The lookup request's body (§2).
#[derive(serde::Serialize)]
struct LookupBody<'a> {
    certificate_number: &'a str,
    auth_key: &'a str,
}

/// Reads at most 1 MiB: a larger answer is not a record and must not fill memory.
async fn read_limited(response: reqwest::Response) -> Result<Option<Vec<u8>>, String> {
    if response
        .content_length()
        .is_some_and(|n| n as usize > MAX_ENVELOPE_BYTES)
    {
        return Ok(None);
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| "応答の受信に失敗しました".to_owned())?;
        if body.len() + chunk.len() > MAX_ENVELOPE_BYTES {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}
