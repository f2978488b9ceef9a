//! What each command of `kakunin-issuer` does, on top of the issuer's operations.
//! Results for the operator go to standard output, explanations to standard error.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use unicode_normalization::UnicodeNormalization;

use super::app::{App, Secret};
use std::process::ExitCode;

use clap::FromArgMatches;

use super::cli::{command, Cli, ClientCommand, Command, ContractorCommand};
use super::crypto;
use super::error::IssuerError;
use super::input;
use super::issuance::{self, Revise};
use super::keyring::{self, Activation};
use super::notice::NoticeFonts;
use super::seed::{self, SeedReport};
use super::server;
use super::settings::Settings;
use super::store;
use crate::db;
use kakunin_protocol::ids::CertificateNumber;

pub async fn run(cli: Cli) -> Result<(), IssuerError> {
    let s = &cli.settings;
    match cli.command {
        Command::Keygen { kid, not_before } => {
            let app = App::open(s, Secret::NotNeeded)?;
            let not_before = keyring::parse_not_before(not_before.as_deref())?;
            let key = keyring::create(&app, &kid, not_before, Activation::IfNoneActive).await?;
            if key.active {
                eprintln!("署名鍵「{kid}」を作成しました。新しい版はこの鍵で署名します。");
            } else {
                eprintln!("署名鍵「{kid}」を作成しました（有効な鍵が既にあるため、署名には使いません。切り替えは rotate-key）。");
            }
            eprintln!("次の [[issuer.key]] を確認サービスの信頼登録簿に追加してください:");
            print!("{}", key.registry_block());
            Ok(())
        }
        Command::RotateKey { kid } => {
            let app = App::open(s, Secret::NotNeeded)?;
            let not_before = keyring::parse_not_before(None)?;
            let key = keyring::create(&app, &kid, not_before, Activation::Rotate).await?;
            eprintln!("署名鍵を「{kid}」に切り替えました。以後の版はこの鍵で署名します。");
            eprintln!("次の [[issuer.key]] を信頼登録簿に追加してください。古い鍵は削除しないでください（過去の版の検証に必要です）:");
            print!("{}", key.registry_block());
            Ok(())
        }
        Command::Client(c) => client(s, c).await,
        Command::Contractor(ContractorCommand::Add { login, name }) => {
            let app = App::open(s, Secret::NotNeeded)?;
            contractor_add(&app, login, name).await
        }
        Command::Issue {
            file,
            contractor,
            notice_out,
        } => issue(s, &file, contractor, notice_out).await,
        Command::Amend { number, file } => {
            let number = parse_number(&number)?;
            let bytes = read_file(&file)?;
            let amendment = input::parse_amendment(&file.display().to_string(), &bytes)?;
            let app = App::open(s, Secret::NotNeeded)?;
            let cert = issuance::revise(&app, number, Revise::Amend(amendment)).await?;
            println!(
                "保証契約番号 {} を変更しました（第{}版）。",
                cert.certificate_number, cert.revision
            );
            Ok(())
        }
        Command::Cancel { number } => {
            let number = parse_number(&number)?;
            let app = App::open(s, Secret::NotNeeded)?;
            let cert = issuance::revise(&app, number, Revise::Cancel).await?;
            println!(
                "保証契約番号 {} を解約しました（第{}版）。",
                cert.certificate_number, cert.revision
            );
            Ok(())
        }
        Command::Registry { base_url } => {
            let app = App::open(s, Secret::NotNeeded)?;
            let base = base_url.unwrap_or_else(|| s.default_base_url());
            print!("{}", registry_block(&app, &base).await?);
            Ok(())
        }
        Command::DemoSeed { out, base_url } => {
            let app = App::open(s, Secret::Needed)?;
            let base = base_url.unwrap_or_else(|| s.default_base_url());
            demo_seed(&app, &out, &base).await
        }
        Command::Serve => {
            // Certificate and key are read before the database is opened, so a mistake
            // in either stops the start at once, naming the file.
            let tls = match s.tls()? {
                Some((cert, key)) => Some(server::tls_config(cert, key)?),
                None => None,
            };
            let app = App::open(s, Secret::Needed)?;
            server::serve(app, &s.bind, tls).await
        }
    }
}

fn parse_number(text: &str) -> Result<CertificateNumber, IssuerError> {
    CertificateNumber::parse(text).map_err(|e| IssuerError::Input(e.to_string()))
}

fn read_file(path: &Path) -> Result<Vec<u8>, IssuerError> {
    std::fs::read(path)
        .map_err(|e| IssuerError::Input(format!("{} を読み込めません: {e}", path.display())))
}

