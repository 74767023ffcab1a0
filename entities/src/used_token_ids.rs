//! `used_token_ids` table: replay protection for one-time tokens (by `jti`).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A consumed token id. Rows can be purged once `expires_at` has passed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "used_token_ids")]
pub struct Model {
    /// The token's `jti` claim.
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    pub expires_at: DateTimeUtc,
    pub used_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
