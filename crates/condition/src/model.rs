//! The condition model and its JSON form.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::ConditionError;
use crate::value::{self, When};

/// A condition tree: rules combined with `all` / `any`.
///
/// JSON: `{"all": [...]}`, `{"any": [...]}` or a bare [`Rule`] object.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// True when every child is true; an empty list is true.
    All(Vec<Condition>),
    /// True when at least one child is true; an empty list is false.
    Any(Vec<Condition>),
    /// A single comparison.
    Rule(Rule),
}

/// One comparison of a context field against a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Dotted path into the context, e.g. `customer.city`; a numeric segment
    /// indexes a list (`order.items.0.sku`).
    pub field: String,
    /// The comparison.
    pub op: Operator,
    /// The operand; its shape depends on `op` (absent for `exists`,
    /// `is_empty` and their negations). JSON `null` reads as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// What a [`Rule`] checks. JSON names are `snake_case` (`not_in`,
/// `within_last_days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// Equal: numbers numerically, text case-insensitively.
    Eq,
    /// Not equal; true when the field is missing.
    Ne,
    /// Greater than (numbers or dates).
    Gt,
    /// Greater than or equal (numbers or dates).
    Gte,
    /// Less than (numbers or dates).
    Lt,
    /// Less than or equal (numbers or dates).
    Lte,
    /// Inside `[lo, hi]`, both ends included.
    Between,
    /// Text contains the value (case-insensitive), or a list holds it.
    Contains,
    /// Negation of `contains`; true when the field is missing.
    NotContains,
    /// Text starts with the value (case-insensitive).
    StartsWith,
    /// Text ends with the value (case-insensitive).
    EndsWith,
    /// The field equals one of the listed values (a list field: shares one).
    In,
    /// Negation of `in`; true when the field is missing.
    NotIn,
    /// Missing, `null`, `""`, `[]` or `{}`.
    IsEmpty,
    /// Negation of `is_empty`.
    IsNotEmpty,
    /// Present and not `null`.
    Exists,
    /// Missing or `null`.
    NotExists,
    /// The field's instant is strictly before the value's.
    Before,
    /// The field's instant is strictly after the value's.
    After,
    /// The field's date lies in the last N days up to `now` (inclusive).
    WithinLastDays,
    /// The field, a list of strings, holds the tag (exact, case-sensitive).
    HasTag,
    /// Negation of `has_tag`; true when the field is missing.
    NotHasTag,
}

impl Operator {
    /// Every operator, in the order the editor lists them.
    pub const ALL: [Operator; 22] = [
        Operator::Eq,
        Operator::Ne,
        Operator::Gt,
        Operator::Gte,
        Operator::Lt,
        Operator::Lte,
        Operator::Between,
        Operator::Contains,
        Operator::NotContains,
        Operator::StartsWith,
        Operator::EndsWith,
        Operator::In,
        Operator::NotIn,
        Operator::IsEmpty,
        Operator::IsNotEmpty,
        Operator::Exists,
        Operator::NotExists,
        Operator::Before,
        Operator::After,
        Operator::WithinLastDays,
        Operator::HasTag,
        Operator::NotHasTag,
    ];

