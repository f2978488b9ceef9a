//! Layered settings (`service.md` "Settings"): `config/default.toml` (or the copy built
//! into the binary when that file is absent), then the file named by `KAKUNIN_CONFIG`,
//! then the variables of [`VARIABLES`], each layer over the one before.
//!
//! figment merges the layers and remembers which one gave each value, so a bad value
//! is reported with the file, line and key that hold it, or with the variable. Every
//! number is checked against [`RANGES`] at start: a value out of range stops the
//! program there rather than misbehaving later (a zero lock limit locks a number at
//! its first miss, a zero timeout fails every lookup).
//!
//! Variables are mapped one by one, never by prefix: other `KAKUNIN_*` variables are
//! issuer tokens (`KAKUNIN_TOKEN_WJCS`) or belong to other commands, not settings. The
//! secret key is read apart from the layers, from variables only (see
//! [`Settings::secret_key`]).

use std::path::{Path, PathBuf};

use figment::error::{Actual, Kind};
use figment::providers::Serialized;
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider, Source};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretSlice};
use serde::Deserialize;

/// The shipped defaults, used when `config/default.toml` is not in the working
/// directory (for example when the binary runs from a package install).
const EMBEDDED_DEFAULTS: &str = include_str!("../config/default.toml");

/// How messages name the embedded defaults.
const EMBEDDED_NAME: &str = "(組み込みの既定値)";

/// The variables of `service.md` (and the audit signing key's), each with the dotted
/// key of the setting it overrides. The value is taken as written, never parsed.
pub const VARIABLES: [(&str, &str); 6] = [
    ("KAKUNIN_DATABASE_URL", "database.url"),
    ("KAKUNIN_BIND", "server.bind"),
    ("KAKUNIN_ISSUERS_FILE", "issuers.file"),
    ("KAKUNIN_PROFILE", "rules.profile"),
    ("KAKUNIN_LOG", "log.filter"),
    ("KAKUNIN_AUDIT_SIGNING_KEY_FILE", "audit.signing_key_file"),
];

/// Why the settings could not be loaded. The message is Japanese and names where the
/// bad value is; a secret's value is never part of it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A settings file that cannot be read or is not TOML, or a bad value in it.
    #[error("設定ファイル {file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    File {
        /// The path as given, or `(組み込みの既定値)` for the embedded copy.
        file: String,
        /// 1-based; `None` when the fault has no place in the text (an unreadable file).
        line: Option<usize>,
        /// The dotted key (`lockout.not_found_limit`) when the fault is one setting.
        key: Option<String>,
        message: String,
    },
    /// A bad variable.
    #[error("環境変数 {var}: {message}")]
    Env { var: &'static str, message: String },
}

/// The key for sessions, CSRF and audit fingerprints: at least 32 characters, read
/// from `KAKUNIN_SECRET_KEY` or `KAKUNIN_SECRET_KEY_FILE`. Held in a [`SecretSlice`]:
/// Debug shows `[REDACTED]`, the bytes are wiped on drop, and only
/// [`ExposeSecret::expose_secret`] gives them.
#[derive(Clone, Debug)]
pub struct SecretKey(SecretSlice<u8>);

impl SecretKey {
    /// The key from its text, surrounding white space removed. The error says how long
    /// it must be, never what it was.
    pub fn new(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.chars().count() < 32 {
            return Err(
                "32文字以上が必要です（例: 64桁の16進数。`openssl rand -hex 32` で作れます）"
                    .into(),
            );
        }
        Ok(Self(raw.as_bytes().to_vec().into()))
    }

    /// A fixed key for `--demo` only: everything it protects is throwaway.
    pub fn demo() -> Self {
        Self(
            b"kakunin-demo-secret-key-never-use-in-production"
                .to_vec()
                .into(),
        )
    }
}

