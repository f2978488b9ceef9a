//! Staff accounts and offices: the one implementation behind the CLI and the admin pages.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::throttle;
use crate::adapters::db::schema::{offices, sessions, users};
use crate::adapters::db::{self, now_utc, Conn, DbError, DbPool};
use crate::app::audit::{self, Action, Actor, AuditOutcome, Event};
use crate::config::Signin;
use crate::domain::access::Role;
use crate::domain::bounds::{self, NAME_MAX, OFFICE_CODE_MAX};
use kakunin_platform::password;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i32,
    pub login: String,
    pub name: String,
    pub role: Role,
    pub office_code: String,
    #[serde(skip)]
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    /// Set when an administrator issued the password on the admin page; cleared when
    /// its holder chooses their own.
    pub must_change_password: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("ログイン名「{0}」は既に使われています")]
    LoginTaken(String),
    #[error("ログイン名「{0}」の利用者はいません")]
    NoSuchUser(String),
    #[error("ログイン名は英字・数字・「.」「-」「_」で3～32文字にしてください（英字は小文字で登録されます）")]
    BadLogin,
    #[error("氏名を1～100文字で入力してください（改行やタブなどの制御文字は使えません）")]
    EmptyName,
    #[error("発注機関コードは英数字とハイフンで1～16文字にしてください（例: 440001）")]
    BadOffice,
    #[error(
        "発注機関コード「{0}」は登録されていません。先に「管理 → 発注機関」で登録してください"
    )]
    UnknownOffice(String),
    #[error("{0}")]
    WeakPassword(String),
    #[error("発注機関名を1～100文字で入力してください（改行やタブなどの制御文字は使えません）")]
    BadOfficeName,
    #[error("最後の有効な管理者は無効化・降格できません")]
    LastAdmin,
    #[error("現在のパスワードが違います")]
    WrongPassword,
    #[error("パスワードの誤りが続いたため、しばらく変更できません。時間をおいてお試しください")]
    Throttled,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

pub struct NewUser<'a> {
    pub login: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub office_code: &'a str,
    /// Hashed already, before any connection was taken.
    pub password: &'a NewPassword,
    /// Whether the password was issued by someone else and must be replaced at the
    /// first sign-in (the admin page's generated ones); see [`change_own_password`].
    pub must_change_password: bool,
    /// The office to register in the same transaction when `office_code` is new
    /// (`kakunin user add --office-name`); `None` refuses an unknown code.
    pub new_office: Option<&'a NewOffice>,
}

/// The name of an office to register together with an account or an API client when
/// its code is new (`--office-name` of `kakunin user add` and `kakunin token create`),
/// checked as the 発注機関 form checks it ([`person_name`]). Registering it in the
/// account's own transaction means a refused account leaves no new office behind.
pub struct NewOffice(String);

impl NewOffice {
    pub fn new(typed: &str) -> Result<Self, AccountError> {
        person_name(typed)
            .map(Self)
            .ok_or(AccountError::BadOfficeName)
    }
}

/// Inside the caller's write transaction: whether `code` is a registered office once
/// `new_office`, if given, has been registered under it (audited as
/// [`Action::OfficeSave`], like the 発注機関 form). `false` for an unknown code and no
/// name.
pub(crate) fn office_known_or_registered(
    conn: &mut Conn,
    actor: &Actor,
    code: &str,
    new_office: Option<&NewOffice>,
) -> QueryResult<bool> {
    if office_exists(conn, code)? {
        return Ok(true);
    }
    match new_office {
        Some(NewOffice(name)) => write_office(conn, actor, code, name).map(|()| true),
        None => Ok(false),
    }
}

/// A password chosen for an account: checked for strength and hashed with argon2id
/// before any database connection is taken, since the hash costs tens of
/// milliseconds of a core and a pooled connection must not wait on it.
pub struct NewPassword {
    hash: String,
}

/// Whether `password` is strong enough to be chosen (`Err` says how it should be, in
/// Japanese): the rule [`NewPassword::new`] applies, for forms that report it beside
/// their other fields.
pub fn password_strength(password: &str) -> Result<(), String> {
    password::check_strength(password)
}

impl NewPassword {
    /// Checks `password`'s strength and hashes it, here, on the calling thread.
    pub fn new(password: &str) -> Result<Self, AccountError> {
        password::check_strength(password).map_err(AccountError::WeakPassword)?;
        Ok(Self {
            hash: password::hash(password),
        })
    }

