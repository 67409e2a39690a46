//! The public API as the condition node and the condition trigger use it:
//! validate at save time, evaluate at run time.

use careflow_condition::{Condition, ConditionError, Operator, ProblemKind, Rule, ValueType};
use chrono::{TimeZone, Utc};
use serde_json::json;

const VIP_EXAMPLE: &str = r#"
{"all": [ {"field": "customer.tags", "op": "has_tag", "value": "VIPCustomer"},
          {"any": [ {"field": "order.total", "op": "gt", "value": 500000},
                    {"field": "customer.city", "op": "in", "value": ["Hà Nội", "Huế"]} ]} ]}"#;

fn type_of(field: &str) -> Option<ValueType> {
    match field {
        "customer.tags" => Some(ValueType::List),
        "order.total" => Some(ValueType::Number),
        "customer.city" => Some(ValueType::Text),
        _ => None,
    }
}

#[test]
fn saved_condition_validates_and_branches_at_run_time() {
    // SPEC A-N1
    let condition = Condition::from_json(VIP_EXAMPLE).unwrap();
    assert_eq!(condition.validate(&type_of), []);
    assert_eq!(
        condition.fields(),
        ["customer.tags", "order.total", "customer.city"]
    );

    let now = Utc.with_ymd_and_hms(2024, 6, 10, 12, 0, 0).unwrap();
    let vip_in_hue =
        json!({"customer": {"tags": ["VIPCustomer"], "city": "huế"}, "order": {"total": "1000"}});
    let regular =
        json!({"customer": {"tags": ["Regular"], "city": "Huế"}, "order": {"total": 900000}});
    assert!(condition.evaluate(&vip_in_hue, now));
    assert!(!condition.evaluate(&regular, now));
    assert!(condition.evaluate_in(&vip_in_hue, now, chrono_tz::Asia::Ho_Chi_Minh));
}

#[test]
fn trigger_condition_fires_when_a_customer_gets_a_tag() {
    // SPEC A-T2
    let condition = Condition::Rule(Rule {
        field: "customer.tags".into(),
        op: Operator::HasTag,
        value: Some(json!("VIPCustomer")),
    });
    let now = Utc.with_ymd_and_hms(2024, 6, 10, 12, 0, 0).unwrap();
    assert!(!condition.evaluate(&json!({"customer": {"tags": []}}), now));
    assert!(condition.evaluate(&json!({"customer": {"tags": ["VIPCustomer"]}}), now));
}

#[test]
fn broken_documents_and_rules_are_reported_with_their_location() {
    // SPEC A-N1
    let err = Condition::from_json(r#"{"any": [{"field": "a", "op": "bigger", "value": 1}]}"#)
        .unwrap_err();
    assert!(matches!(err, ConditionError::InvalidRule { ref path, .. } if path == "any[0]"));

    let condition =
        Condition::from_json(r#"{"any": [{"field": "order.total", "op": "gt", "value": "lots"}]}"#)
            .unwrap();
    let problems = condition.validate(&type_of);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].path, "any[0].value");
    assert_eq!(problems[0].kind, ProblemKind::ValueTypeMismatch);
}
