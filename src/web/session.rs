//! Who is asking: the signed-in staff member behind a page request, and the CSRF check.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use serde::Serialize;

use super::error::WebError;
use super::AppState;
use crate::adapters::db::{self, DbError};
use crate::app::accounts::constant_time_eq;
use crate::app::accounts::session::{self, Lookup};
use crate::app::audit::{self, Action, Actor, AuditOutcome, Event};
use crate::domain::access::Role;
use crate::domain::scope::OfficeScope;

pub const COOKIE: &str = "kakunin_session";

/// A signed-in, enabled staff member and the CSRF token of the session.
#[derive(Debug, Clone, Serialize)]
pub struct Staff {
    pub user_id: i32,
    pub login: String,
    pub name: String,
    pub role: Role,
    pub role_label: &'static str,
    pub office_code: String,
    #[serde(skip)]
    pub csrf: String,
    #[serde(skip)]
    pub actor: Actor,
    /// An administrator issued the password; every page but the password form and
    /// sign-out sends the user to replace it first.
    pub must_change_password: bool,
}

impl Staff {
    /// Forms carry the token in `csrf`; compared in constant time.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), WebError> {
        if constant_time_eq(&self.csrf, submitted) {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }

    pub fn require(&self, roles: &[Role]) -> Result<(), WebError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }

    /// Administrators see every office; everyone else their own.
    pub fn scope(&self) -> OfficeScope {
        match self.role {
            Role::Admin => OfficeScope::All,
            _ => OfficeScope::One(self.office_code.clone()),
        }
    }

    pub fn context(&self) -> tera::Context {
        let mut ctx = tera::Context::new();
        ctx.insert("staff", self);
        ctx.insert("csrf", &self.csrf);
        ctx
    }
}

/// The requester as the audit log names them before sign-in.
pub fn anonymous_actor(req: &HttpRequest, who: &str) -> Actor {
    Actor::new(
        who.to_owned(),
        "-".into(),
        client_address(req),
        user_agent(req),
    )
}

/// The client's address, as the sign-in throttle counts it and the audit log records
/// it: the TCP peer's, or "-" when there is none. From a peer listed in
/// `server.trusted_proxies` it is the right-most address of `X-Forwarded-For` (every
/// header of that name, in order) that is not itself a listed proxy: each proxy appends
/// the address it was called from, so everything left of the first unlisted address
/// came from the client and proves nothing. Anything there that is not an IP address
/// ends the walk at the nearest listed proxy.
pub fn client_address(req: &HttpRequest) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "-".into();
    };
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.settings.server.trusted_proxies.as_slice())
        .unwrap_or_default();
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    forwarded_client(peer, forwarded, trusted).to_string()
}

/// [`client_address`]'s walk: from `peer` leftwards along `forwarded` while the
/// address in hand is a trusted proxy.
fn forwarded_client<'a>(
    peer: std::net::IpAddr,
    forwarded: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    let mut client = peer;
    for hop in forwarded.rev() {
        if !trusted.contains(&client) {
            break;
        }
        match hop.trim().parse() {
            Ok(address) => client = address,
            Err(_) => break,
        }
    }
    client
}

pub fn user_agent(req: &HttpRequest) -> &str {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

pub fn session_cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish()
}

impl FromRequest for Staff {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| WebError::internal("AppState is not registered"))?
                .clone();
            // The page to come back to, worked out only for a request sent to sign in.
            let sign_in = |expired| WebError::SignIn {
                expired,
                next: super::return_to::asked_page(&req),
            };
            let Some(cookie) = req.cookie(COOKIE).map(|c| c.value().to_owned()) else {
                return Err(sign_in(false));
            };
            let server = state.settings.server.clone();
            let address = client_address(&req);
            let agent = user_agent(&req).to_owned();
            // Nearly every page finds its session active and not yet due to be touched:
            // a read, done in place. Anything to write goes to a blocking thread.
            let peeked = {
                let (cookie, server) = (cookie.clone(), server.clone());
                db::read(&state.verifier.pool, move |c| {
                    session::peek(c, &cookie, &server).map_err(DbError::from)
                })
                .await?
            };
            let found = match peeked {
                Some(found) => found,
                None => {
                    db::run(&state.verifier.pool, move |c| {
                        let found = session::lookup(c, &cookie, &server)?;
                        if let Lookup::Expired { user: Some(u) } = &found {
                            let actor = Actor::new(
                                format!("user:{}", u.login),
                                u.office_code.clone(),
                                address,
                                &agent,
                            );
                            audit::append(
                                c,
                                &actor,
                                &Event {
                                    action: Action::SessionExpire,
                                    target: &u.login,
                                    outcome: AuditOutcome::Ok,
                                    detail: String::new(),
                                },
                            )?;
                        }
                        Ok::<_, DbError>(found)
                    })
                    .await?
                }
            };
            match found {
                Lookup::Active {
                    session,
                    user: Some(u),
                } => {
                    if u.must_change_password
                        && !matches!(req.path(), super::PASSWORD_PATH | "/logout")
                    {
                        return Err(WebError::PasswordChange);
                    }
                    let role = u.role;
                    let actor = Actor::new(
                        format!("user:{}", u.login),
                        u.office_code.clone(),
                        client_address(&req),
                        user_agent(&req),
                    );
                    Ok(Staff {
                        user_id: u.id,
                        login: u.login,
                        name: u.name,
                        role,
                        role_label: role.label(),
                        office_code: u.office_code,
                        csrf: session.csrf,
                        actor,
                        must_change_password: u.must_change_password,
                    })
                }
                Lookup::Expired { .. } => Err(sign_in(true)),
                _ => Err(sign_in(false)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::forwarded_client;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn client(peer: &str, header: &str, trusted: &[&str]) -> IpAddr {
        let trusted: Vec<IpAddr> = trusted.iter().map(|t| ip(t)).collect();
        forwarded_client(ip(peer), header.split(','), &trusted)
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        assert_eq!(client("192.0.2.1", "203.0.113.7", &[]), ip("192.0.2.1"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client_it_was_called_from() {
        let nginx = "127.0.0.1";
        assert_eq!(client(nginx, "203.0.113.7", &[nginx]), ip("203.0.113.7"));
        // A client's own header is to the left of what nginx appended: not believed.
        assert_eq!(
            client(nginx, "10.9.9.9, 203.0.113.7", &[nginx]),
            ip("203.0.113.7")
        );
        // Two proxies, both listed: the client is left of the second.
        assert_eq!(
            client(nginx, "203.0.113.7, 10.0.0.2", &[nginx, "10.0.0.2"]),
            ip("203.0.113.7")
        );
        assert_eq!(client("::1", " 2001:db8::7 ", &["::1"]), ip("2001:db8::7"));
    }

    #[test]
    fn an_untrusted_peer_or_a_bad_entry_stops_the_walk() {
        assert_eq!(
            client("192.0.2.1", "203.0.113.7", &["127.0.0.1"]),
            ip("192.0.2.1")
        );
        assert_eq!(
            client("127.0.0.1", "203.0.113.7, unknown", &["127.0.0.1"]),
            ip("127.0.0.1")
        );
        assert_eq!(client("127.0.0.1", "", &["127.0.0.1"]), ip("127.0.0.1"));
    }
}
