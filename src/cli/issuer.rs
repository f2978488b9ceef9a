//! `kakunin issuer check ID` (`service.md`, Additions): one unauthenticated request to
//! an issuer's key set (`issuer-protocol.md` §6), and a report in Japanese of TLS,
//! reachability and whether the trust registry's keys are the published ones.
//!
//! The published keys are only compared, never trusted (§6): the registry stays the one
//! source of keys for verification.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

use crate::adapters::issuer_client::{self, JwksFetch, TrustedBy};
use kakunin_protocol::format::datetime_ja;
use kakunin_protocol::registry::{Registry, TrustedIssuer, TrustedKey};
use kakunin_protocol::time::jst;

/// Exit codes of the command.
pub const ALL_RIGHT: u8 = 0;
pub const MISMATCH: u8 = 1;
pub const UNREACHABLE: u8 = 2;

/// Runs the check of issuer `id` and prints the report; returns the exit code.
pub fn check(
    registry: &Registry,
    id: &str,
    connect_timeout: Duration,
    timeout: Duration,
) -> anyhow::Result<u8> {
    let Some(issuer) = registry.issuer(id) else {
        let known: Vec<&str> = registry.issuers().iter().map(|i| i.id.as_str()).collect();
        anyhow::bail!(
            "保証事業会社「{id}」は信頼登録簿にありません（登録されている id: {}）",
            if known.is_empty() {
                "なし".to_owned()
            } else {
                known.join(", ")
            }
        );
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("通信用のランタイムを起動できません")?;
    let fetched = runtime.block_on(issuer_client::fetch_jwks(issuer, connect_timeout, timeout));
    // The network is done with: from here on a closed stdout ends the command quietly.
    drop(runtime);
    kakunin_platform::cli::end_quietly_on_closed_pipe();
    let (report, code) = report(issuer, fetched);
    print!("{report}");
    Ok(code)
}

/// The report text and the exit code, from what the request gave.
fn report(
    issuer: &TrustedIssuer,
    fetched: Result<JwksFetch, issuer_client::Unreachable>,
) -> (String, u8) {
    let mut out = String::new();
    let url = issuer.jwks_url().map(|u| u.to_string()).unwrap_or_default();
    let _ = writeln!(out, "保証事業会社: {}（{}）", issuer.id, issuer.name);
    let _ = writeln!(out, "照会先: {url}（認証キーとトークンは送りません）");
    let fetch = match fetched {
        Ok(f) => f,
        Err(e) => {
            if e.tls {
                let _ = writeln!(out, "TLS: 検証できません — {}", e.reason);
                let _ = writeln!(out, "到達: TLS の確立で止まりました");
            } else {
                let _ = writeln!(out, "TLS: 未確認（接続できませんでした）");
                let _ = writeln!(out, "到達: できません — {}", e.reason);
            }
            let _ = writeln!(out, "結果: 保証事業会社に到達できません（終了コード 2）");
            return (out, UNREACHABLE);
        }
    };
    match &fetch.tls {
        None => {
            let _ = writeln!(
                out,
                "TLS: なし（ループバックへの http://。本番の保証事業会社には https:// を使います）"
            );
        }
        Some(tls) => {
            let anchor = match &tls.trusted_by {
                TrustedBy::OsStore => "OS の信頼ストア".to_owned(),
                TrustedBy::CaFile(path) => {
                    format!("ca_file {}（この保証事業会社の私設 CA）", path.display())
                }
            };
            let _ = writeln!(out, "TLS: 検証済み — 信頼の起点: {anchor}");
            if let Some(ca) = &tls.ca {
                let _ = writeln!(out, "     証明書の発行元: {ca}");
            }
            if let Some(at) = tls.not_after {
                let _ = writeln!(
                    out,
                    "     サーバー証明書の有効期限: {}（日本時間）",
                    datetime_ja(at.with_timezone(&jst()))
                );
            }
        }
    }
    if fetch.status != 200 {
        let _ = writeln!(
            out,
            "到達: 応答はありましたが、鍵の一覧ではありません（HTTP {}）",
            fetch.status
        );
        let _ = writeln!(out, "結果: 公開されている鍵を読めません（終了コード 2）");
        return (out, UNREACHABLE);
    }
    let published = match fetch.body.as_deref().map(parse_jwks) {
        Some(Ok(keys)) => keys,
        Some(Err(why)) => {
            let _ = writeln!(
                out,
                "到達: 応答あり（HTTP 200）ですが、JWK Set として読めません: {why}"
            );
            let _ = writeln!(out, "結果: 公開されている鍵を読めません（終了コード 2）");
            return (out, UNREACHABLE);
        }
        None => {
            let _ = writeln!(
                out,
                "到達: 応答あり（HTTP 200）ですが、1 MiB を超えています"
            );
            let _ = writeln!(out, "結果: 公開されている鍵を読めません（終了コード 2）");
            return (out, UNREACHABLE);
        }
    };
    let _ = writeln!(
        out,
        "到達: 応答あり（HTTP 200、公開されている鍵 {}件）",
        published.len()
    );
    let rows = compare(issuer.keys(), &published);
    let _ = writeln!(out, "鍵（kid ごと）:");
    if rows.is_empty() {
        let _ = writeln!(out, "  （信頼登録簿にも公開にも鍵がありません）");
    }
    for (kid, state) in &rows {
        // A published kid comes from the issuer's unauthenticated JWKS: written out.
        let kid = kakunin_platform::text::escape_invisible(kid);
        let _ = writeln!(out, "  {:<10}  {kid}{}", state.label(), state.note());
    }
    if rows.iter().all(|(_, s)| *s == KeyState::Same) {
        let _ = writeln!(
            out,
            "結果: 一致 — 信頼登録簿の鍵は公開されている鍵と同じです（終了コード 0）"
        );
        (out, ALL_RIGHT)
    } else {
        let _ = writeln!(
            out,
            "結果: 不一致 — 信頼登録簿の [[issuer.key]] を保証事業会社に確かめてください（終了コード 1）"
        );
        (out, MISMATCH)
    }
}

/// How one kid compares between the registry and the published set.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyState {
    /// The same 32-byte key under the same kid.
    Same,
    /// The same kid, another key: records signed with either would not verify.
    Differs,
    /// In the registry, not published.
    RegistryOnly,
    /// Published, not in the registry: records signed with it would not verify.
    PublishedOnly,
    /// Published but not an Ed25519 public key as §6 describes (the reason, Japanese).
    Malformed(String),
}

