//! API client tokens: 256 random bits shown once; only the SHA-256 is stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::{random_token, sha256_hex};
use crate::adapters::db::schema::api_tokens;
use crate::adapters::db::{self, now_utc, Conn};
use crate::app::audit::{self, Action, Actor, AuditOutcome, Event};
use crate::domain::access::Scope;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: i32,
    pub name: String,
    pub office_code: String,
    pub scope: Scope,
    #[serde(skip)]
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("API クライアント名「{0}」は既に使われています（大文字と小文字だけが違う名前も同じ名前とみなします）")]
    NameTaken(String),
    #[error("API クライアント「{0}」はありません")]
    NoSuchToken(String),
    #[error("API クライアント「{0}」のトークンは既に失効しています")]
    AlreadyRevoked(String),
    #[error("API クライアント名は1～64文字の英数字・「.」「-」「_」にしてください")]
    BadName,
    #[error("発注機関コードは英数字とハイフンで1～16文字にしてください（例: 440001）")]
    BadOffice,
    #[error(
        "発注機関コード「{0}」は登録されていません。先に「管理 → 発注機関」で登録してください"
    )]
    UnknownOffice(String),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Every way a new client's name and typed office code are unusable
/// ([`TokenError::BadName`], [`TokenError::BadOffice`]); empty when [`create`] can try
/// them. The admin form shows all of them at once.
pub fn client_problems(name: &str, office_code: &str) -> Vec<TokenError> {
    let name = &typed_name(name);
    let mut problems = Vec::new();
    if name.is_empty()
        || name.len() > crate::domain::bounds::TOKEN_NAME_MAX
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
    {
        problems.push(TokenError::BadName);
    }
    if !super::users::valid_office_code(&crate::domain::bounds::typed_code(office_code)) {
        problems.push(TokenError::BadOffice);
    }
    problems
}

/// A client's name as a person typed it, read as [`crate::domain::bounds::typed_code`]
/// reads codes (full-width `ＡＰＩ２` is `API2`, blanks around it removed); unlike a
/// login it keeps its case. The name [`create`] stores and [`revoke`] looks up.
pub fn typed_name(typed: &str) -> String {
    crate::domain::bounds::typed_code(typed)
}

diesel::define_sql_function! {
    /// SQL `lower`: ASCII case folding on both backends (client names are ASCII).
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Whether a client (revoked or not) already has `name` in any case: names are never
/// reused, so an audit row's `token:NAME` names one client, and the audit log's 対象
/// filter, which finds a name in any case, finds one client's events only.
pub fn name_taken(conn: &mut Conn, name: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        api_tokens::table.filter(lower(api_tokens::name).eq(name.to_ascii_lowercase())),
    ))
    .get_result(conn)
}

/// Creates a client and returns its token: the only time the token exists in clear.
/// `new_office` registers an unknown `office_code` in the same transaction (as
/// [`super::users::NewUser::new_office`]).
pub fn create(
    conn: &mut Conn,
    actor: &Actor,
    name: &str,
    office_code: &str,
    scope: Scope,
    new_office: Option<&super::users::NewOffice>,
) -> Result<String, TokenError> {
    if let Some(first) = client_problems(name, office_code).into_iter().next() {
        return Err(first);
    }
    let (name, office_code) = (
        &typed_name(name),
        &crate::domain::bounds::typed_code(office_code),
    );
    let token = random_token();
    conn.immediate_transaction(|conn| {
        if name_taken(conn, name)? {
            return Err(TokenError::NameTaken(name.to_owned()));
        }
        if !super::users::office_known_or_registered(conn, actor, office_code, new_office)? {
            return Err(TokenError::UnknownOffice(office_code.to_owned()));
        }
        diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::name.eq(name),
                api_tokens::office_code.eq(office_code),
                api_tokens::scope.eq(scope),
                api_tokens::token_hash.eq(sha256_hex(&token)),
                api_tokens::created_at.eq(now_utc()),
            ))
            .execute(conn)?;
        audit::append(
            conn,
            actor,
            &Event {
                action: Action::TokenCreate,
                target: name,
                outcome: AuditOutcome::Ok,
                detail: format!("範囲: {}、発注機関: {office_code}", scope.label()),
            },
        )?;
        Ok(token)
    })
}

pub fn revoke(conn: &mut Conn, actor: &Actor, name: &str) -> Result<(), TokenError> {
    let name = &typed_name(name);
    conn.immediate_transaction(|conn| {
        let n = diesel::update(
            api_tokens::table
                .filter(api_tokens::name.eq(name))
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(now_utc()))
        .execute(conn)?;
        if n == 0 {
            let exists: i64 = api_tokens::table
                .filter(api_tokens::name.eq(name))
                .count()
                .get_result(conn)?;
            return Err(if exists > 0 {
                TokenError::AlreadyRevoked(name.to_owned())
            } else {
                TokenError::NoSuchToken(name.to_owned())
            });
        }
        audit::append(
            conn,
            actor,
            &Event {
                action: Action::TokenRevoke,
                target: name,
                outcome: AuditOutcome::Ok,
                detail: String::new(),
            },
        )?;
        Ok(())
    })
}

