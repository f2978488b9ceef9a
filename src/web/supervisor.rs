//! The supervisor's pages: the audit log with filters and keyset pages, one event with
//! its chain status, the chart of daily verifications, and exports.
//!
//! A supervisor sees their own office's events; an admin sees every office. Officers
//! get 403 from every handler here.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::chart;
use super::error::{chain, Cause, WebError};
use super::filter::{given, Problems};
use super::session::Staff;
use super::{html, templates, AppState};
use crate::adapters::db::{self, DbError};
use crate::app::audit::checkpoint::{self, Checkpoint, EventStatus};
use crate::app::audit::detail;
use crate::app::audit::export::{self, Format};
use crate::app::audit::names::ActorNames;
use crate::app::audit::query::{self, AuditFilter, Cursor};
use crate::app::audit::{stats, Action, AuditOutcome, AuditRow};
use crate::domain::access::Role;
use crate::domain::bounds;
use crate::domain::code::Code;
use crate::domain::scope::OfficeScope;
use kakunin_protocol::time::{jst, now_jst};

const PAGE: i64 = 50;
/// The chart shows this many days unless the filter names a range.
const CHART_DAYS: i64 = 30;
/// …and never more than this, so one page load stays one small query.
const CHART_MAX_DAYS: i64 = 92;

const ROLES: [Role; 2] = [Role::Supervisor, Role::Admin];

/// The filter form's fields; also the hidden fields of the export form.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    /// The officer's login (`taro`) or a full actor (`token:batch-1`).
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub outcome: String,
    /// 保証契約番号, or any other target such as a login.
    #[serde(default)]
    pub number: String,
    /// Admins only: narrow to one office.
    #[serde(default)]
    pub office: String,
    #[serde(default, skip_serializing)]
    pub cursor: String,
}

/// The audit page's filter fields as the form shows them.
const FORM_ORDER: &[&str] = &[
    "from", "to", "actor", "action", "outcome", "number", "office", "cursor",
];

/// A filter field as typed, full-width read as ASCII ([`bounds::typed_code`]); empty is
/// not given.
fn some(s: &str) -> Option<String> {
    Some(bounds::typed_code(s)).filter(|s| !s.is_empty())
}

impl AuditQuery {
    /// The filter this staff member may run: the office scope comes from the session,
    /// never from the form, except that an admin may narrow to one office. `Err` holds
    /// every field's problem, so one answer names them all.
    fn filter(&self, staff: &Staff) -> Result<AuditFilter, Problems> {
        let mut problems = Problems::new(FORM_ORDER);
        let filter = self.read(staff, &mut problems);
        if problems.is_empty() {
            Ok(filter)
        } else {
            Err(problems)
        }
    }

    /// The filter and the page to start at, as the audit page reads them.
    fn filter_and_cursor(&self, staff: &Staff) -> Result<(AuditFilter, Option<Cursor>), Problems> {
        let mut problems = Problems::new(FORM_ORDER);
        let filter = self.read(staff, &mut problems);
        let cursor = problems.kept(
            "cursor",
            given(&self.cursor, |c| {
                Cursor::decode(c).ok_or_else(|| "ページの指定が正しくありません".to_owned())
            }),
        );
        if problems.is_empty() {
            Ok((filter, cursor))
        } else {
            Err(problems)
        }
    }

    /// The filter as typed, each problem noted in `problems`; what it holds is not to
    /// be run unless `problems` stays empty.
    fn read(&self, staff: &Staff, problems: &mut Problems) -> AuditFilter {
        // The office field is an admin's only: a supervisor's office comes from the
        // session, so whatever a link carries there is ignored, not refused at a field
        // the page does not show.
        let all_offices = matches!(staff.scope(), OfficeScope::All);
        let office = if all_offices { &self.office } else { "" };
        // An export stores its filter in its audit row: no text filter longer than a
        // stored value can be.
        for (value, field, label) in [
            (self.actor.as_str(), "actor", "操作者"),
            (self.number.as_str(), "number", "対象"),
            (office, "office", "発注機関"),
        ] {
            if bounds::has_control(value) {
                problems.add(
                    field,
                    format!("{label}に改行・タブなどの制御文字は使えません"),
                );
            // Measured as it will be used (after NFKC, which can lengthen a text).
            } else if !bounds::fits_nfkc(value.trim(), bounds::FILTER_MAX) {
                problems.add(
                    field,
                    format!("{label}は{}文字以内で入力してください", bounds::FILTER_MAX),
                );
            }
        }
        let from = problems.date("from", "開始日", &self.from);
        let to = problems.date("to", "終了日", &self.to);
        problems.range(from, to);
        let action = problems.kept(
            "action",
            given(&bounds::typed_code(&self.action), |a| {
                Action::parse(a).map_err(|_| "操作の指定が正しくありません".to_owned())
            }),
        );
        let outcome = problems.kept(
            "outcome",
            given(&bounds::typed_code(&self.outcome), |o| {
                AuditOutcome::parse(o).map_err(|_| "結果の指定が正しくありません".to_owned())
            }),
        );
        let scope = match (staff.scope(), some(&self.office)) {
            (OfficeScope::All, Some(office)) => OfficeScope::One(office),
            (scope, _) => scope,
        };
        let mut f = AuditFilter::new(scope);
        f.from = from;
        f.to = to;
        f.actor = some(&self.actor).map(|a| AuditFilter::actor_of_input(&a));
        f.action = action;
        f.outcome = outcome;
        f.target = some(&self.number).map(|t| AuditFilter::target_of_input(&t));
        f
    }