impl KeyState {
    fn label(&self) -> &'static str {
        match self {
            KeyState::Same => "一致",
            KeyState::Differs => "不一致",
            KeyState::RegistryOnly => "登録簿のみ",
            KeyState::PublishedOnly => "公開のみ",
            KeyState::Malformed(_) => "不正",
        }
    }

    fn note(&self) -> String {
        match self {
            KeyState::Same => String::new(),
            KeyState::Differs => "（同じ kid で公開鍵 x が異なります）".into(),
            KeyState::RegistryOnly => "（保証事業会社は公開していません）".into(),
            KeyState::PublishedOnly => {
                "（信頼登録簿にありません。この鍵で署名された電子証書は確認できません）".into()
            }
            KeyState::Malformed(why) => format!("（{why}）"),
        }
    }
}

/// One member of the published JWK Set, as far as the comparison needs it.
#[derive(Debug, Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: Option<String>,
    crv: Option<String>,
    x: Option<String>,
}

#[derive(Debug, Deserialize)]
struct JwkSet {
    keys: Vec<serde_json::Value>,
}

/// The published keys by kid: the 32 key bytes, or why the member is not usable.
fn parse_jwks(body: &[u8]) -> Result<BTreeMap<String, Result<[u8; 32], String>>, String> {
    let set: JwkSet = serde_json::from_slice(body)
        .map_err(|e| format!("{{\"keys\": [...]}} の形ではありません（{e}）"))?;
    let mut keys = BTreeMap::new();
    for (n, member) in set.keys.into_iter().enumerate() {
        let jwk: Jwk = serde_json::from_value(member)
            .map_err(|e| format!("{}番目の鍵を読めません（{e}）", n + 1))?;
        let kid = jwk
            .kid
            .clone()
            .ok_or_else(|| format!("{}番目の鍵に kid がありません", n + 1))?;
        keys.insert(kid, key_bytes(&jwk));
    }
    Ok(keys)
}

