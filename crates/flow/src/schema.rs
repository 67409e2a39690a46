//! What a `{{path}}` or a condition field may refer to in a flow: its
//! declared variables, the trigger's data, the run, and the attributes of
//! the business objects careflow knows.

use std::collections::BTreeMap;

use careflow_condition::ValueType;

use crate::model::{Flow, TriggerKind};

/// The attributes of each business object a variable may hold. Free-form
/// extras live under `attributes` (customer) or `data` (others).
const OBJECTS: &[(&str, &[(&str, ValueType)])] = {
    use ValueType::*;
    &[
        (
            "customer",
            &[
                ("id", Text),
                ("name", Text),
                ("phone", Phone),
                ("email", Email),
                ("gender", Text),
                ("birthday", Date),
                ("address", Text),
                ("city", Text),
                ("tags", List),
                ("lists", List),
                ("groups", List),
                ("responsible_agent", Text),
                ("attributes", Object),
                ("created_at", DateTime),
                ("updated_at", DateTime),
            ],
        ),
        (
            "ticket",
            &[
                ("id", Text),
                ("title", Text),
                ("status", Text),
                ("priority", Text),
                ("channel", Text),
                ("note", Text),
                ("tags", List),
                ("assignee", Text),
                ("data", Object),
                ("created_at", DateTime),
                ("updated_at", DateTime),
            ],
        ),
        (
            "order",
            &[
                ("id", Text),
                ("code", Text),
                ("status", Text),
                ("total", Number),
                ("currency", Text),
                ("items", List),
                ("customer", Object),
                ("data", Object),
                ("created_at", DateTime),
            ],
        ),
        (
            "invoice",
            &[
                ("id", Text),
                ("code", Text),
                ("status", Text),
                ("total", Number),
                ("due_date", Date),
                ("customer", Object),
                ("data", Object),
                ("created_at", DateTime),
            ],
        ),
        (
            "product",
            &[
                ("id", Text),
                ("name", Text),
                ("sku", Text),
                ("price", Number),
                ("data", Object),
            ],
        ),
        (
            "call",
            &[
                ("id", Text),
                ("direction", Text),
                ("status", Text),
                ("duration", Number),
                ("from", Phone),
                ("to", Phone),
                ("agent", Text),
                ("recording_url", Text),
                ("started_at", DateTime),
            ],
        ),
        (
            "analysed_call",
            &[
                ("id", Text),
                ("call_id", Text),
                ("summary", Text),
                ("sentiment", Text),
                ("topics", List),
                ("score", Number),
                ("agent", Text),
                ("data", Object),
                ("created_at", DateTime),
            ],
        ),
        (
            "conversation",
            &[
                ("id", Text),
                ("channel", Text),
                ("status", Text),
                ("last_message", Text),
                ("assignee", Text),
                ("tags", List),
                ("created_at", DateTime),
            ],
        ),
    ]
};

/// The objects a plain webhook (A-T5b) binds without declarations.
pub const WEBHOOK_OBJECTS: &[&str] = &["order", "customer", "invoice", "product", "ticket"];

/// Types of everything a flow's templates and conditions may read.
#[derive(Debug, Clone, Default)]
pub struct VariableTypes {
    variables: BTreeMap<String, ValueType>,
}

impl VariableTypes {
    pub fn for_flow(flow: &Flow) -> Self {
        let mut variables: BTreeMap<String, ValueType> = flow
            .variables
            .iter()
            .map(|v| (v.name.clone(), v.kind))
            .collect();
        if matches!(
            flow.trigger.kind,
            TriggerKind::Webhook | TriggerKind::Partner | TriggerKind::Condition
        ) {
            for object in WEBHOOK_OBJECTS
                .iter()
                .chain(&["call", "conversation", "analysed_call"])
            {
                variables
                    .entry((*object).to_string())
                    .or_insert(ValueType::Object);
            }
        }
        if flow.trigger.kind == TriggerKind::Condition {
            variables
                .entry("event".to_string())
                .or_insert(ValueType::Object);
        }
        if flow.trigger.kind == TriggerKind::Partner {
            // Partner events carry their own attributes (`{{zalo.text}}`)
            // and the raw event (`{{event.payload…}}`).
            variables
                .entry("zalo".to_string())
                .or_insert(ValueType::Object);
            variables
                .entry("event".to_string())
                .or_insert(ValueType::Object);
        }
        Self { variables }
    }