/// `issue`. The file is checked, the fonts loaded and the output place checked before
/// anything is stored, so that a bad file or a missing font changes nothing. The key is
/// printed before the PDF is written: if writing fails, the key is not lost.
async fn issue(
    s: &Settings,
    file: &Path,
    contractor: Option<String>,
    notice_out: Option<PathBuf>,
) -> Result<(), IssuerError> {
    let bytes = read_file(file)?;
    let input = input::parse_issue(&file.display().to_string(), &bytes)?;
    let out = notice_out.unwrap_or_else(|| PathBuf::from(format!("{}-notice.pdf", input.number)));
    if out.is_dir() {
        return Err(IssuerError::Input(format!(
            "お知らせの出力先 {} はディレクトリです。ファイル名を指定してください。",
            out.display()
        )));
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(IssuerError::Input(format!(
                "お知らせの出力先のディレクトリ {} がありません。",
                parent.display()
            )));
        }
    }
    let fonts = NoticeFonts::load()?;
    let app = App::open(s, Secret::Needed)?;
    let issued = issuance::issue(&app, input, contractor).await?;
    let cert = &issued.certificate;
    println!("保証契約番号: {}", cert.certificate_number);
    println!("認証キー: {}", issued.auth_key.printed());
    eprintln!("認証キーは、照合用のハッシュと暗号化した控え（受注者画面の「認証キー」の表示で、お知らせを印刷し直すためのもの）として保存しました。お知らせ（PDF）を受注者へ渡してください。");
    let pdf = issuance::render_notice(&issued, &fonts, cert.issued_at.date_naive())?;
    seed::write_private(&out, &pdf)?;
    println!("お知らせ: {}", out.display());
    Ok(())
}

async fn client(s: &Settings, c: ClientCommand) -> Result<(), IssuerError> {
    let app = App::open(s, Secret::NotNeeded)?;
    match c {
        ClientCommand::Add { name } => {
            let name = client_name(&name)?;
            let token = crypto::random_token();
            let digest = crypto::sha256(&token);
            let n = name.clone();
            db::run(&app.pool, move |conn| {
                conn.immediate_transaction(|conn| {
                    let clients = store::clients::all(conn)?;
                    if clients.iter().any(|c| stored_client_name(&c.name) == n) {
                        return Err(IssuerError::DuplicateClient(n.clone()));
                    }
                    store::clients::insert(conn, &n, &digest, &store::now_text())?;
                    Ok(())
                })
            })
            .await?;
            eprintln!("照会クライアント「{name}」を登録しました。トークンはこの一度だけ表示されます（保証事業会社にはハッシュのみ保存）:");
            println!("{token}");
            Ok(())
        }
        ClientCommand::List => {
            let rows = db::run(&app.pool, |conn| {
                store::clients::all(conn).map_err(IssuerError::from)
            })
            .await?;
            for c in rows {
                let state = if c.revoked { "失効" } else { "有効" };
                let name = kakunin_platform::text::escape_invisible(&c.name);
                println!("{name}\t{}\t{state}", c.created_at);
            }
            Ok(())
        }
        ClientCommand::Revoke { name } => {
            let name = client_name(&name)?;
            let n = name.clone();
            // Every client that reads as the name: one stored before names were read
            // this way may carry a BOM or a zero-width space, and a token that should
            // stop working must not stay valid because of how its name was pasted.
            let revoked = db::run(&app.pool, move |conn| {
                conn.immediate_transaction(|conn| {
                    let mut revoked = Vec::new();
                    for c in store::clients::all(conn)? {
                        if stored_client_name(&c.name) == n {
                            store::clients::revoke(conn, c.id)?;
                            revoked.push(c.name);
                        }
                    }
                    Ok::<_, IssuerError>(revoked)
                })
            })
            .await?;
            if revoked.is_empty() {
                return Err(IssuerError::UnknownClient(name));
            }
            for stored in revoked {
                eprintln!(
                    "照会クライアント「{}」のトークンを失効させました。",
                    kakunin_platform::text::escape_invisible(&stored)
                );
            }
            Ok(())
        }
    }
}

/// A client's name as typed: [`typed_name`], then NFKC as the service reads its API
/// client names (`ｏｉｔａ` is `oita`).
fn client_name(typed: &str) -> Result<String, IssuerError> {
    Ok(typed_name("クライアント名", "oita-kakunin", typed)?
        .nfkc()
        .collect())
}

/// A stored client name as [`client_name`] would read it: what `client add` and
/// `client revoke` compare, so that a name stored as typed before (with a BOM, in full
/// width) is still found. One that holds a control character (`client add` once took
/// an inner tab) cannot be typed; it is found as `client list` shows it, written out
/// (`a<U+0009>b`), so that its token can still be revoked.
fn stored_client_name(stored: &str) -> String {
    match kakunin_platform::text::typed_text(stored) {
        Ok(name) => name.nfkc().collect(),
        Err(_) => kakunin_platform::text::escape_invisible(stored)
            .nfkc()
            .collect(),
    }
}

/// A name given as `--name`, read as the service reads a typed name
/// ([`kakunin_platform::text::typed_text`]: trimmed, format characters and Hangul
/// fillers dropped); blank (marks alone included), or with a line break or another
/// control character, is refused with the field's name and an example.
fn typed_name(field: &str, example: &str, typed: &str) -> Result<String, IssuerError> {
    match kakunin_platform::text::typed_text(typed) {
        Ok(name) if !name.is_empty() => Ok(name),
        Ok(_) => Err(IssuerError::Input(format!(
            "{field}が空です。--name で指定してください（例: --name {example}）。"
        ))),
        Err(_) => Err(IssuerError::Input(format!(
            "{field}に改行・タブなどの制御文字は使えません。1行で指定してください（例: --name {example}）。"
        ))),
    }
}

