//! `kakunin user …` and `kakunin token …`: the same code the admin pages use.

use std::io::BufRead;

use anyhow::{bail, Context};

use crate::adapters::db::DbPool;
use crate::app::accounts::tokens::{self, Scope};
use crate::app::accounts::{users, Role};
use crate::app::audit::Actor;

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
) -> anyhow::Result<()> {
    let role = Role::parse(role).context("--role は officer、supervisor、admin のいずれかです")?;
    let password = read_password()?;
    let mut c = pool.get()?;
    let user = users::add(
        &mut c,
        &Actor::cli(),
        &users::NewUser {
            login,
            name,
            role,
            office_code: office,
            password: &password,
            must_change_password: false,
        },
    )?;
    println!(
        "利用者 {}（{}、{}、発注機関 {}）を作成しました",
        user.login,
        user.name,
        role.label(),
        user.office_code
    );
    Ok(())
}

pub fn user_passwd(pool: &DbPool, login: &str) -> anyhow::Result<()> {
    let password = read_password()?;
    users::set_password(&mut *pool.get()?, &Actor::cli(), login, &password)?;
    println!("{login} のパスワードを変更しました（既存のセッションは終了しました）");
    Ok(())
}

pub fn user_disable(pool: &DbPool, login: &str) -> anyhow::Result<()> {
    users::disable(&mut *pool.get()?, &Actor::cli(), login)?;
    println!("{login} を無効にしました");
    Ok(())
}

pub fn user_list(pool: &DbPool) -> anyhow::Result<()> {
    println!("login\tname\trole\toffice\tstatus");
    for u in users::list(&mut *pool.get()?)? {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            u.login,
            u.name,
            u.role,
            u.office_code,
            if u.disabled { "無効" } else { "有効" }
        );
    }
    Ok(())
}

pub fn token_create(pool: &DbPool, name: &str, office: &str, scope: &str) -> anyhow::Result<()> {
    let scope = Scope::parse(scope).context("--scope は verify または audit です")?;
    let token = tokens::create(&mut *pool.get()?, &Actor::cli(), name, office, scope)?;
    eprintln!("API クライアント {name} を作成しました。トークンは今回だけ表示されます。安全に保管してください。");
    println!("{token}");
    Ok(())
}

pub fn token_revoke(pool: &DbPool, name: &str) -> anyhow::Result<()> {
    tokens::revoke(&mut *pool.get()?, &Actor::cli(), name)?;
    println!("API クライアント {name} のトークンを失効させました");
    Ok(())
}

pub fn token_list(pool: &DbPool) -> anyhow::Result<()> {
    println!("name\toffice\tscope\tstatus\tlast_used_at");
    for t in tokens::list(&mut *pool.get()?)? {
        let status = if t.revoked_at.is_some() {
            "失効"
        } else {
            "有効"
        };
        let last = t
            .last_used_at
            .map(|d| d.to_string())
            .unwrap_or_else(|| "-".into());
        println!(
            "{}\t{}\t{}\t{}\t{}",
            t.name, t.office_code, t.scope, status, last
        );
    }
    Ok(())
}
