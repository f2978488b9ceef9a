//! The officer's pages: the verify form, the outcome, the print view, re-verify.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::error::WebError;
use super::session::Staff;
use super::{html, templates, AppState};

use crate::adapters::db::{self, DbError};
use crate::app::verification::{self, store, Request, VerificationRow};
use crate::domain::diff;
use crate::domain::rules::{Expected, RuleResult};
use crate::domain::view;
use kakunin_protocol::ids::{AuthKey, CertificateNumber};

/// The verify form's fields, as `service.md` names them.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct VerifyForm {
    #[serde(default)]
    pub certificate_number: String,
    #[serde(default, skip_serializing)]
    pub auth_key: String,
    #[serde(default)]
    pub expected_contract_amount: String,
    #[serde(default)]
    pub expected_contractor: String,
    #[serde(default)]
    pub expected_title: String,
    #[serde(default, skip_serializing)]
    pub csrf: String,
}

fn render_form(
    staff: &Staff,
    form: &VerifyForm,
    errors: &serde_json::Value,
) -> Result<HttpResponse, WebError> {
    render_form_with(staff, form, errors, None)
}

fn render_form_with(
    staff: &Staff,
    form: &VerifyForm,
    errors: &serde_json::Value,
    notice: Option<&str>,
) -> Result<HttpResponse, WebError> {
    let mut ctx = staff.context();
    ctx.insert("notice", &notice);
    ctx.insert("form", form);
    ctx.insert("errors", errors);
    let status = if errors.as_object().is_some_and(|e| !e.is_empty()) {
        422
    } else {
        200
    };
    Ok(html(status, templates::render("verify.html", &ctx)?))
}

pub async fn form(staff: Staff) -> Result<HttpResponse, WebError> {
    render_form(&staff, &VerifyForm::default(), &serde_json::json!({}))
}

/// Parses every field, collecting each field's error so the officer sees them all at once.
fn parse(form: &VerifyForm) -> Result<Request, serde_json::Value> {
    let mut errors = serde_json::Map::new();
    let number = CertificateNumber::parse(&form.certificate_number)
        .map_err(|e| errors.insert("certificate_number".into(), e.to_string().into()))
        .ok();
    let key = AuthKey::parse(&form.auth_key)
        .map_err(|e| errors.insert("auth_key".into(), e.to_string().into()))
        .ok();
    let expected = Expected::from_input(
        &form.expected_contract_amount,
        &form.expected_contractor,
        &form.expected_title,
    )
    .map_err(|e| errors.insert("expected_contract_amount".into(), e.to_string().into()))
    .ok();
    match (number, key, expected) {
        (Some(number), Some(key), Some(expected)) => Ok(Request {
            number,
            key,
            expected,
            client_ref: None,
        }),
        _ => Err(serde_json::Value::Object(errors)),
    }
}

pub async fn submit(
    state: web::Data<AppState>,
    staff: Staff,
    form: web::Form<VerifyForm>,
) -> Result<HttpResponse, WebError> {
    staff.check_csrf(&form.csrf)?;
    let request = match parse(&form) {
        Ok(r) => r,
        Err(errors) => return render_form(&staff, &form, &errors),
    };
    match state.verifier.verify(&staff.actor, request).await {
        Ok(row) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/verifications/{}", row.id)))
            .finish()),
        Err(crate::app::verification::VerifyError::NoIssuer(n)) => {
            let errors = serde_json::json!({ "certificate_number": crate::app::verification::VerifyError::NoIssuer(n).to_string() });
            render_form(&staff, &form, &errors)
        }
        Err(e) => Err(e.into()),
    }
}

/// Loads a verification of the staff member's scope and audits the view in one go.
async fn load(
    state: &AppState,
    staff: &Staff,
    id: String,
    action: &'static str,
) -> Result<(VerificationRow, Option<VerificationRow>), WebError> {
    let scope = staff.scope();
    let actor = staff.actor.clone();
    let found = db::write(&state.verifier.pool, move |c| {
        let Some(mut row) = verification::open_audited(c, &actor, &id, &scope, action)? else {
            return Ok(None);
        };
        let previous = store::previous_with_certificate(c, &row)?;
        // The page names who checked as a person reads it; the row keeps the login.
        row.actor = crate::app::accounts::users::actor_label(c, &row.actor)?;
        Ok::<_, DbError>(Some((row, previous)))
    })
    .await?;
    found.ok_or(WebError::NotFound)
}