    /// [`NewPassword::new`] on the blocking pool, for async callers.
    pub async fn hashed(password: String) -> Result<Self, AccountError> {
        tokio::task::spawn_blocking(move || Self::new(&password))
            .await
            .expect("hashing a password does not panic")
    }
}

/// Whether `password` is the one `stored` hashes (the dummy hash when there is no
/// account, so that an unknown login takes as long), checked on the blocking pool,
/// holding no connection.
pub async fn password_matches(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        password::verify(
            &password,
            stored.as_deref().unwrap_or(password::dummy_hash()),
        )
    })
    .await
    .unwrap_or(false)
}

/// Whether `login` is one an account could have: `a-z 0-9 . - _`, 3 to
/// [`bounds::LOGIN_MAX`] characters. Sign-in refuses any other before it writes anything.
pub fn valid_login(login: &str) -> bool {
    kakunin_platform::login::valid(login)
}

/// Every way a new account's typed login, name and office code are unusable, in the
/// form's order ([`AccountError::BadLogin`], [`AccountError::EmptyName`],
/// [`AccountError::BadOffice`]); empty when [`add`] can try them. The admin form shows
/// all of them at once; whether the login is free and the office registered is asked
/// of the database by [`add`] afterwards.
pub fn new_user_problems(login: &str, name: &str, office_code: &str) -> Vec<AccountError> {
    let mut problems = Vec::new();
    if !valid_login(&bounds::typed_login(login)) {
        problems.push(AccountError::BadLogin);
    }
    if person_name(name).is_none() {
        problems.push(AccountError::EmptyName);
    }
    if !valid_office_code(&bounds::typed_code(office_code)) {
        problems.push(AccountError::BadOffice);
    }
    problems
}

/// Every way an office's typed code and name are unusable ([`AccountError::BadOffice`],
/// [`AccountError::BadOfficeName`]); empty when [`save_office`] can store them.
pub fn office_problems(code: &str, name: &str) -> Vec<AccountError> {
    let mut problems = Vec::new();
    if !valid_office_code(&bounds::typed_code(code)) {
        problems.push(AccountError::BadOffice);
    }
    if person_name(name).is_none() {
        problems.push(AccountError::BadOfficeName);
    }
    problems
}

/// A person's or an office's name as typed ([`bounds::typed_text`]): 1 to [`NAME_MAX`]
/// characters, no control characters, format characters dropped. `None` when it
/// cannot be used.
pub fn person_name(typed: &str) -> Option<String> {
    bounds::typed_text(typed)
        .ok()
        .filter(|n| !n.is_empty() && bounds::fits(n, NAME_MAX))
}

pub fn valid_office_code(code: &str) -> bool {
    (1..=OFFICE_CODE_MAX).contains(&code.len())
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Creates the office row named `name` when the code is new, unaudited (the demo's
/// office, set up before there is anyone to act); an existing office keeps its name.
/// Offices registered by a person go through [`save_office`] or [`NewOffice`].
pub fn ensure_office(conn: &mut Conn, code: &str, name: &str) -> QueryResult<()> {
    let now = now_utc();
    db::per_backend!(conn, |c| diesel::insert_into(offices::table)
        .values((
            offices::code.eq(code),
            offices::name.eq(name),
            offices::created_at.eq(now),
        ))
        .on_conflict(offices::code)
        .do_nothing()
        .execute(c))?;
    Ok(())
}

/// Whether the office `code` is registered. Accounts and clients are only given
/// registered offices: a mistyped code must not become a new office named after it.
pub fn office_exists(conn: &mut Conn, code: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        offices::table.filter(offices::code.eq(code)),
    ))
    .get_result(conn)
}

