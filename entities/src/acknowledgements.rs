//! `acknowledgements` table: signatures: who signed which document, when, from where.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An acknowledgement (one per signing request).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "acknowledgements")]
pub struct Model {
    /// UUID string.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub signing_request_id: String,
    pub client_user_id: String,
    pub signature_name: String,
    pub signed_at: DateTimeUtc,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// The document's hash as signed.
    pub content_sha256: String,
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
        belongs_to = "super::signing_requests::Entity",
        from = "Column::SigningRequestId",
        to = "super::signing_requests::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    SigningRequest,
}

impl Related<super::tenants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl Related<super::signing_requests::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SigningRequest.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