fn key_bytes(jwk: &Jwk) -> Result<[u8; 32], String> {
    if jwk.kty.as_deref() != Some("OKP") || jwk.crv.as_deref() != Some("Ed25519") {
        return Err("kty OKP・crv Ed25519 の鍵ではありません".into());
    }
    let x = jwk.x.as_deref().ok_or("x がありません")?;
    let bytes = URL_SAFE_NO_PAD
        .decode(x)
        .map_err(|_| "x が base64url（パディングなし）ではありません".to_owned())?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("x が32バイトではありません（{}バイト）", b.len()))
}

/// Every kid of either side, in kid order, with how it compares.
fn compare(
    registry: &[TrustedKey],
    published: &BTreeMap<String, Result<[u8; 32], String>>,
) -> Vec<(String, KeyState)> {
    let mut rows: BTreeMap<String, KeyState> = BTreeMap::new();
    for key in registry {
        let state = match published.get(key.kid()) {
            None => KeyState::RegistryOnly,
            Some(Err(why)) => KeyState::Malformed(why.clone()),
            Some(Ok(x)) if x == key.verifying_key().as_bytes() => KeyState::Same,
            Some(Ok(_)) => KeyState::Differs,
        };
        rows.insert(key.kid().to_owned(), state);
    }
    for (kid, x) in published {
        rows.entry(kid.clone()).or_insert_with(|| match x {
            Ok(_) => KeyState::PublishedOnly,
            Err(why) => KeyState::Malformed(why.clone()),
        });
    }
    rows.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use ed25519_dalek::SigningKey;

    fn key(kid: &str, seed: u8) -> TrustedKey {
        let sk = SigningKey::from_bytes(&[seed; 32]);
        let nb = DateTime::parse_from_rfc3339("2025-01-01T00:00:00+09:00").unwrap();
        TrustedKey::new(kid, sk.verifying_key(), nb, None)
    }

    fn jwk(kid: &str, seed: u8) -> serde_json::Value {
        let x = URL_SAFE_NO_PAD.encode(
            SigningKey::from_bytes(&[seed; 32])
                .verifying_key()
                .as_bytes(),
        );
        serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": x, "use": "sig", "alg": "EdDSA"})
    }

    fn states(registry: &[TrustedKey], published: serde_json::Value) -> Vec<(String, KeyState)> {
        let body = serde_json::json!({ "keys": published }).to_string();
        compare(registry, &parse_jwks(body.as_bytes()).unwrap())
    }

    #[test]
    fn the_same_keys_match_and_every_difference_is_named() {
        let reg = [key("a", 1), key("b", 2), key("c", 3)];
        assert!(states(
            &reg,
            serde_json::json!([jwk("a", 1), jwk("b", 2), jwk("c", 3)])
        )
        .iter()
        .all(|(_, s)| *s == KeyState::Same));
        let rows = states(
            &reg,
            serde_json::json!([jwk("a", 1), jwk("b", 9), jwk("d", 4),
                {"kty": "RSA", "kid": "e", "n": "AQAB"}]),
        );
        assert_eq!(
            rows,
            vec![
                ("a".into(), KeyState::Same),
                ("b".into(), KeyState::Differs),
                ("c".into(), KeyState::RegistryOnly),
                ("d".into(), KeyState::PublishedOnly),
                (
                    "e".into(),
                    KeyState::Malformed("kty OKP・crv Ed25519 の鍵ではありません".into())
                ),
            ]
        );
    }

    #[test]
    fn a_body_that_is_no_jwk_set_is_refused_with_a_reason() {
        assert!(parse_jwks(b"<html>").unwrap_err().contains("keys"));
        assert!(parse_jwks(br#"{"keys":[{"kty":"OKP"}]}"#)
            .unwrap_err()
            .contains("kid"));
        let short = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": "AAAA"}]});
        let keys = parse_jwks(short.to_string().as_bytes()).unwrap();
        assert!(keys["k"].as_ref().unwrap_err().contains("32バイト"));
    }
}
