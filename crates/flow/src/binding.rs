//! Binding trigger data to a flow's declared variables (A-T3, A-T1):
//! values from a query string, a JSON body or a form body are coerced to
//! each variable's type; every problem is reported at once, per field.

use careflow_condition::ValueType;
use chrono::{DateTime, NaiveDate};
use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::model::VariableDecl;

/// A value that does not fit its variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Binds `input` (field → raw value) to `variables`. Fields that are not
/// declared are ignored; a missing required variable or a value of the
/// wrong type is an error.
pub fn bind(
    variables: &[VariableDecl],
    input: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let mut bound = Map::new();
    let mut errors = Vec::new();
    for var in variables {
        match input.get(&var.name) {
            None | Some(Value::Null) => {
                if var.required {
                    errors.push(FieldError {
                        field: var.name.clone(),
                        message: format!("`{}` is required", var.name),
                    });
                }
            }
            Some(Value::String(s)) if s.trim().is_empty() && var.kind != ValueType::Text => {
                if var.required {
                    errors.push(FieldError {
                        field: var.name.clone(),
                        message: format!("`{}` is required", var.name),
                    });
                }
            }
            Some(raw) => match coerce(var.kind, raw) {
                Ok(value) => {
                    bound.insert(var.name.clone(), value);
                }
                Err(message) => errors.push(FieldError {
                    field: var.name.clone(),
                    message,
                }),
            },
        }
    }
    if errors.is_empty() {
        Ok(bound)
    } else {
        Err(errors)
    }
}

/// Coerces one raw value (JSON, or a string from a query or form).
pub fn coerce(kind: ValueType, raw: &Value) -> Result<Value, String> {
    let text = match raw {
        Value::String(s) => Some(s.trim()),
        _ => None,
    };
    match kind {
        ValueType::Text => Ok(match raw {
            Value::String(s) => Value::String(s.clone()),
            Value::Number(n) => Value::String(n.to_string()),
            Value::Bool(b) => Value::String(b.to_string()),
            _ => return Err("expected text".into()),
        }),
        ValueType::Number => match (raw, text) {
            (Value::Number(n), _) => Ok(Value::Number(n.clone())),
            (_, Some(t)) => parse_number(t).ok_or_else(|| format!("{t:?} is not a number")),
            _ => Err("expected a number".into()),
        },
        ValueType::Boolean => match (raw, text.map(str::to_lowercase).as_deref()) {
            (Value::Bool(b), _) => Ok(Value::Bool(*b)),
            (_, Some("true" | "1" | "yes" | "có" | "on")) => Ok(Value::Bool(true)),
            (_, Some("false" | "0" | "no" | "không" | "off")) => Ok(Value::Bool(false)),
            _ => Err("expected true or false".into()),
        },
        ValueType::Date => {
            let t = text.ok_or("expected a date such as 2026-11-25")?;
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .or_else(|_| NaiveDate::parse_from_str(t, "%d/%m/%Y"))
                .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
                .map_err(|_| format!("{t:?} is not a date (YYYY-MM-DD or DD/MM/YYYY)"))
        }
        ValueType::DateTime => {
            let t = text.ok_or("expected a date-time such as 2026-11-25T09:00:00+07:00")?;
            DateTime::parse_from_rfc3339(t)
                .map(|d| Value::String(d.to_rfc3339()))
                .map_err(|_| format!("{t:?} is not an RFC 3339 date-time"))
        }
        ValueType::Phone => {
            let t = match raw {
                Value::Number(n) => n.to_string(),
                _ => text.ok_or("expected a phone number")?.to_string(),
            };
            normalize_phone(&t)
                .map(Value::String)
                .ok_or_else(|| format!("{t:?} is not a phone number"))
        }
        ValueType::Email => {
            let t = text.ok_or("expected an email address")?;
            let ok = t
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.ends_with('.'))
                && !t.contains(' ');
            if ok {
                Ok(Value::String(t.to_lowercase()))
            } else {
                Err(format!("{t:?} is not an email address"))
            }
        }
        ValueType::List => match raw {
            Value::Array(_) => Ok(raw.clone()),
            Value::String(s) => Ok(Value::Array(
                s.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.into()))
                    .collect(),
            )),
            _ => Err("expected a list".into()),
        },
        ValueType::Object => match raw {
            Value::Object(_) => Ok(raw.clone()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(v @ Value::Object(_)) => Ok(v),
                _ => Err("expected a JSON object".into()),
            },
            _ => Err("expected an object".into()),
        },
    }
}

