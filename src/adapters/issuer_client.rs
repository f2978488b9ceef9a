//! The calls of `issuer-protocol.md` to an issuer, as the relying party makes them: the
//! lookup of §2 and, for `kakunin issuer check`, the key set of §6.
//!
//! TLS follows §5: the issuer's certificate is checked against the operating system's
//! trust store (Debian's `ca-certificates`), plus the private CA of the issuer's
//! `ca_file` for that issuer only. Issuers without a `ca_file` share one
//! `reqwest::Client` (and its connection pool); each issuer with one has its own, so a
//! private CA never vouches for another issuer's host. Redirects are never followed: a
//! redirect could send the auth key elsewhere.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use kakunin_protocol::ids::{AuthKey, CertificateNumber};
use kakunin_protocol::jws::MAX_ENVELOPE_BYTES;
use kakunin_protocol::registry::{Registry, TrustedIssuer};
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
    /// Timeout, connection failure, a certificate that does not verify, 5xx, or an
    /// answer the protocol does not allow (including 400/401, which mean our request or
    /// our token is wrong). The reason is Japanese, for the officer and the log.
    Unavailable(String),
}

/// Why the TLS settings of the issuer clients could not be built.
#[derive(Debug, thiserror::Error)]
#[error("保証事業会社への TLS 接続を準備できません: {0}")]
pub struct ClientError(String);

/// The lookup client: one pool for the issuers that the operating system's store
/// vouches for, one per issuer with a private CA.
#[derive(Clone)]
pub struct IssuerClient {
    shared: reqwest::Client,
    /// By issuer id.
    own: Arc<HashMap<String, reqwest::Client>>,
    /// The service-wide bound on calls in flight, by issuer id (see
    /// [`IssuerClient::with_in_flight`]); an issuer without one is not bounded here.
    slots: Arc<HashMap<String, Slots>>,
    /// How long a lookup waits for a slot before it gives up unsent.
    slot_wait: Duration,
}

/// The calls one issuer may have in flight, shared by every request of the service.
struct Slots {
    calls: Arc<tokio::sync::Semaphore>,
    limit: u32,
}

impl IssuerClient {
    /// Clients for every issuer of `registry`. `connect_timeout` bounds the TCP and TLS
    /// handshake, `timeout` the whole call.
    pub fn new(
        registry: &Registry,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let os = os_roots();
        let needs_os = registry
            .issuers()
            .iter()
            .any(|i| i.ca().is_none() && i.base_url.starts_with("https://"));
        if needs_os && os.store.is_empty() {
            tracing::warn!(
                "OS の信頼ストアに証明書がありません（Debian では ca-certificates を入れてください）。\
                 ca_file のない https の保証事業会社には接続できません"
            );
        }
        let build = |roots: Arc<RootCertStore>| {
            let tls = rustls::ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .with_webpki_verifier(webpki_verifier(roots)?)
                .with_no_client_auth();
            http_builder(connect_timeout, timeout)
                .use_preconfigured_tls(tls)
                .build()
                .map_err(|e| ClientError(e.to_string()))
        };
        let shared = build(os.store.clone())?;
        let mut own = HashMap::new();
        for issuer in registry.issuers() {
            if issuer.ca().is_some() {
                own.insert(issuer.id.clone(), build(roots_for(issuer))?);
            }
        }
        Ok(Self {
            shared,
            own: Arc::new(own),
            slots: Arc::default(),
            slot_wait: Duration::ZERO,
        })
    }

    /// Bounds the calls in flight to each issuer of `registry`, across every officer,
    /// token and batch of the service: `settings.max_in_flight`, or the issuer's own
    /// value in `max_in_flight_by_issuer`. A lookup that finds no free call within
    /// `slot_wait_ms` ends as unavailable without being sent. An id in
    /// `max_in_flight_by_issuer` that the registry does not hold is an error (a typing
    /// mistake would otherwise leave that issuer at the service's bound unnoticed).
    pub fn with_in_flight(
        mut self,
        registry: &Registry,
        settings: &crate::config::Issuers,
    ) -> Result<Self, ClientError> {
        if let Some(id) = settings
            .max_in_flight_by_issuer
            .keys()
            .find(|id| registry.issuer(id).is_none())
        {
            return Err(ClientError(format!(
                "設定 issuers.max_in_flight_by_issuer.{id}: 信頼登録簿にない保証事業会社です"
            )));
        }
        let slots = registry
            .issuers()
            .iter()
            .map(|i| {
                let limit = settings.max_in_flight_for(&i.id).max(1);
                let calls = Arc::new(tokio::sync::Semaphore::new(limit as usize));
                (i.id.clone(), Slots { calls, limit })
            })
            .collect();
        self.slots = Arc::new(slots);
        self.slot_wait = Duration::from_millis(settings.slot_wait_ms);
        Ok(self)
    }

