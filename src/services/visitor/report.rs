//! The visit report: check-ins per location and local day over at most 92 days, computed
//! with a constant number of statements whatever the range.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use futures_util::StreamExt;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};

use crate::services::shared::validate;
use crate::{
    auth::Principal,
    error::{AppError, AppResult},
};
use entities::{locations, visits};

/// Longest range a report covers, in days.
pub const MAX_DAYS: i64 = 92;

/// Check-ins at one location on one day of its time zone.
#[derive(Debug, Clone)]
pub struct ReportDay {
    /// `YYYY-MM-DD` in the location's time zone.
    pub date: String,
    /// The location.
    pub location: locations::Model,
    /// Check-ins that day.
    pub check_ins: i64,
}

/// Check-ins over a range, per location and local day.
#[derive(Debug, Clone)]
pub struct VisitReport {
    /// Start of the range (inclusive).
    pub from: DateTime<Utc>,
    /// End of the range (exclusive).
    pub to: DateTime<Utc>,
    /// Check-ins in the range.
    pub total: i64,
    /// Days with check-ins, by date then location name.
    pub days: Vec<ReportDay>,
}

/// `BAD_USER_INPUT` unless `from < to` and the range spans at most [`MAX_DAYS`] days.
fn check_range(from: DateTime<Utc>, to: DateTime<Utc>) -> AppResult<()> {
    if to <= from {
        return Err(AppError::bad_input("to must be after from"));
    }
    if to - from > Duration::days(MAX_DAYS) {
        return Err(AppError::bad_input(format!(
            "the report covers at most {MAX_DAYS} days"
        )));
    }
    Ok(())
}

/// The time zone of a location, UTC when its name is not a known IANA zone.
fn zone(location: &locations::Model) -> Tz {
    location.timezone.parse::<Tz>().unwrap_or(Tz::UTC)
}

/// Counts check-ins per location and day in that location's time zone as they arrive, in
/// memory proportional to the number of (day, location) pairs, not of check-ins. Check-ins
/// at a location it does not know are left out.
pub struct DayCounter<'a> {
    by_id: HashMap<&'a str, (&'a locations::Model, Tz)>,
    counts: BTreeMap<(NaiveDate, &'a str), i64>,
}

impl<'a> DayCounter<'a> {
    /// A counter for check-ins at `locations`.
    pub fn new(locations: &'a [locations::Model]) -> Self {
        DayCounter {
            by_id: locations
                .iter()
                .map(|l| (l.id.as_str(), (l, zone(l))))
                .collect(),
            counts: BTreeMap::new(),
        }
    }

    /// Counts one check-in.
    pub fn add(&mut self, location_id: &str, at: DateTime<Utc>) {
        let Some((location, tz)) = self.by_id.get(location_id) else {
            return;
        };
        let date = at.with_timezone(tz).date_naive();
        *self.counts.entry((date, location.id.as_str())).or_insert(0) += 1;
    }

    /// The days with check-ins, sorted by date, then location name (then id).
    pub fn finish(self) -> Vec<ReportDay> {
        let DayCounter { by_id, counts } = self;
        let mut days: Vec<ReportDay> = counts
            .into_iter()
            .filter_map(|((date, location_id), check_ins)| {
                by_id.get(location_id).map(|(location, _)| ReportDay {
                    date: date.format("%Y-%m-%d").to_string(),
                    location: (*location).clone(),
                    check_ins,
                })
            })
            .collect();
        days.sort_by(|a, b| {
            a.date
                .cmp(&b.date)
                .then_with(|| a.location.name.cmp(&b.location.name))
                .then_with(|| a.location.id.cmp(&b.location.id))
        });
        days
    }
}

/// Groups check-ins `(location_id, checked_in_at)` by location and day in that location's
/// time zone, sorted by date, then location name (then id). Check-ins at a location missing
/// from `locations` are left out.
pub fn group_days(
    check_ins: &[(String, DateTime<Utc>)],
    locations: &[locations::Model],
) -> Vec<ReportDay> {
    let mut counter = DayCounter::new(locations);
    for (location_id, at) in check_ins {
        counter.add(location_id, *at);
    }
    counter.finish()
}

