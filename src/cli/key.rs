//! `kakunin key init` and `key rotate`, and loading the service's keys at start-up:
//! the audit checkpoint key and the receipt keys (`app::receipt::keys`).

use std::sync::Arc;

use anyhow::bail;

use crate::adapters::db::DbPool;
use crate::app::audit::checkpoint::{self, Signer};
use crate::app::audit::{self, key, Action, Actor, AuditOutcome, Event};
use crate::app::installation;
use crate::app::receipt::keys::{self as receipt_keys, ReceiptKeyError, ReceiptKeys};
use crate::config::Settings;

fn signer(settings: &Settings, key: ed25519_dalek::SigningKey) -> Signer {
    Signer::new(
        key,
        settings.audit.checkpoint_every,
        settings.audit.checkpoint_max_age_minutes,
    )
}

/// Makes the key (mode 0600, public half beside it) and records that in the log, which
/// also writes the first checkpoint.
pub fn init(settings: &Settings, pool: &DbPool) -> anyhow::Result<u8> {
    let path = &settings.audit.signing_key_file;
    let key = key::init(path)?;
    let public = key.verifying_key();
    let id = key::key_id(&public);
    checkpoint::install(signer(settings, key));
    audit::append(
        &mut *pool.get()?,
        &Actor::cli(),
        &Event {
            action: Action::AuditKeyInit,
            target: &id,
            outcome: AuditOutcome::Ok,
            detail: format!("file={}", path.display()),
        },
    )?;
    println!(
        "監査ログの署名鍵を作成しました: {}（mode 600）",
        path.display()
    );
    println!("鍵ID: {id}");
    println!(
        "公開鍵: {}（この内容を別の場所にも控えてください）",
        key::public_path(path).display()
    );
    let dir = receipt_keys::dir_beside(path);
    let receipts = ReceiptKeys::load_or_create(&dir)?;
    println!(
        "確認記録の署名鍵: {}（鍵ID {}、公開鍵一覧 {}/keys.json）",
        dir.display(),
        receipts.kid(),
        dir.display()
    );
    Ok(0)
}

/// `kakunin key rotate`: a new receipt key; the one before is retired a minute from
/// now and stays published, so the receipts it signed still verify. A running service
/// picks the new key up within a second ([`follow_rotations`]).
pub fn rotate(settings: &Settings) -> anyhow::Result<u8> {
    let dir = receipt_keys::dir_beside(&settings.audit.signing_key_file);
    let keys = ReceiptKeys::rotate(&dir, chrono::Utc::now())?;
    println!("確認記録の署名鍵を更新しました: 鍵ID {}", keys.kid());
    for k in keys.public() {
        println!(
            "  {}  {} ～ {}",
            k.kid,
            k.not_before,
            k.not_after.as_deref().unwrap_or("（現在の鍵）")
        );
    }
    if keys.public().len() > 1 {
        println!(
            "実行中のサービスは{}秒以内に新しい鍵で署名し始めます（前の鍵は{}秒後まで有効です）",
            receipt_keys::REFRESH_EVERY.as_secs(),
            receipt_keys::RETIRE_AFTER_SECONDS
        );
    } else {
        println!("最初の鍵です（前の鍵はありません）。`kakunin serve` はこの鍵で署名します");
    }
    Ok(0)
}

/// `serve` signs every receipt, so it needs the receipt keys: `--demo` makes the first
/// one when missing; otherwise start-up stops and says how to make it.
pub fn receipt_keys(settings: &Settings, demo: bool) -> anyhow::Result<Arc<ReceiptKeys>> {
    let dir = receipt_keys::dir_beside(&settings.audit.signing_key_file);
    let keys = match ReceiptKeys::load(&dir) {
        Ok(k) => k,
        Err(ReceiptKeyError::Missing(_)) if demo => {
            tracing::warn!(dir = %dir.display(), "--demo: creating the receipt signing key");
            ReceiptKeys::load_or_create(&dir)?
        }
        Err(ReceiptKeyError::Missing(shown)) => bail!(
            "確認記録の署名鍵 {shown} がありません。`kakunin key rotate` で作成してから起動してください"
        ),
        Err(e) => return Err(e.into()),
    };
    Ok(Arc::new(keys))
}

