//! The trust registry (`issuer-protocol.md` §5): the only source of issuer keys.
//!
//! Loaded once at start. Anything doubtful in the file stops the program with the file
//! name and line, because a half-loaded trust registry would silently trust less (or
//! more) than the operator wrote.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, FixedOffset};
use ed25519_dalek::VerifyingKey;
use regex::Regex;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use toml::Spanned;

use crate::ids::CertificateNumber;

#[derive(Debug, thiserror::Error)]
#[error("信頼登録簿 {file}:{line}: {message}")]
pub struct RegistryError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// The bearer token the service presents to one issuer (§2), from the registry's
/// `token` or the variable its `token_env` names. Held in a [`SecretString`]: Debug
/// shows `[REDACTED]`, the text is wiped on drop, and only
/// [`ExposeSecret::expose_secret`] gives it, for the `Authorization` header.
#[derive(Clone, Debug)]
pub struct IssuerToken(SecretString);

impl ExposeSecret<str> for IssuerToken {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

#[derive(Debug, Clone)]
pub struct TrustedKey {
    kid: String,
    key: VerifyingKey,
    /// Whether the key has small order; known at load so no check recomputes it.
    weak: bool,
    not_before: DateTime<FixedOffset>,
    not_after: Option<DateTime<FixedOffset>>,
}

impl TrustedKey {
    pub fn new(
        kid: impl Into<String>,
        key: VerifyingKey,
        not_before: DateTime<FixedOffset>,
        not_after: Option<DateTime<FixedOffset>>,
    ) -> Self {
        Self {
            kid: kid.into(),
            weak: key.is_weak(),
            key,
            not_before,
            not_after,
        }
    }
    pub fn kid(&self) -> &str {
        &self.kid
    }
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
    /// A small-order key (`VerifyingKey::is_weak`): trusted by nobody, refused at load.
    pub fn is_weak(&self) -> bool {
        self.weak
    }
    pub fn not_before(&self) -> DateTime<FixedOffset> {
        self.not_before
    }
    pub fn not_after(&self) -> Option<DateTime<FixedOffset>> {
        self.not_after
    }
}

#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    pub id: String,
    pub name: String,
    pub base_url: String,
    /// Resolved at load from `token` or the variable `token_env`; `None` when unset.
    pub token: Option<IssuerToken>,
    pub token_env: Option<String>,
    /// `base_url` + the lookup path (§2), parsed once rather than on every lookup;
    /// `None` when `base_url` is not an http(s) URL (the file loader refuses those).
    lookup_url: Option<url::Url>,
    number_pattern: Regex,
    keys: Vec<TrustedKey>,
}

impl TrustedIssuer {
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        base_url: impl Into<String>,
        number_pattern: &str,
        keys: Vec<TrustedKey>,
    ) -> Result<Self, regex::Error> {
        let base_url = base_url.into();
        Ok(Self {
            id: id.into(),
            name: name.into(),
            lookup_url: lookup_url(&base_url),
            base_url,
            token: None,
            token_env: None,
            number_pattern: anchored(number_pattern)?,
            keys,
        })
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(IssuerToken(token.into().into()));
        self
    }

    pub fn answers_for(&self, number: &CertificateNumber) -> bool {
        self.number_pattern.is_match(number.as_str())
    }

    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    pub fn lookup_url(&self) -> Option<&url::Url> {
        self.lookup_url.as_ref()
    }
}

/// Where the lookup call goes (§2), if `base_url` is an http(s) URL.
fn lookup_url(base_url: &str) -> Option<url::Url> {
    let url = url::Url::parse(&format!("{base_url}/v1/certificates/lookup")).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

/// The pattern must match the whole canonical number even if the operator forgot the
/// anchors: a partial match would send numbers to an issuer that never issued them.
fn anchored(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{pattern})$"))
}

