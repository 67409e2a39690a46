//! The filters a template may use, and the minijinja environment that runs
//! them.
//!
//! The environment starts from [`Environment::empty`]: no globals, no
//! functions, no tests, no built-in filters and no templates, only the six
//! filters below. Each filter is one compiled expression,
//! `value | name(a0, a1)`, evaluated with the value and the arguments the
//! scanner bound; so minijinja never sees a user's text, only values.
//!
//! Every filter passes a missing, null or empty value through unchanged, so
//! that a `default` later in the chain can still replace it.

use std::fmt::Write as _;
use std::sync::OnceLock;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use minijinja::value::ValueKind;
use minijinja::{Environment, ErrorKind, Expression, Value};
use serde_json::Value as Json;

use crate::value::text_of;

/// The filter names, for error messages.
pub(crate) const NAMES: &str = "default, upper, lower, date, number, phone";

/// `date`'s format when none is given: day/month/year, as read in Vietnam.
pub(crate) const DEFAULT_DATE_FORMAT: &str = "%d/%m/%Y";
/// `date`'s time zone when none is given.
pub(crate) const DEFAULT_ZONE: &str = "Asia/Ho_Chi_Minh";
/// The most decimals `number` shows.
pub(crate) const MAX_DECIMALS: i64 = 10;

/// Unix times at or above this magnitude are milliseconds: as seconds they
/// would be past the year 5000, as milliseconds they are after 1973.
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// A filter a template may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Filter {
    Default,
    Upper,
    Lower,
    Date,
    Number,
    Phone,
}

impl Filter {
    const ALL: [Filter; 6] = [
        Filter::Default,
        Filter::Upper,
        Filter::Lower,
        Filter::Date,
        Filter::Number,
        Filter::Phone,
    ];

    /// The name templates use.
    pub fn name(self) -> &'static str {
        match self {
            Filter::Default => "default",
            Filter::Upper => "upper",
            Filter::Lower => "lower",
            Filter::Date => "date",
            Filter::Number => "number",
            Filter::Phone => "phone",
        }
    }

    pub fn from_name(name: &str) -> Option<Filter> {
        Filter::ALL.into_iter().find(|filter| filter.name() == name)
    }

    /// Parameter names, in positional order.
    pub fn params(self) -> &'static [&'static str] {
        match self {
            Filter::Default => &["value"],
            Filter::Upper | Filter::Lower | Filter::Phone => &[],
            Filter::Date => &["format", "zone"],
            Filter::Number => &["decimals"],
        }
    }

    /// The value of each parameter when it is not given.
    pub fn default_args(self) -> Vec<Json> {
        match self {
            Filter::Default => vec![Json::from("")],
            Filter::Upper | Filter::Lower | Filter::Phone => Vec::new(),
            Filter::Date => vec![Json::from(DEFAULT_DATE_FORMAT), Json::from(DEFAULT_ZONE)],
            Filter::Number => vec![Json::from(0)],
        }
    }

    /// Checks bound arguments; on error, the index of the bad one.
    pub fn check_args(self, args: &[Json]) -> Result<(), (usize, String)> {
        match self {
            Filter::Date => {
                let format = args[0]
                    .as_str()
                    .ok_or((0, "`format` must be quoted text".to_owned()))?;
                check_format(format).map_err(|message| (0, message))?;
                let zone = args[1]
                    .as_str()
                    .ok_or((1, "`zone` must be quoted text".to_owned()))?;
                zone_named(zone).map_err(|message| (1, message))?;
            }
            Filter::Number => {
                if !args[0]
                    .as_i64()
                    .is_some_and(|decimals| (0..=MAX_DECIMALS).contains(&decimals))
                {
                    return Err((
                        0,
                        format!("`decimals` must be a whole number from 0 to {MAX_DECIMALS}"),
                    ));
                }
            }
            Filter::Default | Filter::Upper | Filter::Lower | Filter::Phone => {}
        }
        Ok(())
    }

    /// The expression that applies this filter to `value`.
    fn call_source(self) -> String {
        let args = (0..self.params().len())
            .map(|index| format!("a{index}"))
            .collect::<Vec<_>>();
        if args.is_empty() {
            format!("value | {}", self.name())
        } else {
            format!("value | {}({})", self.name(), args.join(", "))
        }
    }
}