impl ExposeSecret<[u8]> for SecretKey {
    fn expose_secret(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub database: Database,
    pub server: Server,
    pub issuers: Issuers,
    pub rules: Rules,
    pub lockout: Lockout,
    pub signin: Signin,
    pub api: Api,
    pub log: Log,
    #[serde(default)]
    pub audit: Audit,
    #[serde(default)]
    pub intake: Intake,
    /// Read from `KAKUNIN_SECRET_KEY` or `KAKUNIN_SECRET_KEY_FILE` only, never a file.
    #[serde(skip)]
    pub secret_key: Option<SecretKey>,
    /// Where each `issuers.max_in_flight_by_issuer.<id>` was written (file, line), for
    /// [`Settings::check_issuer_ids`], which runs once the registry is read.
    #[serde(skip)]
    in_flight_places: std::collections::BTreeMap<String, (String, Option<usize>)>,
}

impl Settings {
    /// Refuses an `issuers.max_in_flight_by_issuer.<id>` whose id is not one of `known`
    /// (the registry's), as a settings error at the file, line and key: a misspelt id
    /// would otherwise leave its issuer unbounded in silence.
    pub fn check_issuer_ids<'a>(
        &self,
        known: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), ConfigError> {
        let known: Vec<&str> = known.into_iter().collect();
        let Some(id) = self
            .issuers
            .max_in_flight_by_issuer
            .keys()
            .find(|id| !known.contains(&id.as_str()))
        else {
            return Ok(());
        };
        let key = format!("issuers.max_in_flight_by_issuer.{id}");
        let (file, line) = self
            .in_flight_places
            .get(id)
            .cloned()
            .unwrap_or_else(|| (EMBEDDED_NAME.to_owned(), None));
        Err(ConfigError::File {
            file,
            line,
            message: format!(
                "{key}: 信頼登録簿にない保証事業会社 id「{id}」です（信頼登録簿 {} の id: {}）",
                self.issuers.file.display(),
                if known.is_empty() {
                    "なし".to_owned()
                } else {
                    known.join(", ")
                }
            ),
            key: Some(key),
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub url: String,
    /// Pooled connections, within [`RANGES`].
    pub pool_size: u32,
    /// Milliseconds a request waits for a pooled connection before it answers 503,
    /// within [`RANGES`].
    pub pool_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// `IP:port`, checked to parse as a socket address at load.
    pub bind: String,
    pub secure_cookies: bool,
    /// Minutes, within [`RANGES`].
    pub session_idle_minutes: i64,
    /// Hours a session lasts from sign-in however busy it stays, within [`RANGES`]:
    /// a stolen cookie kept alive by use still dies.
    pub session_max_hours: i64,
    /// Addresses of the reverse proxies in front of the service (nginx, a load
    /// balancer): only from a peer listed here is `X-Forwarded-For` read, and the
    /// client is its right-most address that is not listed ([`crate::web::session`]).
    /// Empty (the default): the TCP peer is the client, and the header is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Issuers {
    pub file: PathBuf,
    /// Milliseconds, within [`RANGES`].
    pub connect_timeout_ms: u64,
    /// Milliseconds for the whole lookup call, within [`RANGES`].
    pub timeout_ms: u64,
    /// Lookup calls in flight to one issuer across the service, within [`RANGES`].
    pub max_in_flight: u32,
    /// Milliseconds a lookup waits for a free call to its issuer before it ends as
    /// `issuer_unavailable`, within [`RANGES`].
    pub slot_wait_ms: u64,
    /// `max_in_flight` for single issuers, by registry id; each value within
    /// [`IN_FLIGHT`]. An id the registry does not hold stops `serve` at start.
    #[serde(default)]
    pub max_in_flight_by_issuer: std::collections::BTreeMap<String, u32>,
}

impl Issuers {
    /// The bound on calls in flight to the issuer `id`.
    pub fn max_in_flight_for(&self, id: &str) -> u32 {
        self.max_in_flight_by_issuer
            .get(id)
            .copied()
            .unwrap_or(self.max_in_flight)
    }
}

/// The values `issuers.max_in_flight` and each `issuers.max_in_flight_by_issuer.*` may
/// take.
pub const IN_FLIGHT: (i64, i64) = (1, 10_000);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// ASCII letters, digits, `-` and `_` only (it becomes a file name).
    pub profile: String,
    /// Where `{profile}.toml` is looked for, relative to the working directory unless
    /// absolute. A built-in profile (`oita`) that is not there is taken from the binary.
    pub profiles_dir: PathBuf,
}

/// The service's own guard against guessing auth keys; minutes and counts within
/// [`RANGES`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockout {
    pub not_found_limit: i64,
    pub window_minutes: i64,
    pub lock_minutes: i64,
}

/// Failed sign-ins allowed per login (four times as many per address); within
/// [`RANGES`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signin {
    pub max_failures: i64,
    pub window_minutes: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Lookups a minute per API token (a batch counts its items), within [`RANGES`].
    pub rate_per_minute: u32,
    /// Issuer calls in flight per batch, within [`RANGES`].
    pub batch_concurrency: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    pub filter: String,
}

