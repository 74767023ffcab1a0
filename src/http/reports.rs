//! `GET /api/reports/visits.csv`: the visit log as CSV, streamed page by page so memory stays
//! flat whatever the range. Cells that a spreadsheet would run as a formula are neutralised.

use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use axum::{
    body::Body,
    extract::{ConnectInfo, Query, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use futures_util::stream;
use serde::Deserialize;

use crate::{
    app::AppState,
    auth::{Permission, Principal, need::Need},
    error::{AppError, AppResult},
    services::{
        shared::{
            batch::{TenantScope, distinct},
            page,
        },
        visitor::{batch, visits},
    },
};

/// Rows fetched per statement batch.
const PAGE: usize = page::MAX_FIRST;

/// Query of the export.
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    from: Option<String>,
    to: Option<String>,
    location_id: Option<String>,
}

fn parse_time(value: Option<&str>, name: &str) -> AppResult<Option<DateTime<Utc>>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| AppError::bad_input(format!("{name} must be an RFC 3339 time"))),
    }
}

/// Quotes a CSV cell and neutralises leading `= + - @` (and tab / carriage return).
pub fn cell(value: &str) -> String {
    let mut text = String::with_capacity(value.len() + 3);
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        text.push('\'');
    }
    text.push_str(value);
    if text.contains([',', '"', '\n', '\r']) || text.starts_with('\'') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

struct Cursor {
    state: AppState,
    principal: Arc<Principal>,
    filter: visits::VisitFilter,
    after: Option<String>,
    done: bool,
    header_sent: bool,
    with_contacts: bool,
}

async fn next_chunk(cursor: &mut Cursor) -> AppResult<Option<String>> {
    let mut out = String::new();
    if !cursor.header_sent {
        cursor.header_sent = true;
        out.push_str(
            "visit_id,checked_in_at,checked_out_at,status,source,visitor_name,visitor_company,",
        );
        if cursor.with_contacts {
            out.push_str("visitor_email,visitor_phone,");
        }
        out.push_str("location,host,badge,purpose\n");
        return Ok(Some(out));
    }
    if cursor.done {
        return Ok(None);
    }
    let page = visits::list(
        &cursor.state.db,
        &cursor.principal,
        &cursor.filter,
        PAGE,
        cursor.after.as_deref(),
    )
    .await?;
    cursor.done = !page.has_next;
    cursor.after = page.rows.last().map(|(c, _)| c.encode());
    if page.rows.is_empty() {
        return Ok(None);
    }
    let rows: Vec<_> = page.rows.into_iter().map(|(_, v)| v).collect();
    let scope = TenantScope::new(&cursor.state.db, Some(&cursor.principal));
    let ids = |f: fn(&entities::visits::Model) -> Option<&str>| distinct(rows.iter().filter_map(f));
    let (visitor_ids, location_ids, host_ids, badge_ids) = (
        ids(|v| Some(v.visitor_id.as_str())),
        ids(|v| Some(v.location_id.as_str())),
        ids(|v| v.host_id.as_deref()),
        ids(|v| v.badge_id.as_deref()),
    );
    // One statement after another: an export holds one pool connection at a time.
    let visitors = batch::visitors_by_id(&scope, &visitor_ids).await?;
    let locations = batch::locations_by_id(&scope, &location_ids).await?;
    let hosts = batch::hosts_by_id(&scope, &host_ids).await?;
    let badges = batch::badges_by_id(&scope, &badge_ids).await?;
    let locations: HashMap<_, _> = locations.into_iter().map(|(id, m)| (id, m.name)).collect();
    let hosts: HashMap<_, _> = hosts.into_iter().map(|(id, m)| (id, m.name)).collect();
    let badges: HashMap<_, _> = badges.into_iter().map(|(id, m)| (id, m.number)).collect();
    let lookup = |map: &HashMap<String, String>, id: &Option<String>| {
        id.as_ref()
            .and_then(|i| map.get(i))
            .cloned()
            .unwrap_or_default()
    };
    for v in &rows {
        let visitor = visitors.get(&v.visitor_id);
        let mut fields = vec![
            v.id.clone(),
            v.checked_in_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            v.checked_out_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            entities::stored_text(&v.status),
            entities::stored_text(&v.source),
            visitor.map(|x| x.name.clone()).unwrap_or_default(),
            visitor.and_then(|x| x.company.clone()).unwrap_or_default(),
        ];
        if cursor.with_contacts {
            fields.push(visitor.and_then(|x| x.email.clone()).unwrap_or_default());
            fields.push(visitor.and_then(|x| x.phone.clone()).unwrap_or_default());
        }
        fields.push(locations.get(&v.location_id).cloned().unwrap_or_default());
        fields.push(lookup(&hosts, &v.host_id));
        fields.push(lookup(&badges, &v.badge_id));
        fields.push(v.purpose.clone().unwrap_or_default());
        let line: Vec<String> = fields.iter().map(|f| cell(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    Ok(Some(out))
}

/// `GET /api/reports/visits.csv?from&to&location_id` (session or cookie,
/// `visitor.reports.export`). Contact columns appear only with `visitor.visitors.view`.
pub async fn visits_csv(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return AppError::bad_input("from, to and location_id must be plain query parameters")
            .into_response();
    };
    match start(state, addr, headers, query).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn start(
    state: AppState,
    addr: SocketAddr,
    headers: HeaderMap,
    query: ExportQuery,
) -> AppResult<Response> {
    let ip = super::auth::request_ip(&state, Some(addr), &headers);
    let meta = super::auth::request_meta(&state, &headers, ip).await?;
    let principal = meta.principal.ok_or_else(AppError::unauthenticated)?;
    Need::Perm(Permission::ReportsExport).check_principal(&principal)?;
    let filter = visits::VisitFilter {
        location_id: query.location_id.filter(|l| !l.trim().is_empty()),
        from: parse_time(query.from.as_deref(), "from")?,
        to: parse_time(query.to.as_deref(), "to")?,
        ..Default::default()
    };
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && to < from
    {
        return Err(AppError::bad_input("to must not be before from"));
    }
    let with_contacts = principal.can(Permission::VisitorsView);
    let cursor = Cursor {
        state,
        principal,
        filter,
        after: None,
        done: false,
        header_sent: false,
        with_contacts,
    };
    let body = stream::unfold(cursor, |mut cursor| async move {
        match next_chunk(&mut cursor).await {
            Ok(Some(chunk)) => Some((Ok::<_, std::io::Error>(chunk), cursor)),
            Ok(None) => None,
            Err(err) => {
                tracing::error!(code = err.code().as_str(), "visit export stopped");
                Some((
                    Err(std::io::Error::other("export failed")),
                    Cursor {
                        done: true,
                        header_sent: true,
                        ..cursor
                    },
                ))
            }
        }
    });
    let mut response = Body::from_stream(body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"visits.csv\""),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formulas_are_neutralised_and_cells_quoted() {
        assert_eq!(cell("Ada"), "Ada");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+1 555"), "\"'+1 555\"");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("@cmd"), "\"'@cmd\"");
    }
}
