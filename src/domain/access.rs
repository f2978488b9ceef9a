//! Who may do what: the staff roles (`users.role`) and the API token scopes
//! (`api_tokens.scope`), as `service.md` names them.

use serde::Serialize;

use super::code::Code;

/// The three staff roles; each account is bound to one office (発注機関).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 契約担当者: verifies and reads the office's own verifications.
    Officer,
    /// 監督者: also reads the office's audit log.
    Supervisor,
    /// 管理者: every office, accounts, offices and API clients.
    Admin,
}

impl Code for Role {
    const NAME: &'static str = "役割";
    const ALL: &'static [Role] = &[Role::Officer, Role::Supervisor, Role::Admin];

    fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

impl Role {
    /// The role as a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            Role::Officer => "契約担当者",
            Role::Supervisor => "監督者",
            Role::Admin => "管理者",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// What an API token may do (`kakunin token create --scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `POST /api/v1/verifications…` and reading them back.
    Verify,
    /// `GET /api/v1/audit/events`.
    Audit,
}

impl Code for Scope {
    const NAME: &'static str = "API トークンの権限（scope）";
    const ALL: &'static [Scope] = &[Scope::Verify, Scope::Audit];

    fn as_str(self) -> &'static str {
        match self {
            Scope::Verify => "verify",
            Scope::Audit => "audit",
        }
    }
}

impl Scope {
    /// The scope as a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            Scope::Verify => "照会",
            Scope::Audit => "監査ログの参照",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_scopes_round_trip_as_stored_and_as_json() {
        crate::domain::code::assert_round_trips::<Role>();
        crate::domain::code::assert_round_trips::<Scope>();
        for &r in Role::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        for &s in Scope::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
