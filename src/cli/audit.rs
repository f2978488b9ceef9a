//! `kakunin audit verify` (hash chain and signed checkpoints) and `kakunin audit export`.

use std::io::{BufWriter, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{bail, Context};
use chrono::NaiveDate;
use ed25519_dalek::VerifyingKey;

use crate::adapters::db::DbPool;
use crate::app::audit::chain::attempts_audited;
use crate::app::audit::checkpoint::{self, verify_checkpoints, CheckpointBreak};
use crate::app::audit::export::{self, Format};
use crate::app::audit::query::AuditFilter;
use crate::app::audit::{key, verify_chain, Actor};
use crate::config::Settings;
use crate::domain::scope::OfficeScope;

/// The key checkpoints are checked against: `--public-key`, else this service's key.
fn verifying_key(settings: &Settings, public_key: Option<&Path>) -> anyhow::Result<VerifyingKey> {
    if let Some(path) = public_key {
        return Ok(key::load_public(path)?);
    }
    if let Some(signer) = checkpoint::installed() {
        return Ok(signer.verifying_key());
    }
    let public = key::public_path(&settings.audit.signing_key_file);
    key::load_public(&public).with_context(|| {
        format!(
            "チェックポイントを検証する公開鍵がありません（{} も {} も読めません）。--public-key で公開鍵のファイルを指定してください",
            settings.audit.signing_key_file.display(),
            public.display()
        )
    })
}

/// Exit 0 when chain and checkpoints are intact, 1 when either is broken (naming the
/// first broken row and the first broken checkpoint).
pub fn verify(pool: &DbPool, settings: &Settings, public_key: Option<&Path>) -> anyhow::Result<u8> {
    let key = verifying_key(settings, public_key)?;
    let mut c = pool.get()?;
    let mut broken = false;
    let mut rows = 0;
    match verify_chain(&mut c)? {
        Ok(n) => {
            rows = n;
            println!("ハッシュチェーン: 正常（{n}件）");
        }
        Err(brk) => {
            if brk.is_tampering() {
                println!("監査ログの改ざんを検出しました: {brk}");
            } else {
                println!("監査ログを検証できません: {brk}");
            }
            broken = true;
        }
    }
    match attempts_audited(&mut c)? {
        Ok(n) => println!("照会の記録と監査ログ: 一致（{n}件）"),
        Err(mismatch) => {
            println!("監査ログの改ざんを検出しました: {mismatch}");
            broken = true;
        }
    }
    let mut signed = 0;
    match verify_checkpoints(&mut c, &key)? {
        Ok(summary) => {
            signed = summary
                .latest
                .as_ref()
                .map_or(0, |cp| i64::from(cp.head_seq));
            print!(
                "署名付きチェックポイント: 正常（{}件、鍵ID {}）",
                summary.checkpoints,
                key::key_id(&key)
            );
            match summary.latest {
                // Printed so an operator can keep the latest head somewhere the
                // database's owner cannot reach.
                Some(cp) => println!(
                    "。最新: {} 番 {} {}",
                    cp.head_seq,
                    cp.at.format("%Y-%m-%dT%H:%M:%SZ"),
                    cp.head_hash
                ),
                None => println!(),
            }
        }
        // A checkpoint under another key is first of all a question of which key was
        // given (`--public-key`); the message says so, and the exit is still 1.
        Err(brk @ CheckpointBreak::OtherKey { .. }) => {
            println!("監査ログを検証できません: {brk}");
            broken = true;
        }
        Err(brk) => {
            println!("監査ログの改ざんを検出しました: {brk}");
            broken = true;
        }
    }
    if broken {
        return Ok(1);
    }
    println!("監査ログは改ざんされていません");
    // The newest rows are under the chain's hashes only until a checkpoint signs them:
    // deleted from the end (with their verifications), what is left still holds. Say
    // so, rather than let "not tampered" cover what nothing here could find.
    if rows > signed {
        println!(
            "（{}～{} 番の {} 件は、まだ署名付きチェックポイントに含まれていません。次のチェックポイント（{} 件ごと、または {} 分ごと）で署名されるまで、末尾の行がまとめて削除されてもこの検査では見つかりません。上の最新のチェックポイントの番号とハッシュを、データベースとは別の場所に控えてください）",
            signed + 1,
            rows,
            rows - signed,
            settings.audit.checkpoint_every,
            settings.audit.checkpoint_max_age_minutes
        );
    }
    Ok(0)
}

/// A `--from` / `--to` date. chrono's reason (English, `input is out of range`) is left
/// out: the message says what to type.
fn day(s: &str, flag: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        anyhow::anyhow!(
            "{flag} の「{}」は日付として読めません。2025-04-01 の形で、実在する日付を指定してください",
            s.trim()
        )
    })
}

/// Writes the log of `from`..=`to` (Japan-time days) to stdout or `output`, with a
/// progress bar on stderr when stderr is a terminal.
pub fn export(
    pool: &DbPool,
    from: &str,
    to: &str,
    format: &str,
    output: Option<&Path>,
) -> anyhow::Result<u8> {
    let format = Format::parse(format).context("--format は csv または jsonl です")?;
    let (from, to) = (day(from, "--from")?, day(to, "--to")?);
    if from > to {
        bail!("--from（{from}）が --to（{to}）より後になっています");
    }
    let mut filter = AuditFilter::new(OfficeScope::All);
    filter.from = Some(from);
    filter.to = Some(to);
    let mut c = pool.get()?;
    let plan = export::start(&mut c, &Actor::cli(), filter, format)?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(plan.rows.max(0) as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len}件 {elapsed_precise} 残り{eta}",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let written = match output {
        Some(path) => {
            // The log names people and addresses: the file is for its owner only.
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("{} に書き込めません", path.display()))?;
            let mut w = export::run(&mut c, &plan, BufWriter::new(file), |n| bar.set_position(n))?;
            w.flush()?;
            plan.rows
        }
        None => {
            let stdout = std::io::stdout().lock();
            let mut w = export::run(&mut c, &plan, BufWriter::new(stdout), |n| {
                bar.set_position(n)
            })?;
            w.flush()?;
            plan.rows
        }
    };
    bar.finish_and_clear();
    eprintln!(
        "監査ログ {written} 件を書き出しました（{from} ～ {to}、{}）",
        format.as_str()
    );
    Ok(0)
}