/// Applies `filter` to `value` with its bound `args`; on error, a message
/// for a person.
pub(crate) fn apply(filter: Filter, value: Value, args: &[Json]) -> Result<Value, String> {
    let context = std::iter::once(("value".to_owned(), value))
        .chain(
            args.iter()
                .enumerate()
                .map(|(index, arg)| (format!("a{index}"), Value::from_serialize(arg))),
        )
        .collect::<Value>();
    calls()[filter as usize]
        .eval(context)
        .map_err(|error| match error.detail() {
            Some(detail) => detail.to_owned(),
            None => error.to_string(),
        })
}

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut env = Environment::empty();
        env.add_filter("default", default);
        env.add_filter("upper", upper);
        env.add_filter("lower", lower);
        env.add_filter("date", date);
        env.add_filter("number", number);
        env.add_filter("phone", phone);
        env
    })
}

/// One compiled call per filter, indexed by `Filter as usize`.
fn calls() -> &'static [Expression<'static, 'static>] {
    static CALLS: OnceLock<Vec<Expression<'static, 'static>>> = OnceLock::new();
    CALLS.get_or_init(|| {
        Filter::ALL
            .into_iter()
            .map(|filter| {
                environment()
                    .compile_expression_owned(filter.call_source())
                    // The sources are fixed above; a test compiles them all.
                    .expect("filter call expressions compile")
            })
            .collect()
    })
}

fn failure(message: impl Into<String>) -> minijinja::Error {
    minijinja::Error::new(ErrorKind::InvalidOperation, message.into())
}

/// Missing, null and empty values: what `default` replaces and the other
/// filters pass through.
fn is_blank(value: &Value) -> bool {
    value.is_undefined() || value.is_none() || value.as_str() == Some("")
}

fn default(value: Value, fallback: Value) -> Value {
    if is_blank(&value) { fallback } else { value }
}

fn upper(value: Value) -> Result<Value, minijinja::Error> {
    change_case(value, "upper", str::to_uppercase)
}

fn lower(value: Value) -> Result<Value, minijinja::Error> {
    change_case(value, "lower", str::to_lowercase)
}

/// Rust's case mapping is Unicode's, so `đ` becomes `Đ` and `Ư` becomes `ư`.
fn change_case(
    value: Value,
    name: &str,
    change: fn(&str) -> String,
) -> Result<Value, minijinja::Error> {
    if is_blank(&value) {
        return Ok(value);
    }
    match value.kind() {
        ValueKind::String | ValueKind::Number | ValueKind::Bool => {
            Ok(Value::from(change(&text_of(&value))))
        }
        kind => Err(failure(format!("`{name}` takes text, not a {kind}"))),
    }
}

fn date(value: Value, format: String, zone: String) -> Result<Value, minijinja::Error> {
    if is_blank(&value) {
        return Ok(value);
    }
    let moment = Moment::read(&value).map_err(failure)?;
    let zone = zone_named(&zone).map_err(failure)?;
    format_date(moment, &format, zone)
        .map(Value::from)
        .map_err(failure)
}

fn number(value: Value, decimals: i64) -> Result<Value, minijinja::Error> {
    if is_blank(&value) {
        return Ok(value);
    }
    let decimals = usize::try_from(decimals)
        .ok()
        .filter(|_| decimals <= MAX_DECIMALS)
        .ok_or_else(|| failure(format!("`decimals` must be from 0 to {MAX_DECIMALS}")))?;
    let digits = match value.kind() {
        ValueKind::Number if value.is_integer() => value.to_string(),
        ValueKind::Number => {
            let float = f64::try_from(value.clone()).map_err(|_| failure("not a number"))?;
            if !float.is_finite() {
                return Err(failure(format!("{float} is not a finite number")));
            }
            // Rust writes the shortest exact decimal and never an exponent.
            float.to_string()
        }
        ValueKind::String => value.as_str().unwrap_or_default().trim().to_owned(),
        kind => return Err(failure(format!("expects a number, not a {kind}"))),
    };
    format_number(&digits, decimals)
        .map(Value::from)
        .ok_or_else(|| failure(format!("{:?} is not a number", text_of(&value))))
}

