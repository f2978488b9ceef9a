//! The command line of `kakunin-issuer`: what each command takes, help in Japanese, and
//! how errors end a command (the Japanese message on standard error, exit status 1).
//!
//! Standard output carries only what a command produces for the operator to keep
//! (a key, a token, a registry block); everything else goes to standard error, so that
//! `kakunin-issuer client add --name x > token.txt` does the expected thing.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

use super::settings::Settings;

/// 参照用の保証事業会社: 電子証書の発行・変更・解約、照会API、受注者画面。
///
/// 設定は環境変数（KAKUNIN_ISSUER_*）または同名のオプションで指定します。認証キーのハッシュに使う秘密は
/// 環境変数 KAKUNIN_ISSUER_SECRET（または KAKUNIN_ISSUER_SECRET_FILE）でのみ指定できます。
#[derive(Debug, Parser)]
#[command(name = "kakunin-issuer", version)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// 署名鍵（Ed25519）を作成し、信頼登録簿に貼り付ける [[issuer.key]] を表示します
    ///
    /// 秘密鍵は鍵ディレクトリに {kid}.pem（モード0600）として保存します。有効な鍵がまだなければ、この鍵が署名に使われます。
    Keygen {
        /// 鍵ID（英数字と . _ -、例: wjcs-2025）
        #[arg(long, value_name = "鍵ID")]
        kid: String,
        /// 鍵の有効開始日時（RFC 3339、省略時は現在）
        #[arg(long = "not-before", value_name = "日時")]
        not_before: Option<String>,
    },
    /// 照会クライアント（発注者側の確認サービス）を管理します
    #[command(subcommand)]
    Client(ClientCommand),
    /// 受注者のアカウントを管理します
    #[command(subcommand)]
    Contractor(ContractorCommand),
    /// 電子証書（第1版）を発行し、保証契約番号と認証キーを一度だけ表示します
    ///
    /// ファイルには certificate_number と、schema・revision・status・issued_at・issuer・changes 以外の
    /// 証書の項目（issuer-protocol.md §4）を書きます。保証事業会社が残りを設定して署名し、認証キーを生成して、
    /// お知らせ（PDF）を書き出します。認証キーは画面とPDFに出力し、照合用のハッシュと、受注者画面で再表示するための暗号化した控えだけを保存します。
    Issue {
        /// 証書の内容（JSON）
        #[arg(long, value_name = "ファイル")]
        file: PathBuf,
        /// この証書を受注者画面で見られる受注者のログインID
        #[arg(long, value_name = "ログインID")]
        contractor: Option<String>,
        /// お知らせ（PDF）の出力先（省略時は {保証契約番号}-notice.pdf）
        #[arg(long = "notice-out", value_name = "ファイル")]
        notice_out: Option<PathBuf>,
    },
    /// 電子証書を変更し、新しい版を発行します（変更履歴に追記）
    ///
    /// ファイルには変更する項目を JSON で書きます（例: {"guarantee": {"amount_yen": 8470000}, "summary": "保証金額の変更"}）。
    /// オブジェクトは項目ごとに置き換え、null は削除を意味します（JSON Merge Patch）。解約済みの証書は変更できません。
    Amend {
        /// 保証契約番号
        #[arg(value_name = "保証契約番号")]
        number: String,
        /// 変更内容（JSON）
        #[arg(long, value_name = "ファイル")]
        file: PathBuf,
    },
    /// 電子証書を解約します（状態を「解約・失効」とした新しい版を発行）
    Cancel {
        /// 保証契約番号
        #[arg(value_name = "保証契約番号")]
        number: String,
    },
    /// 署名鍵を切り替えます（以後の版は新しい鍵で署名。古い鍵で署名した版は古い鍵で検証できます）
    RotateKey {
        /// 新しい鍵ID
        #[arg(long, value_name = "鍵ID")]
        kid: String,
    },
    /// 確認サービスの信頼登録簿に書く `[[issuer]]` の記載例を表示します（トークンは token_env で渡す形）
    Registry {
        /// 確認サービスから見たこの保証事業会社のURL（省略時は http://{待ち受けアドレス}）
        #[arg(long = "base-url", value_name = "URL")]
        base_url: Option<String>,
    },
    /// デモデータ（約20件の証書、受注者アカウント、照会クライアント demo）を作成します
    ///
    /// DIR に token.txt、issuers.toml、notices/{番号}.pdf、records/{番号}.jws、demo-keys.csv を書きます。
    /// デモデータが既にあるデータベースでは何も変更せずに終了します。
    DemoSeed {
        /// 出力先ディレクトリ
        #[arg(long, value_name = "ディレクトリ", default_value = "data/demo")]
        out: PathBuf,
        /// issuers.toml に書く base_url（省略時は http://{待ち受けアドレス}）
        #[arg(long = "base-url", value_name = "URL")]
        base_url: Option<String>,
    },
    /// 照会API（/v1/certificates/lookup、/v1/jwks、/healthz）と受注者画面を起動します
    Serve,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// 照会クライアントを登録し、トークンを一度だけ表示します（保存するのはハッシュのみ）
    Add {
        /// クライアント名（例: oita-kakunin）
        #[arg(long, value_name = "名前")]
        name: String,
    },
    /// 照会クライアントの一覧を表示します
    List,
    /// 照会クライアントのトークンを失効させます
    Revoke {
        /// クライアント名
        #[arg(long, value_name = "名前")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ContractorCommand {
    /// 受注者のアカウントを作成します（パスワードは標準入力から1行で読みます）
    Add {
        /// ログインID（英字・数字・「.」「-」「_」で3～32文字。全角や大文字は小文字の半角で登録し、ログイン時も同じように読みます）
        #[arg(long, value_name = "ログインID")]
        login: String,
        /// 受注者名（例: 株式会社豊後建設）
        #[arg(long, value_name = "名称")]
        name: String,
    },
}

/// The clap command with Japanese headings and help/version flags, on every subcommand.
pub fn command() -> clap::Command {
    kakunin_platform::cli::localize(Cli::command())
}

/// Parses the command line, runs the command, and maps its error to exit status 1.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent_and_helps_in_japanese() {
        command().debug_assert();
        let help = command().render_help().to_string();
        assert!(
            help.contains("使い方") && help.contains("コマンド") && help.contains("オプション"),
            "{help}"
        );
        assert!(help.contains("demo-seed") && help.contains("rotate-key"));
    }
}