/// The audit log's signed checkpoints (`kakunin key init` makes the key).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    /// The service's Ed25519 signing key, PKCS#8 PEM, mode 0600
    /// (`KAKUNIN_AUDIT_SIGNING_KEY_FILE`).
    pub signing_key_file: PathBuf,
    /// A checkpoint after this many events...
    pub checkpoint_every: i32,
    /// ...and at least this often while events arrive.
    pub checkpoint_max_age_minutes: i64,
}

impl Default for Audit {
    fn default() -> Self {
        Self {
            signing_key_file: PathBuf::from("data/audit-signing.key"),
            checkpoint_every: 1000,
            checkpoint_max_age_minutes: 60,
        }
    }
}

/// Uploaded key notices (PDF, PNG, JPEG) on the verify page: read in memory, never
/// stored. Within [`RANGES`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Intake {
    /// KiB one upload request may carry (every file together); more is refused whole.
    pub upload_limit_kib: u32,
    /// Files one upload request may carry.
    pub upload_max_files: u32,
    /// MiB of memory the child process reading one uploaded file may hold
    /// (`notice_file::read_confined`); a file that needs more is refused on its row.
    pub reader_memory_mib: u32,
}

impl Intake {
    /// [`Self::upload_limit_kib`] in bytes.
    pub fn upload_limit_bytes(&self) -> usize {
        self.upload_limit_kib as usize * 1024
    }

    /// [`Self::reader_memory_mib`] in bytes.
    pub fn reader_memory_bytes(&self) -> u64 {
        u64::from(self.reader_memory_mib) << 20
    }
}

impl Default for Intake {
    fn default() -> Self {
        Self {
            upload_limit_kib: 5120,
            upload_max_files: 20,
            reader_memory_mib: 1024,
        }
    }
}

