//! Key notices uploaded instead of typed: one or more PDF, PNG or JPEG files posted from
//! the verify page become a list (`/verify/upload`) whose notices are verified one
//! after another, each with its own button or all in order with one.
//!
//! The files are read in memory within `intake.upload_limit_kib` and
//! `intake.upload_max_files` and dropped when the request ends: never written to disk
//! or the database, never logged. What they gave (number, key, issuer id) stays in this
//! process's memory only, in [`Uploads`], under the session that uploaded it, until it
//! is verified, replaced by the next upload, or [`KEEP`] has passed. The page shows the
//! number and the file name; the key never reaches a page or a URL. A 案件 typed on the
//! upload form (案件番号, 案件名) goes with every notice of that upload.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::WebError;
use super::session::Staff;
use super::{html, officer, templates, AppState};
use crate::adapters::notice_file::{self, ReadError, ReadNotice};
use crate::app::verification::{Request, VerifyError};
use crate::domain::case::Case;
use crate::domain::intake::Scanned;
use crate::domain::rules::Expected;

/// How long an uploaded list waits for its verifications.
pub const KEEP: Duration = Duration::from_secs(30 * 60);
/// Characters of a file name shown (names come from the officer's PC).
const NAME_CHARS: usize = 80;

/// The uploaded lists of every session, in memory only (see the module's text).
#[derive(Default)]
pub struct Uploads {
    lists: Mutex<HashMap<String, List>>,
    /// Accounts whose upload is being read: one at a time each, so that one officer
    /// cannot hold every reader (`notice_file::CHILDREN`) with file after file.
    reading: Mutex<std::collections::HashSet<i32>>,
}

/// How long one upload's files may take to read in all; the files not reached by then
/// get a row asking to upload them again.
const READ_BUDGET: Duration = Duration::from_secs(120);

/// An account's turn to have its upload read ([`Uploads::reading`]), given back when
/// dropped (the request ended, however).
struct ReadingTurn<'a> {
    uploads: &'a Uploads,
    user_id: i32,
}

impl Drop for ReadingTurn<'_> {
    fn drop(&mut self) {
        self.uploads
            .reading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.user_id);
    }
}

struct List {
    at: Instant,
    /// The 案件 typed with the upload, given to every notice of it.
    case: Case,
    items: Vec<Item>,
}

struct Item {
    file: String,
    state: ItemState,
}

enum ItemState {
    /// The file gave no notice: the Japanese reason.
    Unread(String),
    /// Read, waiting for its turn.
    Ready(ReadNotice),
    /// Verified (whatever the outcome): the verification's id and banner.
    Done {
        number: String,
        id: String,
        banner: &'static str,
        tone: &'static str,
    },
    /// Refused before any lookup (no issuer for the number, a foreign notice).
    Refused { number: String, message: String },
}

/// One row of the list page.
#[derive(Serialize)]
struct Row {
    index: usize,
    file: String,
    number: Option<String>,
    /// `unread`, `ready`, `done`, `refused`.
    state: &'static str,
    message: Option<String>,
    id: Option<String>,
    banner: Option<&'static str>,
    tone: Option<&'static str>,
}

