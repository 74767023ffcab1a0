//! `ticket_comments` table: comments on tickets, from Portal (pushed to PSA) or from PSA's technicians.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

pub use crate::enums::TicketSyncState;

/// A ticket comment.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "ticket_comments")]
pub struct Model {
    /// UUID string; also the `Idempotency-Key` sent to PSA.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub ticket_id: String,
    pub client_user_id: Option<String>,
    /// Display name.
    pub author: String,
    pub author_email: Option<String>,
    pub body: String,
    /// Written by a technician in PSA (DB default false).
    pub from_psa: bool,
    /// PSA's id (pushed or pulled).
    pub psa_comment_id: Option<String>,
    /// PSA's own comments are `Synced`.
    pub sync_state: TicketSyncState,
    pub sync_error: Option<String>,
    pub sync_attempts: i32,
    pub next_sync_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::tenants::Entity",
        from = "Column::TenantId",
        to = "super::tenants::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Tenant,
    #[sea_orm(
        belongs_to = "super::tickets::Entity",
        from = "Column::TicketId",
        to = "super::tickets::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Ticket,
}

impl Related<super::tenants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl Related<super::tickets::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Ticket.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