/// Why `url` names no database kakunin can open, or `None` when it does: a path (or
/// `sqlite://PATH`) is SQLite, `postgres://` or `postgresql://` PostgreSQL. Any other
/// `scheme://` is a typing mistake (`postgre://`, `mysql://`) that would otherwise
/// become a new, empty SQLite file of that odd name. The message shows the scheme only,
/// never the rest, which may hold a password.
///
/// libpq's other form, keywords and values (`host=db port=5432 password=…`), is refused
/// too: as a path it would become a SQLite file named after the password, and the node
/// would run on an empty database of its own. Its message names the form, not the text.
pub fn database_url_problem(url: &str) -> Option<String> {
    const KNOWN: [&str; 3] = ["sqlite://", "postgres://", "postgresql://"];
    if KNOWN.iter().any(|k| url.starts_with(k)) {
        return None;
    }
    if is_libpq_keywords(url) {
        return Some(
            "データベースの設定は libpq のキーワード形式（host=… dbname=…）では書けません。PostgreSQL は postgres://ユーザー@ホスト/データベース の URL で書いてください（パスワードは postgres://ユーザー:パスワード@… か URL の ?password=…）".to_owned(),
        );
    }
    // Anything else that is written as a URL: `jdbc:postgresql://…`, `mysql://…`, or a
    // known scheme short of its `//` (`postgres:/…`, `postgres:user:pw@host`).
    let lower = url.to_ascii_lowercase();
    let looks_like_url = url.contains("://")
        || ["sqlite:", "postgres:", "postgresql:"]
            .iter()
            .any(|k| lower.starts_with(k));
    if !looks_like_url {
        return None;
    }
    let shown = url
        .split_once(':')
        .map_or(url, |(scheme, _)| scheme)
        .chars()
        .take(20)
        .collect::<String>();
    Some(format!(
        "データベースの URL「{shown}:…」は使えません。SQLite はファイルのパス（例: data/kakunin.db）か sqlite://パス、PostgreSQL は postgres://ユーザー@ホスト/データベース の形で書いてください"
    ))
}

/// Whether `url` is written in libpq's keyword/value form: some word of it is
/// `keyword=value` for one of libpq's connection keywords (libpq, "Parameter Key
/// Words"). No SQLite path a person writes looks like that.
fn is_libpq_keywords(url: &str) -> bool {
    const KEYWORDS: [&str; 14] = [
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "sslmode",
        "sslpassword",
        "sslcert",
        "sslkey",
        "connect_timeout",
        "application_name",
        "service",
    ];
    url.split_whitespace().any(|word| {
        word.split_once('=')
            .is_some_and(|(k, _)| KEYWORDS.iter().any(|known| k.eq_ignore_ascii_case(known)))
    })
}

/// The values a number setting may take, both ends included. The same bounds are
/// written in `config/default.toml`'s comments (a test keeps the two in step) and in
/// the README.
pub struct Range {
    /// Dotted key, as in the messages.
    pub key: &'static str,
    pub min: i64,
    pub max: i64,
    /// The unit, in Japanese, for the message.
    pub unit: &'static str,
    value: fn(&Settings) -> i128,
}

impl Range {
    fn message(&self, found: &str) -> String {
        format!(
            "{} は {} 以上 {} 以下の整数（{}）にしてください（{}でした）",
            self.key, self.min, self.max, self.unit, found
        )
    }
}

