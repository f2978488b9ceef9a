//! The six outcomes of a verification (`service.md`), with what each tells the officer.

use serde::{Deserialize, Serialize};

use super::code::Code;

/// The six outcomes (`service.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 確認済み: signature valid and no rule failed (warnings allowed).
    Verified,
    /// 不適合: signature valid, at least one rule failed.
    Rejected,
    /// 該当なし: the issuer answered 404.
    NotFound,
    /// ロック中: the issuer answered 429, or this service locked the number.
    Locked,
    /// 不正な記録: not a valid signed record of the asked number.
    InvalidRecord,
    /// 保証事業会社に接続できません: timeout, connection failure, 5xx.
    IssuerUnavailable,
}

/// Stored in `verifications.outcome`, the audit log and `audit_daily`, and sent in the
/// API's `outcome`; serde's names are these same texts.
impl Code for Outcome {
    const NAME: &'static str = "照会の結果";
    const ALL: &'static [Outcome] = &[
        Outcome::Verified,
        Outcome::Rejected,
        Outcome::NotFound,
        Outcome::Locked,
        Outcome::InvalidRecord,
        Outcome::IssuerUnavailable,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::Rejected => "rejected",
            Outcome::NotFound => "not_found",
            Outcome::Locked => "locked",
            Outcome::InvalidRecord => "invalid_record",
            Outcome::IssuerUnavailable => "issuer_unavailable",
        }
    }
}

impl Outcome {
    /// Whether a signed certificate came with this outcome: only a record that passed
    /// every §3 check is verified or rejected.
    pub fn has_certificate(self) -> bool {
        matches!(self, Outcome::Verified | Outcome::Rejected)
    }

    /// The banner of the outcome page (`service.md` "Web forms").
    pub fn banner(self) -> &'static str {
        match self {
            Outcome::Verified => "確認済み",
            Outcome::Rejected => "不適合",
            Outcome::NotFound => "該当なし",
            Outcome::Locked => "ロック中",
            Outcome::InvalidRecord => "不正な記録",
            Outcome::IssuerUnavailable => "保証事業会社に接続できません",
        }
    }

    /// What the officer should do next; `profile_name` (`大分県`, the rule profile's
    /// `name`) is whose 確認事項 a verified certificate met.
    pub fn next_step(self, profile_name: &str) -> String {
        let text = match self {
            Outcome::Verified => {
                return format!("電子証書は真正で、{profile_name}の確認事項を満たしています。この画面を印刷して契約書類に綴じてください。")
            }
            Outcome::Rejected => "電子証書は真正ですが、確認事項を満たしていません。下の表の「不適合」の項目を受注者に伝え、保証事業会社での変更手続きを求めてください。",
            Outcome::NotFound => "保証契約番号または認証キーが一致しません。お知らせの印字を見直して入力し直してください。繰り返し一致しない場合は受注者に確認してください。",
            Outcome::Locked => "この保証契約番号は、誤った照会が続いたため一時的にロックされています。時間をおいてから、お知らせの原本を確認のうえ照会してください。",
            Outcome::InvalidRecord => "保証事業会社から返された記録の署名または内容が正しくありません。受け付けずに、保証事業会社とシステム管理者に連絡してください。",
            Outcome::IssuerUnavailable => "保証事業会社のシステムに接続できませんでした。時間をおいて再度照会してください。続く場合はシステム管理者に連絡してください。",
        };
        text.to_owned()
    }

    /// A CSS class name for the banner colour.
    pub fn tone(self) -> &'static str {
        match self {
            Outcome::Verified => "ok",
            Outcome::Rejected | Outcome::InvalidRecord => "bad",
            Outcome::NotFound | Outcome::Locked | Outcome::IssuerUnavailable => "warn",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_round_trips_as_stored_and_as_json() {
        crate::domain::code::assert_round_trips::<Outcome>();
        for &o in Outcome::ALL {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
            assert_eq!(
                serde_json::from_value::<Outcome>(o.as_str().into()).unwrap(),
                o
            );
        }
    }
}
