//! The office's history of verifications, searchable by number, date and outcome.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::error::WebError;
use super::filter::{given, Problems};
use super::officer::checked_at_ja;
use super::session::Staff;
use super::{html, templates, AppState};
use crate::adapters::db::{self, DbError};
use crate::app::audit::names::ActorNames;
use crate::app::verification;
use crate::app::verification::store::{self, HistoryFilter, HISTORY_PAGE};
use crate::domain::case::{case_text, CaseField, DuplicateUse};
use crate::domain::code::Code;
use crate::domain::outcome::Outcome;
use kakunin_protocol::ids::CertificateNumber;

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct HistoryQuery {
    #[serde(default)]
    number: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    outcome: String,
    /// 案件番号, read as the form reads it (NFKC, trimmed).
    #[serde(default)]
    case: String,
}

#[derive(Serialize)]
struct Line {
    id: String,
    checked_at: String,
    certificate_number: String,
    banner: &'static str,
    tone: &'static str,
    revision: Option<i32>,
    actor: String,
    case_number: Option<String>,
    case_title: Option<String>,
    /// The short caution of the 重複 column (「別案件 K-1、K-2」「他機関」), empty when none.
    duplicate: String,
}

/// What the history's 重複 column says of one verification's duplicate use.
fn duplicate_short(d: &DuplicateUse) -> String {
    let mut parts = Vec::new();
    if !d.cases.is_empty() {
        parts.push(format!("別案件 {}", d.cases.join("、")));
    }
    if d.other_offices {
        parts.push("他機関".to_owned());
    }
    parts.join("・")
}

#[derive(Serialize)]
struct OutcomeOption {
    value: &'static str,
    label: &'static str,
}

/// The history's filter fields as the form shows them.
const FORM_ORDER: &[&str] = &["number", "case", "from", "to", "outcome"];

/// The filter the query asks for, or every field's problem.
fn filter(q: &HistoryQuery) -> Result<HistoryFilter, Problems> {
    let mut problems = Problems::new(FORM_ORDER);
    let number = problems.kept(
        "number",
        given(&q.number, |n| {
            CertificateNumber::parse(n)
                .map(|n| n.to_string())
                .map_err(|e| e.to_string())
        }),
    );
    let case_number = problems.kept(
        "case",
        case_text(CaseField::Number, &q.case).map_err(|e| e.to_string()),
    );
    let from = problems.date("from", "開始日", &q.from);
    let to = problems.date("to", "終了日", &q.to);
    problems.range(from, to);
    let outcome = problems.kept(
        "outcome",
        given(&q.outcome, |o| {
            Outcome::parse(o).map_err(|_| "結果の指定が正しくありません".to_owned())
        }),
    );
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(HistoryFilter {
        case_number,
        number,
        from,
        to,
        outcome,
    })
}

pub async fn list(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, WebError> {
    let mut ctx = staff.context();
    Problems::none(&mut ctx);
    let (rows, uses) = match filter(&q) {
        Ok(f) => {
            let scope = staff.scope();
            db::run(&state.verifier.pool, move |c| {
                let mut rows = store::history(c, &scope, &f)?;
                let uses = verification::duplicate_uses(c, &rows.iter().collect::<Vec<_>>())?;
                let mut names = ActorNames::default();
                for r in &mut rows {
                    r.actor = names.label(c, &r.actor)?.to_owned();
                }
                Ok::<_, DbError>((rows, uses))
            })
            .await?
        }
        Err(problems) => {
            problems.show(&mut ctx);
            (Vec::new(), Vec::new())
        }
    };
    let lines: Vec<Line> = rows
        .iter()
        .zip(&uses)
        .map(|(r, duplicate_use)| {
            let o = r.outcome;
            Line {
                id: r.id.clone(),
                checked_at: checked_at_ja(r),
                certificate_number: r.certificate_number.clone(),
                banner: o.banner(),
                tone: o.tone(),
                revision: r.revision,
                actor: r.actor.clone(),
                case_number: r.case_number.clone(),
                case_title: r.case_title.clone(),
                duplicate: duplicate_short(duplicate_use),
            }
        })
        .collect();
    ctx.insert("truncated", &(lines.len() as i64 >= HISTORY_PAGE));
    ctx.insert("rows", &lines);
    ctx.insert("filter", &q.into_inner());
    let outcomes: Vec<OutcomeOption> = Outcome::ALL
        .iter()
        .map(|o| OutcomeOption {
            value: o.as_str(),
            label: o.banner(),
        })
        .collect();
    ctx.insert("outcomes", &outcomes);
    Ok(html(200, templates::render("history.html", &ctx)?))
}
