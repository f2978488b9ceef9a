//! Exports of the audit log: CSV for people (Excel opens it in Japanese) and JSONL for
//! programs (every hashed field as stored, so the chain can be re-checked from it).
//!
//! The same writer serves the supervisor pages and `kakunin audit export`.

use crate::adapters::db::Conn;
use std::io::Write;

use diesel::prelude::*;

use super::names::ActorNames;
use super::query::{self, AuditFilter, ExportError};
use super::{Action, Actor, AuditOutcome, AuditRow, Event};
use crate::domain::code::Code;
use kakunin_protocol::time::jst;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "csv" => Some(Format::Csv),
            "jsonl" => Some(Format::Jsonl),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jsonl => "application/x-ndjson; charset=utf-8",
        }
    }
}

/// Without it Excel reads UTF-8 as Shift_JIS and the Japanese turns to mojibake.
pub const BOM: &[u8] = kakunin_platform::cli::UTF8_BOM;

/// Each coded column beside its Japanese one, as people read it: the action and outcome
/// by label then code, the actor by name then as stored (`user:officer`), the detail
/// told in Japanese ([`super::detail`]) then as stored. The stored texts are what the
/// hashes cover, so the chain can still be re-checked from the file.
pub const CSV_HEADERS: [&str; 16] = [
    "番号",
    "日時（日本時間）",
    "操作者",
    "操作者（記録の原文）",
    "発注機関",
    "操作",
    "操作コード",
    "対象",
    "結果",
    "結果コード",
    "接続元",
    "ブラウザ",
    "詳細",
    "詳細（記録の原文）",
    "前の行のハッシュ",
    "ハッシュ",
];

pub use kakunin_platform::csv_cell::neutralise;

fn jst_text(row: &AuditRow) -> String {
    row.at
        .and_utc()
        .with_timezone(&jst())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Writes rows one at a time in either format.
pub struct RowWriter<W: Write> {
    inner: Inner<W>,
}

enum Inner<W: Write> {
    // Boxed: one writer per export, and it keeps the enum small.
    Csv(Box<csv::Writer<W>>),
    Jsonl(W),
}

impl<W: Write> RowWriter<W> {
    /// Starts the output: BOM and header line for CSV, nothing for JSONL.
    pub fn new(format: Format, mut out: W) -> std::io::Result<Self> {
        let inner = match format {
            Format::Csv => {
                out.write_all(BOM)?;
                let mut w = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(out);
                w.write_record(CSV_HEADERS)?;
                Inner::Csv(Box::new(w))
            }
            Format::Jsonl => Inner::Jsonl(out),
        };
        Ok(Self { inner })
    }

    /// Writes row `r`; `actor` is how a person reads its actor
    /// ([`super::names::actor_label`]), which only the CSV shows.
    pub fn row(&mut self, r: &AuditRow, actor: &str) -> std::io::Result<()> {
        match &mut self.inner {
            Inner::Csv(w) => {
                let seq = r.seq.to_string();
                let at = jst_text(r);
                let detail = super::detail::one_line(&super::detail::describe(r.action, &r.detail));
                let cells = [
                    seq.as_str(),
                    &at,
                    actor,
                    &r.actor,
                    &r.office_code,
                    r.action.label(),
                    r.action.as_str(),
                    &r.target,
                    r.outcome.label(),
                    r.outcome.as_str(),
                    &r.address,
                    &r.user_agent,
                    &detail,
                    &r.detail,
                    &r.prev_hash,
                    &r.hash,
                ];
                w.write_record(cells.iter().map(|c| neutralise(c).into_owned()))?;
                Ok(())
            }
            Inner::Jsonl(w) => {
                let line = serde_json::json!({
                    "seq": r.seq,
                    "at": super::chain::canonical_at(r.at),
                    "at_jst": r.at.and_utc().with_timezone(&jst()).to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                    "actor": r.actor,
                    "office_code": r.office_code,
                    "action": r.action.as_str(),
                    "target": r.target,
                    "outcome": r.outcome.as_str(),
                    "address": r.address,
                    "user_agent": r.user_agent,
                    "detail": r.detail,
                    "prev_hash": r.prev_hash,
                    "hash": r.hash,
                });
                serde_json::to_writer(&mut *w, &line)?;
                w.write_all(b"\n")
            }
        }
    }

    /// Hands everything written so far to the output.
    pub fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.inner {
            Inner::Csv(w) => w.flush(),
            Inner::Jsonl(w) => w.flush(),
        }
    }

    pub fn finish(self) -> std::io::Result<W> {
        match self.inner {
            Inner::Csv(w) => (*w).into_inner().map_err(|e| e.into_error()),
            Inner::Jsonl(mut w) => {
                w.flush()?;
                Ok(w)
            }
        }
    }
}

