//! `sync_cursors` table: where each pull from an upstream left off.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A named cursor.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "sync_cursors")]
pub struct Model {
    /// e.g. `psa.ticket_changes` (primary key).
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub value: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
