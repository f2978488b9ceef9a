//! The Japanese a person reads for the codes stored in the log (`action`, `outcome`).
//!
//! The log keeps short English codes (stable, hashed, easy to filter by); pages and
//! exports show these labels beside them. An unknown code is shown as it is.

use crate::domain::outcome::Outcome;

/// Every action the service writes, in the order the filter menu lists them.
pub const ACTIONS: [(&str, &str); 17] = [
    ("verify", "照会"),
    ("verification.view", "照会結果の閲覧"),
    ("verification.print", "照会結果の印刷"),
    ("lockout", "番号のロック"),
    ("signin", "ログイン"),
    ("signout", "ログアウト"),
    ("session.expire", "セッションの期限切れ"),
    ("user.add", "利用者の作成"),
    ("user.update", "利用者の役割・発注機関の変更"),
    ("user.passwd", "パスワードの変更"),
    ("user.reset", "パスワードの再発行"),
    ("user.disable", "利用者の無効化"),
    ("office.save", "発注機関の登録・変更"),
    ("token.create", "API クライアントの作成"),
    ("token.revoke", "API クライアントの失効"),
    ("audit.export", "監査ログの書き出し"),
    ("audit.key_init", "署名鍵の作成"),
];

/// Outcomes other than the six of a verification.
const OTHER_OUTCOMES: [(&str, &str); 4] = [
    ("ok", "成功"),
    ("failure", "失敗"),
    ("throttled", "試行回数の制限"),
    ("denied", "拒否"),
];

pub fn action(code: &str) -> &str {
    ACTIONS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, l)| *l)
        .unwrap_or(code)
}

pub fn outcome(code: &str) -> &str {
    if let Some(o) = Outcome::parse(code) {
        return o.banner();
    }
    OTHER_OUTCOMES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, l)| *l)
        .unwrap_or(code)
}

/// (code, label) of every outcome, for the filter menu.
pub fn outcomes() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<_> = Outcome::ALL
        .iter()
        .map(|o| (o.as_str(), o.banner()))
        .collect();
    all.extend(OTHER_OUTCOMES);
    all
}
