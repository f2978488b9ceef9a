//! Layered settings: `config/default.toml`, then `KAKUNIN_CONFIG`, then `KAKUNIN_*`
//! variables (`service.md` "Settings"). Checked once at start; a bad value stops the
//! program with the file and line, or the variable, that holds it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The shipped defaults, used when `config/default.toml` is not in the working
/// directory (for example when the binary runs from a package install).
const EMBEDDED_DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("設定ファイル {file}:{line}: {message}")]
    File {
        file: String,
        line: usize,
        message: String,
    },
    #[error("環境変数 {var}: {message}")]
    Env { var: &'static str, message: String },
}

/// The key for sessions, CSRF and audit fingerprints. Debug hides it.
#[derive(Clone)]
pub struct SecretKey(Vec<u8>);

impl SecretKey {
    pub fn new(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.chars().count() < 32 {
            return Err(
                "32文字以上が必要です（例: 64桁の16進数。`openssl rand -hex 32` で作れます）"
                    .into(),
            );
        }
        Ok(Self(raw.as_bytes().to_vec()))
    }

    /// A fixed key for `--demo` only: everything it protects is throwaway.
    pub fn demo() -> Self {
        Self(b"kakunin-demo-secret-key-never-use-in-production".to_vec())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(****)")
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
    /// Read from `KAKUNIN_SECRET_KEY` or `KAKUNIN_SECRET_KEY_FILE` only, never a file.
    #[serde(skip)]
    pub secret_key: Option<SecretKey>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub bind: String,
    pub secure_cookies: bool,
    pub session_idle_minutes: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Issuers {
    pub file: PathBuf,
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub profile: String,
    pub profiles_dir: PathBuf,
}

impl Rules {
    pub fn profile_path(&self) -> PathBuf {
        self.profiles_dir.join(format!("{}.toml", self.profile))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockout {
    pub not_found_limit: i64,
    pub window_minutes: i64,
    pub lock_minutes: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signin {
    pub max_failures: i64,
    pub window_minutes: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    pub rate_per_minute: u32,
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

/// Variables of `service.md` and the setting each one overrides.
const ENV_OVERRIDES: [(&str, &str, &str); 6] = [
    ("KAKUNIN_DATABASE_URL", "database", "url"),
    ("KAKUNIN_BIND", "server", "bind"),
    ("KAKUNIN_ISSUERS_FILE", "issuers", "file"),
    ("KAKUNIN_PROFILE", "rules", "profile"),
    ("KAKUNIN_LOG", "log", "filter"),
    (
        "KAKUNIN_AUDIT_SIGNING_KEY_FILE",
        "audit",
        "signing_key_file",
    ),
];

impl Settings {
    /// Loads from the working directory and the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_from(Path::new("config/default.toml"), |v| std::env::var(v).ok())
    }

    pub fn load_from(
        default_file: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let (text, name) = match std::fs::read_to_string(default_file) {
            Ok(t) => (t, default_file.display().to_string()),
            Err(_) => (
                EMBEDDED_DEFAULTS.to_owned(),
                "(組み込みの既定値)".to_owned(),
            ),
        };
        let mut table = parse_table(&text, &name)?;
        if let Some(extra) = env("KAKUNIN_CONFIG").filter(|s| !s.is_empty()) {
            let text = std::fs::read_to_string(&extra).map_err(|e| ConfigError::File {
                file: extra.clone(),
                line: 0,
                message: format!("読み込めません: {e}"),
            })?;
            merge(&mut table, parse_table(&text, &extra)?);
        }
        for (var, section, key) in ENV_OVERRIDES {
            if let Some(value) = env(var) {
                let section = table
                    .entry(section)
                    .or_insert_with(|| toml::Value::Table(Default::default()));
                if let toml::Value::Table(t) = section {
                    t.insert(key.to_owned(), toml::Value::String(value));
                }
            }
        }
        let mut settings: Settings =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::File {
                    file: name.clone(),
                    line: 0,
                    message: e.message().to_owned(),
                })?;
        settings.secret_key = secret_from_env(&env)?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let bad = |var, message: &str| ConfigError::Env {
            var,
            message: message.to_owned(),
        };
        if self.server.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(bad(
                "KAKUNIN_BIND",
                "待ち受けアドレスは 127.0.0.1:8080 のように書いてください",
            ));
        }
        if self.rules.profile.is_empty()
            || !self
                .rules
                .profile
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad(
                "KAKUNIN_PROFILE",
                "プロファイル名は英数字とハイフンで書いてください（例: oita）",
            ));
        }
        if self.audit.checkpoint_every < 1 || self.audit.checkpoint_max_age_minutes < 1 {
            return Err(bad(
                "KAKUNIN_CONFIG",
                "audit の checkpoint_every と checkpoint_max_age_minutes は1以上にしてください",
            ));
        }
        if self.api.batch_concurrency == 0 || self.api.rate_per_minute == 0 {
            return Err(bad("KAKUNIN_CONFIG", "api の値は1以上にしてください"));
        }
        Ok(())
    }
}

fn secret_from_env(
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<SecretKey>, ConfigError> {
    let direct = env("KAKUNIN_SECRET_KEY").filter(|s| !s.is_empty());
    let file = env("KAKUNIN_SECRET_KEY_FILE").filter(|s| !s.is_empty());
    let (var, raw) = match (direct, file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Env {
                var: "KAKUNIN_SECRET_KEY_FILE",
                message: "KAKUNIN_SECRET_KEY と KAKUNIN_SECRET_KEY_FILE の両方が設定されています。どちらか一方にしてください".into(),
            })
        }
        (Some(v), None) => ("KAKUNIN_SECRET_KEY", v),
        (None, Some(path)) => (
            "KAKUNIN_SECRET_KEY_FILE",
            std::fs::read_to_string(&path).map_err(|e| ConfigError::Env {
                var: "KAKUNIN_SECRET_KEY_FILE",
                message: format!("{path} を読み込めません: {e}"),
            })?,
        ),
        (None, None) => return Ok(None),
    };
    SecretKey::new(&raw)
        .map(Some)
        .map_err(|message| ConfigError::Env { var, message })
}

