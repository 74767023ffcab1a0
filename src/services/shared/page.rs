//! Relay cursor pagination helpers: page sizes and opaque cursors.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};

use crate::error::AppError;

/// Default page size.
pub const DEFAULT_FIRST: usize = 20;
/// Largest page size.
pub const MAX_FIRST: usize = 100;
/// Largest non-connection list; past it the query must be narrowed.
pub const MAX_LIST: usize = 500;

/// Validates `first` (default 20, 0 to 100).
pub fn first(first: Option<i32>) -> Result<usize, AppError> {
    match first {
        None => Ok(DEFAULT_FIRST),
        Some(n) if n < 0 => Err(AppError::bad_input("first must not be negative")),
        Some(n) if n as usize > MAX_FIRST => Err(AppError::bad_input(format!(
            "first must be at most {MAX_FIRST}"
        ))),
        Some(n) => Ok(n as usize),
    }
}

/// Refuses a list longer than [`MAX_LIST`] (callers fetch one more row than the limit).
pub fn bounded<T>(rows: Vec<T>, what: &str) -> Result<Vec<T>, AppError> {
    if rows.len() > MAX_LIST {
        return Err(AppError::bad_input(format!(
            "more than {MAX_LIST} {what}; narrow the query with its filters"
        )));
    }
    Ok(rows)
}

/// A position in a list ordered by (`key`, `id`) descending or ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The sort key (a timestamp in microseconds, or a name).
    pub key: String,
    /// The row id, breaking ties.
    pub id: String,
}

impl Cursor {
    /// A cursor after a row ordered by time.
    pub fn at_time(at: DateTime<Utc>, id: &str) -> Self {
        Cursor {
            key: at.timestamp_micros().to_string(),
            id: id.to_owned(),
        }
    }

    /// The time of a time-ordered cursor.
    pub fn time(&self) -> Result<DateTime<Utc>, AppError> {
        self.key
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(invalid)
    }

    /// The opaque string form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}\u{1f}{}", self.key, self.id))
    }

    /// Parses the opaque string form.
    pub fn decode(text: &str) -> Result<Self, AppError> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        // A cursor names a time or a name and an id: never a control character (the
        // separator aside), which PostgreSQL text could not even hold.
        if text.chars().filter(|c| c.is_control()).count() != 1 {
            return Err(invalid());
        }
        let (key, id) = text.split_once('\u{1f}').ok_or_else(invalid)?;
        Ok(Cursor {
            key: key.to_owned(),
            id: id.to_owned(),
        })
    }
}

fn invalid() -> AppError {
    AppError::bad_input("after is not a cursor from this list")
}

/// The rows after `after` in a list ordered newest first by (`time`, `id`): older, or as
/// old with a smaller id.
pub fn before_time_cursor<C: sea_orm::ColumnTrait>(
    after: &str,
    time: C,
    id: C,
) -> Result<sea_orm::Condition, AppError> {
    let cursor = Cursor::decode(after)?;
    let at = cursor.time()?;
    Ok(sea_orm::Condition::any().add(time.lt(at)).add(
        sea_orm::Condition::all()
            .add(time.eq(at))
            .add(id.lt(cursor.id)),
    ))
}

/// One page of `E`'s rows matching `cond`, newest first by (`time`, `id`), after the cursor
/// `after` when given: the query every newest-first connection runs (`first + 1` rows, to
/// learn whether more follow). `at` reads a row's time for its cursor.
pub async fn newest_first<E>(
    db: &impl sea_orm::ConnectionTrait,
    cond: sea_orm::Condition,
    (time, id): (E::Column, E::Column),
    first: usize,
    after: Option<&str>,
    at: impl Fn(&E::Model) -> (DateTime<Utc>, &str),
) -> Result<Page<E::Model>, AppError>
where
    E: sea_orm::EntityTrait,
{
    use sea_orm::{QueryFilter, QueryOrder, QuerySelect};
    let mut cond = cond;
    if let Some(after) = after {
        cond = cond.add(before_time_cursor(after, time, id)?);
    }
    let rows = E::find()
        .filter(cond)
        .order_by_desc(time)
        .order_by_desc(id)
        .limit(first as u64 + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, first, |row| {
        let (time, id) = at(row);
        Cursor::at_time(time, id)
    }))
}

/// One page of rows and whether more follow.
#[derive(Debug)]
pub struct Page<T> {
    /// The rows, in order, each with its cursor.
    pub rows: Vec<(Cursor, T)>,
    /// Whether rows follow the last one.
    pub has_next: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to `first + 1` fetched rows.
    pub fn from_rows(mut rows: Vec<T>, first: usize, cursor: impl Fn(&T) -> Cursor) -> Self {
        let has_next = rows.len() > first;
        rows.truncate(first);
        Page {
            rows: rows.into_iter().map(|r| (cursor(&r), r)).collect(),
            has_next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor::at_time(
            DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap_or_default(),
            "abc",
        );
        assert_eq!(Cursor::decode(&c.encode()).ok(), Some(c.clone()));
        assert!(c.time().is_ok());
        assert!(Cursor::decode("!!!").is_err());
        assert!(first(Some(101)).is_err());
        assert!(first(Some(-1)).is_err());
        assert_eq!(first(None).ok(), Some(20));
    }
}
