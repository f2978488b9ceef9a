//! What the audit log records: the actions and their outcomes, each stored as a short
//! English code (stable, hashed by the chain, easy to filter by) beside which pages and
//! exports show the Japanese label.
//!
//! The codes are part of every row's hash: a code's text never changes. A row holding a
//! code this version does not know fails the query that reads it, and `kakunin audit
//! verify` names its number ([`super::ChainBreak::Unknown`]).

use crate::domain::code::Code;
use crate::domain::outcome::Outcome;

/// Every act the service records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// One verification attempt (any outcome); counted in `audit_daily`.
    Verify,
    /// A stored verification opened on a page or through the API.
    VerificationView,
    /// The print view of a stored verification.
    VerificationPrint,
    /// A printout looked up at the paper check (`/check`); the detail says whether its
    /// receipt digest matched (`paper=match`, `mismatch`, `id_only`, `no_receipt`).
    PaperCheck,
    /// A number locked here after too many `not_found` in the window.
    Lockout,
    Signin,
    Signout,
    SessionExpire,
    UserAdd,
    UserUpdate,
    /// A password set by its holder (CLI, or the own-password form).
    UserPasswd,
    /// A password issued by an administrator.
    UserReset,
    UserDisable,
    /// A disabled account let in again.
    UserEnable,
    OfficeSave,
    TokenCreate,
    TokenRevoke,
    AuditExport,
    AuditKeyInit,
    /// A new `KAKUNIN_SECRET_KEY` made the installation's (`kakunin key adopt-secret`).
    SecretAdopt,
}

/// In the order the supervisor's filter menu lists them.
impl Code for Action {
    const NAME: &'static str = "操作コード";
    const ALL: &'static [Action] = &[
        Action::Verify,
        Action::VerificationView,
        Action::VerificationPrint,
        Action::PaperCheck,
        Action::Lockout,
        Action::Signin,
        Action::Signout,
        Action::SessionExpire,
        Action::UserAdd,
        Action::UserUpdate,
        Action::UserPasswd,
        Action::UserReset,
        Action::UserDisable,
        Action::UserEnable,
        Action::OfficeSave,
        Action::TokenCreate,
        Action::TokenRevoke,
        Action::AuditExport,
        Action::AuditKeyInit,
        Action::SecretAdopt,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Action::Verify => "verify",
            Action::VerificationView => "verification.view",
            Action::VerificationPrint => "verification.print",
            Action::PaperCheck => "verification.check",
            Action::Lockout => "lockout",
            Action::Signin => "signin",
            Action::Signout => "signout",
            Action::SessionExpire => "session.expire",
            Action::UserAdd => "user.add",
            Action::UserUpdate => "user.update",
            Action::UserPasswd => "user.passwd",
            Action::UserReset => "user.reset",
            Action::UserDisable => "user.disable",
            Action::UserEnable => "user.enable",
            Action::OfficeSave => "office.save",
            Action::TokenCreate => "token.create",
            Action::TokenRevoke => "token.revoke",
            Action::AuditExport => "audit.export",
            Action::AuditKeyInit => "audit.key_init",
            Action::SecretAdopt => "secret.adopt",
        }
    }
}

impl Action {
    /// The action as a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            Action::Verify => "照会",
            Action::VerificationView => "照会結果の閲覧",
            Action::VerificationPrint => "照会結果の印刷",
            Action::PaperCheck => "印刷物の照合",
            Action::Lockout => "番号のロック",
            Action::Signin => "ログイン",
            Action::Signout => "ログアウト",
            Action::SessionExpire => "セッションの期限切れ",
            Action::UserAdd => "利用者の作成",
            Action::UserUpdate => "利用者の役割・発注機関の変更",
            Action::UserPasswd => "パスワードの変更",
            Action::UserReset => "パスワードの再発行",
            Action::UserDisable => "利用者の無効化",
            Action::UserEnable => "利用者の有効化",
            Action::OfficeSave => "発注機関の登録・変更",
            Action::TokenCreate => "API クライアントの作成",
            Action::TokenRevoke => "API クライアントの失効",
            Action::AuditExport => "監査ログの書き出し",
            Action::AuditKeyInit => "署名鍵の作成",
            Action::SecretAdopt => "秘密鍵の変更",
        }
    }
}

/// How an act ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditOutcome {
    /// A verification's own outcome: `verify`, `verification.view` and `.print` rows;
    /// `lockout` rows are `locked`.
    Verification(Outcome),
    /// Done.
    Ok,
    /// Refused, e.g. a wrong password.
    Failure,
    /// Refused unseen because of too many failures.
    Throttled,
    /// Refused for lack of access: a verification asked for by id outside the
    /// asker's office (`verification.view`, `.print`, `.check`).
    Denied,
}

/// The six outcomes of a verification first, as the filter menu lists them.
impl Code for AuditOutcome {
    const NAME: &'static str = "結果コード";
    const ALL: &'static [AuditOutcome] = &[
        AuditOutcome::Verification(Outcome::Verified),
        AuditOutcome::Verification(Outcome::Rejected),
        AuditOutcome::Verification(Outcome::NotFound),
        AuditOutcome::Verification(Outcome::Locked),
        AuditOutcome::Verification(Outcome::InvalidRecord),
        AuditOutcome::Verification(Outcome::IssuerUnavailable),
        AuditOutcome::Ok,
        AuditOutcome::Failure,
        AuditOutcome::Throttled,
        AuditOutcome::Denied,
    ];

    fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Verification(o) => o.as_str(),
            AuditOutcome::Ok => "ok",
            AuditOutcome::Failure => "failure",
            AuditOutcome::Throttled => "throttled",
            AuditOutcome::Denied => "denied",
        }
    }
}

impl AuditOutcome {
    /// The outcome as a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            AuditOutcome::Verification(o) => o.banner(),
            AuditOutcome::Ok => "成功",
            AuditOutcome::Failure => "失敗",
            AuditOutcome::Throttled => "試行回数の制限",
            AuditOutcome::Denied => "拒否",
        }
    }
}

impl From<Outcome> for AuditOutcome {
    fn from(o: Outcome) -> Self {
        AuditOutcome::Verification(o)
    }
}

crate::adapters::db::code::stored_as_text!(Action, AuditOutcome);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_outcomes_round_trip() {
        crate::domain::code::assert_round_trips::<Action>();
        crate::domain::code::assert_round_trips::<AuditOutcome>();
        for &o in Outcome::ALL {
            assert!(AuditOutcome::ALL.contains(&AuditOutcome::Verification(o)));
        }
    }

    /// The texts every existing log holds: changing one would break the chain's hashes
    /// and every filter and export that names it.
    #[test]
    fn the_stored_texts_never_change() {
        let actions: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(
            actions,
            [
                "verify",
                "verification.view",
                "verification.print",
                "verification.check",
                "lockout",
                "signin",
                "signout",
                "session.expire",
                "user.add",
                "user.update",
                "user.passwd",
                "user.reset",
                "user.disable",
                "user.enable",
                "office.save",
                "token.create",
                "token.revoke",
                "audit.export",
                "audit.key_init",
                "secret.adopt",
            ]
        );
        let outcomes: Vec<&str> = AuditOutcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(
            outcomes,
            [
                "verified",
                "rejected",
                "not_found",
                "locked",
                "invalid_record",
                "issuer_unavailable",
                "ok",
                "failure",
                "throttled",
                "denied",
            ]
        );
    }
}
