//! `kakunin serve` and `kakunin migrate`: start-up checks, then the web server.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::adapters::db::{self, DbPool};
use crate::adapters::issuer_client::IssuerClient;
use crate::app::verification::{Verifier, WriteQueue};
use crate::config::{SecretKey, Settings};
use crate::domain::rules::Profile;
use crate::web::{self, AppState};
use kakunin_protocol::registry::Registry;
use secrecy::ExposeSecret;

/// Opens the database for a command that works on an existing installation (`user`,
/// `token`, `audit`, `watch`, `evidence`): a SQLite file that is not there is refused
/// rather than created, so a mistyped `KAKUNIN_DATABASE_URL` shows as an error, not as
/// an empty installation. `migrate`, `key init` and `serve` create it ([`open_db`]).
pub fn open_existing_db(settings: &Settings) -> anyhow::Result<DbPool> {
    if let Some(file) = db::Location::parse(&settings.database.url).sqlite_file() {
        if !file.exists() {
            bail!(
                "データベース {} がありません。KAKUNIN_DATABASE_URL（または設定の database.url）を確かめてください。新しく作るときは先に `kakunin migrate` を実行します",
                file.display()
            );
        }
    }
    open_db(settings)
}

/// Opens the database, creating a SQLite file that is not there yet, and applies the
/// pending migrations.
pub fn open_db(settings: &Settings) -> anyhow::Result<DbPool> {
    let limits = db::PoolLimits {
        size: settings.database.pool_size,
        timeout: Duration::from_millis(settings.database.pool_timeout_ms),
    };
    db::open_with(&settings.database.url, db::SERVICE_MIGRATIONS, limits).with_context(|| {
        format!(
            "データベース {} を開けません",
            db::Location::parse(&settings.database.url).redacted()
        )
    })
}

/// The rule profile of the settings: `rules.profile` in `rules.profiles_dir`, or the
/// built-in copy of that name when the folder does not hold it
/// ([`Profile::load_named`]).
pub fn load_profile(settings: &Settings) -> Result<Profile, crate::domain::rules::ProfileError> {
    Profile::load_named(&settings.rules.profiles_dir, &settings.rules.profile)
}

/// `kakunin key adopt-secret`: makes the configured `KAKUNIN_SECRET_KEY` the
/// installation's after a deliberate change, audited; `serve` refuses another one
/// ([`crate::app::installation::secret_matches`]).
pub fn adopt_secret(settings: &Settings) -> anyhow::Result<u8> {
    let Some(secret) = &settings.secret_key else {
        bail!("KAKUNIN_SECRET_KEY（または KAKUNIN_SECRET_KEY_FILE）に新しい秘密鍵を設定してから実行してください");
    };
    let pool = open_existing_db(settings)?;
    let mut c = pool.get()?;
    if !crate::app::installation::secret_matches(&mut c, secret.expose_secret())? {
        crate::app::installation::adopt_secret(
            &mut c,
            secret.expose_secret(),
            &crate::app::audit::Actor::cli(),
        )?;
        println!("設定されている秘密鍵を、この設置の秘密鍵にしました。すべてのノードに同じ値を設定して起動してください");
    } else {
        println!("設定されている秘密鍵は、すでにこの設置の秘密鍵です");
    }
    Ok(0)
}

