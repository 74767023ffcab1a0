//! What a field or endpoint needs of its caller, checked the same way by the GraphQL field
//! guards (`graphql::guard`) and the REST handlers.
//!
//! An INTEGRATION principal passes only [`Need::Search`]: every other need refuses it,
//! whatever permissions it would otherwise ask for, so a new guard is closed to integration
//! keys unless it says otherwise. (What an integration may read below `search` is decided
//! by `graphql::integration`.)

use super::{Permission, Principal, PrincipalKind};
use crate::error::AppError;

/// What a field needs of its caller.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    /// Any authenticated principal but an integration.
    Principal,
    /// A principal holding this permission.
    Perm(Permission),
    /// A principal holding this permission, or a kiosk (which services confine to its location).
    PermOrKiosk(Permission),
    /// A staff user with any `visitor.*` permission, or a kiosk.
    VisitorAccess,
    /// Global search: a staff user with any `visitor.*` permission (visits need
    /// `visitor.visitors.view`, which the search service checks), or an integration.
    Search,
}

impl Need {
    /// Checks `principal` against the need.
    pub fn check_principal(self, principal: &Principal) -> Result<(), AppError> {
        let staff_with_visitor_access =
            || principal.kind == PrincipalKind::Staff && principal.permissions.any_visitor();
        let allowed = match (self, principal.kind) {
            (Need::Search, PrincipalKind::Integration) => true,
            (_, PrincipalKind::Integration) => false,
            (Need::Principal, _) => true,
            (Need::Perm(p), _) => principal.can(p),
            (Need::PermOrKiosk(p), kind) => kind == PrincipalKind::Kiosk || principal.can(p),
            (Need::VisitorAccess, kind) => {
                kind == PrincipalKind::Kiosk || staff_with_visitor_access()
            }
            (Need::Search, _) => staff_with_visitor_access(),
        };
        if allowed {
            return Ok(());
        }
        Err(AppError::Forbidden {
            permission: match (self, principal.kind) {
                (_, PrincipalKind::Integration) => None,
                (Need::Perm(p) | Need::PermOrKiosk(p), _) => Some(p.as_str()),
                (Need::Principal | Need::VisitorAccess | Need::Search, _) => None,
            },
        })
    }
}