/// Every number setting and its bounds. The upper bounds refuse values that can only
/// be typing mistakes (a timeout of days, a lock longer than a week) and keep every
/// duration within what the time arithmetic handles.
pub const RANGES: [Range; 20] = [
    Range {
        key: "database.pool_size",
        min: 1,
        max: 64,
        unit: "本",
        value: |s| s.database.pool_size.into(),
    },
    Range {
        key: "database.pool_timeout_ms",
        min: 1,
        max: 60_000,
        unit: "ミリ秒",
        value: |s| s.database.pool_timeout_ms.into(),
    },
    Range {
        key: "server.session_idle_minutes",
        min: 1,
        max: 1440,
        unit: "分",
        value: |s| s.server.session_idle_minutes.into(),
    },
    Range {
        key: "server.session_max_hours",
        min: 1,
        max: 168,
        unit: "時間",
        value: |s| s.server.session_max_hours.into(),
    },
    Range {
        key: "issuers.connect_timeout_ms",
        min: 1,
        max: 60_000,
        unit: "ミリ秒",
        value: |s| s.issuers.connect_timeout_ms.into(),
    },
    Range {
        key: "issuers.timeout_ms",
        min: 1,
        max: 120_000,
        unit: "ミリ秒",
        value: |s| s.issuers.timeout_ms.into(),
    },
    Range {
        key: "issuers.max_in_flight",
        min: IN_FLIGHT.0,
        max: IN_FLIGHT.1,
        unit: "件",
        value: |s| s.issuers.max_in_flight.into(),
    },
    Range {
        key: "issuers.slot_wait_ms",
        min: 1,
        max: 120_000,
        unit: "ミリ秒",
        value: |s| s.issuers.slot_wait_ms.into(),
    },
    Range {
        key: "lockout.not_found_limit",
        min: 1,
        max: 1000,
        unit: "回",
        value: |s| s.lockout.not_found_limit.into(),
    },
    Range {
        key: "lockout.window_minutes",
        min: 1,
        max: 10_080,
        unit: "分",
        value: |s| s.lockout.window_minutes.into(),
    },
    Range {
        key: "lockout.lock_minutes",
        min: 1,
        max: 10_080,
        unit: "分",
        value: |s| s.lockout.lock_minutes.into(),
    },
    Range {
        key: "signin.max_failures",
        min: 1,
        max: 1000,
        unit: "回",
        value: |s| s.signin.max_failures.into(),
    },
    Range {
        key: "signin.window_minutes",
        min: 1,
        max: 10_080,
        unit: "分",
        value: |s| s.signin.window_minutes.into(),
    },
    Range {
        key: "api.rate_per_minute",
        min: 1,
        max: 100_000_000,
        unit: "回/分",
        value: |s| s.api.rate_per_minute.into(),
    },
    Range {
        key: "api.batch_concurrency",
        min: 1,
        max: 1000,
        unit: "件",
        value: |s| s.api.batch_concurrency as i128,
    },
    Range {
        key: "audit.checkpoint_every",
        min: 1,
        max: 1_000_000,
        unit: "件",
        value: |s| s.audit.checkpoint_every.into(),
    },
    Range {
        key: "audit.checkpoint_max_age_minutes",
        min: 1,
        max: 10_080,
        unit: "分",
        value: |s| s.audit.checkpoint_max_age_minutes.into(),
    },
    Range {
        key: "intake.upload_limit_kib",
        min: 64,
        max: 32_768,
        unit: "KiB",
        value: |s| s.intake.upload_limit_kib.into(),
    },
    Range {
        key: "intake.upload_max_files",
        min: 1,
        max: 100,
        unit: "件",
        value: |s| s.intake.upload_max_files.into(),
    },
    Range {
        key: "intake.reader_memory_mib",
        min: 64,
        max: 16_384,
        unit: "MiB",
        value: |s| s.intake.reader_memory_mib.into(),
    },
];

impl Settings {
    /// Loads from the working directory and the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_from(Path::new("config/default.toml"), |v| std::env::var(v).ok())
    }

    /// Loads with `default_file` as the first layer (the embedded copy when it cannot
    /// be read) and `env` for the variables, so that tests need not touch the process
    /// environment.
    pub fn load_from(
        default_file: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut files = vec![match std::fs::read_to_string(default_file) {
            Ok(text) => FileLayer::parse(Some(default_file.to_owned()), text)?,
            Err(_) => FileLayer::parse(None, EMBEDDED_DEFAULTS.to_owned())?,
        }];
        if let Some(extra) = env("KAKUNIN_CONFIG").filter(|s| !s.is_empty()) {
            files.push(FileLayer::read(Path::new(&extra))?);
        }
        let variables = VARIABLES
            .iter()
            .filter_map(|&(var, key)| env(var).map(|value| VariableLayer { var, key, value }));
        let layers = Layers::new(files, variables);
        let mut settings: Settings = layers.figment.extract().map_err(|e| layers.explain(e))?;
        settings.secret_key = secret_from_env(&env)?;
        layers.check(&settings)?;
        for id in settings.issuers.max_in_flight_by_issuer.keys() {
            let key = ["issuers", "max_in_flight_by_issuer", id].map(str::to_owned);
            if let ConfigError::File { file, line, .. } = layers.fault(&key, None, String::new()) {
                settings.in_flight_places.insert(id.clone(), (file, line));
            }
        }
        Ok(settings)
    }
}

