//! `demo-seed`: fills an empty issuer database with the demo data set of [`cases`] and
//! writes what a demo of the verification service needs into one directory.
//!
//! Written to `DIR` (default `data/demo`):
//! - `token.txt` (0600): the bearer token of the client `demo`;
//! - `issuers.toml`: a trust registry for the verification service (token inline,
//!   marked development only);
//! - `notices/{number}.pdf` (0600): each key notice;
//! - `records/{number}.jws`: each latest revision's JWS, as a lookup serves it;
//! - `demo-keys.csv` (0600): `certificate_number,auth_key,expected_outcome,expected_rules,note`,
//!   the key in its printed form, plus a wrong key for an existing number and an
//!   unknown number (both `not_found`).
//!
//! Idempotence: the auth keys and the token exist only at seeding time, so a second run
//! cannot rewrite those files. When the demo certificates are already there, the
//! command says so, changes nothing and exits successfully; to reseed, start from an
//! empty database. A database holding only part of the demo accounts is refused.
//!
//! Dates: the cases are written in 令和7年度 and moved to the day of seeding by
//! [`calendar`], so that the demo's guarantees are running when it is shown.
//!
//! Everything is prepared (keys, payloads, PDFs) before the database is written; the
//! inserts and the files then happen inside one transaction, so a failure leaves the
//! database as it was.

pub mod calendar;
pub mod cases;

use std::fs;
use std::path::{Path, PathBuf};

use chrono::DateTime;

use self::calendar::Calendar;
use self::cases::{Case, Later, CASES, OWNERS};
use super::app::App;
use super::crypto;
use super::error::IssuerError;
use super::input;
use super::issuance::{self, Issued};
use super::keyring::{self, Activation};
use super::notice::NoticeFonts;
use super::store;
use crate::db;
use kakunin_platform::csv_cell::neutralise;
use kakunin_platform::files;
use kakunin_protocol::ids::{AuthKey, CertificateNumber};
use kakunin_protocol::payload::{Certificate, Issuer};

/// The client name of the demo token.
pub const DEMO_CLIENT: &str = "demo";
/// The demo signing key is valid from here, before every demo `issued_at` (as written,
/// and so as moved by [`calendar`]).
pub const DEMO_KEY_NOT_BEFORE: &str = "2025-01-01T00:00:00+09:00";
/// The numbers this issuer answers for, as written into the registry.
pub const NUMBER_PATTERN: &str = "^W[0-9]{10}$";

/// What `demo-seed` did.
pub enum SeedReport {
    AlreadySeeded,
    Seeded(Summary),
}

pub struct Summary {
    pub out: PathBuf,
    pub certificates: usize,
    pub revisions: usize,
    pub kid: String,
    /// Three number/key pairs (printed form) for the summary.
    pub examples: Vec<(String, String)>,
}

/// One prepared demo certificate: every revision, the key and its notice.
struct Prepared {
    case: &'static Case,
    revisions: Vec<Certificate>,
    issued: Issued,
    pdf: Vec<u8>,
}

fn parse_time(t: &str) -> Result<DateTime<chrono::FixedOffset>, IssuerError> {
    DateTime::parse_from_rfc3339(t)
        .map_err(|_| IssuerError::Input(format!("デモデータの日時「{t}」が不正です")))
}

/// Every revision of a case, its dates moved by `calendar`, built through the same code
/// as `issue` and `amend`.
fn revisions_for(
    issuer: &Issuer,
    case: &Case,
    calendar: &Calendar,
) -> Result<Vec<Certificate>, IssuerError> {
    let source = format!("デモデータ {}", case.number());
    let bytes = calendar.issue(case)?.to_string();
    let first = issuance::first_revision(
        input::parse_issue(&source, bytes.as_bytes())?,
        issuer,
        calendar.time(case.issued_at)?,
    )?;
    let mut all = vec![first];
    for later in case.later {
        let prev = all.last().ok_or(IssuerError::Input(source.clone()))?;
        let next = match later {
            Later::Amend { at, change } => issuance::amended(
                prev,
                &input::parse_amendment(
                    &source,
                    calendar.amendment(case, change)?.to_string().as_bytes(),
                )?,
                calendar.time(at)?,
            )?,
            Later::Cancel { at } => issuance::cancelled(prev, calendar.time(at)?)?,
        };
        all.push(next);
    }
    Ok(all)
}