/// A planned export: the filter, the head it stops at and the number of rows.
#[derive(Debug, Clone)]
pub struct Plan {
    pub filter: AuditFilter,
    pub format: Format,
    pub until: i32,
    pub rows: i64,
}

/// Records the export in the log (what was asked for and how many rows it holds) and
/// fixes its head, in one transaction: the audit row says exactly what left.
pub fn start(
    conn: &mut Conn,
    actor: &Actor,
    filter: AuditFilter,
    format: Format,
) -> QueryResult<Plan> {
    conn.immediate_transaction(|c| {
        let until = query::head_seq(c)?;
        let rows = query::count(c, &filter, Some(until))?;
        super::append(
            c,
            actor,
            &Event {
                action: Action::AuditExport,
                target: format.as_str(),
                outcome: AuditOutcome::Ok,
                detail: serde_json::json!({
                    "rows": rows,
                    "until_seq": until,
                    "filter": describe(&filter),
                })
                .to_string(),
            },
        )?;
        Ok(Plan {
            filter,
            format,
            until,
            rows,
        })
    })
}

/// Writes the planned rows; `progress` hears the running count.
pub fn run<W: Write>(
    conn: &mut Conn,
    plan: &Plan,
    out: W,
    mut progress: impl FnMut(u64),
) -> Result<W, ExportError> {
    let mut w = RowWriter::new(plan.format, out)?;
    let mut n = 0u64;
    let mut names = ActorNames::default();
    query::for_each_until(conn, &plan.filter, Some(plan.until), |c, r| {
        w.row(r, &names.of_row(c, r)?)?;
        n += 1;
        if n % 1000 == 0 {
            progress(n);
        }
        Ok(())
    })?;
    progress(n);
    Ok(w.finish()?)
}

/// Rows an export reads per page (see [`Pages`]).
pub const PAGE_ROWS: i64 = 1000;

/// A buffer the row writer fills and [`Pages`] empties after every page.
#[derive(Clone, Default)]
struct Spool(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Spool {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Write for Spool {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A planned export read a page at a time, for a client that may read slowly: each
/// [`Pages::next`] takes a connection for one page ([`PAGE_ROWS`] rows) and gives back
/// that page's bytes, so no connection is held while the bytes wait for the client.
pub struct Pages {
    plan: Plan,
    after: i32,
    writer: Option<RowWriter<Spool>>,
    spool: Spool,
    names: ActorNames,
}

impl Pages {
    pub fn new(plan: Plan) -> std::io::Result<Self> {
        let spool = Spool::default();
        let writer = RowWriter::new(plan.format, spool.clone())?;
        Ok(Self {
            plan,
            after: 0,
            writer: Some(writer),
            spool,
            names: ActorNames::default(),
        })
    }

    /// The bytes of the next page (the first carries the BOM and header line), or
    /// `None` once every row was given.
    pub fn next(&mut self, conn: &mut Conn) -> Result<Option<Vec<u8>>, ExportError> {
        let Some(mut writer) = self.writer.take() else {
            return Ok(None);
        };
        let rows = query::ascending_page(
            conn,
            &self.plan.filter,
            self.after,
            Some(self.plan.until),
            PAGE_ROWS,
        )?;
        match rows.last() {
            Some(last) => {
                self.after = last.seq;
                for r in &rows {
                    writer.row(r, &self.names.of_row(conn, r)?)?;
                }
                writer.flush()?;
                self.writer = Some(writer);
            }
            None => {
                writer.finish()?;
            }
        }
        Ok(Some(self.spool.take()))
    }
}

/// The filter as the audit row records it.
pub fn describe(f: &AuditFilter) -> serde_json::Value {
    let office = match &f.scope {
        crate::domain::scope::OfficeScope::One(o) => Some(o.as_str()),
        crate::domain::scope::OfficeScope::All => None,
    };
    serde_json::json!({
        "office": office,
        "from": f.from.map(|d| d.to_string()),
        "to": f.to.map(|d| d.to_string()),
        "actor": f.actor,
        "action": f.action.map(Action::as_str),
        "outcome": f.outcome.map(AuditOutcome::as_str),
        "target": f.target,
    })
}
