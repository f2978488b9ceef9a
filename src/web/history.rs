//! The office's history of verifications, searchable by number, date and outcome.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::error::WebError;
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

/// The history's filter fields as the form shows them: the cursor starts in the first
/// one in error.
const FORM_ORDER: [&str; 5] = ["number", "case", "from", "to", "outcome"];

/// A filter field read by `parse`, or none when left empty.
fn given<T>(
    typed: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match typed.trim() {
        "" => Ok(None),
        s => parse(s).map(Some),
    }
}

/// `r`'s value, or none with its message noted under `field`.
fn kept<T>(
    problems: &mut BTreeMap<&'static str, String>,
    field: &'static str,
    r: Result<Option<T>, String>,
) -> Option<T> {
    r.unwrap_or_else(|message| {
        problems.insert(field, message);
        None
    })
}

/// The filter the query asks for, or every field's problem (field name → message), so
/// one answer names them all.
fn filter(q: &HistoryQuery) -> Result<HistoryFilter, BTreeMap<&'static str, String>> {
    let mut problems = BTreeMap::new();
    let date = |label: &'static str| {
        move |s: &str| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| format!("{label}は 2025-04-01 の形で入力してください"))
        }
    };
    let number = kept(
        &mut problems,
        "number",
        given(&q.number, |n| {
            CertificateNumber::parse(n)
                .map(|n| n.to_string())
                .map_err(|e| e.to_string())
        }),
    );
    let case_number = kept(
        &mut problems,
        "case",
        case_text(CaseField::Number, &q.case).map_err(|e| e.to_string()),
    );
    let from = kept(&mut problems, "from", given(&q.from, date("開始日")));
    let to = kept(&mut problems, "to", given(&q.to, date("終了日")));
    let outcome = kept(
        &mut problems,
        "outcome",
        given(&q.outcome, |o| {
            Outcome::parse(o).map_err(|_| "結果の指定が正しくありません".to_owned())
        }),
    );
    // Refused as the audit page refuses it: an empty list would read as "nothing was
    // verified in that period".
    if from.zip(to).is_some_and(|(from, to)| from > to) {
        problems.insert(
            "to",
            "終了日が開始日より前になっています。開始日以降の日付にしてください".to_owned(),
        );
    }
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
    ctx.insert("errors", &BTreeMap::<&str, String>::new());
    ctx.insert("first_error", "");
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
            let first = FORM_ORDER.iter().find(|f| problems.contains_key(*f));
            ctx.insert("first_error", &first);
            ctx.insert("errors", &problems);
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
