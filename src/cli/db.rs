//! `kakunin db copy`: moves a whole installation to another database (SQLite to
//! PostgreSQL when one node becomes several).

use anyhow::{bail, Context};

use crate::adapters::db::{self, Location};

/// Copies every table from `from` to the empty `to` (both URLs as `KAKUNIN_DATABASE_URL`
/// reads them), applying the migrations of this version to both first. Exit 0 when
/// copied; a target that holds anything is refused and left as it was. `connect_wait`
/// is how long a connection to either may take (`database.pool_timeout_ms`), so a
/// server that is down is reported as soon as `serve` would report it.
pub fn copy(from: &str, to: &str, connect_wait: std::time::Duration) -> anyhow::Result<u8> {
    for (flag, url) in [("--from", from), ("--to", to)] {
        if let Some(problem) = crate::config::database_url_problem(url) {
            bail!("{flag}: {problem}");
        }
    }
    let (source, target) = (Location::parse(from), Location::parse(to));
    if source == target {
        bail!("コピー元とコピー先が同じです");
    }
    // A mistyped path must not become a new, empty source.
    if let Location::Sqlite(path) = &source {
        if !std::path::Path::new(path).exists() {
            bail!("コピー元のデータベース {path} がありません");
        }
    }
    let open = |at: &Location, url: &str| {
        let limits = db::PoolLimits {
            size: 1,
            timeout: connect_wait,
        };
        db::open_with(url, db::SERVICE_MIGRATIONS, limits)
            .with_context(|| format!("データベース {} を開けません", at.redacted()))
    };
    let (source_pool, target_pool) = (open(&source, from)?, open(&target, to)?);
    let copied = db::copy::copy(&mut *source_pool.get()?, &mut *target_pool.get()?)?;
    println!(
        "コピーしました: {} → {}",
        source.redacted(),
        target.redacted()
    );
    for (table, rows) in copied {
        println!("  {table}: {rows} 行");
    }
    println!("コピー先で `kakunin audit verify` を実行し、監査ログの連鎖とチェックポイントを確かめてください");
    Ok(0)
}
