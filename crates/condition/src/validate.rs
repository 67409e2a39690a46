//! Save-time validation: the checks that keep a condition from silently
//! evaluating to false once the flow runs.

use std::cmp::Ordering;
use std::fmt;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Condition, Operand, Operator, Rule, ShapeError, child_path};
use crate::value;

/// The declared type of a context variable (a customer attribute, a ticket
/// field, a form field, …), as the flow editor knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// Free text.
    Text,
    /// A number (JSON number or numeric string).
    Number,
    /// `true` / `false`.
    Boolean,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// An instant, RFC 3339 or unix seconds.
    DateTime,
    /// A phone number, kept as text.
    Phone,
    /// An email address.
    Email,
    /// A list, e.g. customer tags.
    List,
    /// A nested object.
    Object,
}

impl ValueType {
    /// The name used in messages, e.g. `"date-time"`.
    pub fn label(self) -> &'static str {
        match self {
            ValueType::Text => "text",
            ValueType::Number => "number",
            ValueType::Boolean => "boolean",
            ValueType::Date => "date",
            ValueType::DateTime => "date-time",
            ValueType::Phone => "phone",
            ValueType::Email => "email",
            ValueType::List => "list",
            ValueType::Object => "object",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Operator {
    /// Whether the operator makes sense on a field of type `ty`; the editor
    /// offers only these, and [`Condition::validate`] enforces it.
    pub fn applies_to(self, ty: ValueType) -> bool {
        use ValueType as T;
        match self {
            Operator::Eq
            | Operator::Ne
            | Operator::IsEmpty
            | Operator::IsNotEmpty
            | Operator::Exists
            | Operator::NotExists => true,
            Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte | Operator::Between => {
                matches!(ty, T::Number | T::Date | T::DateTime)
            }
            Operator::Contains | Operator::NotContains => {
                matches!(ty, T::Text | T::Phone | T::Email | T::List)
            }
            Operator::StartsWith | Operator::EndsWith => {
                matches!(ty, T::Text | T::Phone | T::Email)
            }
            Operator::In | Operator::NotIn => !matches!(ty, T::Object),
            Operator::Before | Operator::After | Operator::WithinLastDays => {
                matches!(ty, T::Date | T::DateTime)
            }
            Operator::HasTag | Operator::NotHasTag => matches!(ty, T::List),
        }
    }

    fn needs(self) -> &'static str {
        match self {
            Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte | Operator::Between => {
                "a number, date or date-time field"
            }
            Operator::Contains | Operator::NotContains => "a text, phone, email or list field",
            Operator::StartsWith | Operator::EndsWith => "a text, phone or email field",
            Operator::Before | Operator::After | Operator::WithinLastDays => {
                "a date or date-time field"
            }
            Operator::HasTag | Operator::NotHasTag => "a list field",
            Operator::In | Operator::NotIn => "a field that is not an object",
            _ => "any field",
        }
    }
}

/// What is wrong, so the editor can react without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemKind {
    /// The field path names no variable the flow knows.
    UnknownVariable,
    /// The operator does not apply to the field's type.
    UnsupportedOperator,
    /// The operator needs a value and the rule has none.
    MissingValue,
    /// The value has the wrong shape for the operator (not a list, wrong
    /// length, not a date, bounds reversed, a value where none belongs…).
    MalformedValue,
    /// The value cannot be a value of the field's type (`"abc"` for a number).
    ValueTypeMismatch,
}

/// One problem found by [`Condition::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Where inside the condition: `all[1].any[0].value`, `field`, `op`,
    /// `value[1]`.
    pub path: String,
    /// The kind of problem.
    pub kind: ProblemKind,
    /// A sentence for the person editing the flow.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl Condition {
    /// Save-time check against the flow's variables: `type_of` maps a field
    /// path to its declared type, `None` when the flow has no such variable.
    /// Returns every problem found, in document order; empty means valid.
    pub fn validate(&self, type_of: &dyn Fn(&str) -> Option<ValueType>) -> Vec<Problem> {
        let mut problems = Vec::new();
        self.validate_at("", type_of, &mut problems);
        problems
    }

    fn validate_at(
        &self,
        path: &str,
        type_of: &dyn Fn(&str) -> Option<ValueType>,
        out: &mut Vec<Problem>,
    ) {
        let (key, children) = match self {
            Condition::All(children) => ("all", children),
            Condition::Any(children) => ("any", children),
            Condition::Rule(rule) => return rule.validate_at(path, type_of, out),
        };
        for (i, child) in children.iter().enumerate() {
            child.validate_at(&child_path(path, &format!("{key}[{i}]")), type_of, out);
        }
    }
}

