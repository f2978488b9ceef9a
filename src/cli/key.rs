//! `kakunin key init`, and loading the audit signing key at start-up.

use anyhow::bail;

use crate::adapters::db::DbPool;
use crate::app::audit::checkpoint::{self, Signer};
use crate::app::audit::{self, key, Actor, Event};
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
            action: "audit.key_init",
            target: &id,
            outcome: "ok",
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
    Ok(0)
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