    fn http(&self, issuer: &TrustedIssuer) -> &reqwest::Client {
        self.own.get(&issuer.id).unwrap_or(&self.shared)
    }

    pub async fn lookup(
        &self,
        issuer: &TrustedIssuer,
        number: &CertificateNumber,
        key: &AuthKey,
    ) -> Answer {
        let Some(token) = issuer.token.as_ref() else {
            return Answer::Unavailable(format!(
                "保証事業会社 {} のトークンが設定されていません（{}）",
                issuer.id,
                issuer.token_env.as_deref().unwrap_or("token_env")
            ));
        };
        let Some(url) = issuer.lookup_url() else {
            return Answer::Unavailable(format!(
                "保証事業会社 {} の base_url は認証キーを送れる URL ではありません（https:// が必要です）",
                issuer.id
            ));
        };
        // Held until the answer is read to the end: the call is in flight until then.
        let _slot = match self.slots.get(&issuer.id) {
            Some(slots) => {
                let wait =
                    tokio::time::timeout(self.slot_wait, slots.calls.clone().acquire_owned());
                match wait.await {
                    Ok(Ok(permit)) => Some(permit),
                    _ => {
                        return Answer::Unavailable(format!(
                            "保証事業会社 {} への同時照会が本サービスの上限（{}件）に達したまま{}ミリ秒空かなかったため、照会を送りませんでした。時間をおいて再度お試しください",
                            issuer.id,
                            slots.limit,
                            self.slot_wait.as_millis()
                        ))
                    }
                }
            }
            None => None,
        };
        let body = LookupBody {
            certificate_number: number.as_str(),
            auth_key: key.expose(),
        };
        let body = serde_json::to_vec(&body).expect("two strings always serialize");
        let sent = self
            .http(issuer)
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
            Err(e) => return Answer::Unavailable(send_failure(&e, issuer)),
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
            s if s.is_server_error() => Answer::Unavailable(format!(
                "保証事業会社のシステムの障害です（HTTP {}）",
                s.as_u16()
            )),
            StatusCode::UNAUTHORIZED => Answer::Unavailable(
                "保証事業会社が認証を拒否しました（トークンの設定を確認してください）".into(),
            ),
            s => Answer::Unavailable(format!("想定外の応答です（HTTP {}）", s.as_u16())),
        }
    }
}

/// What `kakunin issuer check` learnt from one `GET {base_url}/v1/jwks` (§6).
#[derive(Debug)]
pub struct JwksFetch {
    /// `None` for plain http (a loopback issuer).
    pub tls: Option<TlsSeen>,
    pub status: u16,
    /// The body, at most 1 MiB (`None` past that).
    pub body: Option<Vec<u8>>,
}