    /// The JSON name, e.g. `"not_in"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "eq",
            Operator::Ne => "ne",
            Operator::Gt => "gt",
            Operator::Gte => "gte",
            Operator::Lt => "lt",
            Operator::Lte => "lte",
            Operator::Between => "between",
            Operator::Contains => "contains",
            Operator::NotContains => "not_contains",
            Operator::StartsWith => "starts_with",
            Operator::EndsWith => "ends_with",
            Operator::In => "in",
            Operator::NotIn => "not_in",
            Operator::IsEmpty => "is_empty",
            Operator::IsNotEmpty => "is_not_empty",
            Operator::Exists => "exists",
            Operator::NotExists => "not_exists",
            Operator::Before => "before",
            Operator::After => "after",
            Operator::WithinLastDays => "within_last_days",
            Operator::HasTag => "has_tag",
            Operator::NotHasTag => "not_has_tag",
        }
    }

    /// Whether the operator needs a `value`.
    pub fn takes_value(self) -> bool {
        !matches!(
            self,
            Operator::IsEmpty | Operator::IsNotEmpty | Operator::Exists | Operator::NotExists
        )
    }

    /// The result when the field is missing or `null`.
    pub(crate) fn matches_missing(self) -> bool {
        matches!(
            self,
            Operator::IsEmpty
                | Operator::NotExists
                | Operator::Ne
                | Operator::NotIn
                | Operator::NotContains
                | Operator::NotHasTag
        )
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule's `value`, checked against its operator's expected shape.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Operand<'a> {
    /// The operator takes no value.
    Nothing,
    /// One non-null JSON value (`eq`, `ne`).
    Any(&'a Value),
    /// A number or string to order against (`gt`, `gte`, `lt`, `lte`).
    Ordered(&'a Value),
    /// `[lo, hi]` (`between`).
    Range(&'a Value, &'a Value),
    /// A string, number or boolean used as text (`contains`, `starts_with`, …).
    Text(&'a Value),
    /// A list of candidates (`in`, `not_in`).
    List(&'a [Value]),
    /// A date (`before`, `after`).
    Date(When),
    /// A positive day count (`within_last_days`).
    Days(u64),
    /// A tag (`has_tag`, `not_has_tag`).
    Tag(&'a str),
}

/// Why a rule's `value` does not fit its operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ShapeError {
    /// The operator needs a value and there is none.
    Missing(&'static str),
    /// The value has the wrong shape; the message says what was expected.
    Malformed(String),
}

impl Rule {
    /// Checks `value` against what `op` needs; evaluation and validation both
    /// start here so they never disagree about what is well-formed.
    pub(crate) fn operand(&self) -> Result<Operand<'_>, ShapeError> {
        let op = self.op;
        if !op.takes_value() {
            // A stray value (left over when the editor switched operators)
            // changes nothing; `validate` still points it out.
            return Ok(Operand::Nothing);
        }
        let value = self.value.as_ref().filter(|v| !v.is_null());
        let Some(value) = value else {
            return Err(ShapeError::Missing(expected(op)));
        };
        let wrong = || ShapeError::Malformed(format!("`{op}` needs {}", expected(op)));
        match op {
            Operator::Eq | Operator::Ne => Ok(Operand::Any(value)),
            Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte => match value {
                Value::Number(_) | Value::String(_) => Ok(Operand::Ordered(value)),
                _ => Err(wrong()),
            },
            Operator::Between => match value.as_array().map(Vec::as_slice) {
                Some([lo, hi]) if is_orderable(lo) && is_orderable(hi) => {
                    Ok(Operand::Range(lo, hi))
                }
                _ => Err(wrong()),
            },
            Operator::Contains
            | Operator::NotContains
            | Operator::StartsWith
            | Operator::EndsWith => match value {
                Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(Operand::Text(value)),
                _ => Err(wrong()),
            },
            Operator::In | Operator::NotIn => match value {
                Value::Array(items) if !items.is_empty() => Ok(Operand::List(items)),
                _ => Err(wrong()),
            },
            Operator::Before | Operator::After => value::parse_when(value)
                .map(Operand::Date)
                .ok_or_else(wrong),
            Operator::WithinLastDays => match value.as_u64() {
                Some(days) if days > 0 => Ok(Operand::Days(days)),
                _ => Err(wrong()),
            },
            Operator::HasTag | Operator::NotHasTag => match value {
                Value::String(tag) if !tag.is_empty() => Ok(Operand::Tag(tag)),
                _ => Err(wrong()),
            },
            Operator::IsEmpty | Operator::IsNotEmpty | Operator::Exists | Operator::NotExists => {
                Ok(Operand::Nothing)
            }
        }
    }
}

fn is_orderable(value: &Value) -> bool {
    matches!(value, Value::Number(_) | Value::String(_))
}

/// What `op`'s value must look like, for messages.
fn expected(op: Operator) -> &'static str {
    match op {
        Operator::Eq | Operator::Ne => "a value to compare with",
        Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte => "a number or a date",
        Operator::Between => "a list of two bounds, [lo, hi]",
        Operator::Contains | Operator::NotContains | Operator::StartsWith | Operator::EndsWith => {
            "a text value"
        }
        Operator::In | Operator::NotIn => "a non-empty list of values",
        Operator::Before | Operator::After => {
            "a date (YYYY-MM-DD, RFC 3339 date-time or unix seconds)"
        }
        Operator::WithinLastDays => "a positive whole number of days",
        Operator::HasTag | Operator::NotHasTag => "a non-empty tag",
        Operator::IsEmpty | Operator::IsNotEmpty | Operator::Exists | Operator::NotExists => {
            "no value"
        }
    }
}

impl Condition {
    /// How deeply groups may nest; deeper trees are refused at parse time so
    /// evaluation's recursion stays bounded.
    pub const MAX_DEPTH: usize = 32;

    /// Parses a condition from JSON text.
    ///
    /// # Errors
    ///
    /// [`ConditionError::Json`] when the text is not JSON, otherwise as
    /// [`from_value`](Self::from_value).
    pub fn from_json(text: &str) -> Result<Self, ConditionError> {
        let value: Value = serde_json::from_str(text)?;
        Self::from_value(&value)
    }

    /// Parses a condition from a JSON value.
    ///
    /// # Errors
    ///
    /// A [`ConditionError`] naming the location of the first node that is
    /// not a group or a well-formed rule, or of a group nested deeper than
    /// [`MAX_DEPTH`](Self::MAX_DEPTH).
    pub fn from_value(value: &Value) -> Result<Self, ConditionError> {
        parse(value, "", 0)
    }

    /// Every field path the condition reads, in order of first appearance,
    /// without duplicates.
    pub fn fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields(&self, out: &mut Vec<String>) {
        match self {
            Condition::All(children) | Condition::Any(children) => {
                for child in children {
                    child.collect_fields(out);
                }
            }
            Condition::Rule(rule) => {
                if !out.contains(&rule.field) {
                    out.push(rule.field.clone());
                }
            }
        }
    }
}

impl From<Rule> for Condition {
    fn from(rule: Rule) -> Self {
        Condition::Rule(rule)
    }
}

/// Joins a location and a child segment: `all[1]` + `any[0]` → `all[1].any[0]`.
pub(crate) fn child_path(parent: &str, segment: &str) -> String {
    if parent.is_empty() {
        segment.to_owned()
    } else {
        format!("{parent}.{segment}")
    }
}

fn parse(value: &Value, path: &str, depth: usize) -> Result<Condition, ConditionError> {
    let Value::Object(map) = value else {
        return Err(ConditionError::NotACondition { path: path.into() });
    };
    for key in ["all", "any"] {
        let Some(children) = map.get(key) else {
            continue;
        };
        if map.len() != 1 {
            return Err(ConditionError::MixedGroup {
                path: path.into(),
                key,
            });
        }
        if depth >= Condition::MAX_DEPTH {
            return Err(ConditionError::TooDeep {
                path: path.into(),
                max: Condition::MAX_DEPTH,
            });
        }
        let Value::Array(items) = children else {
            return Err(ConditionError::GroupNotAList {
                path: path.into(),
                key,
            });
        };
        let children = items
            .iter()
            .enumerate()
            .map(|(i, item)| parse(item, &child_path(path, &format!("{key}[{i}]")), depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(if key == "all" {
            Condition::All(children)
        } else {
            Condition::Any(children)
        });
    }
    if !map.contains_key("field") && !map.contains_key("op") {
        return Err(ConditionError::NotACondition { path: path.into() });
    }
    Rule::deserialize(value)
        .map(Condition::Rule)
        .map_err(|e| ConditionError::InvalidRule {
            path: path.into(),
            message: e.to_string(),
        })
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Condition::from_value(&value).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(untagged)]
        enum Repr<'a> {
            All { all: &'a [Condition] },
            Any { any: &'a [Condition] },
            Rule(&'a Rule),
        }
        match self {
            Condition::All(all) => Repr::All { all },
            Condition::Any(any) => Repr::Any { any },
            Condition::Rule(rule) => Repr::Rule(rule),
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_spec_example_into_nested_groups() {
        // SPEC A-N1
        let condition: Condition = serde_json::from_str(
            r#"{"all": [ {"field": "customer.tags", "op": "has_tag", "value": "VIPCustomer"},
                  {"any": [ {"field": "order.total", "op": "gt", "value": 500000},
                            {"field": "customer.city", "op": "in", "value": ["Hà Nội", "Huế"]} ]} ]}"#,
        )
        .unwrap();
        let rule = |field: &str, op, value| {
            Condition::Rule(Rule {
                field: field.into(),
                op,
                value: Some(value),
            })
        };
        assert_eq!(
            condition,
            Condition::All(vec![
                rule("customer.tags", Operator::HasTag, json!("VIPCustomer")),
                Condition::Any(vec![
                    rule("order.total", Operator::Gt, json!(500000)),
                    rule("customer.city", Operator::In, json!(["Hà Nội", "Huế"])),
                ]),
            ])
        );
    }

    #[test]
    fn serializes_back_to_the_same_json() {
        // SPEC A-N1
        let json = json!({"any": [
            {"field": "customer.email", "op": "exists"},
            {"all": [{"field": "ticket.priority", "op": "between", "value": [1, 3]}]}
        ]});
        let condition = Condition::from_value(&json).unwrap();
        assert_eq!(serde_json::to_value(&condition).unwrap(), json);
    }

    #[test]
    fn parses_a_bare_rule_and_reads_null_value_as_absent() {
        // SPEC A-N1
        let condition =
            Condition::from_json(r#"{"field": "customer.email", "op": "is_empty", "value": null}"#)
                .unwrap();
        assert_eq!(
            condition,
            Condition::Rule(Rule {
                field: "customer.email".into(),
                op: Operator::IsEmpty,
                value: None
            })
        );
    }

    #[test]
    fn parses_every_operator_by_its_snake_case_name() {
        // SPEC A-N1
        for op in Operator::ALL {
            let parsed: Operator = serde_json::from_value(json!(op.as_str())).unwrap();
            assert_eq!(parsed, op);
            assert_eq!(serde_json::to_value(op).unwrap(), json!(op.to_string()));
        }
        assert_eq!(Operator::WithinLastDays.as_str(), "within_last_days");
        assert_eq!(Operator::NotIn.as_str(), "not_in");
    }

    #[test]
    fn rejects_an_unknown_operator_with_its_location() {
        // SPEC A-N1
        let err = Condition::from_value(&json!({"all": [
            {"field": "a", "op": "eq", "value": 1},
            {"any": [{"field": "b", "op": "greater", "value": 1}]}
        ]}))
        .unwrap_err();
        match &err {
            ConditionError::InvalidRule { path, message } => {
                assert_eq!(path, "all[1].any[0]");
                assert!(message.contains("greater"), "{message}");
            }
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn rejects_unknown_keys_in_a_rule() {
        // SPEC A-N1
        let err = Condition::from_value(&json!({"field": "a", "op": "eq", "value": 1, "x": 2}))
            .unwrap_err();
        assert!(matches!(err, ConditionError::InvalidRule { ref path, .. } if path.is_empty()));
        assert!(
            err.to_string().starts_with("condition: invalid rule"),
            "{err}"
        );
    }

    #[test]
    fn rejects_shapes_that_are_not_conditions() {
        // SPEC A-N1
        assert!(matches!(
            Condition::from_value(&json!([1])),
            Err(ConditionError::NotACondition { .. })
        ));
        assert!(matches!(
            Condition::from_value(&json!({"alll": []})),
            Err(ConditionError::NotACondition { .. })
        ));
        assert!(matches!(
            Condition::from_value(&json!({"all": {"field": "a", "op": "exists"}})),
            Err(ConditionError::GroupNotAList { key: "all", .. })
        ));
        assert!(matches!(
            Condition::from_value(&json!({"all": [], "any": []})),
            Err(ConditionError::MixedGroup { key: "all", .. })
        ));
        assert!(matches!(
            Condition::from_value(&json!({"any": [], "field": "a"})),
            Err(ConditionError::MixedGroup { key: "any", .. })
        ));
        assert!(matches!(
            Condition::from_json("{"),
            Err(ConditionError::Json(_))
        ));
    }

    #[test]
    fn rejects_groups_nested_past_the_depth_limit() {
        // SPEC A-N1
        let nest = |levels: usize| {
            let mut json = json!({"field": "a", "op": "exists"});
            for _ in 0..levels {
                json = json!({ "all": [json] });
            }
            json
        };
        assert!(Condition::from_value(&nest(Condition::MAX_DEPTH)).is_ok());
        assert!(matches!(
            Condition::from_value(&nest(Condition::MAX_DEPTH + 1)),
            Err(ConditionError::TooDeep {
                max: Condition::MAX_DEPTH,
                ..
            })
        ));
    }

    #[test]
    fn lists_each_referenced_field_once_in_order() {
        // SPEC A-N1
        let condition = Condition::from_value(&json!({"all": [
            {"field": "customer.tags", "op": "has_tag", "value": "VIPCustomer"},
            {"any": [
                {"field": "order.total", "op": "gt", "value": 500000},
                {"field": "customer.tags", "op": "not_has_tag", "value": "Churned"},
                {"field": "customer.city", "op": "exists"}
            ]}
        ]}))
        .unwrap();
        assert_eq!(
            condition.fields(),
            ["customer.tags", "order.total", "customer.city"]
        );
    }
}