fn phone(value: Value) -> Result<Value, minijinja::Error> {
    if is_blank(&value) {
        return Ok(value);
    }
    let raw = match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().to_owned(),
        ValueKind::Number if value.is_integer() => value.to_string(),
        _ => text_of(&value),
    };
    normalize_phone(&raw)
        .map(Value::from)
        .ok_or_else(|| failure(format!("{raw:?} is not a plausible phone number")))
}

/// Refuses strftime formats chrono cannot write, such as `%Q`.
fn check_format(format: &str) -> Result<(), String> {
    if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        return Err(format!(
            "`{format}` is not a valid date format (see strftime)"
        ));
    }
    Ok(())
}

fn zone_named(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        format!("unknown time zone `{name}`; use an IANA name such as `{DEFAULT_ZONE}`")
    })
}

/// A point in time, or a wall-clock time to be read in the target zone.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Moment {
    Instant(DateTime<Utc>),
    WallClock(NaiveDateTime),
}

impl Moment {
    fn read(value: &Value) -> Result<Moment, String> {
        match value.kind() {
            ValueKind::Number if value.is_integer() => {
                let number = i64::try_from(value.clone())
                    .map_err(|_| format!("{value} is out of range for a date"))?;
                Moment::from_unix(number)
            }
            ValueKind::Number => {
                let number = f64::try_from(value.clone())
                    .map_err(|_| format!("{value} is out of range for a date"))?;
                Moment::from_unix_float(number)
            }
            ValueKind::String => Moment::parse(value.as_str().unwrap_or_default()),
            kind => Err(format!(
                "expects a date (RFC 3339 text, YYYY-MM-DD or unix seconds or milliseconds), not a {kind}"
            )),
        }
    }

    fn parse(text: &str) -> Result<Moment, String> {
        let text = text.trim();
        if let Ok(number) = text.parse::<i64>() {
            return Moment::from_unix(number);
        }
        if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
            return Ok(Moment::Instant(instant.with_timezone(&Utc)));
        }
        const WALL_CLOCK: [&str; 4] = [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M",
        ];
        if let Some(wall_clock) = WALL_CLOCK
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        {
            return Ok(Moment::WallClock(wall_clock));
        }
        if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(Moment::WallClock(day.and_time(NaiveTime::MIN)));
        }
        Err(format!(
            "cannot read {text:?} as a date; expected RFC 3339 text, YYYY-MM-DD or unix seconds or milliseconds"
        ))
    }

    fn from_unix(number: i64) -> Result<Moment, String> {
        let instant = if number.unsigned_abs() >= MILLIS_THRESHOLD.unsigned_abs() {
            DateTime::from_timestamp_millis(number)
        } else {
            DateTime::from_timestamp(number, 0)
        };
        instant
            .map(Moment::Instant)
            .ok_or_else(|| format!("{number} is out of range for a date"))
    }

    fn from_unix_float(number: f64) -> Result<Moment, String> {
        let out_of_range = || format!("{number} is out of range for a date");
        if !number.is_finite() || number.abs() >= 1e17 {
            return Err(out_of_range());
        }
        let millis = if number.abs() >= MILLIS_THRESHOLD as f64 {
            number
        } else {
            number * 1000.0
        };
        // In range: |millis| < 1e17 < i64::MAX.
        DateTime::from_timestamp_millis(millis.round() as i64)
            .map(Moment::Instant)
            .ok_or_else(out_of_range)
    }
}

fn format_date(moment: Moment, format: &str, zone: Tz) -> Result<String, String> {
    let local = match moment {
        Moment::Instant(instant) => instant.with_timezone(&zone),
        Moment::WallClock(wall_clock) => zone
            .from_local_datetime(&wall_clock)
            .earliest()
            .ok_or_else(|| format!("{wall_clock} does not exist in {zone}"))?,
    };
    let mut text = String::new();
    // Writing, not `to_string`, so a bad format is an error and not a panic.
    write!(text, "{}", local.format(format))
        .map_err(|_| format!("`{format}` is not a valid date format (see strftime)"))?;
    Ok(text)
}