impl Rule {
    fn validate_at(
        &self,
        path: &str,
        type_of: &dyn Fn(&str) -> Option<ValueType>,
        out: &mut Vec<Problem>,
    ) {
        let op = self.op;
        let value_path = child_path(path, "value");

        let declared = type_of(&self.field);
        if declared.is_none() {
            let message = if self.field.is_empty() {
                "no variable chosen".to_owned()
            } else {
                format!("unknown variable {}", self.field)
            };
            push(
                out,
                child_path(path, "field"),
                ProblemKind::UnknownVariable,
                message,
            );
        }
        // Type checks of the value only make sense once the operator fits.
        let ty = match declared {
            Some(ty) if !op.applies_to(ty) => {
                let message = format!("`{op}` needs {}, but {} is {ty}", op.needs(), self.field);
                push(
                    out,
                    child_path(path, "op"),
                    ProblemKind::UnsupportedOperator,
                    message,
                );
                None
            }
            ty => ty,
        };

        if !op.takes_value() {
            if self.value.as_ref().is_some_and(|v| !v.is_null()) {
                let message = format!("`{op}` takes no value");
                push(out, value_path, ProblemKind::MalformedValue, message);
            }
            return;
        }
        let operand = match self.operand() {
            Ok(operand) => operand,
            Err(ShapeError::Missing(what)) => {
                let message = format!("`{op}` needs {what}");
                return push(out, value_path, ProblemKind::MissingValue, message);
            }
            Err(ShapeError::Malformed(message)) => {
                return push(out, value_path, ProblemKind::MalformedValue, message);
            }
        };

        let mismatch = |out: &mut Vec<Problem>, at: String, misfit: Option<String>| {
            if let Some(message) = misfit {
                push(out, at, ProblemKind::ValueTypeMismatch, message);
            }
        };
        match operand {
            Operand::Any(v) => mismatch(out, value_path, ty.and_then(|ty| misfit_equal(ty, v))),
            Operand::Ordered(v) => {
                mismatch(out, value_path, ty.and_then(|ty| misfit_ordered(ty, v)));
            }
            Operand::Range(lo, hi) => {
                let lo_misfit = ty.and_then(|ty| misfit_ordered(ty, lo));
                let hi_misfit = ty.and_then(|ty| misfit_ordered(ty, hi));
                let fits = lo_misfit.is_none() && hi_misfit.is_none();
                mismatch(out, format!("{value_path}[0]"), lo_misfit);
                mismatch(out, format!("{value_path}[1]"), hi_misfit);
                if fits && value::order(lo, hi, Tz::UTC) == Some(Ordering::Greater) {
                    let message =
                        format!("the lower bound {lo} is greater than the upper bound {hi}");
                    push(out, value_path, ProblemKind::MalformedValue, message);
                }
            }
            Operand::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    let misfit = ty.and_then(|ty| match ty {
                        // `in` on a list field asks for a shared item.
                        ValueType::List => misfit_item(item),
                        ty => misfit_equal(ty, item),
                    });
                    mismatch(out, format!("{value_path}[{i}]"), misfit);
                }
            }
            Operand::Nothing
            | Operand::Text(_)
            | Operand::Date(_)
            | Operand::Days(_)
            | Operand::Tag(_) => {}
        }
    }
}

fn push(out: &mut Vec<Problem>, path: String, kind: ProblemKind, message: String) {
    out.push(Problem {
        path,
        kind,
        message,
    });
}

/// Why `v` cannot equal a value of type `ty`, if it cannot.
fn misfit_equal(ty: ValueType, v: &Value) -> Option<String> {
    let fits = match ty {
        ValueType::Text => matches!(v, Value::String(_) | Value::Number(_)),
        ValueType::Number => value::numeric(v).is_some(),
        ValueType::Boolean => match v {
            Value::Bool(_) => true,
            Value::String(s) => value::parse_bool(s).is_some(),
            _ => false,
        },
        ValueType::Date | ValueType::DateTime => value::parse_when(v).is_some(),
        ValueType::Phone => match v {
            Value::Number(n) => n.is_u64(),
            Value::String(s) => is_phone(s),
            _ => false,
        },
        ValueType::Email => v.as_str().is_some_and(is_email),
        ValueType::List => v.is_array(),
        ValueType::Object => v.is_object(),
    };
    (!fits).then(|| format!("{v} is not a {ty} value"))
}

