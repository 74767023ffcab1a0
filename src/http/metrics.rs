//! Prometheus metrics on `METRICS_ADDR`, in the text exposition format.

use std::sync::atomic::Ordering;

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};

use crate::app::AppState;

/// The metrics router (served on its own listener).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let stats = &state.stats;
    let body = format!(
        "# HELP onegraph_db_statements_total SQL statements executed.\n\
         # TYPE onegraph_db_statements_total counter\n\
         onegraph_db_statements_total {}\n\
         # HELP onegraph_db_statement_errors_total SQL statements that failed.\n\
         # TYPE onegraph_db_statement_errors_total counter\n\
         onegraph_db_statement_errors_total {}\n\
         # HELP onegraph_db_statement_seconds_total Time spent in SQL statements.\n\
         # TYPE onegraph_db_statement_seconds_total counter\n\
         onegraph_db_statement_seconds_total {:.6}\n\
         # HELP onegraph_ws_connections Open WebSocket connections.\n\
         # TYPE onegraph_ws_connections gauge\n\
         onegraph_ws_connections {}\n",
        stats.statements.load(Ordering::Relaxed),
        stats.failed.load(Ordering::Relaxed),
        stats.micros.load(Ordering::Relaxed) as f64 / 1e6,
        state.ws_connections.load(Ordering::Relaxed),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
