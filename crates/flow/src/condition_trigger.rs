//! A-T2 condition trigger: a flow starts when a business object (customer,
//! ticket, call, analysed call, conversation) is created or updated and
//! *newly* matches the attribute conditions: once per transition from
//! not-matching to matching, not on every update. With an *extended
//! condition* (a named special event such as `zns.rated`) it starts only on
//! that event, and the attribute conditions only filter.

use careflow_condition::Condition;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::problem::Problem;

/// The objects a condition trigger can watch.
pub const OBJECTS: &[&str] = &[
    "customer",
    "ticket",
    "call",
    "analysed_call",
    "conversation",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub object: String,
    /// Attribute conditions over `<object>.…` (e.g. `customer.tags`).
    #[serde(default)]
    pub condition: Option<Condition>,
    /// The extended condition: a special event name (`zns.rated`).
    #[serde(default)]
    pub event: Option<String>,
}

/// What one change means for one flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub fire: bool,
    /// Whether the object matches now (stored for the next change).
    pub matched: bool,
}

/// The context conditions see: the object under its kind's name.
pub fn context(kind: &str, object: &Value, event: Option<&Value>) -> Value {
    let mut ctx = json!({ kind: object });
    if let Some(e) = event {
        ctx["event"] = e.clone();
    }
    ctx
}

/// Decides for one flow and one change. `event` is the special event's
/// name when the change is one.
pub fn decide(
    settings: &Settings,
    kind: &str,
    object: &Value,
    was_matched: bool,
    event: Option<&str>,
    now: DateTime<Utc>,
) -> Decision {
    if settings.object != kind {
        return Decision {
            fire: false,
            matched: was_matched,
        };
    }
    let ctx = context(kind, object, None);
    let matched = settings
        .condition
        .as_ref()
        .is_none_or(|c| c.evaluate(&ctx, now));
    match (&settings.event, event) {
        // Extended condition: only its event fires, the attributes filter.
        (Some(wanted), Some(got)) => Decision {
            fire: wanted == got && matched,
            matched,
        },
        (Some(_), None) => Decision {
            fire: false,
            matched,
        },
        // Attribute conditions: fire on the transition into matching.
        (None, Some(_)) => Decision {
            fire: false,
            matched: was_matched,
        },
        (None, None) => Decision {
            fire: matched && !was_matched,
            matched,
        },
    }
}

pub fn validate(settings: &Value, types: &crate::VariableTypes) -> Vec<Problem> {
    let s: Settings = match serde_json::from_value(settings.clone()) {
        Ok(s) => s,
        Err(e) => return vec![Problem::flow("trigger.settings", e.to_string())],
    };
    let mut problems = Vec::new();
    if !OBJECTS.contains(&s.object.as_str()) {
        problems.push(Problem::flow(
            "trigger.settings.object",
            format!("watch one of: {}", OBJECTS.join(", ")),
        ));
    }
    if s.condition.is_none() && s.event.is_none() {
        problems.push(Problem::flow(
            "trigger.settings",
            "give attribute conditions, an extended event, or both",
        ));
    }
    if let Some(e) = &s.event
        && (e.is_empty()
            || e.len() > 100
            || !e
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
    {
        problems.push(Problem::flow(
            "trigger.settings.event",
            "an event name such as zns.rated",
        ));
    }
    if let Some(c) = &s.condition {
        for p in c.validate(&|path| types.type_of(path)) {
            problems.push(Problem::flow(
                format!("trigger.settings.condition.{}", p.path),
                p.message,
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vip() -> Settings {
        serde_json::from_value(json!({"object": "customer", "condition": {"field": "customer.tags", "op": "has_tag", "value": "VIPCustomer"}})).unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2026-11-25T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn fires_once_when_a_customer_becomes_vip_not_on_every_update() {
        // SPEC A-T2
        let s = vip();
        let plain = json!({"name": "Lan", "tags": []});
        let vip_customer = json!({"name": "Lan", "tags": ["VIPCustomer"]});
        assert_eq!(
            decide(&s, "customer", &plain, false, None, now()),
            Decision {
                fire: false,
                matched: false
            }
        );
        assert_eq!(
            decide(&s, "customer", &vip_customer, false, None, now()),
            Decision {
                fire: true,
                matched: true
            }
        );
        assert_eq!(
            decide(&s, "customer", &vip_customer, true, None, now()),
            Decision {
                fire: false,
                matched: true
            },
            "still VIP: no second run"
        );
        assert_eq!(
            decide(&s, "customer", &plain, true, None, now()),
            Decision {
                fire: false,
                matched: false
            }
        );
        assert!(
            decide(&s, "customer", &vip_customer, false, None, now()).fire,
            "VIP again after losing it fires again"
        );
        assert!(
            !decide(&s, "ticket", &vip_customer, false, None, now()).fire,
            "other objects are ignored"
        );
    }

    #[test]
    fn an_extended_condition_fires_only_on_its_event_with_attributes_as_filter() {
        // SPEC A-T2
        let mut s = vip();
        s.event = Some("zns.rated".into());
        let vip_customer = json!({"tags": ["VIPCustomer"]});
        assert!(
            !decide(&s, "customer", &vip_customer, false, None, now()).fire,
            "an update alone does not fire"
        );
        assert!(
            decide(
                &s,
                "customer",
                &vip_customer,
                true,
                Some("zns.rated"),
                now()
            )
            .fire
        );
        assert!(!decide(&s, "customer", &vip_customer, true, Some("zns.sent"), now()).fire);
        assert!(
            !decide(
                &s,
                "customer",
                &json!({"tags": []}),
                false,
                Some("zns.rated"),
                now()
            )
            .fire,
            "the filter holds"
        );
    }
}