pub fn add(conn: &mut Conn, actor: &Actor, new: &NewUser<'_>) -> Result<User, AccountError> {
    if let Some(first) = new_user_problems(new.login, new.name, new.office_code)
        .into_iter()
        .next()
    {
        return Err(first);
    }
    let (login, office_code) = (
        bounds::typed_login(new.login),
        bounds::typed_code(new.office_code),
    );
    let new = &NewUser {
        login: &login,
        office_code: &office_code,
        ..*new
    };
    let name = person_name(new.name).ok_or(AccountError::EmptyName)?;
    let hash = &new.password.hash;
    conn.immediate_transaction(|conn| {
        if find(conn, new.login)?.is_some() {
            return Err(AccountError::LoginTaken(new.login.to_owned()));
        }
        if !office_known_or_registered(conn, actor, new.office_code, new.new_office)? {
            return Err(AccountError::UnknownOffice(new.office_code.to_owned()));
        }
        diesel::insert_into(users::table)
            .values((
                users::login.eq(new.login),
                users::name.eq(&name),
                users::role.eq(new.role),
                users::office_code.eq(new.office_code),
                users::password_hash.eq(hash),
                users::disabled.eq(false),
                users::created_at.eq(now_utc()),
                users::must_change_password.eq(new.must_change_password),
            ))
            .execute(conn)?;
        audit::append(
            conn,
            actor,
            &Event {
                action: Action::UserAdd,
                target: new.login,
                outcome: AuditOutcome::Ok,
                detail: format!("役割: {}、発注機関: {}", new.role.label(), new.office_code),
            },
        )?;
        find(conn, new.login)?.ok_or_else(|| AccountError::NoSuchUser(new.login.to_owned()))
    })
}