/// The certificate an issuer presented, as verified.
#[derive(Debug, Clone)]
pub struct TlsSeen {
    /// The trust anchor set that vouched for it.
    pub trusted_by: TrustedBy,
    /// The distinguished name of the CA that signed the top of the presented chain
    /// (RFC 4514 form), when the certificate parses.
    pub ca: Option<String>,
    /// The server certificate's `notAfter`, UTC.
    pub not_after: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedBy {
    /// The operating system's store (`/etc/ssl/certs` on Debian).
    OsStore,
    /// The issuer's `ca_file`.
    CaFile(PathBuf),
}

/// Why [`fetch_jwks`] got no answer, in the words a lookup would give.
#[derive(Debug, Clone)]
pub struct Unreachable {
    /// The TLS handshake failed (the certificate, or no TLS at all on the other end).
    pub tls: bool,
    /// Japanese.
    pub reason: String,
}

/// One unauthenticated `GET {base_url}/v1/jwks` with the trust of a lookup to the same
/// issuer, recording which anchors verified the certificate.
pub async fn fetch_jwks(
    issuer: &TrustedIssuer,
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<JwksFetch, Unreachable> {
    let fail = |tls, reason: String| Unreachable { tls, reason };
    let Some(url) = issuer.jwks_url() else {
        return Err(fail(
            false,
            format!(
                "保証事業会社 {} の base_url は使えない URL です（https:// が必要です）",
                issuer.id
            ),
        ));
    };
    let seen = Arc::new(Mutex::new(None));
    let ca_only = match issuer.ca() {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(ca.certificates().iter().cloned());
            Some((
                webpki_verifier(Arc::new(roots)).map_err(|e| fail(true, e.to_string()))?,
                ca.path().to_owned(),
            ))
        }
        None => None,
    };
    let verifier = Arc::new(Recording {
        all: webpki_verifier(roots_for(issuer)).map_err(|e| fail(true, e.to_string()))?,
        ca_only,
        seen: seen.clone(),
    });
    // "dangerous" in rustls's words only because the verifier is ours: every decision
    // is the webpki verifier's, with the same anchors as a lookup to this issuer.
    let tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let http = http_builder(connect_timeout, timeout)
        .use_preconfigured_tls(tls)
        .build()
        .map_err(|e| fail(false, format!("HTTP クライアントを準備できません: {e}")))?;
    let response = http
        .get(url)
        .header(ACCEPT, "application/jwk-set+json, application/json")
        .send()
        .await
        .map_err(|e| fail(rustls_error(&e).is_some(), send_failure(&e, issuer)))?;
    let status = response.status().as_u16();
    let body = read_limited(response)
        .await
        .map_err(|reason| fail(false, reason))?;
    let tls = seen.lock().unwrap_or_else(|p| p.into_inner()).take();
    Ok(JwksFetch { tls, status, body })
}

/// The settings every issuer call shares: timeouts, no redirects, a keep-alive pool.
fn http_builder(connect_timeout: Duration, timeout: Duration) -> reqwest::ClientBuilder {
    proxy_https_only(reqwest::Client::builder())
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .user_agent(concat!("kakunin/", env!("CARGO_PKG_VERSION")))
}

/// The system's proxy (`HTTPS_PROXY`, `ALL_PROXY`, minus `NO_PROXY`) for `https://`
/// only. reqwest would also send `http://` requests through `HTTP_PROXY`, in clear: an
/// `http://` base_url is allowed only to this machine (issuer-protocol §5), because a
/// lookup carries an auth key, and a proxy would take it off the machine. Through a
/// proxy, https is a tunnel the proxy cannot read. `kakunin batch` builds its client
/// with this too.
pub fn proxy_https_only(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    let builder = builder.no_proxy();
    let configured = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()));
    match configured.and_then(|url| reqwest::Proxy::https(url.trim()).ok()) {
        Some(proxy) => builder.proxy(proxy.no_proxy(reqwest::NoProxy::from_env())),
        None => builder,
    }
}

/// ring, the provider reqwest's rustls uses: named here rather than taken from the
/// process default, so that no second provider in the build can make rustls panic for
/// want of a single default.
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

fn webpki_verifier(roots: Arc<RootCertStore>) -> Result<Arc<WebPkiServerVerifier>, ClientError> {
    WebPkiServerVerifier::builder_with_provider(roots, provider())
        .build()
        .map_err(|e| ClientError(e.to_string()))
}

/// The operating system's trust anchors, read once per process (about 150 files on
/// Debian).
struct OsRoots {
    store: Arc<RootCertStore>,
}

fn os_roots() -> &'static OsRoots {
    static ROOTS: OnceLock<OsRoots> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        for e in &loaded.errors {
            tracing::warn!(error = %e, "OS の信頼ストアの一部を読めません");
        }
        let mut store = RootCertStore::empty();
        // Stores often hold a few ancient certificates rustls cannot use: skip those,
        // as browsers and reqwest do.
        let (added, skipped) = store.add_parsable_certificates(loaded.certs);
        tracing::debug!(added, skipped, "OS の信頼ストアを読み込みました");
        OsRoots {
            store: Arc::new(store),
        }
    })
}

