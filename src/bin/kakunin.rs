//! `kakunin`: the verification service and its administration commands.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use kakunin::cli;
use kakunin::config::Settings;
use kakunin_protocol::registry::Registry;

#[derive(Parser)]
#[command(
    name = "kakunin",
    version,
    about = "電子保証の電子証書を確認するサービスと管理コマンド",
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
    /// 利用者（ログインする人）の管理（パスワードは標準入力から1行で渡す）
    #[command(subcommand)]
    User(UserCommand),
    /// API クライアント（Bearer トークン）の管理
    #[command(subcommand)]
    Token(TokenCommand),
    /// 監査ログの検査と書き出し
    #[command(subcommand)]
    Audit(AuditCommand),
    /// サービスの署名鍵: 監査ログのチェックポイントの鍵と確認記録の鍵
    #[command(subcommand)]
    Key(KeyCommand),
    /// 保存した電子証書（JWS）をオフラインで確認する
    #[command(subcommand)]
    Record(RecordCommand),
    /// 信頼登録簿の保証事業会社への接続と鍵を確かめる
    #[command(subcommand)]
    Issuer(IssuerCommand),
    /// 照会の証拠（確認記録・証拠一式）を確認し直す
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// 受理した保証のうち確認が必要なものを一覧する。終了コード: 0 なし、1 あり、2 エラー
    #[command(
        long_about = "発注機関が受理した保証（その発注機関の最後の「確認済み」の照会）のうち、もう一度確認が必要なものを1件1行で表示します。\n\
        確認が必要なのは次のとき:\n\
        ・受理した後の照会で新しい版が返され、その版が確認済みになっていない\n\
        ・受理した後の照会で解約・失効と記録された\n\
        ・保証期間が本日から --days 日以内（本日を含む）に終わる（終わった保証は表示しません）\n\
        各行: 保証契約番号、案件（案件番号と案件名）、理由、受理した照会の照会番号。\n\
        終了コード: 0 確認が必要な保証なし、1 あり、2 エラー（登録されていない発注機関コードなど）"
    )]
    Watch {
        /// 発注機関コード（例: 440001）
        #[arg(long, value_name = "発注機関コード", value_parser = typed)]
        office: String,
        /// 保証期間の終わりを何日先まで表示するか（0～3650、既定 30）
        #[arg(long, value_name = "日数", default_value_t = cli::watch::DEFAULT_DAYS,
              value_parser = clap::value_parser!(u32).range(0..=cli::watch::MAX_DAYS as i64))]
        days: u32,
    },
    /// データベースの移行（SQLite から PostgreSQL へ など）
    #[command(subcommand)]
    Db(DbCommand),
    /// CSV の保証契約番号と認証キーを API でまとめて照会し、結果を CSV に書く。
    /// 終了コード: 0 すべて確認済み、1 確認済みでない行あり、2 エラー
    #[command(
        long_about = "CSV の保証契約番号と認証キーを API でまとめて照会し、結果を同じ順の CSV に書きます。\n\
        入力: Excel の「CSV UTF-8」（BOM 付き）、BOM なしの UTF-8、または Excel の「CSV（コンマ区切り）」（CP932）。\
        列 certificate_number（保証契約番号）と auth_key（認証キー）は必須、ref（整理番号）、contract_amount_yen（請負代金額）、\
        contractor_name（受注者名）、title（工事名・業務名）、case_number（案件番号）、case_title（案件名）は任意。\
        見出しは英語名でも括弧内の日本語でも書けます。全角も使えます。ほかの列は無視します。\n\
        出力: UTF-8（BOM 付き）・CRLF の CSV。Excel でそのまま開けます。案件番号・案件名と、\
        同じ保証契約番号を確認した自機関の別の案件番号（duplicate_cases）、他の発注機関の確認の有無（duplicate_other_offices）も書きます。\n\
        トークンは --token-env で名前を指定した環境変数から読みます（コマンドラインには書きません）。\n\
        終了コード: 0 すべて確認済み、1 確認済みでない行あり、2 エラー"
    )]
    Batch {
        /// サービスの URL（例: https://kakunin.example.lg.jp）。http:// はこの機械（ループバック）にだけ使えます
        #[arg(long, value_name = "URL")]
        url: String,
        /// API トークンを入れた環境変数の名前（例: KAKUNIN_API_TOKEN）
        #[arg(long, value_name = "環境変数名")]
        token_env: String,
        /// 入力 CSV
        #[arg(long, value_name = "ファイル")]
        input: PathBuf,
        /// 結果を書く CSV（上書きします）
        #[arg(long, value_name = "ファイル")]
        output: PathBuf,
        /// サービスのサーバー証明書を発行した私設 CA の証明書（PEM）。OS が信頼する CA に加えて信頼する
        #[arg(long, value_name = "ファイル")]
        ca_file: Option<PathBuf>,
    },
    /// アップロードされたお知らせを1件読み取る（serve が内部で使う。標準入力から）
    #[command(name = "read-notice", hide = true)]
    ReadNotice {
        /// 使ってよいメモリ（バイト）
        memory: u64,
    },
}