/// Check-ins with `checked_in_at` in `[from, to)`, optionally at one location (an id that is
/// not the tenant's gives an empty report). Two statements whatever the range.
pub async fn visit_report(
    db: &DatabaseConnection,
    principal: &Principal,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    location_id: Option<&str>,
) -> AppResult<VisitReport> {
    check_range(from, to)?;
    let location_id = match location_id {
        Some(l) => match validate::id(l, "Location") {
            Ok(id) => Some(id),
            Err(_) => {
                return Ok(VisitReport {
                    from,
                    to,
                    total: 0,
                    days: Vec::new(),
                });
            }
        },
        None => None,
    };

    // The locations first: their time zones place each check-in on its day as it arrives.
    let mut places =
        locations::Entity::find().filter(locations::Column::TenantId.eq(&principal.tenant_id));
    if let Some(id) = &location_id {
        places = places.filter(locations::Column::Id.eq(id));
    }
    let places = places.all(db).await?;

    // The check-ins are streamed and counted one by one: memory stays flat however many
    // there are in the range.
    let mut query = visits::Entity::find()
        .select_only()
        .column(visits::Column::LocationId)
        .column(visits::Column::CheckedInAt)
        .filter(visits::Column::TenantId.eq(&principal.tenant_id))
        .filter(visits::Column::CheckedInAt.gte(from))
        .filter(visits::Column::CheckedInAt.lt(to));
    if let Some(id) = &location_id {
        query = query.filter(visits::Column::LocationId.eq(id));
    }
    let mut counter = DayCounter::new(&places);
    let mut check_ins = query
        .into_tuple::<(String, DateTime<Utc>)>()
        .stream(db)
        .await?;
    while let Some(row) = check_ins.next().await {
        let (location_id, at) = row?;
        counter.add(&location_id, at);
    }
    drop(check_ins);

    let days = counter.finish();
    let total = days.iter().map(|d| d.check_ins).sum();
    Ok(VisitReport {
        from,
        to,
        total,
        days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn place(id: &str, name: &str, timezone: &str) -> locations::Model {
        locations::Model {
            id: id.into(),
            tenant_id: "t".into(),
            name: name.into(),
            address: None,
            location_type: locations::LocationType::Office,
            timezone: timezone.into(),
            archived: false,
            created_at: at("2026-01-01T00:00:00Z"),
            updated_at: at("2026-01-01T00:00:00Z"),
        }
    }

    #[test]
    fn days_are_local_to_each_location_and_sorted() {
        let places = [
            place("a", "Zurich", "Europe/Zurich"),
            place("b", "Austin", "America/Chicago"),
            place("c", "Nowhere", "Mars/Olympus"),
        ];
        let check_ins = vec![
            // 23:30 UTC on the 1st is already the 2nd in Zurich (UTC+1 in March).
            ("a".to_owned(), at("2026-03-01T23:30:00Z")),
            ("a".to_owned(), at("2026-03-02T08:00:00Z")),
            // 03:00 UTC on the 2nd is still the 1st in Chicago (UTC-6).
            ("b".to_owned(), at("2026-03-02T03:00:00Z")),
            ("b".to_owned(), at("2026-03-02T12:00:00Z")),
            // An unknown zone falls back to UTC.
            ("c".to_owned(), at("2026-03-01T23:30:00Z")),
            // A location not in the list is left out.
            ("x".to_owned(), at("2026-03-01T12:00:00Z")),
        ];
        let days = group_days(&check_ins, &places);
        let flat: Vec<(&str, &str, i64)> = days
            .iter()
            .map(|d| (d.date.as_str(), d.location.name.as_str(), d.check_ins))
            .collect();
        assert_eq!(
            flat,
            vec![
                ("2026-03-01", "Austin", 1),
                ("2026-03-01", "Nowhere", 1),
                ("2026-03-02", "Austin", 1),
                ("2026-03-02", "Zurich", 2),
            ]
        );
        assert!(group_days(&[], &places).is_empty());
    }

    #[test]
    fn ranges_are_bounded() {
        let from = at("2026-01-01T00:00:00Z");
        assert!(check_range(from, from).is_err());
        assert!(check_range(from, from - Duration::seconds(1)).is_err());
        assert!(check_range(from, from + Duration::days(MAX_DAYS)).is_ok());
        assert!(check_range(from, from + Duration::days(MAX_DAYS) + Duration::seconds(1)).is_err());
    }
}
