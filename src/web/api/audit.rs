//! `GET /api/v1/audit/events`: the audit log of the token's office, newest first, in
//! pages cut by an opaque cursor.

use actix_web::{get, web, HttpRequest};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

use super::bearer::AuditClient;
use super::model::ProblemDoc;
use super::model::{AuditEvent, AuditPage};
use crate::adapters::db::{self, DbError};
use crate::app::audit::query::{self, AuditFilter, Cursor};
use crate::app::audit::{Action, AuditRow};
use crate::domain::code::Code;
use crate::domain::scope::OfficeScope;
use crate::web::error::ApiError;
use crate::web::error::InvalidInput;
use crate::web::AppState;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// Filters as typed: every value is text so a bad one is answered with its field name.
/// Empty values mean "not given", as HTML forms send them.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// First Japan-time day, inclusive (`YYYY-MM-DD`).
    #[param(example = "2025-04-01")]
    from: Option<String>,
    /// Last Japan-time day, inclusive (`YYYY-MM-DD`).
    #[param(example = "2025-04-30")]
    to: Option<String>,
    /// Actor as stored, e.g. `token:keiyaku-batch` or `user:officer`; a login alone
    /// (`officer`) is read as `user:officer`.
    actor: Option<String>,
    /// One of the log's action codes, e.g. `verify`, `lockout`, `verification.view`.
    action: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Events per page, 1 to 1000 (default 100).
    limit: Option<String>,
}

/// The audit log of the token's office.
#[utoipa::path(
    tag = "audit",
    operation_id = "listAuditEvents",
    params(EventsQuery),
    responses(
        (status = 200, description = "1ページ分（新しい順）", body = AuditPage),
        (status = 401, description = "トークンがない、または失効しています", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "トークンの scope が audit ではありません", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "条件が正しくありません（field が項目を示します）", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "トークンごとの上限を超えました", body = ProblemDoc, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "再試行までの秒数"))),
    ),
    security(("bearer" = []))
)]
#[get("/audit/events")]
pub async fn events(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: AuditClient,
    q: web::Query<EventsQuery>,
) -> Result<web::Json<AuditPage>, ApiError> {
    refuse_unknown(req.query_string())?;
    let (filter, cursor, limit) = parse(&q, &client.0.office_code)?;
    let (rows, next) = db::run(&state.verifier.pool, move |c| {
        query::page(c, &filter, cursor, limit).map_err(DbError::from)
    })
    .await?;
    Ok(web::Json(AuditPage {
        events: rows.into_iter().map(event).collect(),
        next_cursor: next.map(Cursor::encode),
    }))
}

/// The filters [`EventsQuery`] reads, as the problem lists them.
const FILTERS: [&str; 6] = ["from", "to", "actor", "action", "cursor", "limit"];

/// A filter the API does not know is refused by name, not ignored: a client that sent
/// `outcome=denied` or `ofice=…` would otherwise take the whole log for the filtered
/// one. (serde's `deny_unknown_fields` would refuse it too, but without the name.)
fn refuse_unknown(query: &str) -> Result<(), InvalidInput> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    match pairs
        .iter()
        .find(|(name, _)| !FILTERS.contains(&name.as_str()))
    {
        None => Ok(()),
        Some((name, _)) => {
            let name = super::input::shown_name(name);
            Err(InvalidInput::new(
                &name,
                format!(
                    "{name} という条件はありません。使える条件は {} です。",
                    FILTERS.join("、")
                ),
            ))
        }
    }
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn parse(
    q: &EventsQuery,
    office: &str,
) -> Result<(AuditFilter, Option<Cursor>, i64), InvalidInput> {
    let date = |field: &str, v: &Option<String>| {
        given(v)
            .map(|s| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                    InvalidInput::new(
                        field,
                        format!(
                            "{field} は YYYY-MM-DD 形式の日付にしてください（例: 2025-04-01）。"
                        ),
                    )
                })
            })
            .transpose()
    };
    let mut filter = AuditFilter::new(OfficeScope::One(office.to_owned()));
    filter.from = date("from", &q.from)?;
    filter.to = date("to", &q.to)?;
    if let (Some(f), Some(t)) = (filter.from, filter.to) {
        if f > t {
            return Err(InvalidInput::new(
                "to",
                "to は from と同じかそれより後の日付にしてください。",
            ));
        }
    }
    if given(&q.actor)
        .is_some_and(|a| !crate::domain::bounds::fits(a, crate::domain::bounds::FILTER_MAX))
    {
        return Err(InvalidInput::new(
            "actor",
            format!(
                "actor は{}文字以内にしてください。",
                crate::domain::bounds::FILTER_MAX
            ),
        ));
    }
    if given(&q.actor).is_some_and(crate::domain::bounds::has_control) {
        return Err(InvalidInput::new(
            "actor",
            "actor に改行・タブなどの制御文字は使えません。",
        ));
    }
    filter.actor = given(&q.actor).map(AuditFilter::actor_of_input);
    filter.action = given(&q.action)
        .map(|a| {
            Action::parse(a).map_err(|_| {
                let examples = [Action::Verify, Action::Lockout, Action::VerificationView]
                    .map(Action::as_str)
                    .join("、");
                InvalidInput::new(
                    "action",
                    format!("action は監査ログの操作コード（例: {examples}）にしてください。"),
                )
            })
        })
        .transpose()?;
    let cursor = given(&q.cursor)
        .map(|c| {
            Cursor::decode(c).ok_or_else(|| {
                InvalidInput::new(
                    "cursor",
                    "cursor は前のページの next_cursor をそのまま指定してください。",
                )
            })
        })
        .transpose()?;
    let limit = match given(&q.limit) {
        None => DEFAULT_LIMIT,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                InvalidInput::new(
                    "limit",
                    format!("limit は1～{MAX_LIMIT}の整数にしてください（例: 100）。"),
                )
            })?,
    };
    Ok((filter, cursor, limit))
}

fn event(r: AuditRow) -> AuditEvent {
    let AuditRow {
        seq,
        at,
        actor,
        office_code,
        action,
        target,
        outcome,
        address,
        user_agent,
        detail,
        prev_hash,
        hash,
    } = r;
    AuditEvent {
        seq,
        at: at
            .and_utc()
            .with_timezone(&kakunin_protocol::time::jst())
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
        actor,
        office_code,
        action: action.as_str().to_owned(),
        target,
        outcome: outcome.as_str().to_owned(),
        address,
        user_agent,
        detail,
        prev_hash,
        hash,
    }
}
