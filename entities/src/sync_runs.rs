//! `sync_runs` table: a record of every job run.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One run of a job.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "sync_runs")]
pub struct Model {
    /// UUID string.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub job: String,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub ok: Option<bool>,
    pub summary: Option<String>,
    pub error: Option<String>,
    /// JSON object: tenant id → counts.
    pub counts: String,
    /// The errors that concerned every tenant (the upstream down, a page refused as a
    /// whole), in onegraph's own words; `None` when there were none.
    pub shared_error: Option<String>,
    /// JSON object: tenant id → how many of that tenant's own items failed.
    pub tenant_errors: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
