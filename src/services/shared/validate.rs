//! Input validation shared by every service: names, e-mail addresses, time zones, ids.

use crate::error::AppError;

/// Longest name (people, places, badges) accepted.
pub const MAX_NAME: usize = 200;
/// Longest free text (addresses, purposes) accepted.
pub const MAX_TEXT: usize = 2000;

/// A required, trimmed, non-empty text of at most `max` characters.
pub fn required(value: &str, field: &str, max: usize) -> Result<String, AppError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::bad_input(format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(AppError::bad_input(format!(
            "{field} must be at most {max} characters"
        )));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(AppError::bad_input(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(value.to_owned())
}

/// An optional text: blank means absent.
pub fn optional(value: Option<&str>, field: &str, max: usize) -> Result<Option<String>, AppError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => required(v, field, max).map(Some),
    }
}

/// An optional e-mail address: blank means absent; otherwise `local@domain.tld`, at most
/// 254 characters, no spaces.
pub fn email(value: Option<&str>, field: &str) -> Result<Option<String>, AppError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let bad = || AppError::bad_input(format!("{field} is not a valid e-mail address"));
    if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = value.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || local.len() > 64
        || local.contains('@')
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
        || !domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
    {
        return Err(bad());
    }
    Ok(Some(value.to_owned()))
}

/// An optional phone number: digits, spaces and `+-().`, 3 to 40 characters.
pub fn phone(value: Option<&str>, field: &str) -> Result<Option<String>, AppError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let ok = value.len() <= 40
        && value.chars().filter(char::is_ascii_digit).count() >= 3
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().x".contains(c));
    if !ok {
        return Err(AppError::bad_input(format!(
            "{field} is not a valid phone number"
        )));
    }
    Ok(Some(value.to_owned()))
}

/// An IANA time zone name.
pub fn timezone(value: &str) -> Result<String, AppError> {
    let value = value.trim();
    value
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| AppError::bad_input(format!("{value:?} is not an IANA time zone name")))
}

/// An id argument: a UUID string. Anything else cannot name a row, so it is "not found".
pub fn id(value: &str, what: &'static str) -> Result<String, AppError> {
    uuid::Uuid::parse_str(value.trim())
        .map(|u| u.to_string())
        .map_err(|_| AppError::NotFound(what))
}

/// `HH:MM` on a 24-hour clock.
pub fn hh_mm(value: &str, field: &str) -> Result<String, AppError> {
    crate::config::parse_hh_mm(value.trim())
        .map(|(h, m)| format!("{h:02}:{m:02}"))
        .ok_or_else(|| AppError::bad_input(format!("{field} must be HH:MM (24-hour clock)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(required("  Ada ", "name", 10).ok(), Some("Ada".into()));
        assert!(required("   ", "name", 10).is_err());
        assert!(required(&"x".repeat(11), "name", 10).is_err());
        assert!(required("a\u{0}b", "name", 10).is_err());
    }

    #[test]
    fn emails() {
        assert!(email(Some("ada@example.com"), "email").is_ok());
        assert_eq!(email(Some(" "), "email").ok(), Some(None));
        for bad in [
            "ada",
            "ada@",
            "@x.com",
            "a b@x.com",
            "a@x",
            "a@.x.com",
            "a@x..com",
        ] {
            assert!(email(Some(bad), "email").is_err(), "{bad}");
        }
    }

    #[test]
    fn timezones_and_ids() {
        assert_eq!(timezone("Europe/Paris").ok(), Some("Europe/Paris".into()));
        assert!(timezone("Mars/Olympus").is_err());
        assert!(id("nope", "Location").is_err());
        assert!(hh_mm("24:00", "autoCheckoutAt").is_err());
        assert_eq!(hh_mm("7:05", "x").ok(), None);
        assert_eq!(hh_mm("07:05", "x").ok(), Some("07:05".into()));
    }
}
