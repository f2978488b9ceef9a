//! `kakunin evidence verify ID|FILE`: checks a stored verification, or an evidence
//! bundle on its own, again. Exit 0 still valid, 1 today's rules judge differently,
//! 2 invalid (or unreadable).

use std::path::Path;

use crate::adapters::db::DbPool;
use crate::app::audit::key as audit_key;
use crate::app::evidence::bundle::{self, Bundle, RegistryEntry};
use crate::app::evidence::check::{check_bundle, Invalid, Verdict};
use crate::app::evidence::paper::{compare as compare_paper, PaperMatch};
use crate::app::evidence::{self, profiles, AuditLink};
use crate::app::receipt::keys::{dir_beside, read_public};
use crate::app::verification::store;
use crate::config::Settings;
use crate::domain::paper::{self, PaperError};
use crate::domain::scope::OfficeScope;
use kakunin_protocol::registry::{Registry, TrustedKey};

/// Runs the check; `target` is a bundle file when one is there, else a verification id.
pub fn verify(settings: &Settings, target: &str, registry: Option<&Path>) -> anyhow::Result<u8> {
    // The rules the service runs with now. Without them the evidence is still checked
    // under its own rules; the report then says that nothing was compared.
    let today = super::serve::load_profile(settings).map_err(|e| e.to_string());
    let no_today = today.as_ref().err().map(String::as_str);
    let registry = match registry {
        // Nothing is sent: the keys are all that is read (a ca_file may be missing here).
        Some(path) => Some(Registry::load_offline(path)?),
        None => None,
    };
    // This machine's copy of the service's public receipt keys (`keys.json`; the
    // private keys are not needed), when it has one: a bundle's own key set is then
    // checked against it rather than taken on trust. One that is there but unreadable
    // stops the check: falling back to the bundle's keys would trust a forged bundle.
    let key_dir = dir_beside(&settings.audit.signing_key_file);
    let own_public = match read_public(&key_dir) {
        Ok(keys) => keys,
        Err(e) => {
            println!("【無効】このサービスの確認記録の鍵を読めません: {e}");
            return Ok(2);
        }
    };
    let path = Path::new(target);
    if path.is_file() {
        match &own_public {
            Some(_) => println!(
                "確認記録の鍵: このサービスの公開鍵一覧（{}/keys.json）と照らし合わせます",
                key_dir.display()
            ),
            None => println!(
                "確認記録の鍵: この機械にサービスの公開鍵一覧がないため、証拠一式に含まれる鍵で確かめます（その鍵がこのサービスのものかは確かめていません。{}/keys.json を置くと照らし合わせます）",
                key_dir.display()
            ),
        }
        let bundle: Bundle = match std::fs::read(path)
            .map_err(|e| kakunin_platform::cli::read_error(&e))
            .and_then(|b| {
                serde_json::from_slice(kakunin_platform::cli::without_bom(&b))
                    .map_err(|e| kakunin_platform::cli::json_error(&e, "証拠一式"))
            }) {
            Ok(b) => b,
            Err(e) => {
                println!("【無効】{} は証拠一式として読めません: {e}", path.display());
                return Ok(2);
            }
        };
        let issuer_keys = registry
            .as_ref()
            .map(|r| issuer_keys(r, &bundle.registry_entry.issuer));
        let result = check_bundle(
            &bundle,
            own_public.as_deref(),
            issuer_keys,
            today.as_ref().ok(),
        );
        return Ok(report(&result, None, no_today));
    }
    let registry = match registry {
        Some(r) => r,
        None => Registry::load_offline(&settings.issuers.file)?,
    };
    // An id as the check page reads it: full width or lower case, or the printout's QR
    // text. What reads as no id but names a file is a missing file. Any other refusal
    // says its own reason and never repeats what was given: an issuer's notice QR text
    // holds the 認証キー.
    let printed = match paper::read(target) {
        Ok(printed) => printed,
        Err(PaperError::Id) if target.contains(['/', '\\']) || target.ends_with(".json") => {
            println!(
                "【無効】{target} を読めません: ファイルがありません（パスを確かめてください）"
            );
            return Ok(2);
        }
        Err(e) => {
            println!(
                "【無効】{}",
                kakunin_platform::text::escape_invisible(&e.to_string())
            );
            return Ok(2);
        }
    };
    let pool: DbPool = super::serve::open_existing_db(settings)?;
    let mut conn = pool.get()?;
    let id = &printed.verification_id;
    let Some(row) = store::find(&mut conn, id, &OfficeScope::All)? else {
        println!("【無効】照会 {id} はありません");
        return Ok(2);
    };
    // The printout's QR text carries its receipt's digest: paper made from another
    // receipt, or altered, is not evidence of this verification, as on the check page.
    if compare_paper(&printed, &row) == PaperMatch::Differs {
        println!("【無効】照会 {id}");
        println!(
            "理由: 印刷物のQRコードの確認記録が、保存している確認記録と異なります（印刷物が書き換えられたか、別の記録から作られたおそれがあります）"
        );
        return Ok(2);
    }
    let Some(own) = own_public else {
        println!(
            "【無効】確認記録の公開鍵一覧がありません（{}）",
            dir_beside(&settings.audit.signing_key_file).display()
        );
        return Ok(2);
    };
    let text = match &row.profile_digest {
        Some(d) => profiles::text(&mut conn, d)?,
        None => None,
    };
    let mut bundle = match bundle::assemble(&row, &own, &registry, text) {
        Ok(b) => b,
        Err(e) => {
            println!(
                "【無効】{}",
                kakunin_platform::text::escape_invisible(&e.to_string())
            );
            return Ok(2);
        }
    };
    bundle.summary_html.clear();
    let keys = issuer_keys(&registry, &bundle.registry_entry.issuer);
    let result = check_bundle(&bundle, Some(&own), Some(keys), today.as_ref().ok());
    let link = match &result {
        Ok(v) => {
            let key =
                audit_key::load_public(&audit_key::public_path(&settings.audit.signing_key_file))
                    .ok();
            match evidence::audit_link(&mut conn, &v.receipt, key.as_ref())? {
                Ok(link) => Some(link),
                Err(reason) => {
                    println!("【無効】照会 {}", row.id);
                    println!("理由: 監査ログ: {reason}");
                    return Ok(2);
                }
            }
        }
        Err(_) => None,
    };
    Ok(report(&result, link, no_today))
}

