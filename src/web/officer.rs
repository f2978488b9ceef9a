//! The officer's pages: the verify form, the outcome, the print view, re-verify.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::error::WebError;
use super::session::Staff;
use super::{html, templates, AppState};

use crate::adapters::db::{self, DbError};
use crate::app::audit::Action;
use crate::app::verification::{self, store, LockState, Request, VerificationRow, VerifyError};
use crate::domain::banner;
use crate::domain::case::{Case, DuplicateUse};
use crate::domain::code::Code;
use crate::domain::diff;
use crate::domain::intake;
use crate::domain::outcome::Outcome;
use crate::domain::paper;
use crate::domain::rules::{Expected, RuleResult, RuleStatus};
use crate::domain::view;

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
    /// 案件番号 (optional).
    #[serde(default)]
    pub case_number: String,
    /// Whether 保証契約番号 was typed and is not shown again (never read from a post).
    #[serde(skip)]
    pub number_cleared: bool,
    /// 案件名 (optional).
    #[serde(default)]
    pub case_title: String,
    #[serde(default, skip_serializing)]
    pub csrf: String,
}

impl VerifyForm {
    /// The form as the officer filled it for `row`, but the 認証キー (never stored): the
    /// number, the 照合 values and the 案件. Both forms that ask again (再照会, and
    /// 入力し直して照会する after a miss) start from it, so nothing typed is lost.
    fn again(row: &VerificationRow) -> Result<Self, WebError> {
        let expected = row.expected()?;
        Ok(VerifyForm {
            certificate_number: row.certificate_number.clone(),
            expected_contract_amount: expected
                .contract_amount_yen
                .map(|a| a.to_string())
                .unwrap_or_default(),
            expected_contractor: expected.contractor_name.unwrap_or_default(),
            expected_title: expected.title.unwrap_or_default(),
            case_number: row.case_number.clone().unwrap_or_default(),
            case_title: row.case_title.clone().unwrap_or_default(),
            ..Default::default()
        })
    }
}

/// What the 認証キー field says when the form comes back with an error after a key was
/// given: the field is empty (the key is never echoed), and without this the officer
/// would learn it only from 「認証キーが入力されていません。」 on the next try.
pub const KEY_CLEARED: &str = "安全のため認証キーは消去しました。もう一度入力してください。";

/// What the 保証契約番号 field says when it comes back empty although something was typed
/// and nothing else there was wrong: what was typed also reads as a 認証キー
/// ([`intake::shown_number`]), so it is not shown again.
pub const NUMBER_CLEARED: &str = "入力された値は認証キーと同じ形（英数字16文字）のため、安全のため表示していません。保証契約番号であれば、もう一度入力してください。";

/// The verify form again; `key_given` says whether the post carried a key
/// ([`intake::key_given`]), which an error then tells the officer was cleared.
fn render_form(
    state: &AppState,
    staff: &Staff,
    form: &VerifyForm,
    errors: &serde_json::Value,
    key_given: bool,
) -> Result<HttpResponse, WebError> {
    render_form_with(state, staff, form, errors, None, key_given)
}

/// The field the cursor starts in: the first wrong one, else 保証契約番号.
fn focus(errors: &serde_json::Value) -> &'static str {
    [
        "certificate_number",
        "auth_key",
        "case_number",
        "case_title",
        "expected_contract_amount",
    ]
    .into_iter()
    .find(|f| errors.get(f).is_some())
    .unwrap_or("certificate_number")
}

/// What the upload part of the verify page says of its limits; its 案件 fields empty.
fn insert_upload_limits(ctx: &mut tera::Context, state: &AppState) {
    let intake = &state.settings.intake;
    ctx.insert("upload_limit", &size_ja(intake.upload_limit_bytes()));
    ctx.insert("upload_max_files", &intake.upload_max_files);
    ctx.insert("upload_form", &UploadCase::default());
}

/// The 案件 typed on the upload form, for every notice of that upload.
#[derive(Debug, Default, Clone, Serialize)]
pub struct UploadCase {
    pub case_number: String,
    pub case_title: String,
}

fn render_form_with(
    state: &AppState,
    staff: &Staff,
    form: &VerifyForm,
    errors: &serde_json::Value,
    notice: Option<&str>,
    key_given: bool,
) -> Result<HttpResponse, WebError> {
    let mut ctx = staff.context();
    insert_upload_limits(&mut ctx, state);
    ctx.insert("focus", focus(errors));
    ctx.insert("notice", &notice);
    ctx.insert("form", form);
    ctx.insert("errors", errors);
    let failed = errors.as_object().is_some_and(|e| !e.is_empty());
    ctx.insert("key_cleared", &(failed && key_given).then_some(KEY_CLEARED));
    let number_cleared =
        failed && form.number_cleared && errors.get("certificate_number").is_none();
    ctx.insert("number_cleared", &number_cleared.then_some(NUMBER_CLEARED));
    let status = if failed { 422 } else { 200 };
    Ok(html(status, templates::render("verify.html", &ctx)?))
}

