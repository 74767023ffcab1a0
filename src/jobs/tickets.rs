//! The ticket sync with PSA: push pending tickets and comments, then pull PSA's changes.

use super::JobReport;
use crate::{
    app::AppState,
    error::{AppError, AppResult},
};

/// Runs the job once.
pub async fn run(state: &AppState) -> AppResult<JobReport> {
    let _ = state;
    Err(AppError::Conflict("the tickets job is being built".into()))
}