/// Why `v` cannot be ordered against a value of type `ty`, if it cannot.
fn misfit_ordered(ty: ValueType, v: &Value) -> Option<String> {
    let fits = match ty {
        ValueType::Number => value::numeric(v).is_some(),
        ValueType::Date | ValueType::DateTime => value::parse_when(v).is_some(),
        // The operator check already reported these.
        _ => true,
    };
    (!fits).then(|| format!("{v} is not a {ty} value"))
}

fn misfit_item(v: &Value) -> Option<String> {
    let fits = matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
    (!fits).then(|| format!("{v} cannot be an item of a list field"))
}

/// Digits with the usual separators and an optional leading `+`.
fn is_phone(text: &str) -> bool {
    let text = text.trim();
    let body = text.strip_prefix('+').unwrap_or(text);
    body.chars().any(|c| c.is_ascii_digit())
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
}

/// One `@` with something on both sides and no spaces; the mail server is
/// the real judge.
fn is_email(text: &str) -> bool {
    match text.trim().split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !text.trim().contains(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn type_of(field: &str) -> Option<ValueType> {
        Some(match field {
            "customer.name" | "customer.city" => ValueType::Text,
            "customer.tags" => ValueType::List,
            "customer.vip" => ValueType::Boolean,
            "customer.birthday" => ValueType::Date,
            "customer.phone" => ValueType::Phone,
            "customer.email" => ValueType::Email,
            "customer.address" => ValueType::Object,
            "order.total" | "ticket.priority" => ValueType::Number,
            "call.started_at" => ValueType::DateTime,
            _ => return None,
        })
    }

    fn problems(json: Value) -> Vec<Problem> {
        Condition::from_value(&json).unwrap().validate(&type_of)
    }

    fn kinds_at(json: Value) -> Vec<(String, ProblemKind)> {
        problems(json)
            .into_iter()
            .map(|p| (p.path, p.kind))
            .collect()
    }

    fn rule(field: &str, op: &str, value: Value) -> Value {
        json!({"field": field, "op": op, "value": value})
    }

    #[test]
    fn accepts_the_spec_example() {
        // SPEC A-N1
        let json = json!({"all": [ {"field": "customer.tags", "op": "has_tag", "value": "VIPCustomer"},
            {"any": [ {"field": "order.total", "op": "gt", "value": 500000},
                      {"field": "customer.city", "op": "in", "value": ["Hà Nội", "Huế"]} ]} ]});
        assert_eq!(problems(json), []);
    }

    #[test]
    fn accepts_a_well_formed_rule_for_every_type() {
        // SPEC A-N1
        let good = [
            rule("customer.name", "starts_with", json!("Nguyễn")),
            rule("customer.name", "eq", json!("An")),
            rule("customer.tags", "contains", json!("Loyal")),
            rule("customer.tags", "in", json!(["Loyal", "New"])),
            rule("customer.tags", "eq", json!(["Loyal"])),
            rule("customer.vip", "eq", json!("true")),
            rule("customer.birthday", "before", json!("2000-01-01")),
            rule(
                "customer.birthday",
                "between",
                json!(["1990-01-01", "1999-12-31"]),
            ),
            rule("customer.phone", "eq", json!("+84 912-345-678")),
            rule("customer.phone", "in", json!([84912345678_u64])),
            rule("customer.email", "ne", json!("an@example.vn")),
            rule("customer.address", "eq", json!({"city": "Huế"})),
            rule("order.total", "gte", json!("500000")),
            rule("ticket.priority", "between", json!([1, 3])),
            rule("call.started_at", "within_last_days", json!(7)),
            rule("call.started_at", "lt", json!(1717934400)),
            json!({"field": "customer.email", "op": "is_empty"}),
            json!({"field": "customer.address", "op": "exists", "value": null}),
        ];
        for json in good {
            assert_eq!(problems(json.clone()), [], "{json}");
        }
    }

    #[test]
    fn reports_an_unknown_variable_at_its_field() {
        // SPEC A-N1
        let found = problems(json!({"all": [
            rule("customer.name", "eq", json!("An")),
            {"any": [rule("customer.foo", "eq", json!(1))]}
        ]}));
        assert_eq!(
            found,
            [Problem {
                path: "all[1].any[0].field".into(),
                kind: ProblemKind::UnknownVariable,
                message: "unknown variable customer.foo".into(),
            }]
        );
        assert_eq!(
            found[0].to_string(),
            "all[1].any[0].field: unknown variable customer.foo"
        );
        assert_eq!(
            kinds_at(rule("", "eq", json!(1))),
            [("field".into(), ProblemKind::UnknownVariable)]
        );
    }

    #[test]
    fn still_checks_the_value_shape_of_an_unknown_variable() {
        // SPEC A-N1
        assert_eq!(
            kinds_at(rule("customer.foo", "between", json!([1]))),
            [
                ("field".into(), ProblemKind::UnknownVariable),
                ("value".into(), ProblemKind::MalformedValue)
            ]
        );
    }

    #[test]
    fn reports_operators_that_do_not_fit_the_field_type() {
        // SPEC A-N1
        let misfits = [
            ("customer.name", "gt", json!(5)),
            ("customer.name", "between", json!([1, 2])),
            ("customer.name", "before", json!("2024-01-01")),
            ("customer.name", "has_tag", json!("VIP")),
            ("order.total", "contains", json!("5")),
            ("order.total", "starts_with", json!("5")),
            ("order.total", "within_last_days", json!(3)),
            ("customer.tags", "starts_with", json!("V")),
            ("customer.tags", "gte", json!(1)),
            ("customer.address", "in", json!(["x"])),
            ("customer.vip", "not_has_tag", json!("x")),
        ];
        for (field, op, value) in misfits {
            assert_eq!(
                kinds_at(rule(field, op, value)),
                [("op".into(), ProblemKind::UnsupportedOperator)],
                "{field} {op}"
            );
        }
        let found = problems(rule("customer.name", "gt", json!(5)));
        assert_eq!(
            found[0].message,
            "`gt` needs a number, date or date-time field, but customer.name is text"
        );
    }

    #[test]
    fn reports_a_missing_value() {
        // SPEC A-N1
        for op in [
            "eq",
            "gt",
            "between",
            "contains",
            "in",
            "before",
            "within_last_days",
            "has_tag",
        ] {
            let json = json!({"all": [{"field": "customer.tags", "op": op}]});
            let found = problems(json);
            assert!(
                found
                    .iter()
                    .any(|p| p.kind == ProblemKind::MissingValue && p.path == "all[0].value"),
                "{op}: {found:?}"
            );
        }
        let found = problems(json!({"field": "order.total", "op": "between"}));
        assert_eq!(
            found[0].message,
            "`between` needs a list of two bounds, [lo, hi]"
        );
    }

    #[test]
    fn reports_wrongly_shaped_values() {
        // SPEC A-N1
        let malformed = [
            ("order.total", "between", json!([1])),
            ("order.total", "between", json!([1, 2, 3])),
            ("order.total", "between", json!(5)),
            ("order.total", "between", json!([1, [2]])),
            ("order.total", "gt", json!([1])),
            ("customer.city", "in", json!("Huế")),
            ("customer.city", "not_in", json!([])),
            ("customer.name", "contains", json!(["a"])),
            ("customer.birthday", "before", json!("next week")),
            ("customer.birthday", "after", json!(true)),
            ("call.started_at", "within_last_days", json!(0)),
            ("call.started_at", "within_last_days", json!(-3)),
            ("call.started_at", "within_last_days", json!(1.5)),
            ("call.started_at", "within_last_days", json!("7")),
            ("customer.tags", "has_tag", json!("")),
            ("customer.tags", "has_tag", json!(["VIP"])),
            ("customer.email", "exists", json!("x")),
        ];
        for (field, op, value) in malformed {
            assert_eq!(
                kinds_at(rule(field, op, value)),
                [("value".into(), ProblemKind::MalformedValue)],
                "{field} {op}"
            );
        }
    }

    #[test]
    fn reports_reversed_between_bounds() {
        // SPEC A-N1
        let found = problems(rule("order.total", "between", json!([500, "100"])));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, ProblemKind::MalformedValue);
        assert_eq!(
            found[0].message,
            "the lower bound 500 is greater than the upper bound \"100\""
        );
        assert_eq!(
            kinds_at(rule(
                "customer.birthday",
                "between",
                json!(["2000-01-01", "1990-01-01"])
            )),
            [("value".into(), ProblemKind::MalformedValue)]
        );
    }

    #[test]
    fn reports_values_that_do_not_fit_the_field_type() {
        // SPEC A-N1
        let mismatched = [
            ("order.total", "eq", json!("abc"), "value"),
            ("order.total", "gt", json!("abc"), "value"),
            ("ticket.priority", "between", json!([1, "high"]), "value[1]"),
            ("order.total", "in", json!([1, "many"]), "value[1]"),
            ("customer.birthday", "gt", json!("yesterday"), "value"),
            ("customer.birthday", "eq", json!(true), "value"),
            (
                "call.started_at",
                "between",
                json!(["later", "2024-01-01"]),
                "value[0]",
            ),
            ("customer.vip", "eq", json!("yes"), "value"),
            ("customer.name", "eq", json!(["An"]), "value"),
            ("customer.phone", "eq", json!("call me"), "value"),
            (
                "customer.email",
                "in",
                json!(["an@example.vn", "an"]),
                "value[1]",
            ),
            ("customer.tags", "eq", json!("VIP"), "value"),
            ("customer.tags", "in", json!([{"a": 1}]), "value[0]"),
            ("customer.address", "ne", json!("Huế"), "value"),
        ];
        for (field, op, value, at) in mismatched {
            assert_eq!(
                kinds_at(rule(field, op, value)),
                [(at.into(), ProblemKind::ValueTypeMismatch)],
                "{field} {op}"
            );
        }
        let found = problems(rule("order.total", "eq", json!("abc")));
        assert_eq!(found[0].message, "\"abc\" is not a number value");
    }

    #[test]
    fn reports_every_problem_in_document_order() {
        // SPEC A-N1
        let found = kinds_at(json!({"any": [
            rule("customer.foo", "eq", json!(1)),
            {"all": [
                rule("customer.name", "gt", json!(1)),
                {"field": "order.total", "op": "lt"},
                rule("order.total", "eq", json!("lots"))
            ]}
        ]}));
        assert_eq!(
            found,
            [
                ("any[0].field".into(), ProblemKind::UnknownVariable),
                ("any[1].all[0].op".into(), ProblemKind::UnsupportedOperator),
                ("any[1].all[1].value".into(), ProblemKind::MissingValue),
                ("any[1].all[2].value".into(), ProblemKind::ValueTypeMismatch),
            ]
        );
    }

    #[test]
    fn applies_to_lists_the_operators_the_editor_offers() {
        // SPEC A-N1
        let offered = |ty| {
            Operator::ALL
                .into_iter()
                .filter(|op| op.applies_to(ty))
                .map(Operator::as_str)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            offered(ValueType::List),
            [
                "eq",
                "ne",
                "contains",
                "not_contains",
                "in",
                "not_in",
                "is_empty",
                "is_not_empty",
                "exists",
                "not_exists",
                "has_tag",
                "not_has_tag"
            ]
        );
        assert_eq!(
            offered(ValueType::Object),
            [
                "eq",
                "ne",
                "is_empty",
                "is_not_empty",
                "exists",
                "not_exists"
            ]
        );
        assert!(offered(ValueType::DateTime).contains(&"within_last_days"));
        assert!(!offered(ValueType::Number).contains(&"before"));
    }

    #[test]
    fn value_types_use_snake_case_names() {
        // SPEC A-N1
        assert_eq!(
            serde_json::to_value(ValueType::DateTime).unwrap(),
            json!("date_time")
        );
        let ty: ValueType = serde_json::from_value(json!("phone")).unwrap();
        assert_eq!(ty, ValueType::Phone);
        let problem = &problems(rule("customer.foo", "eq", json!(1)))[0];
        assert_eq!(
            serde_json::to_value(problem).unwrap(),
            json!({"path": "field", "kind": "unknown_variable", "message": "unknown variable customer.foo"})
        );
    }
}