#[derive(Serialize)]
struct Summary {
    id: String,
    certificate_number: String,
    banner: &'static str,
    next_step: &'static str,
    tone: &'static str,
    checked_at: String,
    actor: String,
    issuer_name: Option<String>,
    kid: Option<String>,
    detail: Option<String>,
}

#[derive(Serialize)]
struct RuleLine {
    id: String,
    name: String,
    status: String,
    label: String,
    message: String,
}

fn rule_lines(rules: &[RuleResult]) -> Vec<RuleLine> {
    rules
        .iter()
        .map(|r| RuleLine {
            id: r.id.clone(),
            name: RuleResult::label(r).to_owned(),
            status: r.status.as_str().to_owned(),
            label: r.status.label().to_owned(),
            message: r.message.clone(),
        })
        .collect()
}

pub fn checked_at_ja(row: &VerificationRow) -> String {
    kakunin_protocol::format::datetime_ja(
        row.checked_at
            .and_utc()
            .with_timezone(&kakunin_protocol::time::jst()),
    )
}

fn context(state: &AppState, staff: &Staff, row: &VerificationRow) -> tera::Context {
    let outcome = row.outcome();
    let mut ctx = staff.context();
    ctx.insert(
        "v",
        &Summary {
            id: row.id.clone(),
            certificate_number: row.certificate_number.clone(),
            banner: outcome.banner(),
            next_step: outcome.next_step(),
            tone: outcome.tone(),
            checked_at: checked_at_ja(row),
            actor: row.actor.clone(),
            issuer_name: state.verifier.issuer_name(row.issuer_id.as_deref()),
            kid: row.kid.clone(),
            detail: row.detail.clone(),
        },
    );
    if let Some(cert) = row.certificate() {
        ctx.insert("rows", &view::certificate_rows(&cert));
        ctx.insert("changes", &view::change_lines(&cert));
    }
    ctx.insert("rules", &rule_lines(&row.rule_results()));
    ctx.insert("profile_name", &state.verifier.profile.name);
    ctx
}

pub async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (row, previous) = load(&state, &staff, id.into_inner(), "verification.view").await?;
    let mut ctx = context(&state, &staff, &row);
    if let (Some(now), Some(prev)) = (row.certificate(), previous.as_ref()) {
        if let Some(before) = prev.certificate() {
            ctx.insert("diff", &diff::changes(&before, &now));
            ctx.insert("previous_checked_at", &checked_at_ja(prev));
        }
    }
    Ok(html(200, templates::render("verification.html", &ctx)?))
}

pub async fn print(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (row, _) = load(&state, &staff, id.into_inner(), "verification.print").await?;
    if !row.outcome().has_certificate() {
        return Err(WebError::NotFound);
    }
    let ctx = context(&state, &staff, &row);
    Ok(html(200, templates::render("print.html", &ctx)?))
}

/// Re-verify needs the 認証キー again: it is never stored, so the form comes back with
/// the number and the 照合 values filled in and the key left for the officer to type.
pub async fn reverify(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (row, _) = load(&state, &staff, id.into_inner(), "verification.view").await?;
    let expected = row.expected();
    let form = VerifyForm {
        certificate_number: row.certificate_number.clone(),
        expected_contract_amount: expected
            .contract_amount_yen
            .map(|a| a.to_string())
            .unwrap_or_default(),
        expected_contractor: expected.contractor_name.unwrap_or_default(),
        expected_title: expected.title.unwrap_or_default(),
        ..Default::default()
    };
    let notice = "再照会します。認証キーは保存していないため、お知らせを見てもう一度入力してください。結果の画面に前回からの変更が表示されます。";
    render_form_with(&staff, &form, &serde_json::json!({}), Some(notice))
}
