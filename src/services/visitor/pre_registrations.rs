//! Pre-registrations: expected visitors with a one-time check-in code, stored hashed, that
//! expires 24 hours after the expected time. Check-in by code lives in `services::visitor::visits`.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};

use crate::services::{
    new_id, now, shared::audit, shared::page, shared::validate, visitor::hosts, visitor::locations,
    visitor::visits,
};
use crate::{
    auth::{Principal, tokens},
    error::{AppError, AppResult},
};
use entities::pre_registrations::{
    self, Column, Entity as PreRegistration, StoredPreRegistrationStatus as Stored,
};

/// Length of a pre-registration code (Crockford base32 characters).
pub const CODE_LENGTH: usize = 10;
/// Hours after `expected_at` at which an unused code expires.
pub const VALID_HOURS: i64 = 24;
/// How far in the past (hours) `expected_at` may lie.
pub const MAX_PAST_HOURS: i64 = 24;
/// Attempts at drawing a code that is not taken yet.
const CODE_ATTEMPTS: usize = 5;

/// Where a pre-registration is in its life: the stored status, and `Expired` for a stored
/// `expected` whose code has expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreRegistrationStatus {
    /// The visitor is expected; the code is live.
    Expected,
    /// The visitor checked in with the code.
    CheckedIn,
    /// Cancelled before use.
    Cancelled,
    /// Not used within 24 hours of the expected time (derived, never stored).
    Expired,
}

/// The status of `model` at `now`: a stored "expected" whose code has expired reads `Expired`.
pub fn status(model: &pre_registrations::Model, now: DateTime<Utc>) -> PreRegistrationStatus {
    match model.status {
        Stored::CheckedIn => PreRegistrationStatus::CheckedIn,
        Stored::Cancelled => PreRegistrationStatus::Cancelled,
        Stored::Expected if model.expires_at <= now => PreRegistrationStatus::Expired,
        Stored::Expected => PreRegistrationStatus::Expected,
    }
}

/// A new pre-registration.
#[derive(Debug, Clone)]
pub struct NewPreRegistration {
    /// Where the visitor is expected.
    pub location_id: String,
    /// Whom they visit.
    pub host_id: Option<String>,
    /// Who is expected.
    pub visitor: visits::VisitorDetails,
    /// When they are expected.
    pub expected_at: DateTime<Utc>,
}

/// When a code for a visitor expected at `expected_at` expires, or `BAD_USER_INPUT` when
/// `expected_at` lies more than [`MAX_PAST_HOURS`] before `now` (or out of range).
fn expiry(expected_at: DateTime<Utc>, now: DateTime<Utc>) -> AppResult<DateTime<Utc>> {
    let too_old = now
        .checked_sub_signed(Duration::hours(MAX_PAST_HOURS))
        .is_some_and(|limit| expected_at < limit);
    if too_old {
        return Err(AppError::bad_input(format!(
            "expectedAt must not be more than {MAX_PAST_HOURS} hours in the past"
        )));
    }
    expected_at
        .checked_add_signed(Duration::hours(VALID_HOURS))
        .ok_or_else(|| AppError::bad_input("expectedAt is out of range"))
}

