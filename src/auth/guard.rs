//! Field guards: every guarded field is nullable, and a refusal is `null` plus an error with
//! `extensions.code` (`UNAUTHENTICATED` or `FORBIDDEN` with `extensions.permission`).

use std::sync::Arc;

use async_graphql::{Context, Guard};

use super::{Permission, Principal, PrincipalKind, RequestMeta};
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

/// The request's principal, or `UNAUTHENTICATED`.
pub fn principal(ctx: &Context<'_>) -> Result<Arc<Principal>, AppError> {
    ctx.data_opt::<RequestMeta>()
        .and_then(|meta| meta.principal.clone())
        .ok_or_else(AppError::unauthenticated)
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

impl Guard for Need {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let principal = principal(ctx)?;
        self.check_principal(&principal).map_err(Into::into)
    }
}