#[derive(Subcommand)]
enum DbCommand {
    /// 設置全体（利用者・照会・監査ログとチェックポイント）を空のデータベースへコピーする。
    /// コピー先が空でなければ何もせずに終了する
    Copy {
        /// コピー元（ファイルのパス、sqlite://… または postgres://…）
        #[arg(long, value_name = "URL")]
        from: String,
        /// コピー先（空のデータベース。postgres://… または ファイルのパス）
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// 利用者を作成する。パスワードは標準入力から読む
    Add {
        /// ログイン名（例: tanaka）
        #[arg(long, value_name = "ログイン名", value_parser = typed_login)]
        login: String,
        /// 氏名（画面と印刷の確認者欄に出ます）
        #[arg(long, value_name = "氏名")]
        name: String,
        /// officer（契約担当者）| supervisor（監督者）| admin（管理者）
        #[arg(long, value_name = "役割")]
        role: String,
        /// 発注機関コード（登録済みのもの）
        #[arg(long, value_name = "発注機関コード", value_parser = typed)]
        office: String,
        /// 発注機関がまだ登録されていなければ、この名称で登録する（例: 大分土木事務所）
        #[arg(long = "office-name", value_name = "名称")]
        office_name: Option<String>,
    },
    /// パスワードを変更する（標準入力から読む）。既存のセッションは終了する
    Passwd {
        /// ログイン名
        #[arg(long, value_name = "ログイン名", value_parser = typed_login)]
        login: String,
    },
    /// 利用者を無効にする（最後の管理者は無効にできない）
    Disable {
        /// ログイン名
        #[arg(long, value_name = "ログイン名", value_parser = typed_login)]
        login: String,
    },
    /// 無効にした利用者を有効に戻す（パスワードは無効にする前のまま）
    Enable {
        /// ログイン名
        #[arg(long, value_name = "ログイン名", value_parser = typed_login)]
        login: String,
    },
    /// 利用者の一覧
    List,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// API クライアントを作成し、トークンを一度だけ標準出力に表示する
    Create {
        /// クライアント名（例: keiyaku-system）
        #[arg(long, value_name = "名称", value_parser = typed)]
        name: String,
        /// 発注機関コード（登録済みのもの）
        #[arg(long, value_name = "発注機関コード", value_parser = typed)]
        office: String,
        /// 発注機関がまだ登録されていなければ、この名称で登録する（例: 大分土木事務所）
        #[arg(long = "office-name", value_name = "名称")]
        office_name: Option<String>,
        /// verify（照会）| audit（監査ログの参照）
        #[arg(long, default_value = "verify", value_name = "範囲")]
        scope: String,
    },
    /// トークンを失効させる（直ちに有効）
    Revoke {
        /// クライアント名
        #[arg(long, value_name = "名称")]
        name: String,
    },
    /// API クライアントの一覧（トークンは表示しない）
    List,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// ハッシュチェーンと署名付きチェックポイントを検査する。終了コード: 0 正常、1 改ざんあり（またはこの版が読めない行あり）
    Verify {
        /// チェックポイントの検証に使う公開鍵（PEM）。省略時はこのサービスの鍵
        #[arg(long, value_name = "ファイル")]
        public_key: Option<PathBuf>,
    },
    /// 期間の監査ログを書き出す（既定は標準出力。端末なら標準エラーに進捗を表示）
    Export {
        /// 開始日（日本時間、例: 2025-04-01）
        #[arg(long, value_name = "日付")]
        from: String,
        /// 終了日（日本時間、この日を含む）
        #[arg(long, value_name = "日付")]
        to: String,
        /// csv（UTF-8 BOM 付き、Excel 向け）| jsonl（1行1件の JSON）
        #[arg(long, default_value = "csv", value_name = "形式")]
        format: String,
        /// 書き出し先のファイル（mode 600 で作成）
        #[arg(long, value_name = "ファイル")]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// 監査ログの署名鍵（設定 audit.signing_key_file、mode 600）とその隣の receipt-keys/ に確認記録の署名鍵を作成する
    Init,
    /// 確認記録の署名鍵を新しくする。古い鍵は失効日時を付けて公開鍵一覧に残り、それまでの確認記録は検証できる
    Rotate,
    /// 秘密鍵（KAKUNIN_SECRET_KEY）を意図して変えたあと、新しい値をこの設置の秘密鍵にする（serve は違う秘密鍵では起動しません）
    AdoptSecret,
}

#[derive(Subcommand)]
enum RecordCommand {
    /// 署名と確認事項を検査する。終了コード: 0 適合、1 不適合、2 不正な記録
    Verify {
        /// JWS（flattened JSON）のファイル
        #[arg(value_name = "ファイル")]
        file: PathBuf,
        /// 照会先とみなす保証事業会社の id（例: wjcs）
        #[arg(long, value_name = "ID")]
        issuer: String,
        /// 照会した保証契約番号。省略時は記録に書かれた番号を使う
        #[arg(long, value_name = "保証契約番号")]
        number: Option<String>,
        /// 信頼登録簿（省略時は設定の issuers.file / KAKUNIN_ISSUERS_FILE）
        #[arg(long, value_name = "ファイル")]
        registry: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum IssuerCommand {
    /// 保証事業会社の公開鍵一覧（GET {base_url}/v1/jwks）を1回だけ取得し、TLS・到達・鍵の一致を報告する。
    /// 終了コード: 0 問題なし、1 鍵の不一致、2 到達できない
    #[command(
        long_about = "信頼登録簿の保証事業会社に1回だけ GET {base_url}/v1/jwks を送り（認証キーもトークンも送りません）、\
        次を日本語で報告します。\n\
        ・TLS: サーバー証明書を検証できたか、信頼の起点（OS の信頼ストアか、その保証事業会社の ca_file か）、証明書の発行元と有効期限\n\
        ・到達: 応答があったか\n\
        ・鍵: 信頼登録簿の [[issuer.key]] と保証事業会社が公開している鍵が kid と x で一致するか\n\
        公開されている鍵は比べるだけで、照会の確認には使いません（issuer-protocol.md §6）。\n\
        終了コード: 0 問題なし、1 鍵の不一致、2 到達できない（証明書の検証に失敗した場合を含む）"
    )]
    Check {
        /// 信頼登録簿の保証事業会社 id（例: wjcs）
        #[arg(value_name = "保証事業会社ID")]
        id: String,
        /// 信頼登録簿（省略時は設定の issuers.file / KAKUNIN_ISSUERS_FILE）
        #[arg(long, value_name = "ファイル")]
        registry: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum EvidenceCommand {
    /// 保存した照会（ID）または証拠一式のファイルを確認し直す。終了コード: 0 有効、1 現在のルールでは結果が異なる、2 無効
    Verify {
        /// 照会番号（ULID。全角・小文字や、印刷物のQRコードの内容でもよい）、または証拠一式（JSON）のファイル
        #[arg(value_name = "IDまたはファイル")]
        target: String,
        /// 信頼登録簿（省略時: ID なら設定の issuers.file、ファイルなら証拠一式に含まれる登録内容）
        #[arg(long, value_name = "ファイル")]
        registry: Option<PathBuf>,
    },
}

/// Codes and logins typed on the command line are read as the pages read them
/// (full-width `４４０００１` is `440001`): one office, one account, whichever was typed.
fn typed(s: &str) -> Result<String, std::convert::Infallible> {
    Ok(kakunin::domain::bounds::typed_code(s))
}

/// A login as the sign-in reads it: full width and capitals folded (`TANAKA` is `tanaka`).
fn typed_login(s: &str) -> Result<String, std::convert::Infallible> {
    Ok(kakunin::domain::bounds::typed_login(s))
}

fn main() -> ExitCode {
    let matches = kakunin_platform::cli::matches(Cli::command());
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => kakunin_platform::cli::exit("kakunin", &e),
    };
    // The reader of one uploaded notice, started by `serve` itself
    // (`notice_file::read_confined`): no settings, no log, only its input.
    if let Command::ReadNotice { memory } = cli.command {
        return ExitCode::from(kakunin::adapters::notice_file::child_main(memory));
    }
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            kakunin_platform::cli::print_error(&e.to_string());
            return ExitCode::from(2);
        }
    };
    // The PDF readers of uploaded key notices log (through `log`) characters they met
    // in a file, which may be the key's: they are silenced whatever the filter says.
    let filter = ["pdf_extract=off", "lopdf=off"].into_iter().fold(
        // Settings::load refused a filter that does not parse.
        EnvFilter::try_new(&settings.log.filter).unwrap_or_else(|_| EnvFilter::new("info")),
        |f, d| f.add_directive(d.parse().expect("a valid directive")),
    );
    kakunin_platform::log::init(filter);
    match run(cli.command, settings) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // The whole chain, each cause once (anyhow's `{:#}` repeats a source that
            // its error already writes into its own message).
            kakunin_platform::cli::print_error(&kakunin_platform::log::chain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

fn run(command: Command, settings: Settings) -> anyhow::Result<u8> {
    // A command that prints ends quietly when its reader goes away (`… | head`), as a
    // Unix tool does. Not `serve` (a client hanging up must not kill it), nor the
    // commands that talk to the network while they run (`batch`; `issuer check` does
    // it itself once its request is done).
    if !matches!(
        command,
        Command::Serve { .. } | Command::Batch { .. } | Command::Issuer(_)
    ) {
        kakunin_platform::cli::end_quietly_on_closed_pipe();
    }
    // Any command may append to the audit log; with the key at hand it signs the
    // checkpoints that fall due. `serve` and `key init` handle a missing key themselves.
    if !matches!(
        command,
        Command::Serve { .. } | Command::Key(_) | Command::Issuer(_)
    ) {
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
        Command::Key(KeyCommand::Rotate) => cli::key::rotate(&settings),
        Command::Key(KeyCommand::AdoptSecret) => cli::serve::adopt_secret(&settings),
        Command::Migrate => {
            // Migrate is the first step of a deployment: a registry that would stop
            // `serve` (an http:// issuer, an unreadable ca_file, …) stops the rollout
            // here, before the database is changed for a release that cannot start.
            Registry::load(&settings.issuers.file)?;
            cli::serve::open_db(&settings)?;
            println!(
                "マイグレーションを適用しました（{}）",
                kakunin::adapters::db::Location::parse(&settings.database.url).redacted()
            );
            Ok(0)
        }
        Command::User(cmd) => {
            let pool = cli::serve::open_existing_db(&settings)?;
            match cmd {
                UserCommand::Add {
                    login,
                    name,
                    role,
                    office,
                    office_name,
                } => cli::accounts::user_add(
                    &pool,
                    &login,
                    &name,
                    &role,
                    &office,
                    office_name.as_deref(),
                ),
                UserCommand::Passwd { login } => cli::accounts::user_passwd(&pool, &login),
                UserCommand::Disable { login } => cli::accounts::user_disable(&pool, &login),
                UserCommand::Enable { login } => cli::accounts::user_enable(&pool, &login),
                UserCommand::List => cli::accounts::user_list(&pool),
            }
            .map(|_| 0)
        }
        Command::Token(cmd) => {
            let pool = cli::serve::open_existing_db(&settings)?;
            match cmd {
                TokenCommand::Create {
                    name,
                    office,
                    office_name,
                    scope,
                } => cli::accounts::token_create(
                    &pool,
                    &name,
                    &office,
                    office_name.as_deref(),
                    &scope,
                ),
                TokenCommand::Revoke { name } => cli::accounts::token_revoke(&pool, &name),
                TokenCommand::List => cli::accounts::token_list(&pool),
            }
            .map(|_| 0)
        }
        Command::Db(DbCommand::Copy { from, to }) => cli::db::copy(
            &from,
            &to,
            std::time::Duration::from_millis(settings.database.pool_timeout_ms),
        ),
        Command::Audit(AuditCommand::Verify { public_key }) => cli::audit::verify(
            &cli::serve::open_existing_db(&settings)?,
            &settings,
            public_key.as_deref(),
        ),
        Command::Audit(AuditCommand::Export {
            from,
            to,
            format,
            output,
        }) => cli::audit::export(
            &cli::serve::open_existing_db(&settings)?,
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
            ca_file,
        } => cli::batch::run(&cli::batch::Options {
            url,
            token_env,
            input,
            output,
            ca_file,
        }),
        Command::ReadNotice { .. } => {
            unreachable!("read-notice returns before the settings are read")
        }
        Command::Watch { office, days } => {
            cli::watch::run(&cli::serve::open_existing_db(&settings)?, &office, days)
        }
        Command::Evidence(EvidenceCommand::Verify { target, registry }) => {
            cli::evidence::verify(&settings, &target, registry.as_deref())
        }
        Command::Record(RecordCommand::Verify {
            file,
            issuer,
            number,
            registry,
        }) => {
            let path = registry.unwrap_or_else(|| settings.issuers.file.clone());
            // Offline: the keys only, no ca_file needed on the checking machine.
            let registry = Registry::load_offline(&path)?;
            let profile = cli::serve::load_profile(&settings)?;
            Ok(cli::record::run(&file, &issuer, number.as_deref(), &registry, &profile) as u8)
        }
        Command::Issuer(IssuerCommand::Check { id, registry }) => {
            let path = registry.unwrap_or_else(|| settings.issuers.file.clone());
            let registry = Registry::load(&path)?;
            cli::issuer::check(
                &registry,
                &id,
                Duration::from_millis(settings.issuers.connect_timeout_ms),
                Duration::from_millis(settings.issuers.timeout_ms),
            )
        }
    }
}
