//! `serve`: the HTTP server of the API and the contractor pages.

use actix_web::{web, HttpServer};

use super::app::App;
use super::error::IssuerError;
use super::notice::NoticeFonts;
use super::{api, pages};

/// Runs until interrupted. The fonts are loaded once; without them the API still runs
/// and only the key notice download answers with an error page.
pub async fn serve(app: App, bind: &str) -> Result<(), IssuerError> {
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
            .route("/static/issuer.css", web::get().to(pages::style))
            .configure(api::routes)
            .configure(pages::routes)
            .default_service(web::to(api::unknown_route))
    })
    .bind(bind)
    .map_err(|e| IssuerError::Input(format!("{bind} で待ち受けできません: {e}")))?;
    tracing::info!(bind = %bind, "kakunin-issuer を起動しました");
    server
        .run()
        .await
        .map_err(|e| IssuerError::Input(format!("サーバーが異常終了しました: {e}")))
}