impl Uploads {
    /// The account's turn to have an upload read, or `None` while another of its
    /// uploads is being read.
    fn reading_turn(&self, staff: &Staff) -> Option<ReadingTurn<'_>> {
        let first = self
            .reading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(staff.user_id);
        // Made only when the turn was taken: a turn dropped gives the account's back.
        first.then(|| ReadingTurn {
            uploads: self,
            user_id: staff.user_id,
        })
    }

    /// Lists are kept per session: the digest of its CSRF token names it here.
    fn owner(staff: &Staff) -> String {
        hex::encode(Sha256::digest(staff.csrf.as_bytes()))
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, List>) -> T) -> T {
        let mut lists = self.lists.lock().unwrap_or_else(|p| p.into_inner());
        lists.retain(|_, l| l.at.elapsed() < KEEP);
        f(&mut lists)
    }

    fn put(&self, staff: &Staff, case: Case, items: Vec<Item>) {
        let owner = Self::owner(staff);
        self.with(|l| {
            l.insert(
                owner,
                List {
                    at: Instant::now(),
                    case,
                    items,
                },
            )
        });
    }

    /// The 案件 of the session's list.
    fn case(&self, staff: &Staff) -> Option<Case> {
        let owner = Self::owner(staff);
        self.with(|l| l.get(&owner).map(|list| list.case.clone()))
    }

    fn rows(&self, staff: &Staff) -> Option<Vec<Row>> {
        let owner = Self::owner(staff);
        self.with(|l| {
            l.get(&owner)
                .map(|list| list.items.iter().enumerate().map(row).collect())
        })
    }

    /// The notice at `index` if it still waits.
    fn ready(&self, staff: &Staff, index: usize) -> Option<ReadNotice> {
        let owner = Self::owner(staff);
        self.with(|l| match l.get(&owner)?.items.get(index)?.state {
            ItemState::Ready(ref n) => Some(n.clone()),
            _ => None,
        })
    }

    /// The indexes still waiting, in order.
    fn waiting(&self, staff: &Staff) -> Vec<usize> {
        let owner = Self::owner(staff);
        self.with(|l| {
            l.get(&owner)
                .map(|list| {
                    (0..list.items.len())
                        .filter(|i| matches!(list.items[*i].state, ItemState::Ready(_)))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// Records what became of the notice at `index`; its key is dropped.
    fn finish(&self, staff: &Staff, index: usize, state: ItemState) {
        let owner = Self::owner(staff);
        self.with(|l| {
            if let Some(item) = l.get_mut(&owner).and_then(|list| list.items.get_mut(index)) {
                item.state = state;
            }
        });
    }
}

fn row((index, item): (usize, &Item)) -> Row {
    let mut r = Row {
        index,
        file: item.file.clone(),
        number: None,
        state: "",
        message: None,
        id: None,
        banner: None,
        tone: None,
    };
    match &item.state {
        ItemState::Unread(m) => {
            r.state = "unread";
            r.message = Some(m.clone());
        }
        ItemState::Ready(n) => {
            r.state = "ready";
            r.number = Some(n.number.to_string());
        }
        ItemState::Done {
            number,
            id,
            banner,
            tone,
        } => {
            r.state = "done";
            r.number = Some(number.clone());
            r.id = Some(id.clone());
            r.banner = Some(banner);
            r.tone = Some(tone);
        }
        ItemState::Refused { number, message } => {
            r.state = "refused";
            r.number = Some(number.clone());
            r.message = Some(message.clone());
        }
    }
    r
}

/// A file as the officer named it: the last path part, control and format characters
/// dropped (a U+202E in a name would reverse the rest of its table cell), cut to
/// [`NAME_CHARS`].
fn file_name(raw: Option<&str>, index: usize) -> String {
    let base = raw
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && !kakunin_protocol::ids::is_format(*c))
        .collect::<String>();
    let base = base.trim();
    if base.is_empty() {
        return format!("{}番目のファイル", index + 1);
    }
    let mut cut: String = base.chars().take(NAME_CHARS).collect();
    if base.chars().count() > NAME_CHARS {
        cut.push('…');
    }
    cut
}

/// What one upload request carried, as far as it was read.
struct Posted {
    csrf: String,
    /// The 案件 fields as typed (read with the files, within the same limit).
    case: officer::UploadCase,
    files: Vec<(String, Vec<u8>)>,
}

/// Why an upload was refused whole: the Japanese message and the status.
type Refusal = (String, u16);

/// Reads the multipart body within the limits: what it carried, and why it is refused
/// whole, if it is.
///
/// A refused upload is still read to its end, its files dropped as they come, so that
/// the text fields sent after the files (a client may send the parts in any order) are
/// recovered and the form comes back with the 案件 as typed. That reading stops at a
/// hard cap, `limit` plus room for the form's own fields and the multipart framing,
/// however large the body says it is: what comes after the cap is not read, so a text
/// field sent after more than the cap of files is lost. The verify page puts its 案件
/// fields before the file input, so a browser sends them first and they are kept
/// however large the files.
async fn receive(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    max_files: usize,
) -> (Posted, Option<Refusal>) {
    let too_large = || {
        (
            format!(
                "アップロードできるのは1回に合計{}までです。ファイルを分けてアップロードしてください。",
                officer::size_ja(limit)
            ),
            413,
        )
    };
    let unreadable = || {
        (
            "アップロードされたファイルを受け取れませんでした。もう一度選んでください。".to_owned(),
            400,
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // The form's own fields and the multipart framing need a little room of their own.
    let cap = limit + 64 * 1024;
    let mut refusal = declared.filter(|n| *n > cap).map(|_| too_large());
    let mut multipart = Multipart::new(req.headers(), payload);
    let mut posted = Posted {
        csrf: String::new(),
        case: officer::UploadCase::default(),
        files: Vec::new(),
    };
    let (mut total, mut index) = (0usize, 0usize);
    'parts: while let Some(field) = multipart.next().await {
        let Ok(mut field) = field else {
            refusal.get_or_insert_with(unreadable);
            break;
        };
        let disposition = field.content_disposition().cloned();
        let name = disposition
            .as_ref()
            .and_then(|d| d.get_name())
            .unwrap_or("")
            .to_owned();
        let is_file = name == "notices";
        let mut body = Vec::new();
        while let Some(chunk) = field.next().await {
            let Ok(chunk) = chunk else {
                refusal.get_or_insert_with(unreadable);
                break 'parts;
            };
            total += chunk.len();
            if total > cap {
                refusal.get_or_insert_with(too_large);
                break 'parts;
            }
            if total > limit {
                refusal.get_or_insert_with(too_large);
            }
            // Once the upload is refused only its text fields are still wanted.
            if !(is_file && refusal.is_some()) {
                body.extend_from_slice(&chunk);
            }
        }
        match name.as_str() {
            "csrf" => posted.csrf = String::from_utf8(body).unwrap_or_default(),
            "case_number" => posted.case.case_number = String::from_utf8_lossy(&body).into(),
            "case_title" => posted.case.case_title = String::from_utf8_lossy(&body).into(),
            "notices" if refusal.is_none() => {
                let raw = disposition.as_ref().and_then(|d| d.get_filename());
                // A file input left empty still sends one part, without a name or bytes.
                if body.is_empty() && raw.is_none_or(str::is_empty) {
                    continue;
                }
                if posted.files.len() == max_files {
                    refusal = Some((
                        format!("アップロードできるのは1回に{max_files}件までです。ファイルを分けてアップロードしてください。"),
                        413,
                    ));
                    posted.files.clear();
                    continue;
                }
                posted.files.push((file_name(raw, index), body));
                index += 1;
            }
            _ => {}
        }
    }
    if refusal.is_some() {
        posted.files.clear();
    }
    (posted, refusal)
}

/// `POST /verify/upload`: reads the notices and shows them as a list.
pub async fn upload(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, WebError> {
    let intake = &state.settings.intake;
    let posted = receive(
        &req,
        payload,
        intake.upload_limit_bytes(),
        intake.upload_max_files as usize,
    )
    .await;
    let (posted, refusal) = posted;
    if let Some((message, status)) = refusal {
        // The 案件 is shown again only to the session that typed it; a token that was
        // not reached (past the cap) leaves nothing to check and nothing to show.
        if posted.csrf.is_empty() {
            let nothing = officer::UploadCase::default();
            return officer::upload_refused(&state, &staff, &nothing, &message, status);
        }
        staff.check_csrf(&posted.csrf)?;
        return officer::upload_refused(&state, &staff, &posted.case, &message, status);
    }
    staff.check_csrf(&posted.csrf)?;
    let case = match Case::from_input(&posted.case.case_number, &posted.case.case_title) {
        Ok(case) => case,
        Err(es) => {
            let mut errors = serde_json::Map::new();
            for e in &es {
                errors.insert(format!("upload_{}", e.field().name()), e.to_string().into());
            }
            // A file input cannot be filled in again by the page.
            errors.insert(
                "upload".into(),
                "案件の入力を直して、お知らせのファイルをもう一度選んでください。".into(),
            );
            let focus = format!("upload_{}", es[0].field().name());
            return officer::upload_refused_at(
                &state,
                &staff,
                &posted.case,
                &focus,
                &serde_json::Value::Object(errors),
                422,
            );
        }
    };
    if posted.files.is_empty() {
        return officer::upload_refused(
            &state,
            &staff,
            &posted.case,
            "お知らせのファイル（PDF・PNG・JPEG）を選んでください。",
            422,
        );
    }
    let Some(_turn) = state.uploads.reading_turn(&staff) else {
        return officer::upload_refused(
            &state,
            &staff,
            &posted.case,
            "前にアップロードしたファイルをまだ読み取っています。読み取りが終わってから、もう一度アップロードしてください。",
            429,
        );
    };
    // One file after the other: each is read in a child process of its own
    // (`notice_file::read_confined`), and the service runs few of those at once. The
    // whole upload has a time budget, so that no request holds a reader for long.
    let deadline = Instant::now() + READ_BUDGET;
    let mut items = Vec::with_capacity(posted.files.len());
    for (file, bytes) in posted.files {
        let left = deadline.saturating_duration_since(Instant::now());
        // With the budget spent no reader is started (a timeout of zero would still
        // start one before giving up on it).
        let read = async {
            if left.is_zero() {
                return Err(ReadError::Busy);
            }
            let read = notice_file::read_confined(bytes, intake.reader_memory_bytes());
            tokio::time::timeout(left, read)
                .await
                .unwrap_or(Err(ReadError::Busy))
        };
        let state = match read.await {
            Ok(n) => ItemState::Ready(n),
            Err(e) => ItemState::Unread(unread_message(&file, &e)),
        };
        items.push(Item { file, state });
    }
    state.uploads.put(&staff, case, items);
    Ok(to_list())
}

fn unread_message(file: &str, e: &ReadError) -> String {
    format!("「{file}」はお知らせとして読み取れませんでした（{e}）。受注者から受け取ったお知らせのPDF、またはお知らせを読み取った画像（PNG・JPEG）を選ぶか、保証契約番号と認証キーを手で入力してください。")
}

fn to_list() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/verify/upload"))
        .finish()
}

/// `GET /verify/upload`: the uploaded notices and what became of each.
pub async fn list(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, WebError> {
    let Some(rows) = state.uploads.rows(&staff) else {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/"))
            .finish());
    };
    let mut ctx = staff.context();
    ctx.insert(
        "waiting",
        &rows.iter().filter(|r| r.state == "ready").count(),
    );
    ctx.insert("rows", &rows);
    ctx.insert(
        "case",
        &state.uploads.case(&staff).filter(|c| !c.is_empty()),
    );
    ctx.insert("keep_minutes", &(KEEP.as_secs() / 60));
    Ok(html(200, templates::render("upload.html", &ctx)?))
}

/// The form of the list's buttons.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /verify/upload/{index}`: verifies one notice of the list.
pub async fn verify_one(
    state: web::Data<AppState>,
    staff: Staff,
    index: web::Path<usize>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    staff.check_csrf(&form.csrf)?;
    verify_at(&state, &staff, index.into_inner()).await?;
    Ok(to_list())
}

/// `POST /verify/upload/all`: verifies every waiting notice, one after another.
pub async fn verify_all(
    state: web::Data<AppState>,
    staff: Staff,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    staff.check_csrf(&form.csrf)?;
    for index in state.uploads.waiting(&staff) {
        verify_at(&state, &staff, index).await?;
    }
    Ok(to_list())
}

async fn verify_at(state: &AppState, staff: &Staff, index: usize) -> Result<(), WebError> {
    let Some(notice) = state.uploads.ready(staff, index) else {
        return Ok(());
    };
    let case = state.uploads.case(staff).unwrap_or_default();
    let number = notice.number.to_string();
    let request = Request {
        number: notice.number,
        key: notice.key,
        expected: Expected::default(),
        case,
        client_ref: None,
        scanned: notice.issuer_id.map(|issuer_id| Scanned {
            issuer_id,
            field: kakunin_protocol::ids::Field::CertificateNumber,
        }),
    };
    let done = match state.verifier.verify(&staff.actor, request).await {
        Ok(row) => ItemState::Done {
            number,
            id: row.id,
            banner: row.outcome.banner(),
            tone: row.outcome.tone(),
        },
        Err(e @ (VerifyError::NoIssuer(_) | VerifyError::NoticeIssuer(_))) => ItemState::Refused {
            number,
            message: e.to_string(),
        },
        Err(e) => return Err(e.into()),
    };
    state.uploads.finish(staff, index, done);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_cut_to_their_last_part_and_a_readable_length() {
        assert_eq!(
            file_name(Some("C:\\Users\\a\\お知らせ.pdf"), 0),
            "お知らせ.pdf"
        );
        assert_eq!(file_name(Some("a/b\u{7}.png"), 0), "b.png");
        assert_eq!(file_name(Some("\u{202E}fdp.exe"), 0), "fdp.exe");
        assert_eq!(file_name(None, 2), "3番目のファイル");
        assert_eq!(
            file_name(Some(&"あ".repeat(100)), 0).chars().count(),
            NAME_CHARS + 1
        );
        assert_eq!(officer::size_ja(5 * 1024 * 1024), "5 MiB");
        assert_eq!(officer::size_ja(64 * 1024), "64 KiB");
        assert_eq!(officer::size_ja(1536 * 1024), "1.5 MiB");
    }
}