/// Where the verifier of §3 takes a key from: the trust registry in production, any
/// `kid → key` table in tests and offline checks. The key comes only from here, never
/// from the record.
pub trait KeySource {
    /// The key `kid` of `issuer`, or why there is none.
    fn key(&self, issuer: &str, kid: &str) -> KeyLookup<'_>;
}

impl KeySource for Registry {
    fn key(&self, issuer: &str, kid: &str) -> KeyLookup<'_> {
        Registry::key(self, issuer, kid)
    }
}

/// The answer of a [`KeySource`].
pub enum KeyLookup<'a> {
    Found(&'a TrustedKey),
    /// The kid exists, but belongs to the named issuer.
    OtherIssuer(&'a str),
    Unknown,
}

#[derive(Debug, Clone, Default)]
pub struct Registry {
    issuers: Vec<TrustedIssuer>,
    source: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRegistry {
    #[serde(default)]
    issuer: Vec<Spanned<FileIssuer>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIssuer {
    id: String,
    name: String,
    base_url: String,
    token_env: Option<String>,
    token: Option<String>,
    number_pattern: Spanned<String>,
    #[serde(default)]
    key: Vec<Spanned<FileKey>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKey {
    kid: Spanned<String>,
    x: Spanned<String>,
    not_before: Spanned<String>,
    not_after: Option<Spanned<String>>,
}

impl Registry {
    pub fn new(issuers: Vec<TrustedIssuer>) -> Self {
        Self {
            issuers,
            source: None,
        }
    }

    pub fn load(path: &Path) -> Result<Self, RegistryError> {
        let text = std::fs::read_to_string(path).map_err(|e| RegistryError {
            file: path.display().to_string(),
            line: 0,
            message: format!("読み込めません: {e}"),
        })?;
        let mut reg = Self::from_toml_str(&text, &path.display().to_string(), |var| {
            std::env::var(var).ok()
        })?;
        reg.source = Some(path.to_owned());
        Ok(reg)
    }

    /// Parses registry text; `env` resolves `token_env` names (a parameter so that tests
    /// need not touch the process environment).
    pub fn from_toml_str(
        text: &str,
        file: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, RegistryError> {
        let err = |offset: usize, message: String| RegistryError {
            file: file.to_owned(),
            line: line_of(text, offset),
            message,
        };
        let parsed: FileRegistry = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            err(offset, e.message().to_owned())
        })?;
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut issuers = Vec::new();
        for spanned in parsed.issuer {
            let at = spanned.span().start;
            let fi = spanned.into_inner();
            if issuers.iter().any(|i: &TrustedIssuer| i.id == fi.id) {
                return Err(err(
                    at,
                    format!("発行者 id「{}」が二度書かれています", fi.id),
                ));
            }
            let pattern = anchored(fi.number_pattern.get_ref()).map_err(|e| {
                err(
                    fi.number_pattern.span().start,
                    format!("number_pattern が正規表現として不正です: {e}"),
                )
            })?;
            let mut keys = Vec::new();
            for k in fi.key {
                let k = k.into_inner();
                let kid_at = k.kid.span().start;
                if let Some(first) = seen.get(k.kid.get_ref()) {
                    return Err(err(
                        kid_at,
                        format!(
                            "鍵 kid「{}」が二度書かれています（最初は{}行目）",
                            k.kid.get_ref(),
                            first
                        ),
                    ));
                }
                seen.insert(k.kid.get_ref().clone(), line_of(text, kid_at));
                let key = parse_key(k.x.get_ref()).map_err(|m| {
                    err(k.x.span().start, format!("鍵「{}」: {m}", k.kid.get_ref()))
                })?;
                let not_before =
                    parse_time(&k.not_before).map_err(|m| err(k.not_before.span().start, m))?;
                let not_after = k
                    .not_after
                    .as_ref()
                    .map(parse_time)
                    .transpose()
                    .map_err(|m| err(k.kid.span().start, m))?;
                keys.push(TrustedKey::new(
                    k.kid.into_inner(),
                    key,
                    not_before,
                    not_after,
                ));
            }
            let token = fi
                .token
                .clone()
                .or_else(|| fi.token_env.as_deref().and_then(&env))
                .filter(|t| !t.is_empty())
                .map(|t| IssuerToken(t.into()));
            let base_url = fi.base_url.trim_end_matches('/').to_owned();
            let Some(url) = lookup_url(&base_url) else {
                return Err(err(
                    at,
                    format!(
                        "base_url「{}」は http:// か https:// で始まる URL で書いてください（例: https://api.example.co.jp）",
                        fi.base_url
                    ),
                ));
            };
            issuers.push(TrustedIssuer {
                id: fi.id,
                name: fi.name,
                lookup_url: Some(url),
                base_url,
                token,
                token_env: fi.token_env,
                number_pattern: pattern,
                keys,
            });
        }
        Ok(Self {
            issuers,
            source: None,
        })
    }

    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    pub fn issuers(&self) -> &[TrustedIssuer] {
        &self.issuers
    }

    pub fn issuer(&self, id: &str) -> Option<&TrustedIssuer> {
        self.issuers.iter().find(|i| i.id == id)
    }

    /// The issuers a number may be sent to (§5). Empty means: reject without a request.
    pub fn route(&self, number: &CertificateNumber) -> Vec<&TrustedIssuer> {
        self.issuers
            .iter()
            .filter(|i| i.answers_for(number))
            .collect()
    }

    pub fn key(&self, issuer: &str, kid: &str) -> KeyLookup<'_> {
        for i in &self.issuers {
            if let Some(k) = i.keys.iter().find(|k| k.kid == kid) {
                return if i.id == issuer {
                    KeyLookup::Found(k)
                } else {
                    KeyLookup::OtherIssuer(&i.id)
                };
            }
        }
        KeyLookup::Unknown
    }
}

fn parse_key(x: &str) -> Result<VerifyingKey, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(x)
        .map_err(|_| "x が base64url（パディングなし）ではありません".to_owned())?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("公開鍵は32バイトですが、{}バイトでした", b.len()))?;
    let key = VerifyingKey::from_bytes(&bytes)
        .map_err(|_| "Ed25519 の公開鍵として不正です".to_owned())?;
    if key.is_weak() {
        return Err("小位数の公開鍵は信頼できません".to_owned());
    }
    Ok(key)
}

