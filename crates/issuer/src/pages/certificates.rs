//! The contractor's certificates: the list, the certificate screen (the printable
//! 保証証書), 「認証キー」の表示 with the key notice download, and the separate, confirmed
//! re-issue of the key.
//!
//! The issuer keeps each key sealed beside its HMAC (AES-256-GCM-SIV under a key derived
//! from its secret, bound to the certificate number: `crypto::seal_auth_key`), so
//! 「認証キー」の表示 shows the key in force and its notice prints it again without
//! changing anything: the notice already handed to the orderer keeps working. Keeping
//! that copy departs from issuer-protocol.md §2 (HMAC only); README says why.
//! Re-issuing replaces the key and its sealed copy (the old key and every notice printed
//! with it stop working at once); it has its own page that says so and a POST with the
//! CSRF token. A key with no sealed copy (issued before keys were kept, or while they were
//! kept by the construction migration `2026-12-03-000000_auth_key_sealed_aead` erased)
//! cannot be shown, only re-issued.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{context, html, redirect, view, Fonts, PageError};
use crate::app::App;
use crate::db;
use crate::error::IssuerError;
use crate::issuance::{self, parse_stored};
use crate::session::{self, Session};
use crate::store;
use kakunin_protocol::ids::CertificateNumber;
use kakunin_protocol::payload::Certificate;

async fn signed_in(app: &App, req: &HttpRequest) -> Result<Session, PageError> {
    session::current(app, req).await?.ok_or(PageError::SignIn)
}

pub async fn home(app: web::Data<App>, req: HttpRequest) -> Result<HttpResponse, PageError> {
    Ok(match session::current(&app, &req).await? {
        Some(_) => redirect("/certificates"),
        None => redirect("/login"),
    })
}

pub async fn list(app: web::Data<App>, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let s = signed_in(&app, &req).await?;
    let id = s.contractor_id;
    let rows = db::run(&app.pool, move |conn| {
        store::certificates::of_contractor(conn, id).map_err(IssuerError::from)
    })
    .await?;
    let items = rows
        .iter()
        .map(|(_, rev)| parse_stored(&rev.payload).map(|c| view::list_item(&c)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ctx = context(&app, Some(&s));
    ctx.insert("title", "電子証書の一覧");
    ctx.insert("certificates", &items);
    html(StatusCode::OK, "list.html", &ctx)
}

/// The latest revision of a certificate the contractor owns; anything else is "not found".
async fn owned(app: &App, s: &Session, number: &str) -> Result<Certificate, PageError> {
    let number = CertificateNumber::parse(number).map_err(|_| PageError::NotFound)?;
    let id = s.contractor_id;
    let found = db::run(&app.pool, move |conn| {
        let Some(row) = store::certificates::find(conn, number.as_str())? else {
            return Ok(None);
        };
        if row.contractor_id != Some(id) {
            return Ok(None);
        }
        let latest = store::certificates::latest(conn, &row)?;
        parse_stored(&latest.payload).map(Some)
    })
    .await
    .map_err(|e: IssuerError| PageError::from(e))?;
    found.ok_or(PageError::NotFound)
}

pub async fn show(
    app: web::Data<App>,
    req: HttpRequest,
    number: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let s = signed_in(&app, &req).await?;
    let cert = owned(&app, &s, &number).await?;
    let mut ctx = context(&app, Some(&s));
    ctx.insert("title", &format!("保証証書 {}", cert.certificate_number));
    ctx.insert("c", &view::certificate(&cert));
    html(StatusCode::OK, "certificate.html", &ctx)
}

#[derive(Deserialize)]
pub struct NoticeForm {
    csrf: String,
}

/// `GET /certificates/{number}/key`: 「認証キー」の表示, the key in force (or why it
/// cannot be shown) and the notice download; nothing changes.
pub async fn key(
    app: web::Data<App>,
    req: HttpRequest,
    number: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let s = signed_in(&app, &req).await?;
    let number = CertificateNumber::parse(&number).map_err(|_| PageError::NotFound)?;
    let (cert, key) = issuance::current_key(&app, number, s.contractor_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let mut ctx = context(&app, Some(&s));
    ctx.insert(
        "title",
        &format!("認証キーの表示 {}", cert.certificate_number),
    );
    ctx.insert("number", &cert.certificate_number);
    ctx.insert("key", &key.map(|k| k.printed()));
    ctx.insert("reissued", &req.query_string().contains("reissued=1"));
    html(StatusCode::OK, "key.html", &ctx)
}

/// `GET /certificates/{number}/rekey`: what re-issuing voids, and the button that does it.
pub async fn rekey_confirm(
    app: web::Data<App>,
    req: HttpRequest,
    number: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let s = signed_in(&app, &req).await?;
    let cert = owned(&app, &s, &number).await?;
    let mut ctx = context(&app, Some(&s));
    ctx.insert(
        "title",
        &format!("認証キーの再発行 {}", cert.certificate_number),
    );
    ctx.insert("number", &cert.certificate_number);
    html(StatusCode::OK, "rekey.html", &ctx)
}

/// `POST /certificates/{number}/rekey`: a new key replaces the one in force; then the
/// new key is shown.
pub async fn rekey(
    app: web::Data<App>,
    req: HttpRequest,
    number: web::Path<String>,
    form: web::Form<NoticeForm>,
) -> Result<HttpResponse, PageError> {
    let s = signed_in(&app, &req).await?;
    if !session::csrf_ok(&s.csrf_token, &form.csrf) {
        return Err(PageError::Csrf);
    }
    let number = CertificateNumber::parse(&number).map_err(|_| PageError::NotFound)?;
    let issued = issuance::rekey(&app, number, s.contractor_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let number = issued.certificate.certificate_number.clone();
    tracing::info!(
        certificate_number = %number,
        login = %s.login,
        "受注者が認証キーを再発行しました"
    );
    Ok(redirect(&format!("/certificates/{number}/key?reissued=1")))
}

/// `POST /certificates/{number}/notice`: the key notice PDF of the key in force.
pub async fn notice(
    app: web::Data<App>,
    fonts: web::Data<Fonts>,
    req: HttpRequest,
    number: web::Path<String>,
    form: web::Form<NoticeForm>,
) -> Result<HttpResponse, PageError> {
    let s = signed_in(&app, &req).await?;
    if !session::csrf_ok(&s.csrf_token, &form.csrf) {
        return Err(PageError::Csrf);
    }
    let fonts = fonts.0.clone().ok_or(PageError::NoticeUnavailable)?;
    let number = CertificateNumber::parse(&number).map_err(|_| PageError::NotFound)?;
    let (certificate, key) = issuance::current_key(&app, number, s.contractor_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let auth_key = key.ok_or(PageError::KeyNotKept)?;
    let issued = issuance::Issued {
        certificate,
        auth_key,
    };
    let number = issued.certificate.certificate_number.clone();
    let today = issuance::now().date_naive();
    let pdf = web::block(move || issuance::render_notice(&issued, &fonts, today))
        .await
        .map_err(|_| PageError::Internal)??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/pdf"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{number}-notice.pdf\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(pdf))
}