/// One TOML file, or the embedded defaults, as a figment layer.
struct FileLayer {
    /// `None` for the embedded defaults.
    path: Option<PathBuf>,
    text: String,
    table: toml::Table,
}

impl FileLayer {
    fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            file: path.display().to_string(),
            line: None,
            key: None,
            message: format!("読み込めません: {e}"),
        })?;
        Self::parse(Some(path.to_owned()), text)
    }

    /// Parses the whole file first, so that a syntax error names its line even when
    /// no setting of the file would be used.
    fn parse(path: Option<PathBuf>, text: String) -> Result<Self, ConfigError> {
        match text.parse::<toml::Table>() {
            Ok(table) => Ok(Self { path, text, table }),
            Err(e) => Err(ConfigError::File {
                file: name_of(path.as_deref()),
                line: e.span().map(|s| line_of(&text, s.start)),
                key: None,
                message: format!("TOML として読めません: {}", e.message()),
            }),
        }
    }

    fn name(&self) -> String {
        name_of(self.path.as_deref())
    }

    /// The line of `key` in the file; for a key the file lacks, the line of the
    /// nearest table above it that it has (a missing key belongs under that header).
    fn line_of(&self, key: &[String]) -> Option<usize> {
        let doc = toml_edit::ImDocument::parse(self.text.as_str()).ok()?;
        let mut table: &dyn toml_edit::TableLike = doc.as_table();
        let mut line = None;
        for part in key {
            let Some((k, item)) = table.get_key_value(part) else {
                break;
            };
            line = k
                .span()
                .or_else(|| item.span())
                .map(|s| line_of(&self.text, s.start));
            match item.as_table_like() {
                Some(t) => table = t,
                None => break,
            }
        }
        line
    }
}

impl Provider for FileLayer {
    fn metadata(&self) -> Metadata {
        match &self.path {
            Some(p) => Metadata::from("設定ファイル", Source::File(p.clone())),
            None => Metadata::named(EMBEDDED_NAME),
        }
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        Serialized::defaults(&self.table).data()
    }
}

/// One variable as a figment layer; its metadata names the variable.
struct VariableLayer {
    var: &'static str,
    key: &'static str,
    value: String,
}

impl Provider for VariableLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named("環境変数").source(Source::Custom(self.var.to_owned()))
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        Serialized::default(self.key, &self.value).data()
    }
}

/// The merged layers, kept to say where a value came from.
struct Layers {
    files: Vec<FileLayer>,
    figment: Figment,
}

impl Layers {
    fn new(files: Vec<FileLayer>, variables: impl Iterator<Item = VariableLayer>) -> Self {
        let mut figment = Figment::new();
        for f in &files {
            figment = figment.merge(f);
        }
        for v in variables {
            figment = figment.merge(v);
        }
        Self { files, figment }
    }

    /// An error about `key`, placed in the layer that gave its value (the one `md`
    /// describes when the key has no value of its own, such as a missing key).
    fn fault(&self, key: &[String], md: Option<&Metadata>, message: String) -> ConfigError {
        let dotted = key.join(".");
        let md = self.figment.find_metadata(&dotted).or(md);
        match md.and_then(|m| m.source.as_ref()) {
            Some(Source::Custom(var)) => {
                if let Some(&(var, _)) = VARIABLES.iter().find(|(v, _)| *v == var.as_str()) {
                    return ConfigError::Env { var, message };
                }
            }
            Some(Source::File(path)) => {
                if let Some(f) = self
                    .files
                    .iter()
                    .rev()
                    .find(|f| f.path.as_ref() == Some(path))
                {
                    return self.in_file(f, key, dotted, message);
                }
            }
            _ => {}
        }
        // The embedded defaults, or (were figment to lose track) the first layer.
        self.in_file(&self.files[0], key, dotted, message)
    }

