//! Auto-checkout: open visits are checked out at each location's `autoCheckoutAt`.

use super::JobReport;
use crate::{
    app::AppState,
    error::{AppError, AppResult},
};

/// Runs the job once.
pub async fn run(state: &AppState) -> AppResult<JobReport> {
    let _ = state;
    Err(AppError::Conflict(
        "the auto-checkout job is being built".into(),
    ))
}
