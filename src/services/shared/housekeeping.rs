//! Housekeeping that keeps tables from growing without bound: used SSO token ids past their
//! expiry, sessions long past theirs and outbox rows delivered more than
//! [`OUTBOX_RETENTION_DAYS`] ago are deleted.

use std::time::Duration;

use chrono::Duration as ChronoDuration;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::error::AppResult;
use crate::services::now;

/// How often the sweep runs.
pub const INTERVAL: Duration = Duration::from_secs(3600);

/// Delivered outbox rows (every kind) are kept this many days, for support, then deleted.
/// Dead rows stay until someone looks at them.
pub const OUTBOX_RETENTION_DAYS: i64 = 7;

/// Rows removed by one sweep.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Used token ids whose token has expired (a replay would be refused as expired anyway).
    pub token_ids: u64,
    /// Sessions that expired more than a day ago.
    pub sessions: u64,
    /// Outbox rows delivered more than [`OUTBOX_RETENTION_DAYS`] ago.
    pub outbox: u64,
}

/// Deletes expired token ids, sessions that expired more than a day ago and outbox rows
/// delivered more than [`OUTBOX_RETENTION_DAYS`] ago.
pub async fn sweep(db: &DatabaseConnection) -> AppResult<Swept> {
    let at = now();
    let token_ids = entities::used_token_ids::Entity::delete_many()
        .filter(entities::used_token_ids::Column::ExpiresAt.lt(at))
        .exec(db)
        .await?
        .rows_affected;
    let sessions = entities::sessions::Entity::delete_many()
        .filter(entities::sessions::Column::ExpiresAt.lt(at - ChronoDuration::days(1)))
        .exec(db)
        .await?
        .rows_affected;
    let outbox = entities::outbox::Entity::delete_many()
        .filter(
            entities::outbox::Column::DeliveredAt
                .lt(at - ChronoDuration::days(OUTBOX_RETENTION_DAYS)),
        )
        .exec(db)
        .await?
        .rows_affected;
    Ok(Swept {
        token_ids,
        sessions,
        outbox,
    })
}

/// Runs [`sweep`] every [`INTERVAL`] until the process ends.
pub fn spawn(db: DatabaseConnection) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(INTERVAL);
        loop {
            ticker.tick().await;
            match sweep(&db).await {
                Ok(swept) if swept != Swept::default() => {
                    tracing::info!(
                        token_ids = swept.token_ids,
                        sessions = swept.sessions,
                        outbox = swept.outbox,
                        "housekeeping"
                    );
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(code = err.code().as_str(), "housekeeping failed"),
            }
        }
    });
}