    /// The query string of this filter, for the next-page link.
    fn with_cursor(&self, cursor: Cursor) -> String {
        let mut q = serde_urlencoded::to_string(self).unwrap_or_default();
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str("cursor=");
        q.push_str(&cursor.encode());
        q
    }
}

/// A row as the list and detail pages show it.
#[derive(Serialize)]
struct Line {
    seq: i32,
    at: String,
    actor: String,
    office_code: String,
    action: &'static str,
    action_label: &'static str,
    target: String,
    outcome: &'static str,
    outcome_label: &'static str,
    address: String,
    user_agent: String,
    detail: String,
    prev_hash: String,
    hash: String,
}

fn at_ja(at: chrono::NaiveDateTime) -> String {
    kakunin_protocol::format::datetime_ja(at.and_utc().with_timezone(&jst()))
}

impl From<&AuditRow> for Line {
    fn from(r: &AuditRow) -> Self {
        Line {
            seq: r.seq,
            at: at_ja(r.at),
            actor: r.actor.clone(),
            office_code: r.office_code.clone(),
            action: r.action.as_str(),
            action_label: r.action.label(),
            target: r.target.clone(),
            outcome: r.outcome.as_str(),
            outcome_label: r.outcome.label(),
            address: r.address.clone(),
            user_agent: r.user_agent.clone(),
            detail: r.detail.clone(),
            prev_hash: r.prev_hash.clone(),
            hash: r.hash.clone(),
        }
    }
}

#[derive(Serialize)]
struct Choice {
    value: &'static str,
    label: &'static str,
}

/// The chart's days: the filter's range when it has one (bounded), else the last 30.
fn chart_range(f: &AuditFilter) -> (NaiveDate, NaiveDate) {
    let today = now_jst().date_naive();
    let to = f.to.unwrap_or(today);
    let from = f
        .from
        .filter(|d| *d <= to)
        .unwrap_or(to - Duration::days(CHART_DAYS - 1));
    (from.max(to - Duration::days(CHART_MAX_DAYS - 1)), to)
}

struct Listing {
    rows: Vec<AuditRow>,
    next: Option<Cursor>,
    counts: Vec<stats::DayCount>,
    latest: Option<Checkpoint>,
}

/// Replaces each row's stored actor (`user:officer`, `token:batch`) by how a person
/// reads it (`大分 一郎（officer）`); after the chain status, which hashes the stored one.
fn name_actors(c: &mut db::Conn, rows: &mut [AuditRow]) -> Result<(), DbError> {
    let mut names = ActorNames::default();
    for r in rows.iter_mut() {
        r.actor = names.of_row(c, r)?;
    }
    Ok(())
}

