//! What `me` shows of the caller beyond the principal: their user record and their tenant.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::{
    auth::{Principal, PrincipalKind},
    error::AppResult,
};

/// The signed-in person, staff or client user.
#[derive(Debug, Clone)]
pub struct ViewerUser {
    /// User id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// E-mail, when known.
    pub email: Option<String>,
}

/// The caller's tenant.
#[derive(Debug, Clone)]
pub struct ViewerTenant {
    /// Tenant id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// The staff or client user behind `principal`; `None` for kiosks and integrations, and for
/// a user that no longer exists.
pub async fn user(db: &DatabaseConnection, principal: &Principal) -> AppResult<Option<ViewerUser>> {
    let Some(user_id) = &principal.user_id else {
        return Ok(None);
    };
    match principal.kind {
        PrincipalKind::Staff => {
            let user = entities::users::Entity::find_by_id(user_id.clone())
                .filter(entities::users::Column::TenantId.eq(&principal.tenant_id))
                .one(db)
                .await?;
            Ok(user.map(|u| ViewerUser {
                id: u.id,
                name: u.name,
                email: u.email,
            }))
        }
        PrincipalKind::Client => {
            let user = entities::client_users::Entity::find_by_id(user_id.clone())
                .filter(entities::client_users::Column::TenantId.eq(&principal.tenant_id))
                .one(db)
                .await?;
            Ok(user.map(|u| ViewerUser {
                id: u.id,
                name: u.name,
                email: Some(u.email),
            }))
        }
        PrincipalKind::Kiosk | PrincipalKind::Integration => Ok(None),
    }
}

/// The tenant of `principal`; one without a row (known only from the caller's credential)
/// is named by its id.
pub async fn tenant(db: &DatabaseConnection, principal: &Principal) -> AppResult<ViewerTenant> {
    let tenant = entities::tenants::Entity::find_by_id(principal.tenant_id.clone())
        .one(db)
        .await?;
    Ok(match tenant {
        Some(t) => ViewerTenant {
            id: t.id,
            name: t.name,
        },
        None => ViewerTenant {
            id: principal.tenant_id.clone(),
            name: principal.tenant_id.clone(),
        },
    })
}