/// The account of `login`, if any. A login with a control character (a URL's `%00`)
/// is none, and is not sent: PostgreSQL refuses a NUL in text with an error.
pub fn find(conn: &mut Conn, login: &str) -> QueryResult<Option<User>> {
    if bounds::has_control(login) {
        return Ok(None);
    }
    users::table
        .filter(users::login.eq(login))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn list(conn: &mut Conn) -> QueryResult<Vec<User>> {
    users::table
        .order(users::login.asc())
        .select(User::as_select())
        .load(conn)
}

pub fn set_password(
    conn: &mut Conn,
    actor: &Actor,
    login: &str,
    new_password: &NewPassword,
) -> Result<(), AccountError> {
    // Typed at the server's console, usually by its holder (the first administrator
    // sets their own this way): not flagged.
    store_password(conn, actor, login, new_password, false, Action::UserPasswd)
}

/// A signed-in user replaces their own password, proving they know the current one.
/// Ends every session of the account, this one included, and clears the flag an
/// administrator-issued password carries. A wrong current password is audited.
///
/// Three steps, each connection held only for its queries: the throttle and the
/// stored hash; argon2 (the current password checked, the new one hashed) with no
/// connection; then the change, refused as a wrong password should the stored hash
/// have changed in between.
pub async fn change_own_password(
    pool: &DbPool,
    actor: &Actor,
    limits: &Signin,
    login: &str,
    current: String,
    new_password: String,
) -> Result<Result<(), AccountError>, DbError> {
    let (a, l, lg) = (actor.clone(), limits.clone(), login.to_owned());
    let stored = db::run(pool, move |c| {
        Ok::<_, DbError>(change_guard(c, &a, &l, &lg))
    })
    .await?;
    let stored = match stored {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let checked = stored.clone();
    let (current_ok, new) = tokio::task::spawn_blocking(move || {
        if password::verify(&current, &checked) {
            (true, Some(NewPassword::new(&new_password)))
        } else {
            (false, None)
        }
    })
    .await
    .map_err(|_| DbError::Canceled)?;
    let (a, l, lg) = (actor.clone(), limits.clone(), login.to_owned());
    db::run(pool, move |c| {
        let unchanged = find(c, &lg)?.is_some_and(|u| u.password_hash == stored);
        // Checked again: parallel attempts that all passed the first check must not get
        // past the limit together.
        if current_ok && throttle::refuses(c, &l, &lg, &a.address)?.is_some() {
            return Ok(Err(AccountError::Throttled));
        }
        let result = match new {
            Some(Ok(new)) if current_ok && unchanged => {
                store_password(c, &a, &lg, &new, false, Action::UserPasswd)
            }
            Some(Err(weak)) if unchanged => Err(weak),
            _ => wrong_current_password(c, &a, &l, &lg),
        };
        Ok::<_, DbError>(result)
    })
    .await
}

/// The stored hash of `login`'s password, unless the throttle refuses (audited).
fn change_guard(
    conn: &mut Conn,
    actor: &Actor,
    limits: &Signin,
    login: &str,
) -> Result<String, AccountError> {
    let user = find(conn, login)?.ok_or_else(|| AccountError::NoSuchUser(login.to_owned()))?;
    // Wrong current passwords count with wrong sign-in passwords (`throttle`): the
    // form must not be a faster way to guess.
    if let Some(why) = throttle::refuses(conn, limits, login, &actor.address)? {
        throttle::audit_refusal(conn, limits, actor, Action::UserPasswd, login, why)?;
        return Err(AccountError::Throttled);
    }
    Ok(user.password_hash)
}

/// Counts and audits a wrong current password; always `Err(WrongPassword)` unless the
/// database fails.
fn wrong_current_password(
    conn: &mut Conn,
    actor: &Actor,
    limits: &Signin,
    login: &str,
) -> Result<(), AccountError> {
    conn.immediate_transaction(|c| {
        throttle::record_failure(c, limits, login, &actor.address)?;
        audit::append(
            c,
            actor,
            &Event {
                action: Action::UserPasswd,
                target: login,
                outcome: AuditOutcome::Failure,
                detail: "現在のパスワードが違います".into(),
            },
        )
    })?;
    Err(AccountError::WrongPassword)
}

/// Letters and digits that cannot be mistaken for one another when read off a screen.
const PASSWORD_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A password for an administrator to hand over: 16 characters of 31 (≈ 79 bits), in
/// groups of four so it can be read aloud.
pub fn generate_password() -> String {
    use rand_core::{OsRng, RngCore};
    let n = PASSWORD_ALPHABET.len() as u32;
    let mut out = String::with_capacity(19);
    let mut chars = 0;
    while chars < 16 {
        // Rejection sampling: values past the last whole multiple of n would favour
        // the first letters.
        let v = OsRng.next_u32();
        if v >= u32::MAX - u32::MAX % n {
            continue;
        }
        if chars > 0 && chars % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(PASSWORD_ALPHABET[(v % n) as usize]));
        chars += 1;
    }
    out
}

/// Gives the account `new` (a [`generate_password`], hashed) and ends its sessions;
/// its holder must replace it at the next sign-in.
pub fn reset_password(
    conn: &mut Conn,
    actor: &Actor,
    login: &str,
    new: &NewPassword,
) -> Result<(), AccountError> {
    store_password(conn, actor, login, new, true, Action::UserReset)
}

fn store_password(
    conn: &mut Conn,
    actor: &Actor,
    login: &str,
    new_password: &NewPassword,
    must_change: bool,
    action: Action,
) -> Result<(), AccountError> {
    let hash = &new_password.hash;
    conn.immediate_transaction(|conn| {
        let n = diesel::update(users::table.filter(users::login.eq(login)))
            .set((
                users::password_hash.eq(hash),
                users::must_change_password.eq(must_change),
            ))
            .execute(conn)?;
        if n == 0 {
            return Err(AccountError::NoSuchUser(login.to_owned()));
        }
        // A new password ends every session of the account.
        let id: i32 = users::table
            .filter(users::login.eq(login))
            .select(users::id)
            .first(conn)?;
        end_sessions(conn, id)?;
        audit::append(
            conn,
            actor,
            &Event {
                action,
                target: login,
                outcome: AuditOutcome::Ok,
                detail: String::new(),
            },
        )?;
        Ok(())
    })
}

pub fn disable(conn: &mut Conn, actor: &Actor, login: &str) -> Result<(), AccountError> {
    conn.immediate_transaction(|conn| {
        let user = find(conn, login)?.ok_or_else(|| AccountError::NoSuchUser(login.to_owned()))?;
        if user.role == Role::Admin && !user.disabled && active_admins(conn)? <= 1 {
            return Err(AccountError::LastAdmin);
        }
        diesel::update(users::table.filter(users::id.eq(user.id)))
            .set(users::disabled.eq(true))
            .execute(conn)?;
        end_sessions(conn, user.id)?;
        audit::append(
            conn,
            actor,
            &Event {
                action: Action::UserDisable,
                target: login,
                outcome: AuditOutcome::Ok,
                detail: String::new(),
            },
        )?;
        Ok(())
    })
}

/// Lets a disabled account sign in again with the password it had; a no-op on an
/// active one. Errors: [`AccountError::NoSuchUser`].
pub fn enable(conn: &mut Conn, actor: &Actor, login: &str) -> Result<(), AccountError> {
    conn.immediate_transaction(|conn| {
        let user = find(conn, login)?.ok_or_else(|| AccountError::NoSuchUser(login.to_owned()))?;
        if !user.disabled {
            return Ok(());
        }
        diesel::update(users::table.filter(users::id.eq(user.id)))
            .set(users::disabled.eq(false))
            .execute(conn)?;
        audit::append(
            conn,
            actor,
            &Event {
                action: Action::UserEnable,
                target: login,
                outcome: AuditOutcome::Ok,
                detail: String::new(),
            },
        )?;
        Ok(())
    })
}

/// Changes an account's role and office. The last active admin keeps the admin role,
/// or nobody could manage accounts any more.
pub fn change_role_or_office(
    conn: &mut Conn,
    actor: &Actor,
    login: &str,
    role: Role,
    office_code: &str,
) -> Result<User, AccountError> {
    let office_code = &bounds::typed_code(office_code);
    if !valid_office_code(office_code) {
        return Err(AccountError::BadOffice);
    }
    conn.immediate_transaction(|conn| {
        let user = find(conn, login)?.ok_or_else(|| AccountError::NoSuchUser(login.to_owned()))?;
        if user.role == Role::Admin
            && role != Role::Admin
            && !user.disabled
            && active_admins(conn)? <= 1
        {
            return Err(AccountError::LastAdmin);
        }
        if !office_exists(conn, office_code)? {
            return Err(AccountError::UnknownOffice(office_code.to_owned()));
        }
        diesel::update(users::table.filter(users::id.eq(user.id)))
            .set((users::role.eq(role), users::office_code.eq(office_code)))
            .execute(conn)?;
        audit::append(
            conn,
            actor,
            &Event {
                action: Action::UserUpdate,
                target: login,
                outcome: AuditOutcome::Ok,
                detail: format!(
                    "役割: {}→{}、発注機関: {}→{}",
                    user.role.label(),
                    role.label(),
                    user.office_code,
                    office_code
                ),
            },
        )?;
        find(conn, login)?.ok_or_else(|| AccountError::NoSuchUser(login.to_owned()))
    })
}

/// An office (発注機関).
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = offices)]
pub struct Office {
    pub code: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

pub fn list_offices(conn: &mut Conn) -> QueryResult<Vec<Office>> {
    offices::table
        .order(offices::code.asc())
        .select(Office::as_select())
        .load(conn)
}

/// Creates an office or renames it.
pub fn save_office(
    conn: &mut Conn,
    actor: &Actor,
    code: &str,
    name: &str,
) -> Result<(), AccountError> {
    if let Some(first) = office_problems(code, name).into_iter().next() {
        return Err(first);
    }
    let code = &bounds::typed_code(code);
    let name = &person_name(name).ok_or(AccountError::BadOfficeName)?;
    conn.immediate_transaction(|conn| Ok(write_office(conn, actor, code, name)?))
}

/// Creates or renames the office `code` (both checked already) and audits it, in the
/// caller's write transaction.
fn write_office(conn: &mut Conn, actor: &Actor, code: &str, name: &str) -> QueryResult<()> {
    let now = now_utc();
    db::per_backend!(conn, |c| diesel::insert_into(offices::table)
        .values((
            offices::code.eq(code),
            offices::name.eq(name),
            offices::created_at.eq(now),
        ))
        .on_conflict(offices::code)
        .do_update()
        .set(offices::name.eq(name))
        .execute(c))?;
    audit::append(
        conn,
        actor,
        &Event {
            action: Action::OfficeSave,
            target: code,
            outcome: AuditOutcome::Ok,
            detail: format!("名称: {name}"),
        },
    )?;
    Ok(())
}

fn active_admins(conn: &mut Conn) -> QueryResult<i64> {
    users::table
        .filter(users::role.eq(Role::Admin))
        .filter(users::disabled.eq(false))
        .count()
        .get_result(conn)
}

/// Ends every session of the account: after a password change, a reset or disabling,
/// nobody stays signed in with what was true before.
fn end_sessions(conn: &mut Conn, user_id: i32) -> QueryResult<()> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::person_name;

    #[test]
    fn names_drop_invisible_characters_and_refuse_controls() {
        assert_eq!(
            person_name(" 大分\u{200B} 一郎 ").as_deref(),
            Some("大分 一郎")
        );
        assert_eq!(person_name("\u{202E}本庁").as_deref(), Some("本庁"));
        for bad in ["", "\u{200B}", "大分\n一郎", "大分\u{0}", &"あ".repeat(101)] {
            assert_eq!(person_name(bad), None, "{bad:?}");
        }
        assert!(person_name(&"あ".repeat(100)).is_some());
    }
}