/// Writes a decimal number (`-1234567.45`, `+12`, `0.5`) the Vietnamese
/// way: `.` between thousands, `,` before the decimals, rounded half away
/// from zero to `decimals` places. Works on the digits, so it is exact for
/// numeric text of any length. `None` when `digits` is not a number.
pub(crate) fn format_number(digits: &str, decimals: usize) -> Option<String> {
    let (negative, unsigned) = match digits.as_bytes().first()? {
        b'-' => (true, &digits[1..]),
        b'+' => (false, &digits[1..]),
        _ => (false, digits),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    if unsigned.contains('.') && fraction.is_empty() {
        return None;
    }
    let mut kept: Vec<u8> = whole.bytes().collect();
    let mut fraction = fraction.as_bytes().to_vec();
    let round_up = fraction.get(decimals).is_some_and(|digit| *digit >= b'5');
    fraction.resize(decimals, b'0');
    kept.extend(fraction);
    if round_up {
        let mut carry = true;
        for digit in kept.iter_mut().rev() {
            if *digit == b'9' {
                *digit = b'0';
            } else {
                *digit += 1;
                carry = false;
                break;
            }
        }
        if carry {
            kept.insert(0, b'1');
        }
    }
    let (whole, fraction) = kept.split_at(kept.len() - decimals);
    let first_significant = whole
        .iter()
        .position(|digit| *digit != b'0')
        .unwrap_or(whole.len().saturating_sub(1));
    let whole = &whole[first_significant..];
    let mut text = String::new();
    if negative && kept.iter().any(|digit| *digit != b'0') {
        text.push('-');
    }
    for (index, digit) in whole.iter().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            text.push('.');
        }
        text.push(char::from(*digit));
    }
    if decimals > 0 {
        text.push(',');
        text.extend(fraction.iter().map(|digit| char::from(*digit)));
    }
    Some(text)
}

/// Normalises a phone number to E.164 digits without `+`: `0912 345 678`,
/// `+84 912 345 678`, `+84 (0) 912 345 678` and `84912345678` all become
/// `84912345678`. Numbers written with another country code (`+1 …`,
/// `00 44 …`) are kept as their digits. `None` when the text is not a
/// plausible phone number.
pub(crate) fn normalize_phone(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '.' | '-' | '(' | ')' => {}
            c if c.is_whitespace() => {}
            _ => return None,
        }
    }
    let international = if plus {
        Some(digits.as_str())
    } else {
        digits.strip_prefix("00")
    };
    if let Some(international) = international {
        if let Some(national) = international.strip_prefix("84") {
            return vietnamese(national.strip_prefix('0').unwrap_or(national));
        }
        let plausible = (8..=15).contains(&international.len()) && !international.starts_with('0');
        return plausible.then(|| international.to_owned());
    }
    if let Some(national) = digits.strip_prefix('0') {
        return vietnamese(national);
    }
    if matches!(digits.len(), 11 | 12)
        && let Some(e164) = digits.strip_prefix("84").and_then(vietnamese)
    {
        return Some(e164);
    }
    vietnamese(&digits)
}