pub fn list(conn: &mut Conn) -> QueryResult<Vec<ApiToken>> {
    api_tokens::table
        .order(api_tokens::name.asc())
        .select(ApiToken::as_select())
        .load(conn)
}

/// The live (unrevoked) client a bearer token belongs to; a read only, so it may run
/// on the request's own thread ([`db::read`]). Note the use
/// with [`note_use`] when [`ApiToken::use_is_stale`].
pub fn find(conn: &mut Conn, token: &str) -> QueryResult<Option<ApiToken>> {
    let hash = sha256_hex(token);
    db::per_backend!(conn, |c| api_tokens::table
        .filter(api_tokens::token_hash.eq(&hash))
        .filter(api_tokens::revoked_at.is_null())
        .select(ApiToken::as_select())
        .first(c)
        .optional())
}

impl ApiToken {
    /// Whether `last_used_at` is due to be written again at `now` (UTC). Noted at most
    /// once a minute: a write per request would queue every API call behind the
    /// database's single writer for a timestamp nobody reads that finely.
    pub fn use_is_stale(&self, now: NaiveDateTime) -> bool {
        self.last_used_at
            .is_none_or(|at| now - at > chrono::Duration::seconds(60))
    }
}

/// Notes that token `id` was used at `now` (UTC): the admin page's 最終利用.
pub fn note_use(conn: &mut Conn, id: i32, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(api_tokens::table.find(id))
        .set(api_tokens::last_used_at.eq(now))
        .execute(conn)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_found_while_live_and_its_use_is_noted_at_most_once_a_minute() {
        let (_dir, pool) = db::scratch();
        let mut c = pool.get().unwrap();
        let admin = Actor::new("admin".into(), "4400".into(), "127.0.0.1".into(), "test");
        crate::app::accounts::users::ensure_office(&mut c, "4400", "大分県土木建築部").unwrap();
        let secret = create(&mut c, &admin, "batch", "4400", Scope::Verify, None).unwrap();

        let found = find(&mut c, &secret)
            .unwrap()
            .expect("a live token is found");
        assert_eq!(
            (found.name.as_str(), found.office_code.as_str()),
            ("batch", "4400")
        );
        assert!(find(&mut c, "not-the-token").unwrap().is_none());
        let now = now_utc();
        assert!(found.use_is_stale(now), "never used: noted on first use");
        note_use(&mut c, found.id, now).unwrap();
        let noted = find(&mut c, &secret).unwrap().unwrap();
        assert!(!noted.use_is_stale(now + chrono::Duration::seconds(60)));
        assert!(noted.use_is_stale(now + chrono::Duration::seconds(61)));

        revoke(&mut c, &admin, "batch").unwrap();
        assert!(
            find(&mut c, &secret).unwrap().is_none(),
            "revoked: not found"
        );
    }

    /// Codes are typed from paper, often full-width: every account function reads them
    /// as the ASCII they stand for.
    #[test]
    fn full_width_office_codes_and_logins_are_read_as_ascii() {
        use crate::app::accounts::users;
        let (_dir, pool) = db::scratch();
        let mut c = pool.get().unwrap();
        let admin = Actor::new("admin".into(), "4400".into(), "127.0.0.1".into(), "test");
        users::save_office(&mut c, &admin, "　４４０１ ", "大分土木事務所").unwrap();
        users::ensure_office(&mut c, "4400", "大分県土木建築部").unwrap();
        assert!(users::office_exists(&mut c, "4401").unwrap());
        let secret = create(&mut c, &admin, "batch", "４４０１", Scope::Verify, None).unwrap();
        assert_eq!(find(&mut c, &secret).unwrap().unwrap().office_code, "4401");
        let password = users::NewPassword::new("a-long-enough-pass-2026").unwrap();
        let user = users::add(
            &mut c,
            &admin,
            &users::NewUser {
                login: "ｔａｒｏ",
                name: "大分 太郎",
                role: crate::domain::access::Role::Officer,
                office_code: "４４０１",
                password: &password,
                must_change_password: false,
                new_office: None,
            },
        )
        .unwrap();
        assert_eq!(
            (user.login.as_str(), user.office_code.as_str()),
            ("taro", "4401")
        );
        let moved = users::change_role_or_office(
            &mut c,
            &admin,
            "taro",
            crate::domain::access::Role::Supervisor,
            "４４００",
        )
        .unwrap();
        assert_eq!(moved.office_code, "4400");
    }
}
