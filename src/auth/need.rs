//! What a field or endpoint needs of its caller, checked the same way by the GraphQL field
//! guards (`graphql::guard`) and the REST handlers.

use super::{Permission, Principal, PrincipalKind};
use crate::error::AppError;

/// What a field needs of its caller.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    /// Any authenticated principal.
    Principal,
    /// A principal holding this permission.
    Perm(Permission),
    /// A principal holding this permission, or a kiosk (which services confine to its location).
    PermOrKiosk(Permission),
    /// A staff user with any `visitor.*` permission, or a kiosk.
    VisitorAccess,
}

impl Need {
    /// Checks `principal` against the need.
    pub fn check_principal(self, principal: &Principal) -> Result<(), AppError> {
        let allowed = match self {
            Need::Principal => true,
            Need::Perm(p) => principal.can(p),
            Need::PermOrKiosk(p) => principal.kind == PrincipalKind::Kiosk || principal.can(p),
            Need::VisitorAccess => {
                principal.kind == PrincipalKind::Kiosk
                    || (principal.kind == PrincipalKind::Staff
                        && principal.permissions.any_visitor())
            }
        };
        if allowed {
            return Ok(());
        }
        Err(AppError::Forbidden {
            permission: match self {
                Need::Perm(p) | Need::PermOrKiosk(p) => Some(p.as_str()),
                Need::Principal | Need::VisitorAccess => None,
            },
        })
    }
}
