//! The audit log: every successful mutation records actor, action, target and time in the
//! same transaction as the change.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter,
};

use crate::services::{new_id, now, shared::page};
use crate::{auth::Principal, error::AppResult};
use entities::audit_log::{self, Column, Entity as AuditLog};

/// Records one audit entry inside the caller's transaction.
pub async fn record(
    db: &impl ConnectionTrait,
    tenant_id: &str,
    actor: &str,
    action: &str,
    target: Option<&str>,
    details: Option<String>,
) -> AppResult<()> {
    entities::audit_log::Entity::insert(entities::audit_log::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tenant_id.to_owned()),
        at: Set(now()),
        actor: Set(actor.to_owned()),
        action: Set(action.to_owned()),
        target: Set(target.map(str::to_owned)),
        details: Set(details),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// One page of the tenant's audit log, newest first.
pub async fn list(
    db: &DatabaseConnection,
    principal: &Principal,
    first: usize,
    after: Option<&str>,
) -> AppResult<page::Page<audit_log::Model>> {
    page::newest_first::<AuditLog>(
        db,
        Condition::all().add(Column::TenantId.eq(&principal.tenant_id)),
        (Column::At, Column::Id),
        first,
        after,
        |e| (e.at, &e.id),
    )
    .await
}

/// How many entries the tenant's audit log holds.
pub async fn count(db: &DatabaseConnection, principal: &Principal) -> AppResult<u64> {
    Ok(AuditLog::find()
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .count(db)
        .await?)
}