/// Every how many [`REFRESH_EVERY`](receipt_keys::REFRESH_EVERY) ticks the node
/// compares its key set with the installation's ([`installation::sync_receipt_kid`]).
const SYNC_EVERY_TICKS: u32 = 5;

/// Follows `kakunin key rotate` while `serve` runs: looks at the key set every
/// [`REFRESH_EVERY`](receipt_keys::REFRESH_EVERY) and signs with the new key once it is
/// there (the old one stays valid long enough for that, see
/// [`RETIRE_AFTER_SECONDS`](receipt_keys::RETIRE_AFTER_SECONDS)). A set that cannot be
/// read leaves the one in use, with a warning per failure streak. Every few seconds,
/// and at once after a new set, it compares the set with the installation's current
/// key, so a node left behind by a rotation on another node turns `/readyz` to 503.
pub async fn follow_rotations(keys: Arc<ReceiptKeys>, pool: DbPool) {
    let mut tick = tokio::time::interval(receipt_keys::REFRESH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    let mut since_sync = 0;
    loop {
        tick.tick().await;
        let mut changed = false;
        match keys.refresh() {
            Ok(true) => {
                failing = false;
                changed = true;
                tracing::info!(kid = %keys.kid(), "receipt keys reloaded: signing with the current key");
            }
            Ok(false) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "receipt key set unreadable: still signing with the keys loaded before");
            }
            Err(_) => {}
        }
        since_sync += 1;
        if changed || since_sync >= SYNC_EVERY_TICKS {
            since_sync = 0;
            sync_with_installation(&keys, &pool).await;
        }
    }
}

/// [`installation::sync_receipt_kid`] on a blocking thread; says in the log when this
/// node lacks the installation's current key (once per kid), and when it has it again.
pub async fn sync_with_installation(keys: &Arc<ReceiptKeys>, pool: &DbPool) {
    let before = keys.missing_kid();
    let k = keys.clone();
    let synced = crate::adapters::db::run(pool, move |c| {
        installation::sync_receipt_kid(c, &k).map_err(crate::adapters::db::DbError::from)
    })
    .await;
    match (synced, keys.missing_kid()) {
        (Err(e), _) => tracing::warn!(error = %e, "receipt key of the installation not read"),
        (Ok(_), Some(kid)) if before.as_deref() != Some(kid.as_str()) => tracing::error!(
            %kid,
            "this node does not hold the installation's current receipt key: copy the receipt key folder from the node that rotated it (/readyz answers 503 until then)"
        ),
        (Ok(_), None) if before.is_some() => {
            tracing::info!(kid = %keys.kid(), "this node holds the installation's current receipt key again")
        }
        _ => {}
    }
}

/// For commands that may append to the log: sign checkpoints when the key exists.
pub fn install_if_present(settings: &Settings) -> anyhow::Result<()> {
    match key::load(&settings.audit.signing_key_file) {
        Ok(k) => {
            checkpoint::install(signer(settings, k));
            Ok(())
        }
        Err(key::KeyError::Missing(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `serve` signs every checkpoint, so it needs the key: `--demo` makes one when it is
/// missing; otherwise start-up stops and says how to make it.
pub fn prepare_serve(settings: &Settings, demo: bool) -> anyhow::Result<()> {
    let path = &settings.audit.signing_key_file;
    let k = match key::load(path) {
        Ok(k) => k,
        Err(key::KeyError::Missing(_)) if demo => {
            tracing::warn!(path = %path.display(), "--demo: creating the audit signing key");
            key::init(path)?
        }
        Err(key::KeyError::Missing(shown)) => bail!(
            "監査ログの署名鍵 {shown} がありません。`kakunin key init` で作成してから起動してください\
             （場所は設定 audit.signing_key_file または KAKUNIN_AUDIT_SIGNING_KEY_FILE）"
        ),
        Err(e) => return Err(e.into()),
    };
    checkpoint::install(signer(settings, k));
    Ok(())
}
