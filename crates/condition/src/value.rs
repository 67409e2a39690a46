//! Reading JSON values as numbers, dates and text, shared by evaluation and
//! validation so both agree on what a value means.

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value};

/// A number read from JSON or from a numeric string. Integers stay exact
/// (`i128` holds every `i64` and `u64`); anything else is an `f64`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn to_f64(self) -> f64 {
        match self {
            // Precision loss only for integers past 2^53 compared with floats.
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    pub(crate) fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            _ => self.to_f64().partial_cmp(&other.to_f64()),
        }
    }
}

/// A JSON number (never NaN or infinite: JSON cannot hold them).
pub(crate) fn json_number(value: &Value) -> Option<Num> {
    let Value::Number(n) = value else {
        return None;
    };
    if let Some(i) = n.as_i64() {
        Some(Num::Int(i.into()))
    } else if let Some(u) = n.as_u64() {
        Some(Num::Int(u.into()))
    } else {
        n.as_f64().filter(|f| f.is_finite()).map(Num::Float)
    }
}

/// A decimal number written as text, surrounding whitespace allowed.
pub(crate) fn parse_number(text: &str) -> Option<Num> {
    let text = text.trim();
    if let Ok(i) = text.parse::<i128>() {
        return Some(Num::Int(i));
    }
    // `f64::from_str` also reads "inf" and "NaN", which are not numbers a
    // customer typed; only digits, sign, point and exponent qualify.
    let plain = text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    if !plain {
        return None;
    }
    text.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Num::Float)
}

/// A JSON number or a numeric string.
pub(crate) fn numeric(value: &Value) -> Option<Num> {
    match value {
        Value::Number(_) => json_number(value),
        Value::String(s) => parse_number(s),
        _ => None,
    }
}

/// A point in time as written, before a zone is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    /// A calendar date, `YYYY-MM-DD`.
    Day(NaiveDate),
    /// A date-time without an offset.
    Local(NaiveDateTime),
    /// An instant: RFC 3339 with an offset, or unix seconds.
    Instant(DateTime<Utc>),
}

impl When {
    /// The instant, reading dates and offset-less times in `zone`; a date
    /// means its first moment.
    pub(crate) fn instant(self, zone: Tz) -> DateTime<Utc> {
        match self {
            When::Instant(at) => at,
            When::Day(day) => local_to_utc(day.and_time(NaiveTime::MIN), zone),
            When::Local(at) => local_to_utc(at, zone),
        }
    }
}

fn local_to_utc(at: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    // A time skipped by a DST jump reads as the same wall time an hour later.
    zone.from_local_datetime(&at)
        .earliest()
        .or_else(|| {
            at.checked_add_signed(TimeDelta::hours(1))
                .and_then(|later| zone.from_local_datetime(&later).earliest())
        })
        .map_or_else(|| at.and_utc(), |t| t.with_timezone(&Utc))
}

/// Reads a date: RFC 3339, `YYYY-MM-DD`, `YYYY-MM-DD[T ]HH:MM[:SS[.fff]]`,
/// or a JSON number of unix seconds. Numeric strings are not unix seconds:
/// text like "20240501" is too easily something else.
pub(crate) fn parse_when(value: &Value) -> Option<When> {
    match value {
        Value::Number(n) => {
            if let Some(secs) = n.as_i64() {
                DateTime::from_timestamp(secs, 0).map(When::Instant)
            } else {
                let secs = n.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15)?;
                let whole = secs.floor();
                let nanos = (((secs - whole) * 1e9) as u32).min(999_999_999);
                DateTime::from_timestamp(whole as i64, nanos).map(When::Instant)
            }
        }
        Value::String(text) => parse_when_text(text.trim()),
        _ => None,
    }
}

fn parse_when_text(text: &str) -> Option<When> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(When::Instant(at.with_timezone(&Utc)));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(When::Day(day));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .map(When::Local)
}

/// A scalar as text: strings as they are, numbers and booleans as written.
pub(crate) fn as_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// Unicode lower case, so "NGUYỄN", "Nguyễn" and "nguyễn" compare equal.
pub(crate) fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// Unicode case-insensitive equality without allocating.
fn eq_fold(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// A string spelling a boolean ("true" / "false", any case).
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Equality as a customer means it: numbers numerically (a numeric string
/// equals the number it spells, but two strings compare as text so phone
/// numbers keep their leading zero), text case-insensitively, booleans also
/// against "true" / "false", lists and objects item by item.
pub(crate) fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Number(_), Value::Number(_) | Value::String(_))
        | (Value::String(_), Value::Number(_)) => match (numeric(a), numeric(b)) {
            (Some(x), Some(y)) => x.compare(y) == Some(Ordering::Equal),
            _ => false,
        },
        (Value::String(x), Value::String(y)) => eq_fold(x, y),
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Bool(x), Value::String(s)) | (Value::String(s), Value::Bool(x)) => {
            parse_bool(s) == Some(*x)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| loose_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => objects_eq(x, y),
        _ => false,
    }
}