fn parse_time(s: &Spanned<String>) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(s.get_ref()).map_err(|_| {
        format!(
            "日時「{}」は RFC 3339 形式（例: 2025-01-01T00:00:00+09:00）で書いてください",
            s.get_ref()
        )
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The `[[issuer.key]]` block an issuer operator hands to relying parties.
pub fn key_block(kid: &str, key: &VerifyingKey, not_before: DateTime<FixedOffset>) -> String {
    format!(
        "[[issuer.key]]\nkid = \"{kid}\"\nx = \"{}\"\nnot_before = \"{}\"\n",
        URL_SAFE_NO_PAD.encode(key.as_bytes()),
        not_before.to_rfc3339()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[issuer]]
id = "wjcs"
name = "西日本建設業保証株式会社"
base_url = "http://127.0.0.1:8081/"
token_env = "KAKUNIN_TOKEN_WJCS"
number_pattern = "^W[0-9]{10}$"

[[issuer.key]]
kid = "wjcs-2025"
x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
not_before = "2025-01-01T00:00:00+09:00"
not_after = "2030-12-31T23:59:59+09:00"

[[issuer]]
id = "ejcs"
name = "東日本建設業保証株式会社"
base_url = "http://127.0.0.1:8082"
token = "dev-only"
number_pattern = "E[0-9]{10}"
"#;

    fn load(text: &str) -> Result<Registry, RegistryError> {
        Registry::from_toml_str(text, "issuers.toml", |v| {
            (v == "KAKUNIN_TOKEN_WJCS").then(|| "secret-token".to_owned())
        })
    }

    #[test]
    fn routes_numbers_by_pattern_and_resolves_tokens() {
        let reg = load(GOOD).unwrap();
        let w = CertificateNumber::parse("W2025000123").unwrap();
        let e = CertificateNumber::parse("E2025000123").unwrap();
        let x = CertificateNumber::parse("XE2025000123").unwrap();
        assert_eq!(reg.route(&w)[0].id, "wjcs");
        assert_eq!(reg.route(&e)[0].id, "ejcs");
        assert!(
            reg.route(&x).is_empty(),
            "patterns match whole numbers only"
        );
        assert_eq!(
            reg.issuer("wjcs")
                .unwrap()
                .token
                .as_ref()
                .unwrap()
                .expose_secret(),
            "secret-token"
        );
        assert_eq!(
            reg.issuer("wjcs").unwrap().base_url,
            "http://127.0.0.1:8081"
        );
        assert_eq!(
            reg.issuer("wjcs").unwrap().lookup_url().unwrap().as_str(),
            "http://127.0.0.1:8081/v1/certificates/lookup",
            "the trailing slash does not double"
        );
        assert_eq!(
            reg.issuer("ejcs")
                .unwrap()
                .token
                .as_ref()
                .unwrap()
                .expose_secret(),
            "dev-only",
            "a token written in the file"
        );
    }

    #[test]
    fn debug_never_shows_a_token() {
        let reg = load(GOOD).unwrap();
        let with = TrustedIssuer::new("x", "X", "http://127.0.0.1:1", "X[0-9]+", vec![])
            .unwrap()
            .with_token("handed-over");
        let shown = format!("{reg:?} {reg:#?} {with:?}");
        for token in ["secret-token", "dev-only", "handed-over"] {
            assert!(!shown.contains(token), "{token} in {shown}");
        }
        assert!(shown.contains("REDACTED"), "the tokens are there, hidden");
    }

    #[test]
    fn base_url_that_is_no_http_url_stops_with_line() {
        for bad in ["127.0.0.1:8082", "ftp://127.0.0.1", "http//issuer"] {
            let text = GOOD.replace("http://127.0.0.1:8082", bad);
            let e = load(&text).unwrap_err();
            assert_eq!(e.line, 15, "the second [[issuer]]: {bad}: {e}");
            assert!(e.message.contains(bad), "{e}");
            assert!(
                e.message.contains("https://"),
                "says how it should look: {e}"
            );
        }
    }

    #[test]
    fn duplicate_kid_stops_with_file_and_line() {
        let text = format!(
            "{GOOD}\n[[issuer.key]]\nkid = \"wjcs-2025\"\nx = \"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"\nnot_before = \"2025-01-01T00:00:00+09:00\"\n"
        );
        let e = load(&text).unwrap_err();
        assert_eq!(e.file, "issuers.toml");
        assert_eq!(e.line, 23);
        assert!(e.to_string().contains("二度"), "{e}");
    }

    #[test]
    fn short_key_stops_with_line() {
        let text = GOOD.replace("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "AAAA");
        let e = load(&text).unwrap_err();
        assert_eq!(e.line, 11);
        assert!(e.to_string().contains("32バイト"), "{e}");
    }

    #[test]
    fn malformed_toml_and_unknown_fields_stop_with_line() {
        let e = load("[[issuer]]\nid = \"x\"\nname = \n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = load(&GOOD.replace("token_env =", "tokn_env =")).unwrap_err();
        assert!(e.to_string().contains("tokn_env"), "{e}");
    }

    #[test]
    fn small_order_key_is_refused() {
        // The identity point: a small-order key that would verify forged signatures.
        let mut ident = [0u8; 32];
        ident[0] = 1;
        let text = GOOD.replace(
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            &URL_SAFE_NO_PAD.encode(ident),
        );
        assert!(load(&text).unwrap_err().to_string().contains("小位数"));
    }
}
