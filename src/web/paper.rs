//! The paper check page (印刷物の照合, `GET`/`POST /check`): staff type a printout's
//! 照会番号 or scan its QR code, and see whether it matches a stored verification of
//! their office and what the office has seen of the certificate since.
//!
//! The lookup is a POST: what is scanned stays out of URLs and request logs (a scanner
//! may as well have read an issuer's notice, which holds an 認証キー), and it is never
//! echoed back into the field.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::error::WebError;
use super::officer::checked_at_ja;
use super::session::Staff;
use super::{html, templates, AppState};
use crate::adapters::db::{self, DbError};
use crate::app::evidence::paper::{self, PaperCheck, Seen};
use crate::domain::paper as paper_text;

/// The check form's fields.
#[derive(Debug, Default, Deserialize)]
pub struct PaperForm {
    #[serde(default)]
    pub paper: String,
    #[serde(default)]
    pub csrf: String,
}

#[derive(Serialize)]
struct Found {
    id: String,
    certificate_number: String,
    revision: Option<i32>,
    checked_at: String,
    actor: String,
    banner: &'static str,
    tone: &'static str,
    /// `match`, `mismatch`, `id_only` or `no_receipt` (`PaperMatch::code`).
    paper: &'static str,
    newer: Option<Later>,
    cancelled: Option<Later>,
}

#[derive(Serialize)]
struct Later {
    id: String,
    checked_at: String,
    revision: i32,
}

impl Later {
    fn of(seen: &Seen) -> Self {
        Later {
            id: seen.verification_id.clone(),
            checked_at: kakunin_protocol::format::datetime_ja(
                seen.checked_at
                    .and_utc()
                    .with_timezone(&kakunin_protocol::time::jst()),
            ),
            revision: seen.revision,
        }
    }
}

impl Found {
    fn of(check: &PaperCheck) -> Self {
        let row = &check.row;
        Found {
            id: row.id.clone(),
            certificate_number: row.certificate_number.clone(),
            revision: row.revision,
            checked_at: checked_at_ja(row),
            actor: row.actor.clone(),
            banner: row.outcome.banner(),
            tone: row.outcome.tone(),
            paper: check.paper.code(),
            newer: check.newer_revision.as_ref().map(Later::of),
            cancelled: check.cancelled.as_ref().map(Later::of),
        }
    }
}

/// The page: the form, and what the last lookup found (`found`), or the id that
/// matched nothing the reader may see (`missing`), or why the input was not read.
fn render(
    staff: &Staff,
    error: Option<String>,
    found: Option<Found>,
    missing: Option<String>,
) -> Result<HttpResponse, WebError> {
    let mut ctx = staff.context();
    let status = if error.is_some() { 422 } else { 200 };
    ctx.insert("error", &error);
    ctx.insert("found", &found);
    ctx.insert("missing", &missing);
    Ok(html(status, templates::render("check.html", &ctx)?))
}

pub async fn form(staff: Staff) -> Result<HttpResponse, WebError> {
    render(&staff, None, None, None)
}

pub async fn submit(
    state: web::Data<AppState>,
    staff: Staff,
    form: web::Form<PaperForm>,
) -> Result<HttpResponse, WebError> {
    staff.check_csrf(&form.csrf)?;
    let wanted = match paper_text::read(&form.paper) {
        Ok(p) => p,
        Err(e) => return render(&staff, Some(e.to_string()), None, None),
    };
    let id = wanted.verification_id.clone();
    let actor = staff.actor.clone();
    let scope = staff.scope();
    let found = db::write(&state.verifier.pool, move |c| {
        let Some(mut found) = paper::check(c, &actor, &wanted, &scope)? else {
            return Ok(None);
        };
        found.row.actor = crate::app::audit::names::actor_label(c, &found.row.actor)?;
        Ok::<_, DbError>(Some(found))
    })
    .await?;
    match found {
        Some(check) => render(&staff, None, Some(Found::of(&check)), None),
        // Another office's verification gets the very answer an unknown id gets.
        None => render(&staff, None, None, Some(id)),
    }
}