pub fn run(settings: Settings, demo: bool) -> anyhow::Result<()> {
    let secret = match (&settings.secret_key, demo) {
        (Some(s), _) => s.clone(),
        (None, true) => {
            tracing::warn!("--demo: using the fixed demo secret key; never do this in production");
            SecretKey::demo()
        }
        (None, false) => bail!(
            "KAKUNIN_SECRET_KEY（または KAKUNIN_SECRET_KEY_FILE）が設定されていません。\
             32文字以上の秘密鍵を設定してください（例: `openssl rand -hex 32`）。デモは `kakunin serve --demo` で起動できます"
        ),
    };
    let registry = Registry::load(&settings.issuers.file)?;
    settings.check_issuer_ids(registry.issuers().iter().map(|i| i.id.as_str()))?;
    for issuer in registry.issuers() {
        if issuer.token.is_none() {
            bail!(
                "信頼登録簿 {}: 保証事業会社 {} のトークンがありません（環境変数 {} を設定してください）",
                settings.issuers.file.display(),
                issuer.id,
                issuer.token_env.as_deref().unwrap_or("token_env")
            );
        }
    }
    let profile = load_profile(&settings)?;
    // Which copy runs is said once: a prefecture's edited profile that is not found
    // (another working directory, a unit file's mistake) must not pass unnoticed.
    let file = Profile::file_in(&settings.rules.profiles_dir, &settings.rules.profile);
    if file.exists() {
        tracing::info!(profile = %settings.rules.profile, file = %file.display(), "rule profile read from its file");
    } else {
        tracing::warn!(profile = %settings.rules.profile, missing = %file.display(), "rule profile is the copy built into the binary: no file at rules.profiles_dir");
    }
    let receipts = super::key::receipt_keys(&settings, demo)?;
    let pool = open_db(&settings)?;
    if !crate::app::installation::secret_matches(&mut *pool.get()?, secret.expose_secret())? {
        bail!(
            "KAKUNIN_SECRET_KEY（または KAKUNIN_SECRET_KEY_FILE）が、このデータベースで使われてきた秘密鍵と違います。\
             複数のノードでは、すべてのノードに同じ値を設定してください。\
             秘密鍵を意図して変えたとき（漏えいなど）は、新しい値を設定して `kakunin key adopt-secret` を1回実行してから起動してください\
             （ログイン中のセッションは無効になり、監査ログの認証キーの指紋は変更の前後でつながりません）"
        );
    }
    // Every profile version run with is kept, so evidence can be checked against it.
    crate::app::evidence::profiles::remember(&mut *pool.get()?, &profile)
        .context("ルールプロファイルを記録できません")?;
    // Held to the end: the WAL of a SQLite file is copied into the database between
    // requests (PostgreSQL's server does its own checkpoints).
    let location = db::Location::parse(&settings.database.url);
    let _wal = match &location {
        db::Location::Sqlite(path) => Some(db::WalCheckpointer::start(path)?),
        db::Location::Postgres(_) => None,
    };
    super::demo::prepare(&pool, &location.redacted(), demo)?;
    // One lookup of a number at a time: in this process, and on PostgreSQL across every
    // node (a pool of its own, at most one connection per lookup in flight).
    let turns = if location.is_postgres() {
        let limits = db::PoolLimits {
            size: settings.issuers.max_in_flight.clamp(4, 64),
            timeout: Duration::from_millis(settings.database.pool_timeout_ms),
        };
        crate::app::verification::NumberTurns::across_nodes(db::side_pool(
            &settings.database.url,
            limits,
        )?)
    } else {
        Default::default()
    };
    let client = IssuerClient::new(
        &registry,
        Duration::from_millis(settings.issuers.connect_timeout_ms),
        Duration::from_millis(settings.issuers.timeout_ms),
    )?
    .with_in_flight(&registry, &settings.issuers)?;
    // Lookups and signature checks run here, on every core (see `Verifier::workers`).
    // It lives beside the actix system and is dropped after it, outside any runtime.
    let workers = tokio::runtime::Builder::new_multi_thread()
        .thread_name("kakunin-lookup")
        .enable_all()
        .build()
        .context("照会用のスレッドを起動できません")?;
    // Before the first request: a node given a key set of its own, or left behind by a
    // rotation, is not ready from the start.
    workers.block_on(super::key::sync_with_installation(&receipts, &pool));
    workers.spawn(super::key::follow_rotations(receipts.clone(), pool.clone()));
    let writes = WriteQueue::new(pool.clone(), settings.lockout.clone(), receipts.clone());
    let verifier = Verifier {
        registry: Arc::new(registry),
        profile: Arc::new(profile),
        client,
        pool,
        secret,
        lockout: settings.lockout.clone(),
        workers: workers.handle().clone(),
        writes,
        receipts,
        turns,
    };
    let state = AppState {
        verifier,
        settings: Arc::new(settings),
        uploads: Default::default(),
    };
    actix_web::rt::System::new().block_on(web::serve(state))?;
    workers.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}