/// The verify page again with a message about an upload that was refused whole (too
/// large, too many files, none chosen, another being read), under `status`, the upload
/// form's 案件 as `typed` (every error keeps what was typed).
pub fn upload_refused(
    state: &AppState,
    staff: &Staff,
    typed: &UploadCase,
    message: &str,
    status: u16,
) -> Result<HttpResponse, WebError> {
    upload_refused_at(
        state,
        staff,
        typed,
        "notices",
        &serde_json::json!({ "upload": message }),
        status,
    )
}

/// The verify page again after an upload was refused, the upload form's 案件 kept as
/// typed, the cursor in `focus`, each message at its field (`upload`,
/// `upload_case_number`, `upload_case_title`).
pub fn upload_refused_at(
    state: &AppState,
    staff: &Staff,
    typed: &UploadCase,
    focus: &str,
    errors: &serde_json::Value,
    status: u16,
) -> Result<HttpResponse, WebError> {
    let mut ctx = staff.context();
    insert_upload_limits(&mut ctx, state);
    ctx.insert("upload_form", typed);
    ctx.insert("focus", focus);
    ctx.insert("notice", &None::<&str>);
    ctx.insert("form", &VerifyForm::default());
    ctx.insert("errors", errors);
    ctx.insert("key_cleared", &None::<&str>);
    Ok(html(status, templates::render("verify.html", &ctx)?))
}

