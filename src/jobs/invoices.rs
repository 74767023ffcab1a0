//! The invoice sync from Books: page in invoices updated since the stored cursor.

use super::JobReport;
use crate::{
    app::AppState,
    error::{AppError, AppResult},
};

/// Runs the job once.
pub async fn run(state: &AppState) -> AppResult<JobReport> {
    let _ = state;
    Err(AppError::Conflict("the invoices job is being built".into()))
}
