//! Retention: visitor personal data older than `retentionDays` is anonymised.

use super::JobReport;
use crate::{
    app::AppState,
    error::{AppError, AppResult},
};

/// Runs the job once.
pub async fn run(state: &AppState) -> AppResult<JobReport> {
    let _ = state;
    Err(AppError::Conflict(
        "the retention job is being built".into(),
    ))
}
