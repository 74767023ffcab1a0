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

/// The first segment of every action Visitor's services record (`visit.check_in`,
/// `badge.assign`, …). `auditLog` shows staff these entries only: Portal's (tickets,
/// client users, signing) name client companies' people and subjects, which Visitor's
/// admins have no business reading.
pub const VISITOR_ACTIONS: &[&str] = &[
    "visit",
    "visitor",
    "badge",
    "location",
    "host",
    "kiosk",
    "pre_registration",
    "settings",
    "integration_key",
    "webhook",
];

/// The tenant's Visitor entries.
fn visitor_entries(principal: &Principal) -> Condition {
    let actions = VISITOR_ACTIONS
        .iter()
        .fold(Condition::any(), |any, product| {
            any.add(Column::Action.starts_with(format!("{product}.")))
        });
    Condition::all()
        .add(Column::TenantId.eq(&principal.tenant_id))
        .add(actions)
}

/// One page of the tenant's Visitor audit entries, newest first.
pub async fn list(
    db: &DatabaseConnection,
    principal: &Principal,
    first: usize,
    after: Option<&str>,
) -> AppResult<page::Page<audit_log::Model>> {
    page::newest_first::<AuditLog>(
        db,
        visitor_entries(principal),
        (Column::At, Column::Id),
        first,
        after,
        |e| (e.at, &e.id),
    )
    .await
}

/// How many Visitor entries the tenant's audit log holds.
pub async fn count(db: &DatabaseConnection, principal: &Principal) -> AppResult<u64> {
    Ok(AuditLog::find()
        .filter(visitor_entries(principal))
        .count(db)
        .await?)
}
