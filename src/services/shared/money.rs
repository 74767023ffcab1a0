//! Exact money: decimal amounts are validated and kept as text with the scale they were
//! given (`"1250.00"` stays `"1250.00"`), never passed through floating point.

use crate::error::{AppError, AppResult};

/// Most significant digits an amount may have (integer and fraction together); PostgreSQL's
/// and Books' decimal types hold far more, and no invoice needs more than this.
pub const MAX_DIGITS: usize = 30;

/// Most digits after the decimal point.
pub const MAX_SCALE: usize = 10;

/// Normalises a decimal amount: optional leading `-`, digits, optionally `.` and at least one
/// digit. Leading zeros of the integer part are dropped (`007.50` → `7.50`), the scale is
/// kept, and `-0.00` becomes `0.00`. Exponents, `NaN`, infinities, `+`, blanks inside,
/// thousands separators and a bare `.` are refused: what is stored is exactly what was meant.
pub fn normalize(text: &str) -> Option<String> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (digits, None),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(frac) = frac
        && (frac.is_empty() || frac.len() > MAX_SCALE || !frac.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    if int.len() + frac.map_or(0, str::len) > MAX_DIGITS {
        return None;
    }
    let is_zero = int == "0" && frac.is_none_or(|f| f.bytes().all(|b| b == b'0'));
    let mut out = String::with_capacity(text.len());
    if negative && !is_zero {
        out.push('-');
    }
    out.push_str(int);
    if let Some(frac) = frac {
        out.push('.');
        out.push_str(frac);
    }
    Some(out)
}

/// [`normalize`], or `BAD_USER_INPUT` naming `field`.
pub fn decimal(text: &str, field: &str) -> AppResult<String> {
    normalize(text).ok_or_else(|| {
        AppError::bad_input(format!(
            "{field} must be a decimal number written as a string, like \"1250.00\""
        ))
    })
}

/// Normalises an ISO 4217 currency code (three letters, upper-cased).
pub fn currency(text: &str) -> Option<String> {
    let text = text.trim();
    (text.len() == 3 && text.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| text.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_keep_their_scale_and_refuse_what_is_not_a_plain_decimal() {
        assert_eq!(normalize("1000000.01").as_deref(), Some("1000000.01"));
        assert_eq!(normalize("0.10").as_deref(), Some("0.10"));
        assert_eq!(normalize(" 1250.00 ").as_deref(), Some("1250.00"));
        assert_eq!(normalize("007.50").as_deref(), Some("7.50"));
        assert_eq!(normalize("-12.5").as_deref(), Some("-12.5"));
        assert_eq!(normalize("-0.00").as_deref(), Some("0.00"));
        assert_eq!(normalize("42").as_deref(), Some("42"));
        for bad in [
            "", "-", ".", "1.", ".5", "1e5", "1E5", "NaN", "inf", "+1", "1,000.00", "1 000",
            "0x10", "1.2.3", "١٢", "--1",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
        assert!(normalize(&"9".repeat(MAX_DIGITS)).is_some());
        assert!(normalize(&"9".repeat(MAX_DIGITS + 1)).is_none());
        assert_eq!(currency("eur").as_deref(), Some("EUR"));
        assert_eq!(currency("EURO"), None);
    }
}
