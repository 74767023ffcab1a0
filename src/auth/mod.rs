//! Who is calling: principals, permissions, Hub SSO tokens, sessions, kiosk tokens, guards
//! and the per-IP limiter on brute-force surfaces.

pub mod need;
pub mod passwords;
pub mod permissions;
pub mod rate_limit;
pub mod sso;
pub mod tokens;

use std::sync::Arc;

use chrono::{DateTime, Utc};
pub use permissions::{Permission, PermissionSet};

/// The kind of caller, as `Viewer.kind` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A Visitor staff user signed in through Hub.
    Staff,
    /// A Portal client user.
    Client,
    /// A paired kiosk.
    Kiosk,
    /// Another product calling with an integration key.
    Integration,
}

impl PrincipalKind {
    /// The lower-case name used in sessions, REST bodies and events.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Staff => "staff",
            PrincipalKind::Client => "client",
            PrincipalKind::Kiosk => "kiosk",
            PrincipalKind::Integration => "integration",
        }
    }
}

/// An authenticated caller, resolved once per request (or per WebSocket connection).
#[derive(Debug, Clone)]
pub struct Principal {
    /// What kind of caller this is.
    pub kind: PrincipalKind,
    /// The tenant every query is confined to.
    pub tenant_id: String,
    /// The staff or client user, for user principals.
    pub user_id: Option<String>,
    /// The client user's company (PSA company id), for client principals: every Portal
    /// query is confined to it.
    pub company_id: Option<String>,
    /// The kiosk, for kiosk principals.
    pub kiosk_id: Option<String>,
    /// The kiosk's location, for kiosk principals.
    pub location_id: Option<String>,
    /// What the caller may do.
    pub permissions: PermissionSet,
    /// The session or kiosk whose revocation ends this principal (closes its subscriptions).
    pub credential_id: Option<String>,
    /// When the credential stops being valid (sessions: 8 hours; kiosks: never).
    pub expires_at: Option<DateTime<Utc>>,
}

impl Principal {
    /// Whether the caller holds `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        self.permissions.contains(permission)
    }

    /// The actor string recorded in the audit log.
    pub fn actor(&self) -> String {
        match (self.kind, &self.user_id, &self.kiosk_id) {
            (PrincipalKind::Kiosk, _, Some(kiosk)) => format!("kiosk:{kiosk}"),
            (kind, Some(user), _) => format!("{}:{user}", kind.as_str()),
            (kind, _, _) => kind.as_str().to_owned(),
        }
    }
}

/// What the GraphQL layer knows of the request besides its body.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The caller, when authenticated.
    pub principal: Option<Arc<Principal>>,
    /// The client's address, for the rate limiter.
    pub ip: Option<std::net::IpAddr>,
    /// The client's user agent, for audit details.
    pub user_agent: Option<String>,
}
