//! `kakunin serve --demo`: the demo's accounts, and the rule that keeps their published
//! passwords out of every database but the demo's own.
//!
//! The demo seeds three accounts whose passwords are printed by `make run` and the
//! README. So `--demo` starts only on an empty database, which it marks as the demo's
//! (`app::installation`), or on one it marked before; and `serve` without `--demo`
//! refuses a database so marked. A real installation can therefore never gain the demo
//! accounts, and the demo's database can never be served as a real one.

use anyhow::{bail, Context};

use crate::adapters::db::{self, Conn, DbPool};
use crate::app::accounts::users;
use crate::app::audit::Actor;
use crate::app::installation::{self, Installation};
use crate::domain::access::Role;

/// The demo accounts: throwaway passwords, printed by `make run`.
pub const DEMO_USERS: [(&str, &str, Role, &str); 3] = [
    ("officer", "大分 一郎", Role::Officer, "officer-demo-pass"),
    (
        "supervisor",
        "臼杵 花子",
        Role::Supervisor,
        "supervisor-demo-pass",
    ),
    ("admin", "別府 管理", Role::Admin, "admin-demo-pass"),
];
/// The demo's office (発注機関).
pub const DEMO_OFFICE: (&str, &str) = ("440001", "大分土木事務所");

/// Checks the database against the mode `serve` was started in, and seeds the demo's
/// accounts in demo mode. `Err` says in Japanese why the database does not fit.
pub fn prepare(pool: &DbPool, url: &str, demo: bool) -> anyhow::Result<()> {
    let mut c = pool.get().context("データベースに接続できません")?;
    let kind = installation::inspect(&mut c)?;
    match (demo, kind) {
        (false, Installation::Demo) => bail!(
            "データベース {url} はデモ用です（README に載っている既定のパスワードのアカウントがあります）。\
             デモ以外には使えません。本番用には別のデータベースを指定してください。デモは `make run` または `kakunin serve --demo` で起動します"
        ),
        (false, _) => Ok(()),
        (true, Installation::Ordinary) => bail!(
            "--demo はデモ専用の空のデータベースでしか起動しません。データベース {url} には既にアカウントまたはデータがあるため、\
             既定のパスワードのアカウントを作りません。デモには別のデータベースを指定してください（`make run` は data/demo/ を使います）"
        ),
        (true, kind) => {
            // Marked first, so that an interrupted seeding leaves a demo database, which
            // the next `--demo` completes, never a real one with some demo accounts.
            if kind == Installation::Empty {
                let _turn = db::writer_turn();
                installation::mark_demo(&mut c)?;
            }
            seed(&mut c)?;
            announce(url);
            Ok(())
        }
    }
}

fn seed(c: &mut Conn) -> anyhow::Result<()> {
    users::ensure_office(c, DEMO_OFFICE.0, DEMO_OFFICE.1)?;
    for (login, name, role, password) in DEMO_USERS {
        if users::find(c, login)?.is_none() {
            let new = users::NewUser {
                login,
                name,
                role,
                office_code: DEMO_OFFICE.0,
                password: &users::NewPassword::new(password)?,
                must_change_password: false,
                new_office: None,
            };
            users::add(c, &Actor::cli(), &new)?;
        }
    }
    Ok(())
}

/// Says loudly, on standard error and in the log, that this is a demo.
fn announce(url: &str) {
    eprintln!(
        "\n\
         ************************************************************\n\
         *  デモモードで起動しています。                            *\n\
         *  既定のパスワードのアカウントと固定の秘密鍵を使います。  *\n\
         *  本番には使わないでください。                            *\n\
         ************************************************************\n\
         データベース: {url}\n"
    );
    tracing::warn!(database = %url, "デモモード: 既定のパスワードのアカウントがあります。本番に使わないでください");
}