fn objects_eq(x: &Map<String, Value>, y: &Map<String, Value>) -> bool {
    x.len() == y.len()
        && x.iter()
            .all(|(k, v)| y.get(k).is_some_and(|w| loose_eq(v, w)))
}

/// Orders two values: numerically when both read as numbers, else as
/// instants when both read as dates; `None` when they cannot be ordered.
pub(crate) fn order(a: &Value, b: &Value, zone: Tz) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (numeric(a), numeric(b)) {
        return x.compare(y);
    }
    let (x, y) = (parse_when(a)?, parse_when(b)?);
    Some(x.instant(zone).cmp(&y.instant(zone)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numeric_strings_read_as_numbers_but_words_do_not() {
        // SPEC A-N1
        assert!(matches!(parse_number(" 500000 "), Some(Num::Int(500_000))));
        assert!(matches!(parse_number("1.5"), Some(Num::Float(f)) if (f - 1.5).abs() < 1e-12));
        for word in ["", "abc", "inf", "NaN", "infinity", "12abc", "-"] {
            assert!(parse_number(word).is_none(), "{word}");
        }
    }

    #[test]
    fn large_integers_compare_exactly() {
        // SPEC A-N1
        let a = json!(9_007_199_254_740_993_u64);
        let b = json!(9_007_199_254_740_992_u64);
        assert_eq!(order(&a, &b, Tz::UTC), Some(Ordering::Greater));
        assert!(!loose_eq(&a, &b));
    }

    #[test]
    fn dates_read_in_every_accepted_form() {
        // SPEC A-N1
        let noon = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        let read = |v: Value| parse_when(&v).map(|w| w.instant(Tz::UTC));
        assert_eq!(read(json!("2024-05-01T12:00:00Z")), Some(noon));
        assert_eq!(read(json!("2024-05-01T19:00:00+07:00")), Some(noon));
        assert_eq!(read(json!("2024-05-01 12:00:00")), Some(noon));
        assert_eq!(read(json!("2024-05-01T12:00")), Some(noon));
        assert_eq!(read(json!(noon.timestamp())), Some(noon));
        assert_eq!(
            read(json!("2024-05-01")),
            Some(Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap())
        );
        for junk in [
            json!("1714564800"),
            json!("01/05/2024"),
            json!(true),
            json!(1e300),
        ] {
            assert_eq!(read(junk.clone()), None, "{junk}");
        }
    }

    #[test]
    fn dates_without_offset_read_in_the_given_zone() {
        // SPEC A-N1
        let day = parse_when(&json!("2024-05-01")).unwrap();
        assert_eq!(
            day.instant(chrono_tz::Asia::Ho_Chi_Minh),
            Utc.with_ymd_and_hms(2024, 4, 30, 17, 0, 0).unwrap()
        );
        // 02:30 does not exist in New York on 2024-03-10: read as 03:30 EDT.
        let skipped = parse_when(&json!("2024-03-10T02:30")).unwrap();
        assert_eq!(
            skipped.instant(chrono_tz::America::New_York),
            Utc.with_ymd_and_hms(2024, 3, 10, 7, 30, 0).unwrap()
        );
    }

    #[test]
    fn dates_at_the_ends_of_the_calendar_read_without_panicking() {
        // SPEC A-N1
        for text in ["+262142-12-31", "-262143-01-01", "+262142-12-31T23:59"] {
            let when = parse_when(&json!(text)).expect(text);
            for zone in [
                Tz::UTC,
                chrono_tz::Asia::Ho_Chi_Minh,
                chrono_tz::America::New_York,
            ] {
                let _ = when.instant(zone);
            }
        }
    }

    #[test]
    fn loose_equality_follows_customer_expectations() {
        // SPEC A-N1
        assert!(loose_eq(&json!("500000"), &json!(500000)));
        assert!(loose_eq(&json!(1.0), &json!(1)));
        assert!(!loose_eq(&json!("0912"), &json!("912")));
        assert!(loose_eq(&json!("NGUYỄN"), &json!("nguyễn")));
        assert!(loose_eq(&json!(true), &json!("True")));
        assert!(loose_eq(&json!(["A", 1]), &json!(["a", "1"])));
        assert!(loose_eq(&json!({"k": "V"}), &json!({"k": "v"})));
        assert!(!loose_eq(&json!({"k": 1}), &json!({"k": 1, "j": 2})));
        assert!(!loose_eq(&json!("abc"), &json!(1)));
        assert!(!loose_eq(&json!(null), &json!(0)));
    }
}