pub async fn list(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, WebError> {
    staff.require(&ROLES)?;
    let q = q.into_inner();
    let mut ctx = staff.context();
    Problems::none(&mut ctx);
    // A filter that cannot be read lists nothing: an unfiltered list under a
    // filter's error would be read as the filter's answer.
    let (filter, cursor, listed) = match q.filter_and_cursor(&staff) {
        Ok((f, c)) => (f, c, true),
        Err(problems) => {
            problems.show(&mut ctx);
            (AuditFilter::new(staff.scope()), None, false)
        }
    };
    let (from, to) = chart_range(&filter);
    let listing = db::run(&state.verifier.pool, move |c| {
        if !listed {
            return Ok::<_, DbError>(Listing {
                rows: Vec::new(),
                next: None,
                counts: Vec::new(),
                latest: checkpoint::latest(c)?,
            });
        }
        let (mut rows, next) = query::page(c, &filter, cursor, PAGE)?;
        name_actors(c, &mut rows)?;
        // The chart follows every filter of the table.
        let counts = if query::narrower_than_summary(&filter) {
            query::daily_verifications(c, &filter, from, to)?
        } else {
            stats::daily_verifications(c, &filter.scope, from, to)?
        };
        let latest = checkpoint::latest(c)?;
        Ok::<_, DbError>(Listing {
            rows,
            next,
            counts,
            latest,
        })
    })
    .await?;
    let lines: Vec<Line> = listing.rows.iter().map(Line::from).collect();
    ctx.insert("rows", &lines);
    ctx.insert("next", &listing.next.map(|c| q.with_cursor(c)));
    ctx.insert("paged", &cursor.is_some());
    ctx.insert("chart", &chart::daily(&listing.counts, from, to));
    ctx.insert(
        "latest",
        &listing.latest.map(|cp| (cp.head_seq, at_ja(cp.at))),
    );
    ctx.insert("filter", &q);
    ctx.insert("all_offices", &(staff.role == Role::Admin));
    let actions: Vec<Choice> = Action::ALL
        .iter()
        .map(|a| Choice {
            value: a.as_str(),
            label: a.label(),
        })
        .collect();
    let outcomes: Vec<Choice> = AuditOutcome::ALL
        .iter()
        .map(|o| Choice {
            value: o.as_str(),
            label: o.label(),
        })
        .collect();
    ctx.insert("actions", &actions);
    ctx.insert("outcomes", &outcomes);
    Ok(html(200, templates::render("audit.html", &ctx)?))
}

pub async fn event(
    state: web::Data<AppState>,
    staff: Staff,
    seq: web::Path<i32>,
) -> Result<HttpResponse, WebError> {
    staff.require(&ROLES)?;
    let seq = seq.into_inner();
    let scope = staff.scope();
    let key = checkpoint::installed().map(|s| s.verifying_key());
    let found = db::run(&state.verifier.pool, move |c| {
        let Some(row) = query::find(c, seq, &scope)? else {
            return Ok::<_, DbError>(None);
        };
        let status = checkpoint::event_status(c, &row, key.as_ref())?;
        let mut rows = [row];
        name_actors(c, &mut rows)?;
        let [row] = rows;
        Ok(Some((row, status)))
    })
    .await?;
    let (row, status): (AuditRow, EventStatus) = found.ok_or(WebError::NotFound)?;
    let mut ctx = staff.context();
    ctx.insert("e", &Line::from(&row));
    ctx.insert("details", &detail::describe(row.action, &row.detail));
    ctx.insert("intact", &status.intact());
    ctx.insert(
        "checkpoint_at",
        &status.checkpoint.as_ref().map(|c| at_ja(c.at)),
    );
    ctx.insert("status", &status);
    Ok(html(200, templates::render("audit_event.html", &ctx)?))
}

#[derive(Debug, Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    format: String,
    #[serde(flatten)]
    query: AuditQuery,
}

/// POST, not GET: an export is recorded in the log, so it carries the CSRF token.
pub async fn export(
    state: web::Data<AppState>,
    staff: Staff,
    form: web::Form<ExportForm>,
) -> Result<HttpResponse, WebError> {
    staff.require(&ROLES)?;
    staff.check_csrf(&form.csrf)?;
    let format = Format::parse(&form.format).ok_or_else(|| {
        WebError::BadRequest("書き出し形式は CSV か JSONL を選んでください".into())
    })?;
    let filter = form
        .query
        .filter(&staff)
        .map_err(|problems| WebError::BadRequest(problems.messages().join("。")))?;
    let actor = staff.actor.clone();
    let plan = db::run(&state.verifier.pool, move |c| {
        export::start(c, &actor, filter, format).map_err(DbError::from)
    })
    .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let pool = state.verifier.pool.clone();
    // The writer runs off the request's task: it logs with the request's id itself.
    let reference = super::request_id().unwrap_or_default();
    // A page at a time: a connection is taken for one page's query and given back
    // before its bytes wait for the client, so exports nobody reads hold none.
    actix_web::rt::spawn(async move {
        let pages = match export::Pages::new(plan) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(%reference, cause = %chain(&e), "audit export failed");
                let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                return;
            }
        };
        let mut pages = Some(pages);
        while let Some(mut p) = pages.take() {
            let got = db::run(&pool, move |c| Ok::<_, Cause>((p.next(c), p))).await;
            let page = match got {
                Ok((page, p)) => {
                    pages = Some(p);
                    page.map_err(Cause::from)
                }
                Err(e) => Err(e),
            };
            match page {
                Ok(Some(bytes)) => {
                    // The client went away: stop.
                    if tx.send(Ok(Bytes::from(bytes))).await.is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(cause) => {
                    // The headers are gone already; cutting the body short is all that
                    // is left, and a truncated file is better than one that looks
                    // complete.
                    tracing::error!(%reference, cause = %chain(cause.as_ref()), "audit export failed");
                    let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                    return;
                }
            }
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let name = format!(
        "kakunin-audit-{}.{}",
        now_jst().format("%Y%m%d-%H%M%S"),
        format.as_str()
    );
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .streaming(body))
}