pub async fn run(app: &App, out: &Path, base_url: &str) -> Result<SeedReport, IssuerError> {
    let secret = app.secret()?.clone();
    let first = CertificateNumber::parse(&CASES[0].number())
        .map_err(|e| IssuerError::Input(e.to_string()))?;
    let (seeded, partial) = db::run(&app.pool, move |conn| {
        let seeded = store::certificates::exists(conn, first.as_str())?;
        let mut partial = store::clients::exists(conn, DEMO_CLIENT)?;
        for o in OWNERS {
            partial |= store::contractors::by_login(conn, o.login)?.is_some();
        }
        Ok::<_, IssuerError>((seeded, partial))
    })
    .await?;
    if seeded {
        return Ok(SeedReport::AlreadySeeded);
    }
    if partial {
        return Err(IssuerError::Input(format!(
            "データベースにデモ用のクライアント「{DEMO_CLIENT}」または受注者アカウントが既にありますが、デモの証書はありません。空のデータベースで実行してください。"
        )));
    }
    let fonts = NoticeFonts::load()?;
    let calendar = Calendar::seeded_on(kakunin_protocol::time::now_jst().date_naive());
    let kid = ensure_key(app, &calendar).await?;

    let mut prepared = Vec::new();
    for case in &CASES {
        let revisions = revisions_for(&app.issuer, case, &calendar)?;
        let latest = revisions
            .last()
            .cloned()
            .ok_or(IssuerError::Input(case.number()))?;
        let issued = Issued {
            certificate: latest,
            auth_key: AuthKey::generate(),
        };
        // The notice is dated when the certificate was first issued.
        let issued_on = revisions
            .first()
            .map_or(issued.certificate.issued_at, |r| r.issued_at)
            .date_naive();
        let pdf = issuance::render_notice(&issued, &fonts, issued_on)?;
        prepared.push(Prepared {
            case,
            revisions,
            issued,
            pdf,
        });
    }
    let mut hashes = Vec::new();
    for o in OWNERS {
        let h = kakunin_platform::password::hash(o.password);
        hashes.push((o.login, o.name, h));
    }
    let token = crypto::random_token();
    let keys = keyring::all(app).await?;
    let registry = registry_toml(app, base_url, &token, &keys);

    let keys_dir = app.keys_dir.clone();
    let out_dir = out.to_path_buf();
    let summary = db::run(&app.pool, move |conn| {
        conn.immediate_transaction(|conn| {
            let now = store::now_text();
            let mut owner_ids = Vec::new();
            for (login, name, hash) in &hashes {
                owner_ids.push((
                    *login,
                    store::contractors::insert(conn, login, name, hash, &now)?,
                ));
            }
            store::clients::insert(conn, DEMO_CLIENT, &crypto::sha256(&token), &now)?;
            let mut revision_count = 0;
            let mut records = Vec::new();
            for p in &prepared {
                let owner = owner_ids
                    .iter()
                    .find(|(login, _)| *login == p.case.owner.login)
                    .map(|(_, id)| *id);
                let (first, rest) = p
                    .revisions
                    .split_first()
                    .ok_or(IssuerError::Input(p.case.number()))?;
                issuance::store_new(conn, &keys_dir, &secret, first, owner, &p.issued.auth_key)?;
                let row = store::certificates::find(conn, &first.certificate_number)?.ok_or_else(
                    || IssuerError::UnknownCertificate(first.certificate_number.clone()),
                )?;
                for next in rest {
                    issuance::store_revision(conn, &keys_dir, &row, next)?;
                }
                revision_count += p.revisions.len();
                let (row, _) = issuance::load_latest(
                    conn,
                    &CertificateNumber::parse(&first.certificate_number)
                        .map_err(|e| IssuerError::Input(e.to_string()))?,
                )?;
                records.push(store::certificates::latest(conn, &row)?.jws);
            }
            // Files last, still inside the transaction: if one cannot be written, the
            // database is rolled back and a rerun starts clean.
            write_files(&out_dir, &token, &registry, &prepared, &records)?;
            Ok::<_, IssuerError>(Summary {
                out: out_dir.clone(),
                certificates: prepared.len(),
                revisions: revision_count,
                kid: kid.clone(),
                examples: prepared
                    .iter()
                    .take(3)
                    .map(|p| (p.case.number(), p.issued.auth_key.printed()))
                    .collect(),
            })
        })
    })
    .await?;
    Ok(SeedReport::Seeded(summary))
}

/// The active key, or a new demo key valid from [`DEMO_KEY_NOT_BEFORE`]. An existing key
/// that starts later could not have signed the first demo revisions.
async fn ensure_key(app: &App, calendar: &Calendar) -> Result<String, IssuerError> {
    let earliest = parse_time(DEMO_KEY_NOT_BEFORE)?;
    let keys = keyring::all(app).await?;
    if let Some(active) = keys.iter().find(|k| k.active) {
        let first_issue = CASES
            .iter()
            .map(|c| calendar.time(c.issued_at))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .min()
            .unwrap_or(earliest);
        if active.not_before > first_issue {
            return Err(IssuerError::Input(format!(
                "有効な署名鍵「{}」の not_before（{}）がデモの証書の発行日時より後のため、デモデータに署名できません。空のデータベースで実行してください。",
                active.kid,
                active.not_before.to_rfc3339()
            )));
        }
        return Ok(active.kid.clone());
    }
    let kid = format!("{}-demo-2025", app.issuer.id);
    keyring::create(app, &kid, earliest, Activation::IfNoneActive).await?;
    Ok(kid)
}