/// The registry's keys of `issuer`, all of them, retired ones with their windows.
fn issuer_keys(registry: &Registry, issuer: &str) -> Vec<TrustedKey> {
    RegistryEntry::of(registry, issuer)
        .and_then(|e| e.trusted())
        .unwrap_or_default()
}

/// Prints the verdict; `no_today` is why the current rules could not be read, when
/// they could not (the evidence is then valid or not on its own rules: exit 0 or 2).
fn report(
    result: &Result<Verdict, Invalid>,
    link: Option<AuditLink>,
    no_today: Option<&str>,
) -> u8 {
    match result {
        Err(e) => {
            println!("【無効】証拠を確認できません");
            // The reason may quote the bundle (a kid, a format): written out, not obeyed.
            println!(
                "理由: {}",
                kakunin_platform::text::escape_invisible(&e.to_string())
            );
            2
        }
        Ok(v) => {
            let r = &v.receipt;
            println!(
                "照会 {}（{}、保証契約番号 {}、第{}版）",
                r.verification_id, r.checked_at, r.certificate_number, r.revision
            );
            println!("確認記録の署名: 有効");
            println!(
                "保証事業会社の電子証書の署名: 有効（鍵 {}、発行日時に有効）",
                r.kid
            );
            println!(
                "当時のルール（{}）で確認し直した結果: 確認記録と一致",
                short(&r.profile_digest)
            );
            match link {
                Some(AuditLink::Covered { checkpoint }) => {
                    println!(
                        "監査ログ: {} 番（チェックポイント {checkpoint} 番で署名済み）",
                        r.audit_seq
                    )
                }
                Some(AuditLink::NotYetCovered) => println!(
                    "監査ログ: {} 番（まだチェックポイントに含まれていません）",
                    r.audit_seq
                ),
                None => {}
            }
            if let Some(why) = no_today {
                println!("現在のルール: 読み込めないため、比べていません（{why}）");
                println!(
                    "【有効】当時のルールでの結果を確かめました（現在のルールとは比べていません）"
                );
                0
            } else if v.changed.is_empty() {
                println!("【有効】現在のルールでも同じ結果です");
                0
            } else {
                println!(
                    "【要確認】現在のルールでは結果が異なります: {}",
                    v.changed.join("、")
                );
                1
            }
        }
    }
}

fn short(digest: &str) -> &str {
    digest.get(..16).unwrap_or(digest)
}