/// The operating system's anchors plus the issuer's own `ca_file`, if any.
fn roots_for(issuer: &TrustedIssuer) -> Arc<RootCertStore> {
    let os = &os_roots().store;
    match issuer.ca() {
        None => os.clone(),
        Some(ca) => {
            let mut roots = RootCertStore::clone(os);
            // Each certificate was parsed as a trust anchor when the registry loaded.
            roots.add_parsable_certificates(ca.certificates().iter().cloned());
            Arc::new(roots)
        }
    }
}

/// The verifier of `issuer check`: the same decision as a lookup's (`all`), and then
/// which anchors gave it, so the report can say whether the `ca_file` was used.
#[derive(Debug)]
struct Recording {
    all: Arc<WebPkiServerVerifier>,
    ca_only: Option<(Arc<WebPkiServerVerifier>, PathBuf)>,
    seen: Arc<Mutex<Option<TlsSeen>>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.all.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let trusted_by = match &self.ca_only {
            Some((ca, path))
                if ca
                    .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                    .is_ok() =>
            {
                TrustedBy::CaFile(path.clone())
            }
            _ => TrustedBy::OsStore,
        };
        let top = intermediates.last().unwrap_or(end_entity);
        let ca = x509_parser::parse_x509_certificate(top)
            .ok()
            .map(|(_, c)| c.issuer().to_string());
        let not_after = x509_parser::parse_x509_certificate(end_entity)
            .ok()
            .and_then(|(_, c)| DateTime::from_timestamp(c.validity().not_after.timestamp(), 0));
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(TlsSeen {
            trusted_by,
            ca,
            not_after,
        });
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.all.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.all.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.all.supported_verify_schemes()
    }
}

/// The Japanese reason a request to `issuer` did not get an answer. A certificate that
/// does not verify says so (expired, other host, untrusted CA: naming the issuer's
/// `ca_file` when it has one), because the operator's fix differs for each and none of
/// them is the issuer being down.
fn send_failure(e: &reqwest::Error, issuer: &TrustedIssuer) -> String {
    if let Some(tls) = rustls_error(e) {
        return tls_failure(tls, issuer.ca().map(|ca| ca.path()));
    }
    if e.is_timeout() {
        "応答がありません（タイムアウト）".into()
    } else if e.is_connect() {
        "接続できません".into()
    } else if issuer.base_url.starts_with("http://") {
        // What an http:// base_url meets at an https port: an answer that is no HTTP.
        "通信に失敗しました（base_url は http:// です。相手が https で待ち受けているなら https:// にしてください）"
            .into()
    } else {
        "通信に失敗しました".into()
    }
}

/// The rustls error somewhere in `e`'s source chain. An `io::Error` hides the error it
/// wraps from `source()` (it returns the inner error's source), so look inside it too.
/// `kakunin batch` asks it of its own calls.
pub fn rustls_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(tls) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| rustls_error(inner))
        {
            return Some(tls);
        }
        next = err.source();
    }
    None
}

fn tls_failure(e: &rustls::Error, ca_file: Option<&std::path::Path>) -> String {
    let rustls::Error::InvalidCertificate(cert) = e else {
        tracing::debug!(error = %e, "TLS handshake failed");
        return "TLS の接続を確立できません（相手が https で応答しないか、設定が合いません）"
            .into();
    };
    match cert {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "保証事業会社のサーバー証明書の有効期限が切れています（証明書の期限切れ）".into()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "保証事業会社のサーバー証明書が base_url のホスト名のものではありません（ホスト名不一致）"
                .into()
        }
        CertificateError::UnknownIssuer => match ca_file {
            None => "保証事業会社のサーバー証明書を発行した CA を信頼できません（信頼できない発行元）。\
                 私設 CA なら信頼登録簿の ca_file にその CA の証明書を指定してください"
                .into(),
            Some(path) => format!(
                "保証事業会社のサーバー証明書を、信頼登録簿の ca_file「{}」の CA でも OS の CA でも検証できません（信頼できない発行元）。\
                 ca_file がこの保証事業会社のサーバー証明書を発行した CA のものか確かめてください",
                path.display()
            ),
        },
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "保証事業会社のサーバー証明書はまだ有効期間が始まっていません（サーバーの時計も確認してください）"
                .into()
        }
        CertificateError::Revoked => "保証事業会社のサーバー証明書は失効しています".into(),
        other => {
            tracing::debug!(error = ?other, "certificate refused");
            "保証事業会社のサーバー証明書を検証できません".into()
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