/// A Vietnamese national significant number (the digits after `0` or
/// `84`): 9 digits for mobiles (`3`, `5`, `7`, `8`, `9`…), 10 for
/// landlines (`2…`).
fn vietnamese(national: &str) -> Option<String> {
    let plausible = match national.len() {
        9 => national.starts_with(['3', '5', '7', '8', '9']),
        10 => national.starts_with('2'),
        _ => false,
    };
    plausible.then(|| format!("84{national}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Missing, RenderError, Template};

    fn render(text: &str, context: &Json) -> Result<String, RenderError> {
        Template::parse(text)
            .unwrap()
            .render(context, Missing::Fail)
    }

    fn render_value(filter: &str, value: Json) -> Result<String, RenderError> {
        render(&format!("{{{{ v | {filter} }}}}"), &json!({ "v": value }))
    }

    fn filter_error(filter: &str, value: Json) -> String {
        match render_value(filter, value) {
            Err(RenderError::Filter {
                filter: name,
                message,
                ..
            }) => {
                assert_eq!(filter.split('(').next(), Some(name.as_str()));
                message
            }
            other => panic!("{filter}: {other:?}"),
        }
    }

    #[test]
    fn compiles_every_filter_call_when_first_used() {
        // SPEC A-V
        assert_eq!(calls().len(), Filter::ALL.len());
        for filter in Filter::ALL {
            assert_eq!(Filter::from_name(filter.name()), Some(filter));
            assert_eq!(filter.params().len(), filter.default_args().len());
            assert!(NAMES.contains(filter.name()));
        }
    }

    #[test]
    fn replaces_value_when_default_sees_missing_null_or_empty() {
        // SPEC A-V
        let context = json!({"empty": "", "null": null, "zero": 0, "no": false, "name": "Lan"});
        let text = "[{{ missing | default('a') }}][{{ null | default('b') }}][{{ empty | default('c') }}]\
                    [{{ zero | default(1) }}][{{ no | default(true) }}][{{ name | default('d') }}]\
                    [{{ missing | default }}][{{ missing | default(value=2.5) }}]";
        assert_eq!(
            render(text, &context).unwrap(),
            "[a][b][c][0][false][Lan][][2.5]"
        );
    }

    #[test]
    fn changes_case_when_text_is_vietnamese() {
        // SPEC A-V
        assert_eq!(
            render_value("upper", json!("đơn hàng của Ánh")).unwrap(),
            "ĐƠN HÀNG CỦA ÁNH"
        );
        assert_eq!(
            render_value("lower", json!("ĐƯỜNG LÊ LỢI")).unwrap(),
            "đường lê lợi"
        );
        assert_eq!(render_value("upper", json!(12.5)).unwrap(), "12.5");
        assert_eq!(render_value("lower", json!(true)).unwrap(), "true");
    }

    #[test]
    fn refuses_case_change_when_value_is_a_list() {
        // SPEC A-V
        assert!(filter_error("upper", json!(["a"])).contains("takes text"));
    }

    #[test]
    fn formats_in_vietnam_time_when_date_gets_rfc3339() {
        // SPEC A-V
        let instant = json!("2024-05-01T17:30:00Z");
        assert_eq!(render_value("date", instant.clone()).unwrap(), "02/05/2024");
        assert_eq!(
            render_value("date('%H:%M %d/%m/%Y')", instant.clone()).unwrap(),
            "00:30 02/05/2024"
        );
        assert_eq!(
            render_value(
                "date(format='%Y-%m-%d %H:%M %Z', zone='Europe/Paris')",
                instant
            )
            .unwrap(),
            "2024-05-01 19:30 CEST"
        );
        assert_eq!(
            render_value("date('%H:%M')", json!("2024-05-01T08:00:00+09:00")).unwrap(),
            "06:00"
        );
    }

    #[test]
    fn keeps_the_day_when_date_gets_a_plain_date_or_wall_clock() {
        // SPEC A-V
        assert_eq!(
            render_value("date", json!("2024-12-31")).unwrap(),
            "31/12/2024"
        );
        assert_eq!(
            render_value("date('%d/%m/%Y %H:%M %z')", json!("2024-12-31")).unwrap(),
            "31/12/2024 00:00 +0700"
        );
        assert_eq!(
            render_value("date('%H:%M', 'UTC')", json!("2024-12-31 21:15")).unwrap(),
            "21:15"
        );
    }

    #[test]
    fn reads_unix_time_when_date_gets_seconds_or_millis() {
        // SPEC A-V
        // 2024-01-01T00:00:00Z is 07:00 in Vietnam.
        let format = "date('%d/%m/%Y %H:%M:%S')";
        assert_eq!(
            render_value(format, json!(1_704_067_200)).unwrap(),
            "01/01/2024 07:00:00"
        );
        assert_eq!(
            render_value(format, json!(1_704_067_200_000u64)).unwrap(),
            "01/01/2024 07:00:00"
        );
        assert_eq!(
            render_value(format, json!(1_704_067_200.9)).unwrap(),
            "01/01/2024 07:00:00"
        );
        assert_eq!(
            render_value(format, json!("1704067200")).unwrap(),
            "01/01/2024 07:00:00"
        );
        assert_eq!(
            render_value("date('%d/%m/%Y %H:%M', 'UTC')", json!(0)).unwrap(),
            "01/01/1970 00:00"
        );
    }

    #[test]
    fn fails_naming_date_when_input_is_not_a_date() {
        // SPEC A-V
        assert!(
            filter_error("date", json!("ngày mai")).contains("cannot read \"ngày mai\" as a date")
        );
        assert!(filter_error("date", json!("2024-13-01")).contains("cannot read"));
        assert!(filter_error("date", json!(true)).contains("expects a date"));
        assert!(filter_error("date", json!(9e18)).contains("out of range"));
    }

    #[test]
    fn groups_thousands_the_vietnamese_way_when_number_formats() {
        // SPEC A-V
        assert_eq!(
            render_value("number(1)", json!(1_234_567.5)).unwrap(),
            "1.234.567,5"
        );
        assert_eq!(
            render_value("number", json!(1_234_567)).unwrap(),
            "1.234.567"
        );
        assert_eq!(
            render_value("number", json!(1_234_567.5)).unwrap(),
            "1.234.568"
        );
        assert_eq!(
            render_value("number(decimals=2)", json!(-1234.5)).unwrap(),
            "-1.234,50"
        );
        assert_eq!(render_value("number", json!(999)).unwrap(), "999");
        assert_eq!(render_value("number(2)", json!(0)).unwrap(), "0,00");
        assert_eq!(
            render_value("number", json!(u64::MAX)).unwrap(),
            "18.446.744.073.709.551.615"
        );
    }

    #[test]
    fn accepts_numeric_text_when_number_formats() {
        // SPEC A-V
        assert_eq!(
            render_value("number(2)", json!(" 1234.565 ")).unwrap(),
            "1.234,57"
        );
        assert_eq!(render_value("number", json!("+250000")).unwrap(), "250.000");
        assert_eq!(
            render_value("number", json!("123456789012345678901234567890")).unwrap(),
            "123.456.789.012.345.678.901.234.567.890"
        );
    }

    #[test]
    fn fails_naming_number_when_input_is_not_numeric() {
        // SPEC A-V
        assert!(filter_error("number", json!("một trăm")).contains("is not a number"));
        assert!(filter_error("number", json!("1.234.567")).contains("is not a number"));
        assert!(filter_error("number", json!(false)).contains("expects a number"));
    }

    #[test]
    fn rounds_half_away_from_zero_when_number_drops_decimals() {
        // SPEC A-V
        for (digits, decimals, expected) in [
            ("2.5", 0, "3"),
            ("-2.5", 0, "-3"),
            ("0.4", 0, "0"),
            ("-0.4", 0, "0"),
            ("999.95", 1, "1.000,0"),
            ("9999999.5", 0, "10.000.000"),
            ("0001234", 0, "1.234"),
            ("1.005", 2, "1,01"),
            ("12", 3, "12,000"),
        ] {
            assert_eq!(
                format_number(digits, decimals).as_deref(),
                Some(expected),
                "{digits}"
            );
        }
        for digits in ["", "-", "1.", ".5", "1e5", "1,5", "--1", "12a"] {
            assert_eq!(format_number(digits, 0), None, "{digits:?}");
        }
    }

    #[test]
    fn normalises_to_e164_digits_when_phone_gets_a_vietnamese_number() {
        // SPEC A-V
        for (raw, expected) in [
            (json!("0912 345 678"), "84912345678"),
            (json!("+84 912345678"), "84912345678"),
            (json!("84912345678"), "84912345678"),
            (json!("+84 (0) 912.345.678"), "84912345678"),
            (json!("0084-912-345-678"), "84912345678"),
            (json!("912345678"), "84912345678"),
            (json!(84_912_345_678u64), "84912345678"),
            (json!("024 3825 1234"), "842438251234"),
            (json!("0842 345 678"), "84842345678"),
            (json!("+1 415 555 2671"), "14155552671"),
        ] {
            assert_eq!(
                render_value("phone", raw.clone()).unwrap(),
                expected,
                "{raw}"
            );
        }
    }

    #[test]
    fn fails_naming_phone_when_input_is_not_a_plausible_number() {
        // SPEC A-V
        for raw in [
            json!("gọi tôi"),
            json!("12345"),
            json!("0123 456 789"),
            json!("+84 12"),
            json!("0912 345 678 ext 2"),
            json!("+"),
            json!(1.5),
            json!(["0912345678"]),
        ] {
            assert!(
                filter_error("phone", raw.clone()).contains("not a plausible phone number"),
                "{raw}"
            );
        }
    }

    #[test]
    fn passes_empty_values_through_when_filters_other_than_default_get_them() {
        // SPEC A-V
        for filter in ["upper", "lower", "date", "number", "phone"] {
            assert_eq!(render_value(filter, json!("")).unwrap(), "", "{filter}");
            assert_eq!(render_value(filter, json!(null)).unwrap(), "", "{filter}");
        }
    }
}