/// The trust registry a verification service needs for this issuer (§5).
fn registry_toml(app: &App, base_url: &str, token: &str, keys: &[keyring::KeyInfo]) -> String {
    let mut text = format!(
        "# 確認サービス（kakunin）用の信頼登録簿。kakunin-issuer demo-seed が作成しました。\n\
         [[issuer]]\n\
         id = {id}\n\
         name = {name}\n\
         base_url = {base}\n\
         # development only: 本番ではトークンをファイルに書かず、token_env で環境変数から渡してください。\n\
         token = {token}\n\
         number_pattern = {pattern}\n",
        id = toml_string(&app.issuer.id),
        name = toml_string(&app.issuer.name),
        base = toml_string(base_url),
        token = toml_string(token),
        pattern = toml_string(NUMBER_PATTERN),
    );
    for k in keys {
        text.push('\n');
        text.push_str(&k.registry_block());
    }
    text
}

/// A TOML basic string (quotes and backslashes escaped).
pub fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn write_files(
    out: &Path,
    token: &str,
    registry: &str,
    prepared: &[Prepared],
    records: &[String],
) -> Result<(), IssuerError> {
    // 0700: the directory holds the registry's token and the key notices.
    let mkdir = |p: &Path| files::create_private_dir(p).map_err(|e| IssuerError::write(p, e));
    mkdir(&out.join("notices"))?;
    mkdir(&out.join("records"))?;
    write_private(&out.join("token.txt"), format!("{token}\n").as_bytes())?;
    // The registry names the token the service sends: the owner's alone.
    write_private(&out.join("issuers.toml"), registry.as_bytes())?;
    for (p, jws) in prepared.iter().zip(records) {
        let n = p.case.number();
        write_private(&out.join("notices").join(format!("{n}.pdf")), &p.pdf)?;
        write_plain(
            &out.join("records").join(format!("{n}.jws")),
            jws.as_bytes(),
        )?;
    }
    write_private(&out.join("demo-keys.csv"), &demo_keys_csv(prepared)?)?;
    Ok(())
}

fn demo_keys_csv(prepared: &[Prepared]) -> Result<Vec<u8>, IssuerError> {
    let csv_err =
        |e: csv::Error| IssuerError::Input(format!("demo-keys.csv を作成できません: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "certificate_number",
        "auth_key",
        "expected_outcome",
        "expected_rules",
        "note",
    ])
    .map_err(csv_err)?;
    for p in prepared {
        w.write_record(
            [
                p.case.number().as_str(),
                p.issued.auth_key.printed().as_str(),
                p.case.outcome,
                p.case.rules,
                p.case.note,
            ]
            .map(|c| neutralise(c).into_owned()),
        )
        .map_err(csv_err)?;
    }
    let wrong = AuthKey::generate();
    w.write_record(
        [
            CASES[0].number().as_str(),
            wrong.printed().as_str(),
            "not_found",
            "",
            "存在する保証契約番号に誤った認証キー（該当なし）",
        ]
        .map(|c| neutralise(c).into_owned()),
    )
    .map_err(csv_err)?;
    w.write_record(
        [
            "W2025999999",
            AuthKey::generate().printed().as_str(),
            "not_found",
            "",
            "発行されていない保証契約番号（該当なし）",
        ]
        .map(|c| neutralise(c).into_owned()),
    )
    .map_err(csv_err)?;
    w.into_inner()
        .map_err(|e| IssuerError::Input(format!("demo-keys.csv を作成できません: {e}")))
}

/// Writes a file only its owner may read (mode 0600): it holds a bearer secret.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), IssuerError> {
    files::write_private(path, bytes).map_err(|e| IssuerError::write(path, e))
}

fn write_plain(path: &Path, bytes: &[u8]) -> Result<(), IssuerError> {
    fs::write(path, bytes).map_err(|e| IssuerError::write(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_are_numbered_in_order_and_declare_known_outcomes_and_rules() {
        for (i, c) in CASES.iter().enumerate() {
            assert_eq!(c.seq as usize, i + 1);
            assert!(
                matches!(c.outcome, "verified" | "rejected"),
                "{}",
                c.number()
            );
            if c.outcome == "rejected" {
                assert!(!c.rules.is_empty(), "{}", c.number());
            }
            // Rule ids are the service's; the service's tests check each case's
            // declared outcome and rules against its profile (tests/it/demo.rs).
            for r in c.rules.split('|').filter(|r| !r.is_empty()) {
                assert!(
                    r.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                    "{r}"
                );
            }
        }
    }

    #[test]
    fn toml_strings_escape_quotes() {
        assert_eq!(toml_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
