//! The trust registry (`issuer-protocol.md` §5): the only source of issuer keys.
//!
//! Loaded once at start. Anything doubtful in the file stops the program with the file
//! name and line, because a half-loaded trust registry would silently trust less (or
//! more) than the operator wrote.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

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
#[error("信頼登録簿 {file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct RegistryError {
    pub file: String,
    /// 1-based; `None` when the fault has no place in the text (a file that cannot be
    /// read at all).
    pub line: Option<usize>,
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

/// The private CA of one issuer (§5 `ca_file`): the file it came from and the
/// certificates in it, each already parsed as an X.509 trust anchor at load.
#[derive(Clone)]
pub struct CaFile {
    path: PathBuf,
    certificates: Vec<CertificateDer<'static>>,
}

impl CaFile {
    /// Reads a PEM file of one or more certificates (`-----BEGIN CERTIFICATE-----`);
    /// other PEM sections are skipped. The error, in Japanese, says what is wrong with
    /// the file; the registry loader adds the registry's file and line.
    pub fn read(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let bytes =
            std::fs::read(path).map_err(|e| format!("ca_file「{shown}」を読み込めません: {e}"))?;
        let certificates = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("ca_file「{shown}」は PEM として読めません: {e}"))?;
        if certificates.is_empty() {
            return Err(format!(
                "ca_file「{shown}」に証明書がありません（PEM の -----BEGIN CERTIFICATE----- で始まる証明書を1つ以上入れてください）"
            ));
        }
        for (n, der) in certificates.iter().enumerate() {
            webpki::anchor_from_trusted_cert(der).map_err(|e| {
                format!(
                    "ca_file「{shown}」の{}番目の証明書を X.509 証明書として読めません（{e}）",
                    n + 1
                )
            })?;
        }
        Ok(Self {
            path: path.to_owned(),
            certificates,
        })
    }

    /// The file as the registry named it (resolved against the registry's folder).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The certificates, DER, in file order; never empty.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certificates
    }
}

impl std::fmt::Debug for CaFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaFile")
            .field("path", &self.path)
            .field("certificates", &self.certificates.len())
            .finish()
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
    /// `None` when `base_url` is not an URL the auth key may travel to (see
    /// [`base_url_problem`]; the file loader refuses those).
    lookup_url: Option<url::Url>,
    /// The issuer's private CA, trusted for this issuer only, next to the operating
    /// system's store (§5).
    ca: Option<CaFile>,
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
            ca: None,
            number_pattern: anchored(number_pattern)?,
            keys,
        })
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(IssuerToken(token.into().into()));
        self
    }

    /// Adds the private CA this issuer's host uses (§5 `ca_file`).
    pub fn with_ca(mut self, ca: CaFile) -> Self {
        self.ca = Some(ca);
        self
    }

    pub fn ca(&self) -> Option<&CaFile> {
        self.ca.as_ref()
    }

    pub fn answers_for(&self, number: &CertificateNumber) -> bool {
        self.number_pattern.is_match(number.as_str())
    }

    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// `POST` here for a lookup (§2); `None` when `base_url` breaks the rules of §5, so
    /// that no code path can send an auth key in clear, whoever built the registry.
    pub fn lookup_url(&self) -> Option<&url::Url> {
        self.lookup_url.as_ref()
    }

    /// `GET` here for the issuer's public keys (§6); `None` as for [`Self::lookup_url`].
    pub fn jwks_url(&self) -> Option<url::Url> {
        self.lookup_url.as_ref()?;
        url::Url::parse(&format!("{}/v1/jwks", self.base_url)).ok()
    }
}

/// Where the lookup call goes (§2), if `base_url` passes [`base_url_problem`].
fn lookup_url(base_url: &str) -> Option<url::Url> {
    if base_url_problem(base_url).is_some() {
        return None;
    }
    url::Url::parse(&format!("{base_url}/v1/certificates/lookup")).ok()
}

/// Why `base_url` may not be used (§5), in Japanese, or `None` when it may: it must be
/// an absolute `https://` URL, or `http://` to a loopback host (`127.0.0.0/8`, `::1`,
/// `localhost`), because every lookup carries an auth key.
pub fn base_url_problem(base_url: &str) -> Option<String> {
    let Ok(url) = url::Url::parse(base_url) else {
        return Some(format!(
            "base_url「{base_url}」は https:// で始まる URL で書いてください（例: https://api.example.co.jp）"
        ));
    };
    match url.scheme() {
        _ if safe_for_secrets(&url) => None,
        "http" if url.host().is_some() => Some(format!(
            "base_url「{base_url}」は https:// にしてください。照会は認証キーを送るため、\
             http:// はループバック（127.0.0.0/8、::1、localhost）にだけ使えます"
        )),
        _ => Some(format!(
            "base_url「{base_url}」は https:// で始まる URL で書いてください（例: https://api.example.co.jp）"
        )),
    }
}