pub async fn form(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, WebError> {
    render_form(
        &state,
        &staff,
        &VerifyForm::default(),
        &serde_json::json!({}),
        false,
    )
}

/// Parses every field, collecting each field's error so the officer sees them all at once.
fn parse(form: &VerifyForm) -> Result<Request, serde_json::Value> {
    let mut errors = serde_json::Map::new();
    let ids = intake::read_ids(&form.certificate_number, &form.auth_key)
        .map_err(|found| {
            for (field, message) in found {
                errors.insert(field.name().into(), message.into());
            }
        })
        .ok();
    let expected = Expected::from_input(
        &form.expected_contract_amount,
        &form.expected_contractor,
        &form.expected_title,
    )
    .map_err(|es| {
        for e in es {
            errors.insert(e.form_field().into(), e.to_string().into());
        }
    })
    .ok();
    let case = Case::from_input(&form.case_number, &form.case_title)
        .map_err(|es| {
            for e in es {
                errors.insert(e.field().name().into(), e.to_string().into());
            }
        })
        .ok();
    match (ids, expected, case) {
        (Some(ids), Some(expected), Some(case)) => Ok(Request {
            number: ids.number,
            key: ids.key,
            expected,
            case,
            client_ref: None,
            scanned: ids.scanned,
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
    let parsed = parse(&form);
    let key_given = intake::key_given(&form.certificate_number, &form.auth_key);
    // A scanned QR text holds the key: the form shows only the number read from it.
    let mut form = form.into_inner();
    let shown = intake::shown_number(&form.certificate_number);
    form.number_cleared = shown.is_empty() && !form.certificate_number.trim().is_empty();
    form.certificate_number = shown;
    let request = match parsed {
        Ok(r) => r,
        Err(errors) => return render_form(&state, &staff, &form, &errors, key_given),
    };
    match state.verifier.verify(&staff.actor, request).await {
        Ok(row) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/verifications/{}", row.id)))
            .finish()),
        Err(e @ VerifyError::NoIssuer(_)) => {
            let errors = serde_json::json!({ "certificate_number": e.to_string() });
            render_form(&state, &staff, &form, &errors, key_given)
        }
        Err(VerifyError::NoticeIssuer(field)) => {
            let e = VerifyError::NoticeIssuer(field);
            let errors = serde_json::json!({ field.name(): e.to_string() });
            render_form(&state, &staff, &form, &errors, key_given)
        }
        Err(e) => Err(e.into()),
    }
}

/// What [`load`] reads: the row, the office's previous verification of the number with
/// a record, and the guarantee's use under other 案件.
type Loaded = (VerificationRow, Option<VerificationRow>, DuplicateUse);

/// Loads a verification of the staff member's scope, and what the page shows beside it,
/// and has the view audited before answering ([`Verifier::open`](crate::app::verification::Verifier::open)).
async fn load(
    state: &AppState,
    staff: &Staff,
    id: String,
    action: Action,
) -> Result<Loaded, WebError> {
    let found = state
        .verifier
        .open(&staff.actor, id, staff.scope(), action, |c, row| {
            let previous = store::previous_with_certificate(c, row)?;
            let duplicate_use = verification::duplicate_uses(c, &[row])?.remove(0);
            // The page names who checked as a person reads it; the row keeps the login.
            let label = crate::app::audit::names::actor_label(c, &row.actor)?;
            Ok((previous, duplicate_use, label))
        })
        .await?;
    let (mut row, (previous, duplicate_use, label)) = found.ok_or(WebError::NotFound)?;
    row.actor = label;
    Ok((row, previous, duplicate_use))
}

#[derive(Serialize)]
struct Summary {
    id: String,
    certificate_number: String,
    /// Whether a signed certificate came back: only then was anything 確認 (checked);
    /// other attempts are labelled 照会日時 / 照会者.
    checked: bool,
    banner: &'static str,
    next_step: String,
    tone: &'static str,
    checked_at: String,
    actor: String,
    issuer_name: Option<String>,
    kid: Option<String>,
    detail: Option<String>,
}

#[derive(Serialize)]
struct RuleLine {
    id: &'static str,
    name: &'static str,
    status: String,
    label: String,
    message: String,
}

fn rule_lines(rules: &[RuleResult]) -> Vec<RuleLine> {
    rules
        .iter()
        .map(|r| RuleLine {
            id: r.id.as_str(),
            name: r.label(),
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

fn context(
    state: &AppState,
    staff: &Staff,
    row: &VerificationRow,
) -> Result<tera::Context, WebError> {
    let mut ctx = staff.context();
    ctx.extend(certificate_context(state, row)?);
    Ok(ctx)
}

/// The print view of a stored verification as a page of its own, for the evidence
/// bundle's human-readable summary.
pub fn summary_html(state: &AppState, row: &VerificationRow) -> Result<String, WebError> {
    let mut ctx = certificate_context(state, row)?;
    insert_paper(&mut ctx, row)?;
    // A file read away from the service: no buttons that lead back to it.
    ctx.insert("standalone", &true);
    Ok(templates::render("print.html", &ctx)?)
}

/// What the outcome page and the print view show of a verification, staff aside.
fn certificate_context(state: &AppState, row: &VerificationRow) -> Result<tera::Context, WebError> {
    let outcome = row.outcome;
    let mut ctx = tera::Context::new();
    ctx.insert(
        "v",
        &Summary {
            id: row.id.clone(),
            certificate_number: row.certificate_number.clone(),
            checked: outcome.has_certificate(),
            banner: outcome.banner(),
            next_step: outcome.next_step(&state.verifier.profile.name),
            tone: outcome.tone(),
            checked_at: checked_at_ja(row),
            actor: row.actor.clone(),
            issuer_name: state.verifier.issuer_name(row.issuer_id.as_deref()),
            kid: row.kid.clone(),
            detail: row.detail.clone(),
        },
    );
    let cert = row.certificate()?;
    if let Some(cert) = &cert {
        ctx.insert("rows", &view::certificate_rows(cert));
        ctx.insert("changes", &view::change_lines(cert));
    }
    let rules = row.rule_results()?;
    let checked_on = row
        .checked_at
        .and_utc()
        .with_timezone(&kakunin_protocol::time::jst())
        .date_naive();
    ctx.insert(
        "notes",
        &banner::banner(
            outcome,
            &rules,
            cert.as_ref(),
            checked_on,
            &row.office_code,
            &state.verifier.profile,
        ),
    );
    ctx.insert("rules", &rule_lines(&rules));
    ctx.insert("profile_name", &state.verifier.profile.name);
    ctx.insert("has_receipt", &row.receipt.is_some());
    ctx.insert("case", &row.case());
    Ok(ctx)
}

pub async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (row, previous, duplicate_use) =
        load(&state, &staff, id.into_inner(), Action::VerificationView).await?;
    let mut ctx = context(&state, &staff, &row)?;
    insert_duplicate_use(&mut ctx, &duplicate_use);
    // A miss or a lock of this service: the form again, with what the lock allows.
    let own_lock = row.outcome == Outcome::Locked && row.issuer_id.is_none();
    if row.outcome == Outcome::NotFound || own_lock {
        let lockout = state.verifier.lockout.clone();
        let number = row.certificate_number.clone();
        let lock = db::run(&state.verifier.pool, move |c| {
            verification::lock_state(c, &lockout, &number, db::now_utc()).map_err(DbError::from)
        })
        .await?;
        match lock {
            LockState::Open { tries_left } => {
                ctx.insert("tries_left", &tries_left);
                ctx.insert("lock_minutes", &state.verifier.lockout.lock_minutes);
                ctx.insert("form", &VerifyForm::again(&row)?);
            }
            LockState::Locked { until } => {
                ctx.insert(
                    "locked_until",
                    &kakunin_protocol::format::datetime_ja(
                        until
                            .and_utc()
                            .with_timezone(&kakunin_protocol::time::jst()),
                    ),
                );
            }
        }
    }
    insert_diff(&mut ctx, &row, previous.as_ref())?;
    Ok(html(200, templates::render("verification.html", &ctx)?))
}

/// The caution when the guarantee was verified under another 案件 of the office or by
/// another office (`duplicate_caution`, absent when there is none). The evidence
/// bundle's summary has none: it states the verification, not what came after it.
fn insert_duplicate_use(ctx: &mut tera::Context, duplicate_use: &DuplicateUse) {
    ctx.insert("duplicate_caution", &duplicate_use.caution());
}

/// The 前回からの変更 table's data, when the office saw an earlier revision.
fn insert_diff(
    ctx: &mut tera::Context,
    row: &VerificationRow,
    previous: Option<&VerificationRow>,
) -> Result<(), WebError> {
    if let (Some(now), Some(prev)) = (row.certificate()?, previous) {
        if let Some(before) = prev.certificate()? {
            ctx.insert("diff", &diff::changes(&before, &now));
            ctx.insert("previous_checked_at", &checked_at_ja(prev));
        }
    }
    Ok(())
}

pub async fn print(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (row, previous, duplicate_use) =
        load(&state, &staff, id.into_inner(), Action::VerificationPrint).await?;
    if !row.outcome.has_certificate() {
        return Err(WebError::NotFound);
    }
    let mut ctx = context(&state, &staff, &row)?;
    insert_duplicate_use(&mut ctx, &duplicate_use);
    insert_diff(&mut ctx, &row, previous.as_ref())?;
    insert_paper(&mut ctx, &row)?;
    Ok(html(200, templates::render("print.html", &ctx)?))
}

/// What only paper shows: its title, whether it may be filed as an acceptance, and the
/// rules that did not apply on one line.
fn insert_paper(ctx: &mut tera::Context, row: &VerificationRow) -> Result<(), WebError> {
    // Only a 確認済み prints under a title that could be filed as an acceptance.
    let title = match row.outcome {
        Outcome::Verified => "電子証書の確認結果（確認済み）".to_owned(),
        o => format!("電子証書の確認結果（{}・受理できません）", o.banner()),
    };
    ctx.insert("print_title", &title);
    ctx.insert("accepted", &(row.outcome == Outcome::Verified));
    let skipped: Vec<&str> = row
        .rule_results()?
        .iter()
        .filter(|r| r.status == RuleStatus::Skip)
        .map(|r| r.label())
        .collect();
    ctx.insert("skipped", &skipped.join("、"));
    // Paper that can be checked: the id and the receipt's digest, for the check page.
    if let Some(receipt) = &row.receipt {
        let text = paper::qr_text(&row.id, &crate::app::receipt::paper_digest(receipt));
        let svg = kakunin_platform::qr::svg(&text, "印刷物の照合用QRコード（照会番号と確認記録）")?;
        ctx.insert("paper_qr", &svg);
    }
    Ok(())
}

/// Re-verify needs the 認証キー again: it is never stored, so the form comes back with
/// the number and the 照合 values filled in and the key left for the officer to type.
pub async fn reverify(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (row, _, _) = load(&state, &staff, id.into_inner(), Action::VerificationView).await?;
    let form = VerifyForm::again(&row)?;
    let notice = "再照会します。認証キーは保存していないため、お知らせを見てもう一度入力してください。結果の画面に前回からの変更が表示されます。";
    render_form_with(
        &state,
        &staff,
        &form,
        &serde_json::json!({}),
        Some(notice),
        false,
    )
}

/// A size in bytes as the pages say it: `64 KiB`, `5 MiB`, `1.5 MiB`.
pub fn size_ja(bytes: usize) -> String {
    if bytes < 1024 * 1024 {
        return format!("{} KiB", bytes / 1024);
    }
    let tenths = bytes * 10 / (1024 * 1024);
    if tenths % 10 == 0 {
        format!("{} MiB", tenths / 10)
    } else {
        format!("{}.{} MiB", tenths / 10, tenths % 10)
    }
}