/// `contractor add`: the password is one line of standard input, never an argument.
async fn contractor_add(app: &App, login: String, name: String) -> Result<(), IssuerError> {
    let name = typed_name("受注者名", "株式会社豊後建設", &name)?;
    let login = kakunin_platform::login::typed(&login);
    if !kakunin_platform::login::valid(&login) {
        return Err(IssuerError::Input(format!(
            "ログインIDは英字・数字・「.」「-」「_」で3～{}文字にしてください（英字は小文字で登録されます。例: bungo）。",
            kakunin_platform::login::MAX
        )));
    }
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .map_err(|e| IssuerError::Input(format!("パスワードを標準入力から読めません: {e}")))?;
    let password = password.trim_end_matches(['\n', '\r']).to_owned();
    // The same rules as the service's staff passwords: one place decides what is weak.
    kakunin_platform::password::check_strength(&password).map_err(|why| {
        IssuerError::Input(format!("{why}（パスワードは標準入力から1行で渡します）。"))
    })?;
    let hash = kakunin_platform::password::hash(&password);
    let l = login.clone();
    db::run(&app.pool, move |conn| {
        conn.immediate_transaction(|conn| {
            if store::contractors::by_login(conn, &l)?.is_some() {
                return Err(IssuerError::DuplicateContractor(l.clone()));
            }
            store::contractors::insert(conn, &l, &name, &hash, &store::now_text())?;
            Ok(())
        })
    })
    .await?;
    eprintln!("受注者「{login}」を登録しました。");
    Ok(())
}

/// The `[[issuer]]` block for a relying party, with every key.
async fn registry_block(app: &App, base_url: &str) -> Result<String, IssuerError> {
    let keys = keyring::all(app).await?;
    let mut text = format!(
        "[[issuer]]\nid = {id}\nname = {name}\nbase_url = {base}\ntoken_env = \"KAKUNIN_TOKEN_{env}\"\nnumber_pattern = {pattern}\n",
        id = seed::toml_string(&app.issuer.id),
        name = seed::toml_string(&app.issuer.name),
        base = seed::toml_string(base_url),
        env = app.issuer.id.to_ascii_uppercase().replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        pattern = seed::toml_string(seed::NUMBER_PATTERN),
    );
    for k in keys {
        text.push('\n');
        text.push_str(&k.registry_block());
    }
    Ok(text)
}

async fn demo_seed(app: &App, out: &Path, base_url: &str) -> Result<(), IssuerError> {
    match seed::run(app, out, base_url).await? {
        SeedReport::AlreadySeeded => {
            println!("デモデータは既にこのデータベースにあります。何も変更しませんでした（作り直すときは空のデータベースで実行してください）。");
        }
        SeedReport::Seeded(sum) => {
            let dir = sum.out.display();
            println!("デモデータを作成しました。");
            println!(
                "  証書: {}件（版: {}件）、署名鍵: {}",
                sum.certificates, sum.revisions, sum.kid
            );
            for o in seed::cases::OWNERS {
                println!(
                    "  受注者アカウント: {} / {}（{}）",
                    o.login, o.password, o.name
                );
            }
            println!(
                "  照会トークン: {dir}/token.txt（クライアント名 {}）",
                seed::DEMO_CLIENT
            );
            println!("  信頼登録簿: {dir}/issuers.toml");
            println!("  お知らせ: {dir}/notices/、記録: {dir}/records/");
            println!("  保証契約番号と認証キーの一覧: {dir}/demo-keys.csv");
            println!("  例:");
            for (number, key) in &sum.examples {
                println!("    {number}  {key}");
            }
        }
    }
    Ok(())
}

/// The program: parses the command line, runs the command, prints an error in Japanese.
pub fn main() -> ExitCode {
    let matches = match command().try_get_matches() {
        Ok(m) => m,
        Err(e) => kakunin_platform::cli::exit("kakunin-issuer", &e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => kakunin_platform::cli::exit("kakunin-issuer", &e),
    };
    if let Err(e) = cli.settings.check(&matches) {
        kakunin_platform::cli::print_error(&e.to_string());
        return ExitCode::FAILURE;
    }
    let serving = matches!(cli.command, Command::Serve);
    // The one-shot commands only touch the database and print: a closed pipe
    // (`… | head`) ends them quietly, as it would a Unix tool. `serve` keeps SIGPIPE
    // ignored, so that a client that hangs up cannot kill it.
    if !serving {
        kakunin_platform::cli::end_quietly_on_closed_pipe();
    }
    init_logging(serving);
    let result = actix_web::rt::System::new().block_on(run(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            kakunin_platform::cli::print_error(&e.to_string());
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error; `KAKUNIN_ISSUER_LOG` (EnvFilter syntax) overrides the
/// default of `info` for `serve` and `warn` for the one-shot commands.
fn init_logging(serving: bool) {
    let default = if serving { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KAKUNIN_ISSUER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    kakunin_platform::log::init(filter);
}
