//! `serve`: the HTTP server of the API and the contractor pages, over https when
//! `KAKUNIN_ISSUER_TLS_CERT` and `KAKUNIN_ISSUER_TLS_KEY` are set (`service.md`).

use std::path::Path;
use std::sync::Arc;

use actix_web::{web, HttpServer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::app::App;
use super::error::IssuerError;
use super::notice::NoticeFonts;
use super::{api, pages};

/// The TLS settings of `serve` from a PEM certificate chain (server certificate first,
/// then intermediates) and its PEM private key (PKCS#8, PKCS#1 or SEC1). ring is the
/// crypto provider, named here as the service's client names it, so that the process
/// never depends on a process-wide default provider.
pub fn tls_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, IssuerError> {
    let input = |m: String| IssuerError::Input(m);
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            input(format!(
                "サーバー証明書 {} を読み込めません: {e}",
                cert.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(input(format!(
            "サーバー証明書 {} に証明書（-----BEGIN CERTIFICATE-----）がありません",
            cert.display()
        )));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| input(format!("秘密鍵 {} を読み込めません: {e}", key.display())))?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| input(format!("TLS を準備できません: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            input(format!(
                "サーバー証明書 {} と秘密鍵 {} を組み合わせられません（対になっていないか、使えない鍵です）: {e}",
                cert.display(),
                key.display()
            ))
        })
}

/// Runs until interrupted, over https when `tls` is given. The fonts are loaded once;
/// without them the API still runs and only the key notice download answers with an
/// error page.
pub async fn serve(
    app: App,
    bind: &str,
    tls: Option<rustls::ServerConfig>,
) -> Result<(), IssuerError> {
    let fonts = match NoticeFonts::load() {
        Ok(f) => Some(f),
        Err(e) => {
            tracing::warn!(error = %e, "お知らせ（PDF）用のフォントを読み込めません。認証キーの表示は使えません");
            None
        }
    };
    let app_data = web::Data::new(app);
    let fonts = web::Data::new(pages::Fonts(fonts));
    let server = HttpServer::new(move || {
        actix_web::App::new()
            .app_data(app_data.clone())
            .app_data(fonts.clone())
            .wrap(kakunin_platform::headers::security_headers())
            .wrap(actix_web::middleware::from_fn(
                kakunin_platform::headers::head_as_get,
            ))
            .service(pages::resource(
                "/static/issuer.css",
                [(actix_web::http::Method::GET, web::to(pages::style))],
            ))
            .configure(api::routes)
            .configure(pages::routes)
            .default_service(web::to(api::unknown_route))
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    let server = match tls {
        Some(config) => server.bind_rustls_0_23(bind, config),
        None => server.bind(bind),
    }
    .map_err(|e| {
        IssuerError::Input(
            kakunin_platform::cli::listen_error(
                bind,
                "オプション --bind / 環境変数 KAKUNIN_ISSUER_BIND",
                &e,
            )
            .to_string(),
        )
    })?;
    // The address actually bound (port 0 asks the system for a free one): scripts and the
    // test kit read this line from standard output; logs go to standard error.
    for addr in server.addrs() {
        tracing::info!(bind = %bind, %addr, scheme, "kakunin-issuer を起動しました");
        println!("待ち受けています: {scheme}://{addr}/");
    }
    server
        .run()
        .await
        .map_err(|e| IssuerError::Input(format!("サーバーが異常終了しました: {e}")))
}
