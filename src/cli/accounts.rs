//! `kakunin user …` and `kakunin token …`: the same code the admin pages use.

use std::io::BufRead;

use anyhow::{bail, Context};

use crate::adapters::db::DbPool;
use crate::app::accounts::{tokens, users};
use crate::app::audit::Actor;
use crate::domain::access::{Role, Scope};
use crate::domain::code::Code;

/// One line from standard input: passwords never travel in argv, where `ps` shows them.
pub fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("標準入力からパスワードを読めません")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("パスワードを標準入力から1行で渡してください（例: `printf '%s\\n' \"$PW\" | kakunin user add …`）");
    }
    Ok(password)
}

pub fn user_add(
    pool: &DbPool,
    login: &str,
    name: &str,
    role: &str,
    office: &str,
    office_name: Option<&str>,
) -> anyhow::Result<()> {
    let role = Role::parse(role).ok().context(
        "--role は officer（契約担当者）、supervisor（監督者）、admin（管理者）のいずれかです",
    )?;
    let password = users::NewPassword::new(&read_password()?)?;
    let new_office = office_name.map(users::NewOffice::new).transpose()?;
    let user = users::add(
        &mut *pool.get()?,
        &Actor::cli(),
        &users::NewUser {
            login,
            name,
            role,
            office_code: office,
            password: &password,
            must_change_password: false,
            new_office: new_office.as_ref(),
        },
    )
    .map_err(|e| match e {
        users::AccountError::UnknownOffice(code) => unknown_office(&code),
        e => e.into(),
    })?;
    println!(
        "利用者 {}（{}、{}、発注機関 {}）を作成しました",
        user.login,
        user.name,
        role.label(),
        user.office_code
    );
    Ok(())
}

/// An unknown office code without `--office-name`: the way to register it from the
/// command line, since on an empty installation there is no administrator yet to open
/// 「管理 → 発注機関」. With `--office-name`, the office is registered in the account's
/// or client's own transaction ([`users::NewOffice`]), audited as the admin page's
/// 発注機関 form is, and a refused account or client leaves no new office behind.
fn unknown_office(code: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "発注機関コード「{code}」は登録されていません。`--office-name 名称` を付けると同時に登録します\
         （例: --office {code} --office-name 大分土木事務所）。管理者がいれば「管理 → 発注機関」でも登録できます"
    )
}

pub fn user_passwd(pool: &DbPool, login: &str) -> anyhow::Result<()> {
    let password = users::NewPassword::new(&read_password()?)?;
    users::set_password(&mut *pool.get()?, &Actor::cli(), login, &password)?;
    println!("{login} のパスワードを変更しました（既存のセッションは終了しました）");
    Ok(())
}

pub fn user_disable(pool: &DbPool, login: &str) -> anyhow::Result<()> {
    users::disable(&mut *pool.get()?, &Actor::cli(), login)?;
    println!("{login} を無効にしました");
    Ok(())
}

pub fn user_enable(pool: &DbPool, login: &str) -> anyhow::Result<()> {
    users::enable(&mut *pool.get()?, &Actor::cli(), login)?;
    println!("{login} を有効にしました");
    Ok(())
}

pub fn user_list(pool: &DbPool) -> anyhow::Result<()> {
    println!("ログイン名\t氏名\t役割\t発注機関\t状態");
    for u in users::list(&mut *pool.get()?)? {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            u.login,
            u.name,
            u.role.label(),
            u.office_code,
            if u.disabled { "無効" } else { "有効" }
        );
    }
    Ok(())
}

pub fn token_create(
    pool: &DbPool,
    name: &str,
    office: &str,
    office_name: Option<&str>,
    scope: &str,
) -> anyhow::Result<()> {
    let scope = Scope::parse(scope)
        .ok()
        .context("--scope は verify（照会）または audit（監査ログの参照）です")?;
    let new_office = office_name.map(users::NewOffice::new).transpose()?;
    let token = tokens::create(
        &mut *pool.get()?,
        &Actor::cli(),
        name,
        office,
        scope,
        new_office.as_ref(),
    )
    .map_err(|e| match e {
        tokens::TokenError::UnknownOffice(code) => unknown_office(&code),
        e => e.into(),
    })?;
    // The name as stored (`Ｋｅｉｒｉ－２` is `Keiri-2`), the one `token revoke` and the
    // audit log use.
    let name = tokens::typed_name(name);
    eprintln!("API クライアント {name} を作成しました。トークンは今回だけ表示されます。安全に保管してください。");
    println!("{token}");
    Ok(())
}

pub fn token_revoke(pool: &DbPool, name: &str) -> anyhow::Result<()> {
    tokens::revoke(&mut *pool.get()?, &Actor::cli(), name)?;
    println!(
        "API クライアント {} のトークンを失効させました",
        tokens::typed_name(name)
    );
    Ok(())
}

pub fn token_list(pool: &DbPool) -> anyhow::Result<()> {
    println!("名称\t発注機関\t範囲\t状態\t最終利用日時");
    for t in tokens::list(&mut *pool.get()?)? {
        let status = if t.revoked_at.is_some() {
            "失効"
        } else {
            "有効"
        };
        let last = t
            .last_used_at
            .map(|d| {
                kakunin_protocol::format::datetime_ja(
                    d.and_utc().with_timezone(&kakunin_protocol::time::jst()),
                )
            })
            .unwrap_or_else(|| "-".into());
        println!(
            "{}\t{}\t{}\t{}\t{}",
            t.name,
            t.office_code,
            t.scope.label(),
            status,
            last
        );
    }
    Ok(())
}