    fn in_file(
        &self,
        f: &FileLayer,
        key: &[String],
        dotted: String,
        message: String,
    ) -> ConfigError {
        ConfigError::File {
            file: f.name(),
            line: f.line_of(key),
            key: (!dotted.is_empty()).then_some(dotted),
            message,
        }
    }

    /// A deserialization error in Japanese, at the file and key or the variable.
    fn explain(&self, e: figment::Error) -> ConfigError {
        let e = e
            .into_iter()
            .next()
            .expect("a figment error holds one at least");
        let mut key = e.path.clone();
        let message = match &e.kind {
            Kind::UnknownField(field, allowed) => {
                // figment's path may or may not end with the field already.
                if key.last() != Some(field) {
                    key.push(field.clone());
                }
                format!(
                    "{} という設定項目はありません（書ける項目: {}）",
                    key.join("."),
                    allowed.join(", ")
                )
            }
            Kind::MissingField(field) => {
                if key.last().map(String::as_str) != Some(field) {
                    key.push(field.to_string());
                }
                format!("{} がありません", key.join("."))
            }
            Kind::InvalidType(found, expected) | Kind::InvalidValue(found, expected) => {
                let dotted = key.join(".");
                match RANGES.iter().find(|r| r.key == dotted) {
                    Some(range) => range.message(&actual(found)),
                    None => format!(
                        "{dotted} は {} で書いてください（{}でした）",
                        expected_kind(expected),
                        actual(found)
                    ),
                }
            }
            // The address parser's own words are English.
            Kind::Message(_) if key.starts_with(&["server".into(), "trusted_proxies".into()]) => {
                let entry = key
                    .get(2)
                    .and_then(|i| i.parse::<usize>().ok())
                    .map(|i| format!("{} 番目の値が", i + 1))
                    .unwrap_or_default();
                key.truncate(2);
                format!(
                    "server.trusted_proxies は IP アドレスの並びで書いてください（{entry}IP アドレスではありません。例: [\"127.0.0.1\", \"::1\"]。範囲や名前は書けません）"
                )
            }
            other => format!("{}: {other}", key.join(".")),
        };
        self.fault(&key, e.metadata.as_ref(), message)
    }

    /// The checks figment's types cannot express: ranges, the address, the profile name.
    fn check(&self, s: &Settings) -> Result<(), ConfigError> {
        let at = |key: &str, message: String| {
            let parts: Vec<String> = key.split('.').map(str::to_owned).collect();
            self.fault(&parts, None, message)
        };
        for range in &RANGES {
            let value = (range.value)(s);
            if value < range.min.into() || value > range.max.into() {
                return Err(at(range.key, range.message(&value.to_string())));
            }
        }
        for (id, &n) in &s.issuers.max_in_flight_by_issuer {
            if i64::from(n) < IN_FLIGHT.0 || i64::from(n) > IN_FLIGHT.1 {
                let key = format!("issuers.max_in_flight_by_issuer.{id}");
                return Err(at(
                    &key,
                    format!(
                        "{key} は {} 以上 {} 以下の整数（件）にしてください（{n}でした）",
                        IN_FLIGHT.0, IN_FLIGHT.1
                    ),
                ));
            }
        }
        if let Some(problem) = database_url_problem(&s.database.url) {
            return Err(at("database.url", problem));
        }
        if s.server.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(at(
                "server.bind",
                format!(
                    "待ち受けアドレスは 127.0.0.1:8080 のように IP アドレスとポートで書いてください（「{}」でした）",
                    s.server.bind
                ),
            ));
        }
        // 0.0.0.0 and :: are where a server listens, never where a proxy connects from:
        // listed, they would only show that the setting was misunderstood.
        if let Some(any) = s.server.trusted_proxies.iter().find(|a| a.is_unspecified()) {
            return Err(at(
                "server.trusted_proxies",
                format!(
                    "server.trusted_proxies には、プロキシが接続してくる IP アドレスを書いてください（「{any}」は待ち受け用のアドレスで、接続元にはなりません）"
                ),
            ));
        }
        // A filter that does not parse would be replaced by a default in silence, and
        // the operator would look for log lines that never come.
        if tracing_subscriber::EnvFilter::try_new(&s.log.filter).is_err() {
            return Err(at(
                "log.filter",
                format!(
                    "ログの絞り込みは tracing の EnvFilter の形で書いてください（例: info、kakunin=debug,actix_web=warn。「{}」でした）",
                    s.log.filter
                ),
            ));
        }
        let profile = &s.rules.profile;
        if profile.is_empty()
            || !profile
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(at(
                "rules.profile",
                format!(
                    "プロファイル名は英数字、ハイフン（-）とアンダースコア（_）で書いてください（例: oita。「{profile}」でした）"
                ),
            ));
        }
        Ok(())
    }
}