/// Whether a request to `url` may carry secrets (auth keys, tokens): over `https://`, or
/// `http://` to a loopback host (`127.0.0.0/8`, `::1`, `localhost`), which never
/// leaves the machine (§5). Every program that sends a key or a token asks this.
pub fn safe_for_secrets(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => url.host().as_ref().is_some_and(is_loopback),
        _ => false,
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
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

/// What the registry is read for: lookups need every `ca_file`, offline checks none.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    Lookups,
    Offline,
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
    base_url: Spanned<String>,
    /// PEM file of the issuer's private CA; relative paths start at the registry's folder.
    ca_file: Option<Spanned<String>>,
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

    /// Reads the registry for lookups: every `ca_file` is read and checked, since a
    /// lookup's TLS needs it.
    pub fn load(path: &Path) -> Result<Self, RegistryError> {
        Self::load_for(path, Reading::Lookups)
    }

    /// Reads the registry for checks that send nothing (a stored record, an evidence
    /// bundle): only the keys matter, so a `ca_file` is not read and may be missing on
    /// the checking machine, as an unset token may (the issuers get no CA then).
    pub fn load_offline(path: &Path) -> Result<Self, RegistryError> {
        Self::load_for(path, Reading::Offline)
    }

    fn load_for(path: &Path, reading: Reading) -> Result<Self, RegistryError> {
        let text = std::fs::read_to_string(path).map_err(|e| RegistryError {
            file: path.display().to_string(),
            line: None,
            message: match e.kind() {
                std::io::ErrorKind::NotFound => "ファイルがありません（設定 issuers.file / 環境変数 KAKUNIN_ISSUERS_FILE、またはコマンドの --registry を確かめてください）".to_owned(),
                _ => format!("読み込めません: {e}"),
            },
        })?;
        let mut reg = Self::parse(
            &text,
            &path.display().to_string(),
            |var| std::env::var(var).ok(),
            reading,
        )?;
        reg.source = Some(path.to_owned());
        Ok(reg)
    }

    /// Parses registry text; `env` resolves `token_env` names (a parameter so that tests
    /// need not touch the process environment). A relative `ca_file` is read from the
    /// folder of `file`, as an operator reading the registry would expect.
    pub fn from_toml_str(
        text: &str,
        file: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, RegistryError> {
        Self::parse(text, file, env, Reading::Lookups)
    }

    fn parse(
        text: &str,
        file: &str,
        env: impl Fn(&str) -> Option<String>,
        reading: Reading,
    ) -> Result<Self, RegistryError> {
        let err = |offset: usize, message: String| RegistryError {
            file: file.to_owned(),
            line: Some(line_of(text, offset)),
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
                    format!("保証事業会社の id「{}」が二度書かれています", fi.id),
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
            let base_at = fi.base_url.span().start;
            let base_url = fi.base_url.get_ref().trim_end_matches('/').to_owned();
            if let Some(problem) = base_url_problem(fi.base_url.get_ref()) {
                return Err(err(base_at, problem));
            }
            let Some(url) = lookup_url(&base_url) else {
                return Err(err(
                    base_at,
                    format!(
                        "base_url「{}」から照会の URL を作れません",
                        fi.base_url.get_ref()
                    ),
                ));
            };
            let ca = fi
                .ca_file
                .as_ref()
                .filter(|_| reading == Reading::Lookups)
                .map(|f| {
                    let dir = Path::new(file).parent().unwrap_or(Path::new(""));
                    CaFile::read(&dir.join(f.get_ref())).map_err(|m| err(f.span().start, m))
                })
                .transpose()?;
            issuers.push(TrustedIssuer {
                id: fi.id,
                name: fi.name,
                lookup_url: Some(url),
                ca,
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
        for bad in [
            "127.0.0.1:8082",
            "ftp://127.0.0.1",
            "http//issuer",
            "https://",
        ] {
            let text = GOOD.replace("http://127.0.0.1:8082", bad);
            let e = load(&text).unwrap_err();
            assert_eq!(e.line, Some(18), "the second issuer's base_url: {bad}: {e}");
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
        assert_eq!(e.line, Some(23));
        assert!(e.to_string().contains("二度"), "{e}");
    }

    #[test]
    fn short_key_stops_with_line() {
        let text = GOOD.replace("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "AAAA");
        let e = load(&text).unwrap_err();
        assert_eq!(e.line, Some(11));
        assert!(e.to_string().contains("32バイト"), "{e}");
    }

    #[test]
    fn malformed_toml_and_unknown_fields_stop_with_line() {
        let e = load("[[issuer]]\nid = \"x\"\nname = \n").unwrap_err();
        assert_eq!(e.line, Some(3));
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

    #[test]
    fn plain_http_to_a_host_that_is_not_loopback_stops_with_line() {
        for bad in [
            "http://issuer.example.jp",
            "http://192.168.1.10:8081",
            "http://10.0.0.1",
            "http://[::2]:8081",
            "http://localhost.example.jp",
            "http://127.0.0.1.example.jp",
            "http://0.0.0.0:8082",
        ] {
            let text = GOOD.replace("http://127.0.0.1:8082", bad);
            let e = load(&text).unwrap_err();
            assert_eq!(e.file, "issuers.toml");
            assert_eq!(e.line, Some(18), "the second issuer's base_url: {bad}: {e}");
            assert!(e.message.contains(bad), "names what was written: {e}");
            assert!(
                e.message.contains("https://"),
                "says how it should look: {e}"
            );
            assert!(
                e.message.contains("ループバック"),
                "says when http is allowed: {e}"
            );
        }
    }

    #[test]
    fn plain_http_to_loopback_and_https_to_anyone_load() {
        for good in [
            "http://127.0.0.1:8082",
            "http://127.8.9.10",
            "http://[::1]:8082",
            "http://localhost:8082",
            "http://LOCALHOST",
            "https://issuer.example.jp",
            "https://192.168.1.10:8443/",
        ] {
            let text = GOOD.replace("http://127.0.0.1:8082", good);
            let reg = load(&text).unwrap_or_else(|e| panic!("{good}: {e}"));
            let url = reg.issuer("ejcs").unwrap().lookup_url().unwrap();
            assert!(url.as_str().ends_with("/v1/certificates/lookup"), "{url}");
        }
    }

    #[test]
    fn an_issuer_built_in_code_cannot_send_keys_in_clear_either() {
        let http = TrustedIssuer::new("x", "x", "http://issuer.example.jp", "X", vec![]).unwrap();
        assert!(http.lookup_url().is_none());
        assert!(http.jwks_url().is_none());
        let https =
            TrustedIssuer::new("x", "x", "https://issuer.example.jp/api", "X", vec![]).unwrap();
        assert_eq!(
            https.jwks_url().unwrap().as_str(),
            "https://issuer.example.jp/api/v1/jwks"
        );
    }

    fn ca_pem(name: &str) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    /// GOOD with a `ca_file` line on the second issuer (line 19).
    fn with_ca_file(path: &str) -> String {
        GOOD.replace(
            "base_url = \"http://127.0.0.1:8082\"\n",
            &format!("base_url = \"https://issuer.example.jp\"\nca_file = \"{path}\"\n"),
        )
    }

    #[test]
    fn ca_file_is_read_relative_to_the_registry_and_keeps_every_certificate() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("issuer-ca.pem"),
            format!("{}{}", ca_pem("私設 CA 1"), ca_pem("私設 CA 2")),
        )
        .unwrap();
        let file = dir.path().join("issuers.toml");
        std::fs::write(&file, with_ca_file("issuer-ca.pem")).unwrap();
        let reg = Registry::load(&file).unwrap();
        let ca = reg.issuer("ejcs").unwrap().ca().expect("ca_file loaded");
        assert_eq!(ca.path(), dir.path().join("issuer-ca.pem"));
        assert_eq!(ca.certificates().len(), 2);
        assert!(
            reg.issuer("wjcs").unwrap().ca().is_none(),
            "for that issuer only"
        );
        assert!(!format!("{reg:?}").contains("BEGIN"), "Debug stays short");
    }

    #[test]
    fn a_ca_file_that_cannot_be_read_or_parsed_stops_with_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).display().to_string();
        std::fs::write(path("empty.pem"), "").unwrap();
        std::fs::write(
            path("key.pem"),
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        std::fs::write(
            path("armor.pem"),
            "-----BEGIN CERTIFICATE-----\n@@@ not base64 @@@\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        std::fs::write(
            path("der.pem"),
            "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        for (name, says) in [
            ("missing.pem", "読み込めません"),
            ("empty.pem", "証明書がありません"),
            ("key.pem", "証明書がありません"),
            ("armor.pem", "PEM"),
            ("der.pem", "1番目の証明書"),
        ] {
            let e = load(&with_ca_file(&path(name))).unwrap_err();
            assert_eq!(e.file, "issuers.toml");
            assert_eq!(e.line, Some(19), "the ca_file line: {name}: {e}");
            assert!(e.message.contains(&path(name)), "names the file: {e}");
            assert!(e.message.contains(says), "{name}: {e}");
        }
    }

    #[test]
    fn a_missing_registry_file_is_named_without_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("issuers.toml");
        let e = Registry::load(&missing).unwrap_err();
        assert_eq!(e.line, None);
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!(
                "信頼登録簿 {}: ファイルがありません",
                missing.display()
            )) && shown.contains("KAKUNIN_ISSUERS_FILE"),
            "{shown}"
        );
    }

    #[test]
    fn offline_checks_do_not_need_the_ca_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("issuers.toml");
        std::fs::write(&file, with_ca_file("wjcs-ca.pem")).unwrap();
        assert!(Registry::load(&file).is_err(), "lookups need it");
        let reg = Registry::load_offline(&file).expect("the keys are all an offline check needs");
        assert!(reg.issuer("ejcs").unwrap().ca().is_none());
        assert!(!reg.issuer("wjcs").unwrap().keys().is_empty());
    }
}