fn parse_table(text: &str, file: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| ConfigError::File {
        file: file.to_owned(),
        line: e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(0),
        message: e.message().to_owned(),
    })
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
        Settings::load_from(&default, |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_service_md() {
        let s = load(&[]).unwrap();
        assert_eq!(s.database.url, "data/kakunin.db");
        assert_eq!(s.server.bind, "127.0.0.1:8080");
        assert_eq!(s.issuers.file, PathBuf::from("config/issuers.toml"));
        assert_eq!(s.rules.profile, "oita");
        assert_eq!(s.log.filter, "info");
        assert!(s.secret_key.is_none());
    }

    #[test]
    fn variables_override_files() {
        let dir = tempfile::tempdir().unwrap();
        let extra = dir.path().join("site.toml");
        std::fs::write(
            &extra,
            "[server]\nbind = \"127.0.0.1:9000\"\n[lockout]\nnot_found_limit = 3\n",
        )
        .unwrap();
        let s = load(&[
            ("KAKUNIN_CONFIG", extra.to_str().unwrap()),
            ("KAKUNIN_DATABASE_URL", "/tmp/x.db"),
            ("KAKUNIN_BIND", "127.0.0.1:9100"),
            ("KAKUNIN_SECRET_KEY", &"a".repeat(64)),
        ])
        .unwrap();
        assert_eq!(s.database.url, "/tmp/x.db");
        assert_eq!(s.server.bind, "127.0.0.1:9100");
        assert_eq!(s.lockout.not_found_limit, 3);
        assert_eq!(s.lockout.window_minutes, 15, "unset keys keep the default");
        assert!(!format!("{:?}", s).contains("aaaa"));
    }

    #[test]
    fn secret_rules_are_enforced() {
        let e = load(&[("KAKUNIN_SECRET_KEY", "short")]).unwrap_err();
        assert!(e.to_string().contains("32文字"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("secret");
        std::fs::write(&f, format!("{}\n", "b".repeat(64))).unwrap();
        let s = load(&[("KAKUNIN_SECRET_KEY_FILE", f.to_str().unwrap())]).unwrap();
        assert_eq!(s.secret_key.unwrap().expose(), "b".repeat(64).as_bytes());
        let e = load(&[
            ("KAKUNIN_SECRET_KEY_FILE", f.to_str().unwrap()),
            ("KAKUNIN_SECRET_KEY", &"c".repeat(64)),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("両方"), "{e}");
    }

    #[test]
    fn bad_file_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let extra = dir.path().join("site.toml");
        std::fs::write(&extra, "[server]\nbind = \"x\"\nsecure_cookies = yes\n").unwrap();
        let e = load(&[("KAKUNIN_CONFIG", extra.to_str().unwrap())]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("site.toml:3"), "{msg}");
        let e = load(&[("KAKUNIN_BIND", "nowhere")]).unwrap_err();
        assert!(e.to_string().contains("KAKUNIN_BIND"));
    }
}