fn parse_number(t: &str) -> Option<Value> {
    let plain = t.replace(['_', ' '], "");
    if let Ok(i) = plain.parse::<i64>() {
        return Some(Value::Number(i.into()));
    }
    plain
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .and_then(Number::from_f64)
        .map(Value::Number)
}

/// Vietnamese numbers to E.164 digits: `0912 345 678` → `84912345678`.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if trimmed
        .chars()
        .any(|c| !(c.is_ascii_digit() || " .-()+".contains(c)))
    {
        return None;
    }
    let national = if let Some(rest) = digits.strip_prefix("84") {
        rest.to_string()
    } else if let Some(rest) = digits.strip_prefix('0') {
        rest.to_string()
    } else if trimmed.starts_with('+') {
        return (8..=15).contains(&digits.len()).then_some(digits);
    } else if digits.len() == 9 && digits.starts_with(['3', '5', '7', '8', '9']) {
        // A mobile number whose leading 0 was lost (typed as a number in
        // Excel: 0912345678 → 912345678).
        digits.clone()
    } else {
        return None;
    };
    (8..=10)
        .contains(&national.len())
        .then(|| format!("84{national}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vec<VariableDecl> {
        serde_json::from_value(json!([
            {"name": "so_dien_thoai", "type": "phone", "required": true},
            {"name": "tong_tien", "type": "number"},
            {"name": "vip", "type": "boolean"},
            {"name": "ngay_giao", "type": "date"},
            {"name": "email", "type": "email"},
            {"name": "tags", "type": "list"},
            {"name": "customer", "type": "object"}
        ]))
        .unwrap()
    }

    #[test]
    fn coerces_query_and_form_strings_to_declared_types() {
        // SPEC A-T3
        let input = serde_json::from_value(json!({
            "so_dien_thoai": "0912 345 678", "tong_tien": "1500000", "vip": "có",
            "ngay_giao": "25/11/2026", "email": "An@Shop.VN", "tags": "VIP, mới", "extra": "ignored"
        }))
        .unwrap();
        let bound = bind(&vars(), &input).unwrap();
        assert_eq!(bound["so_dien_thoai"], "84912345678");
        assert_eq!(bound["tong_tien"], 1500000);
        assert_eq!(bound["vip"], true);
        assert_eq!(bound["ngay_giao"], "2026-11-25");
        assert_eq!(bound["email"], "an@shop.vn");
        assert_eq!(bound["tags"], json!(["VIP", "mới"]));
        assert!(!bound.contains_key("extra"));
    }

    #[test]
    fn reports_every_bad_or_missing_field() {
        // SPEC A-T3
        let input =
            serde_json::from_value(json!({"tong_tien": "nhiều", "vip": "maybe", "customer": [1]}))
                .unwrap();
        let errors = bind(&vars(), &input).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["so_dien_thoai", "tong_tien", "vip", "customer"]);
    }

    #[test]
    fn phone_numbers_normalise_to_84_or_are_rejected() {
        assert_eq!(
            normalize_phone("0912345678").as_deref(),
            Some("84912345678")
        );
        assert_eq!(
            normalize_phone("+84 912-345-678").as_deref(),
            Some("84912345678")
        );
        assert_eq!(
            normalize_phone("84912345678").as_deref(),
            Some("84912345678")
        );
        assert_eq!(
            normalize_phone("912345678").as_deref(),
            Some("84912345678"),
            "Excel drops the leading 0"
        );
        assert_eq!(normalize_phone("12345"), None);
        assert_eq!(normalize_phone("09123abc45"), None);
    }
}
