//! `kakunin`: the verification service and its administration commands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use kakunin::cli;
use kakunin::config::Settings;
use kakunin::domain::rules::Profile;
use kakunin_protocol::registry::Registry;

#[derive(Parser)]
#[command(
    name = "kakunin",
    version,
    about = "電子保証の電子証書を確認するサービスと管理コマンド (verification service for electronic surety certificates)",
    long_about = "電子保証の電子証書を確認するサービスと管理コマンド。\n\
        設定は config/default.toml、KAKUNIN_CONFIG のファイル、KAKUNIN_* 環境変数の順に読みます。"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// サービスを起動する（未適用のマイグレーションを先に適用）
    Serve {
        /// デモ用: 固定の秘密鍵とデモ利用者（officer / supervisor / admin）で起動する
        #[arg(long)]
        demo: bool,
    },
    /// データベースのマイグレーションを適用して終了する
    Migrate,
    /// 職員アカウントの管理（パスワードは標準入力から1行で渡す）
    #[command(subcommand)]
    User(UserCommand),
    /// API クライアント（Bearer トークン）の管理
    #[command(subcommand)]
    Token(TokenCommand),
    /// 監査ログの検査と書き出し
    #[command(subcommand)]
    Audit(AuditCommand),
    /// 監査ログのチェックポイントに署名するサービスの鍵
    #[command(subcommand)]
    Key(KeyCommand),
    /// 保存した電子証書（JWS）をオフラインで確認する
    #[command(subcommand)]
    Record(RecordCommand),
    /// CSV の保証契約番号と認証キーを API でまとめて照会し、結果を CSV に書く。
    /// 終了コード: 0 すべて確認済み、1 確認済みでない行あり、2 エラー
    #[command(
        long_about = "CSV の保証契約番号と認証キーを API でまとめて照会し、結果を同じ順の CSV に書きます。\n\
        入力: UTF-8 の CSV（BOM 可）。列 certificate_number と auth_key（必須）、ref、contract_amount_yen、\
        contractor_name、title（任意）。全角も使えます。ほかの列は無視します。\n\
        出力: UTF-8（BOM 付き）・CRLF の CSV。Excel でそのまま開けます。\n\
        トークンは --token-env で名前を指定した環境変数から読みます（コマンドラインには書きません）。\n\
        終了コード: 0 すべて確認済み、1 確認済みでない行あり、2 エラー"
    )]
    Batch {
        /// サービスの URL（例: https://kakunin.example.lg.jp）
        #[arg(long)]
        url: String,
        /// API トークンを入れた環境変数の名前（例: KAKUNIN_API_TOKEN）
        #[arg(long)]
        token_env: String,
        /// 入力 CSV
        #[arg(long)]
        input: PathBuf,
        /// 結果を書く CSV（上書きします）
        #[arg(long)]
        output: PathBuf,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// 職員を作成する。パスワードは標準入力から読む
    Add {
        #[arg(long)]
        login: String,
        #[arg(long)]
        name: String,
        /// officer（契約担当者）| supervisor（監督者）| admin（管理者）
        #[arg(long)]
        role: String,
        /// 発注機関コード
        #[arg(long)]
        office: String,
    },
    /// パスワードを変更する（標準入力から読む）。既存のセッションは終了する
    Passwd {
        #[arg(long)]
        login: String,
    },
    /// 職員を無効にする（最後の管理者は無効にできない）
    Disable {
        #[arg(long)]
        login: String,
    },
    /// 職員の一覧
    List,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// API クライアントを作成し、トークンを一度だけ標準出力に表示する
    Create {
        #[arg(long)]
        name: String,
        /// 発注機関コード
        #[arg(long)]
        office: String,
        /// verify（照会）| audit（監査ログの参照）
        #[arg(long, default_value = "verify")]
        scope: String,
    },
    /// トークンを失効させる（直ちに有効）
    Revoke {
        #[arg(long)]
        name: String,
    },
    /// API クライアントの一覧（トークンは表示しない）
    List,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// ハッシュチェーンと署名付きチェックポイントを検査する。終了コード: 0 正常、1 改ざんあり
    Verify {
        /// チェックポイントの検証に使う公開鍵（PEM）。省略時はこのサービスの鍵
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
    /// 期間の監査ログを書き出す（既定は標準出力。端末なら標準エラーに進捗を表示）
    Export {
        /// 開始日（日本時間、例: 2025-04-01）
        #[arg(long)]
        from: String,
        /// 終了日（日本時間、この日を含む）
        #[arg(long)]
        to: String,
        /// csv（UTF-8 BOM 付き、Excel 向け）| jsonl（1行1件の JSON）
        #[arg(long, default_value = "csv")]
        format: String,
        /// 書き出し先のファイル（mode 600 で作成）
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// 署名鍵を作成する（設定 audit.signing_key_file、mode 600）。既にあれば何もしない
    Init,
}

#[derive(Subcommand)]
enum RecordCommand {
    /// 署名と確認事項を検査する。終了コード: 0 適合、1 不適合、2 不正な記録
    Verify {
        /// JWS（flattened JSON）のファイル
        file: PathBuf,
        /// 照会先とみなす発行者の id（例: wjcs）
        #[arg(long)]
        issuer: String,
        /// 照会した保証契約番号。省略時は記録に書かれた番号を使う
        #[arg(long)]
        number: Option<String>,
        /// 信頼登録簿（省略時は設定の issuers.file / KAKUNIN_ISSUERS_FILE）
        #[arg(long)]
        registry: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_new(&settings.log.filter).unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli.command, settings) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("エラー: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command, settings: Settings) -> anyhow::Result<u8> {
    // Any command may append to the audit log; with the key at hand it signs the
    // checkpoints that fall due. `serve` and `key init` handle a missing key themselves.
    if !matches!(command, Command::Serve { .. } | Command::Key(_)) {
        cli::key::install_if_present(&settings)?;
    }
    match command {
        Command::Serve { demo } => {
            cli::key::prepare_serve(&settings, demo)?;
            cli::serve::run(settings, demo).map(|_| 0)
        }
        Command::Key(KeyCommand::Init) => {
            cli::key::init(&settings, &cli::serve::open_db(&settings)?)
        }
        Command::Migrate => {
            cli::serve::open_db(&settings)?;
            println!(
                "マイグレーションを適用しました（{}）",
                settings.database.url
            );
            Ok(0)
        }
        Command::User(cmd) => {
            let pool = cli::serve::open_db(&settings)?;
            match cmd {
                UserCommand::Add {
                    login,
                    name,
                    role,
                    office,
                } => cli::accounts::user_add(&pool, &login, &name, &role, &office),
                UserCommand::Passwd { login } => cli::accounts::user_passwd(&pool, &login),
                UserCommand::Disable { login } => cli::accounts::user_disable(&pool, &login),
                UserCommand::List => cli::accounts::user_list(&pool),
            }
            .map(|_| 0)
        }
        Command::Token(cmd) => {
            let pool = cli::serve::open_db(&settings)?;
            match cmd {
                TokenCommand::Create {
                    name,
                    office,
                    scope,
                } => cli::accounts::token_create(&pool, &name, &office, &scope),
                TokenCommand::Revoke { name } => cli::accounts::token_revoke(&pool, &name),
                TokenCommand::List => cli::accounts::token_list(&pool),
            }
            .map(|_| 0)
        }
        Command::Audit(AuditCommand::Verify { public_key }) => cli::audit::verify(
            &cli::serve::open_db(&settings)?,
            &settings,
            public_key.as_deref(),
        ),
        Command::Audit(AuditCommand::Export {
            from,
            to,
            format,
            output,
        }) => cli::audit::export(
            &cli::serve::open_db(&settings)?,
            &from,
            &to,
            &format,
            output.as_deref(),
        ),
        Command::Batch {
            url,
            token_env,
            input,
            output,
        } => cli::batch::run(&cli::batch::Options {
            url,
            token_env,
            input,
            output,
        }),
        Command::Record(RecordCommand::Verify {
            file,
            issuer,
            number,
            registry,
        }) => {
            let path = registry.unwrap_or_else(|| settings.issuers.file.clone());
            let registry = Registry::load(&path)?;
            let profile = Profile::load(&settings.rules.profile_path())?;
            Ok(cli::record::run(&file, &issuer, number.as_deref(), &registry, &profile) as u8)
        }
    }
}