/// What was found, in the words of the message.
fn actual(found: &Actual) -> String {
    match found {
        Actual::Bool(b) => b.to_string(),
        Actual::Unsigned(n) => n.to_string(),
        Actual::Signed(n) => n.to_string(),
        Actual::Float(x) => x.to_string(),
        Actual::Char(c) => format!("「{c}」"),
        Actual::Str(s) => format!("文字列「{s}」"),
        Actual::Seq => "配列".to_owned(),
        Actual::Map => "表".to_owned(),
        other => other.to_string(),
    }
}

/// What serde expected, in the words of the message.
fn expected_kind(expected: &str) -> String {
    match expected {
        "a boolean" => "true か false".to_owned(),
        "a string" | "path string" => "\"…\" で囲んだ文字列".to_owned(),
        e if e.starts_with("struct ") || e == "a map" => "表".to_owned(),
        "a sequence" => "[…] で囲んだ並び".to_owned(),
        "IP address" => "\"127.0.0.1\" のような IP アドレス".to_owned(),
        "an integer" | "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => {
            "整数".to_owned()
        }
        e => e.to_owned(),
    }
}

fn name_of(path: Option<&Path>) -> String {
    match path {
        Some(p) => p.display().to_string(),
        None => EMBEDDED_NAME.to_owned(),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The secret key from `KAKUNIN_SECRET_KEY` or the file `KAKUNIN_SECRET_KEY_FILE` names
/// (both set is an error). What was read is wiped once the key holds its copy.
fn secret_from_env(
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<SecretKey>, ConfigError> {
    let direct = env("KAKUNIN_SECRET_KEY")
        .filter(|s| !s.is_empty())
        .map(Zeroizing::new);
    let file = env("KAKUNIN_SECRET_KEY_FILE").filter(|s| !s.is_empty());
    let (var, raw) = match (direct, file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Env {
                var: "KAKUNIN_SECRET_KEY_FILE",
                message: "KAKUNIN_SECRET_KEY と KAKUNIN_SECRET_KEY_FILE の両方が設定されています。どちらか一方にしてください".into(),
            })
        }
        (Some(v), None) => ("KAKUNIN_SECRET_KEY", v),
        (None, Some(path)) => {
            // A secret others can read is no secret (the service's group may).
            kakunin_platform::keyfile::check_not_public(Path::new(&path)).map_err(|e| {
                ConfigError::Env {
                    var: "KAKUNIN_SECRET_KEY_FILE",
                    message: e.to_string(),
                }
            })?;
            (
                "KAKUNIN_SECRET_KEY_FILE",
                Zeroizing::new(std::fs::read_to_string(&path).map_err(|e| {
                    ConfigError::Env {
                        var: "KAKUNIN_SECRET_KEY_FILE",
                        message: format!("{path} を読み込めません: {e}"),
                    }
                })?),
            )
        }
        (None, None) => return Ok(None),
    };
    SecretKey::new(&raw)
        .map(Some)
        .map_err(|message| ConfigError::Env { var, message })
}

#[cfg(test)]
mod tests;
