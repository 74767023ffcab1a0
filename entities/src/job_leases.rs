//! `job_leases` table: one row per scheduled job: which replica holds it, until when.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A job lease.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "job_leases")]
pub struct Model {
    /// Job name (primary key).
    #[sea_orm(primary_key, auto_increment = false)]
    pub job: String,
    /// Replica id of the holder.
    pub holder: String,
    pub locked_until: DateTimeUtc,
    pub last_started_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
