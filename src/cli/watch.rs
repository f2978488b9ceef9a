//! `kakunin watch --office CODE [--days N]`: the accepted guarantees of one office that
//! need a look (`domain::watch`: a newer revision or a cancellation seen since, or a
//! guarantee period ending within N days), one line each on standard output.
//!
//! Exit codes: 0 none, 1 some, 2 an error (an unknown office, an unreadable database).
//! The listing only reads: it is not audited, as `kakunin audit export` is not for its
//! reader either (whoever runs it holds the database file).

use anyhow::{bail, Context};

use crate::adapters::db::DbPool;
use crate::app::accounts::users;
use crate::app::verification::watch::{self, Watched};
use crate::domain::case::Case;

/// Default of `--days`.
pub const DEFAULT_DAYS: u32 = 30;
/// Most days `--days` takes (ten years).
pub const MAX_DAYS: u32 = 3650;

pub fn run(pool: &DbPool, office: &str, days: u32) -> anyhow::Result<u8> {
    let mut c = pool.get().context("データベースに接続できません")?;
    if !users::office_exists(&mut c, office)? {
        bail!("発注機関コード「{office}」は登録されていません（登録済みの発注機関は「管理 → 発注機関」で確かめてください）");
    }
    let today = kakunin_protocol::time::now_jst().date_naive();
    let found = watch::watch(&mut c, office, today, days)?;
    for w in &found {
        println!("{}", line(w));
    }
    let scope = format!("発注機関 {office}、保証期間は本日から{days}日以内に終わるものを表示");
    if found.is_empty() {
        eprintln!("要確認の保証はありません（{scope}）");
        Ok(0)
    } else {
        eprintln!("要確認の保証 {}件（{scope}）", found.len());
        Ok(1)
    }
}

/// `W2025000001　案件 R7-土木-0123（県道…）　理由 …`: number, 案件, reasons.
fn line(w: &Watched) -> String {
    format!(
        "{}　案件 {}　理由 {}　（照会番号 {}）",
        w.certificate_number,
        case_label(w.case.as_ref()),
        w.reasons.join("／"),
        w.verification_id
    )
}

fn case_label(case: Option<&Case>) -> String {
    match case {
        None => "（未入力）".to_owned(),
        Some(Case {
            number: Some(n),
            title: Some(t),
        }) => format!("{n}（{t}）"),
        Some(Case {
            number: Some(n),
            title: None,
        }) => n.clone(),
        Some(Case {
            number: None,
            title: Some(t),
        }) => format!("番号なし（{t}）"),
        Some(Case {
            number: None,
            title: None,
        }) => "（未入力）".to_owned(),
    }
}