/// Pre-registers a visitor. Returns the row and the plain code, shown once to its creator
/// (only its digest is stored).
pub async fn create(
    db: &DatabaseConnection,
    principal: &Principal,
    input: NewPreRegistration,
) -> AppResult<(pre_registrations::Model, String)> {
    let tenant = principal.tenant_id.as_str();
    let details = visits::visitor_details(&input.visitor)?;
    let expected_at = input.expected_at.trunc_subsecs(6);
    let expires_at = expiry(expected_at, now())?;
    let host_id = input.host_id.as_deref().filter(|h| !h.trim().is_empty());

    for _ in 0..CODE_ATTEMPTS {
        let code = tokens::new_code(CODE_LENGTH);
        let txn = crate::db::begin_write(db).await?;
        let location = locations::require_active(&txn, tenant, &input.location_id).await?;
        let host = match host_id {
            Some(id) => Some(hosts::require(&txn, tenant, id).await?),
            None => None,
        };
        let may_reuse = principal.can(crate::auth::Permission::VisitorsView);
        let visitor = visits::upsert_visitor(&txn, tenant, &details, may_reuse).await?;
        let model = pre_registrations::Model {
            id: new_id(),
            tenant_id: tenant.to_owned(),
            location_id: location.id,
            host_id: host.map(|h| h.id),
            visitor_id: visitor.id,
            code_hash: tokens::digest(&code),
            expected_at,
            expires_at,
            status: Stored::Expected,
            visit_id: None,
            created_by: principal.actor(),
            created_at: now(),
        };
        let inserted = PreRegistration::insert(model.clone().into_active_model())
            .exec_without_returning(&txn)
            .await;
        match inserted {
            Ok(_) => {}
            Err(e) if crate::db::is_unique_violation(&e) => {
                // The code is taken: draw another one in a fresh transaction.
                txn.rollback().await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        audit::record(
            &txn,
            tenant,
            &principal.actor(),
            "pre_registration.create",
            Some(&model.id),
            Some(visitor.name),
        )
        .await?;
        txn.commit().await?;
        return Ok((model, code));
    }
    Err(AppError::internal(
        "could not draw an unused pre-registration code",
    ))
}

/// Cancels an expected pre-registration; any other status is `CONFLICT`.
pub async fn cancel(
    db: &DatabaseConnection,
    principal: &Principal,
    id: &str,
) -> AppResult<pre_registrations::Model> {
    let id = validate::id(id, "PreRegistration")?;
    let txn = crate::db::begin_write(db).await?;
    let existing = PreRegistration::find_by_id(id)
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("PreRegistration"))?;
    let at = now();
    let current = status(&existing, at);
    if current != PreRegistrationStatus::Expected {
        return Err(not_cancellable(current));
    }
    let updated = PreRegistration::update_many()
        .col_expr(Column::Status, Expr::value(Stored::Cancelled))
        .filter(Column::Id.eq(&existing.id))
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .filter(Column::Status.eq(Stored::Expected))
        .filter(Column::ExpiresAt.gt(at))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        // Checked in (or cancelled) concurrently.
        return Err(AppError::Conflict(
            "the pre-registration is no longer expected".into(),
        ));
    }
    audit::record(
        &txn,
        &principal.tenant_id,
        &principal.actor(),
        "pre_registration.cancel",
        Some(&existing.id),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(pre_registrations::Model {
        status: Stored::Cancelled,
        ..existing
    })
}

fn not_cancellable(current: PreRegistrationStatus) -> AppError {
    AppError::Conflict(match current {
        PreRegistrationStatus::CheckedIn => "the visitor has already checked in".into(),
        PreRegistrationStatus::Cancelled => "the pre-registration is already cancelled".into(),
        PreRegistrationStatus::Expired => "the pre-registration has expired".into(),
        PreRegistrationStatus::Expected => "the pre-registration cannot be cancelled".into(),
    })
}

/// The tenant's pre-registrations by expected time, optionally of one location and with
/// `expected_at` in `[from, to)`.
pub async fn list(
    db: &DatabaseConnection,
    principal: &Principal,
    location_id: Option<&str>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> AppResult<Vec<pre_registrations::Model>> {
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(AppError::bad_input("to must not be before from"));
    }
    let mut query = PreRegistration::find().filter(Column::TenantId.eq(&principal.tenant_id));
    if let Some(location) = location_id {
        match validate::id(location, "Location") {
            Ok(id) => query = query.filter(Column::LocationId.eq(id)),
            Err(_) => return Ok(Vec::new()),
        }
    }
    if let Some(from) = from {
        query = query.filter(Column::ExpectedAt.gte(from));
    }
    if let Some(to) = to {
        query = query.filter(Column::ExpectedAt.lt(to));
    }
    let rows = query
        .order_by_asc(Column::ExpectedAt)
        .order_by_asc(Column::Id)
        .limit(page::MAX_LIST as u64 + 1)
        .all(db)
        .await?;
    page::bounded(rows, "pre-registrations")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ActiveEnum;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap_or_default()
    }

    fn model(stored: &str, expires_at: DateTime<Utc>) -> pre_registrations::Model {
        pre_registrations::Model {
            id: "p".into(),
            tenant_id: "t".into(),
            location_id: "l".into(),
            host_id: None,
            visitor_id: "v".into(),
            code_hash: "h".into(),
            expected_at: at(0),
            expires_at,
            status: Stored::try_from_value(&stored.to_owned()).unwrap_or_else(|e| panic!("{e}")),
            visit_id: None,
            created_by: "staff:u".into(),
            created_at: at(0),
        }
    }

    #[test]
    fn expired_is_derived_from_expected_and_expiry() {
        let expires = at(100_000);
        let before = at(99_999);
        assert_eq!(
            status(&model("expected", expires), before),
            PreRegistrationStatus::Expected
        );
        assert_eq!(
            status(&model("expected", expires), expires),
            PreRegistrationStatus::Expired
        );
        assert_eq!(
            status(&model("expected", expires), at(200_000)),
            PreRegistrationStatus::Expired
        );
        assert_eq!(
            status(&model("checked_in", expires), at(200_000)),
            PreRegistrationStatus::CheckedIn
        );
        assert_eq!(
            status(&model("cancelled", expires), before),
            PreRegistrationStatus::Cancelled
        );
        assert_eq!(
            status(&model("cancelled", expires), at(200_000)),
            PreRegistrationStatus::Cancelled
        );
    }

    #[test]
    fn expiry_is_a_day_after_and_not_too_far_in_the_past() {
        let now = at(1_000_000);
        let day = 24 * 3600;
        assert_eq!(expiry(now, now).ok(), Some(at(1_000_000 + day)));
        assert_eq!(expiry(at(1_000_000 - day), now).ok(), Some(now));
        assert!(expiry(at(1_000_000 - day - 1), now).is_err());
        assert!(expiry(DateTime::<Utc>::MAX_UTC, now).is_err());
    }

    #[test]
    fn stored_forms() {
        assert_eq!(Stored::Expected.to_value(), "expected");
        assert_eq!(Stored::CheckedIn.to_value(), "checked_in");
        assert_eq!(Stored::Cancelled.to_value(), "cancelled");
    }
}