    /// The type at a dotted path, or `None` when nothing is there.
    pub fn type_of(&self, path: &str) -> Option<ValueType> {
        let mut parts = path.split('.');
        let head = parts.next()?;
        let rest: Vec<&str> = parts.collect();
        match head {
            "run" => match rest.as_slice() {
                ["id"] => Some(ValueType::Text),
                ["started_at"] => Some(ValueType::DateTime),
                _ => None,
            },
            "trigger" => match rest.split_first() {
                None => Some(ValueType::Object),
                Some((name, deeper)) => self.lookup(name, deeper),
            },
            name => self.lookup(name, &rest),
        }
    }

    fn lookup(&self, name: &str, rest: &[&str]) -> Option<ValueType> {
        let kind = *self.variables.get(name)?;
        let Some((attribute, deeper)) = rest.split_first() else {
            return Some(kind);
        };
        if kind != ValueType::Object {
            return None;
        }
        let Some((_, attributes)) = OBJECTS.iter().find(|(object, _)| *object == name) else {
            // An object the flow declared without a schema: any attribute.
            return Some(ValueType::Text);
        };
        let (_, attr_type) = attributes.iter().find(|(a, _)| a == attribute)?;
        match (attr_type, deeper.is_empty()) {
            (t, true) => Some(*t),
            (ValueType::Object, false) => Some(ValueType::Text),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Trigger, VariableDecl};

    fn flow(kind: TriggerKind, vars: &[(&str, ValueType)]) -> Flow {
        Flow {
            name: "f".into(),
            description: String::new(),
            variables: vars
                .iter()
                .map(|(n, t)| VariableDecl {
                    name: (*n).into(),
                    kind: *t,
                    required: false,
                    label: None,
                })
                .collect(),
            trigger: Trigger {
                kind,
                settings: serde_json::Value::Null,
            },
            nodes: vec![],
            edges: vec![],
        }
    }

    #[test]
    fn declared_variables_and_known_object_attributes_resolve() {
        // SPEC A-V
        let types = VariableTypes::for_flow(&flow(
            TriggerKind::Api,
            &[
                ("customer", ValueType::Object),
                ("so_dien_thoai", ValueType::Phone),
            ],
        ));
        assert_eq!(types.type_of("customer.name"), Some(ValueType::Text));
        assert_eq!(types.type_of("customer.tags"), Some(ValueType::List));
        assert_eq!(
            types.type_of("customer.attributes.hang"),
            Some(ValueType::Text)
        );
        assert_eq!(
            types.type_of("trigger.so_dien_thoai"),
            Some(ValueType::Phone)
        );
        assert_eq!(types.type_of("so_dien_thoai"), Some(ValueType::Phone));
        assert_eq!(types.type_of("customer.nope"), None);
        assert_eq!(
            types.type_of("order.total"),
            None,
            "order is not declared for an API trigger"
        );
        assert_eq!(types.type_of("so_dien_thoai.x"), None);
        assert_eq!(types.type_of("run.id"), Some(ValueType::Text));
    }

    #[test]
    fn webhook_flows_know_the_objects_they_bind() {
        // SPEC A-T5
        let types = VariableTypes::for_flow(&flow(TriggerKind::Webhook, &[]));
        assert_eq!(types.type_of("order.total"), Some(ValueType::Number));
        assert_eq!(types.type_of("invoice.due_date"), Some(ValueType::Date));
    }
}
