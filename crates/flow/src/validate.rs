//! Save- and publish-time validation (A-V): every problem at once, each
//! with its node and field. A flow with errors can be saved as a draft but
//! not published.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};

use crate::model::{Flow, TRIGGER_NODE};
use crate::nodes::{ValidationContext, node_kind};
use crate::problem::Problem;
use crate::schema::VariableTypes;

const RESERVED: &[&str] = &["trigger", "run"];
pub const MAX_NODES: usize = 500;

fn is_identifier(name: &str) -> bool {
    matches!(name.chars().next(), Some(c) if c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 64
}

/// Every problem of `flow`; `now` is for settings that must lie ahead.
pub fn validate(flow: &Flow, now: DateTime<Utc>) -> Vec<Problem> {
    let mut problems = Vec::new();
    if flow.name.trim().is_empty() {
        problems.push(Problem::flow("name", "give the flow a name"));
    }
    let mut names = HashSet::new();
    for (i, v) in flow.variables.iter().enumerate() {
        if !is_identifier(&v.name) {
            problems.push(Problem::flow(
                format!("variables[{i}].name"),
                format!(
                    "{:?}: use lowercase letters, digits and `_`, starting with a letter",
                    v.name
                ),
            ));
        } else if RESERVED.contains(&v.name.as_str()) {
            problems.push(Problem::flow(
                format!("variables[{i}].name"),
                format!("`{}` is reserved", v.name),
            ));
        } else if !names.insert(v.name.as_str()) {
            problems.push(Problem::flow(
                format!("variables[{i}].name"),
                format!("`{}` is declared twice", v.name),
            ));
        }
    }
    if flow.nodes.len() > MAX_NODES {
        problems.push(Problem::flow(
            "nodes",
            format!("a flow has at most {MAX_NODES} nodes"),
        ));
    }

    if flow.trigger.kind == crate::model::TriggerKind::Form {
        problems.extend(crate::form::validate(flow));
    }
    if flow.trigger.kind == crate::model::TriggerKind::Partner {
        problems.extend(partner_settings(flow));
    }
    let types = VariableTypes::for_flow(flow);
    if flow.trigger.kind == crate::model::TriggerKind::Condition {
        problems.extend(crate::condition_trigger::validate(
            &flow.trigger.settings,
            &types,
        ));
    }
    let ctx = ValidationContext { types: &types, now };
    let mut ports: HashMap<&str, Vec<String>> = HashMap::new();
    ports.insert(TRIGGER_NODE, vec!["next".into()]);
    for (i, node) in flow.nodes.iter().enumerate() {
        if node.id.trim().is_empty() || node.id == TRIGGER_NODE || node.id.len() > 64 {
            problems.push(Problem::flow(
                format!("nodes[{i}].id"),
                format!("{:?} is not a usable node id", node.id),
            ));
            continue;
        }
        if ports.contains_key(node.id.as_str()) {
            problems.push(Problem::node(
                &node.id,
                "id",
                format!("node id `{}` is used twice", node.id),
            ));
            continue;
        }
        let Some(kind) = node_kind(&node.kind) else {
            problems.push(Problem::node(
                &node.id,
                "type",
                format!("unknown node type `{}`", node.kind),
            ));
            ports.insert(&node.id, Vec::new());
            continue;
        };
        for (field, message) in kind.validate(&node.settings, &ctx) {
            problems.push(Problem::node(&node.id, field, message));
        }
        ports.insert(&node.id, kind.ports(&node.settings));
    }

    let mut used: HashSet<(&str, &str)> = HashSet::new();
    for (i, edge) in flow.edges.iter().enumerate() {
        let Some(from_ports) = ports.get(edge.from.as_str()) else {
            problems.push(Problem::flow(
                format!("edges[{i}].from"),
                format!("no node `{}`", edge.from),
            ));
            continue;
        };
        if !from_ports.contains(&edge.port) && node_kind_known(flow, &edge.from) {
            problems.push(Problem::flow(
                format!("edges[{i}].port"),
                format!(
                    "`{}` has no port `{}` (ports: {})",
                    edge.from,
                    edge.port,
                    from_ports.join(", ")
                ),
            ));
        }
        if !ports.contains_key(edge.to.as_str()) || edge.to == TRIGGER_NODE {
            problems.push(Problem::flow(
                format!("edges[{i}].to"),
                format!("the edge leads to no node (`{}`)", edge.to),
            ));
        }
        if !used.insert((edge.from.as_str(), edge.port.as_str())) {
            problems.push(Problem::flow(
                format!("edges[{i}]"),
                format!("port `{}` of `{}` is connected twice", edge.port, edge.from),
            ));
        }
    }
    if flow.start().is_none() {
        problems.push(Problem::flow(
            "edges",
            "connect the trigger to the first node (`{\"from\": \"trigger\", \"to\": …}`)",
        ));
    }

    // Reachability from the trigger.
    let mut reached = BTreeSet::new();
    let mut queue: VecDeque<&str> = flow.start().into_iter().collect();
    while let Some(id) = queue.pop_front() {
        if reached.insert(id) {
            queue.extend(
                flow.edges
                    .iter()
                    .filter(|e| e.from == id)
                    .map(|e| e.to.as_str()),
            );
        }
    }
    for node in &flow.nodes {
        if !reached.contains(node.id.as_str()) && flow.start().is_some() {
            problems.push(Problem::node(
                &node.id,
                "id",
                "no path from the trigger reaches this node",
            ));
        }
        for port in ports.get(node.id.as_str()).into_iter().flatten() {
            if !used.contains(&(node.id.as_str(), port.as_str())) {
                problems.push(
                    Problem::node(
                        &node.id,
                        format!("ports.{port}"),
                        format!("port `{port}` is not connected: runs leaving by it end there"),
                    )
                    .warning(),
                );
            }
        }
    }
    problems
}

/// A partner trigger names a partner careflow knows and some of its events.
fn partner_settings(flow: &Flow) -> Vec<Problem> {
    let settings = &flow.trigger.settings;
    let Some(kind) = settings
        .get("partner")
        .and_then(|p| p.as_str())
        .and_then(crate::partner::PartnerKind::parse)
    else {
        return vec![Problem::flow(
            "trigger.settings.partner",
            "name the partner: \"zalo\" or \"haravan\"",
        )];
    };
    let Some(events) = settings
        .get("events")
        .and_then(|e| e.as_array())
        .filter(|e| !e.is_empty())
    else {
        return vec![Problem::flow(
            "trigger.settings.events",
            "list the events that start the flow",
        )];
    };
    events
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            !kind
                .events()
                .iter()
                .any(|(name, _)| Some(*name) == e.as_str())
        })
        .map(|(i, e)| {
            let known: Vec<&str> = kind.events().iter().map(|(n, _)| *n).collect();
            Problem::flow(
                format!("trigger.settings.events[{i}]"),
                format!(
                    "{e} is not a {} event ({})",
                    kind.as_str(),
                    known.join(", ")
                ),
            )
        })
        .collect()
}

fn node_kind_known(flow: &Flow, id: &str) -> bool {
    id == TRIGGER_NODE || flow.node(id).is_some_and(|n| node_kind(&n.kind).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flow(value: serde_json::Value) -> Flow {
        serde_json::from_value(value).unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2026-11-25T10:00:00Z".parse().unwrap()
    }

    fn good() -> serde_json::Value {
        json!({
            "name": "Chăm sóc đơn hàng",
            "variables": [{"name": "customer", "type": "object"}, {"name": "order", "type": "object"}],
            "trigger": {"type": "api"},
            "nodes": [
                {"id": "vip", "type": "condition", "settings": {"condition": {"all": [{"field": "order.total", "op": "gt", "value": 500000}]}}},
                {"id": "wait", "type": "delay", "settings": {"duration": {"amount": 1, "unit": "hours"}}},
                {"id": "split", "type": "random", "settings": {"branches": [{"port": "a", "percent": 30}, {"port": "b", "percent": 70}]}},
                {"id": "greet", "type": "action", "settings": {"action": "set_variables", "values": {"loi_chao": "Chào {{customer.name}}"}}}
            ],
            "edges": [
                {"from": "trigger", "to": "vip"},
                {"from": "vip", "port": "yes", "to": "wait"},
                {"from": "vip", "port": "no", "to": "greet"},
                {"from": "wait", "to": "split"},
                {"from": "split", "port": "a", "to": "greet"},
                {"from": "split", "port": "b", "to": "greet"}
            ]
        })
    }

    #[test]
    fn a_complete_flow_has_only_the_open_end_warning() {
        // SPEC A-V
        let problems = validate(&flow(good()), now());
        assert!(problems.iter().all(|p| !p.is_error()), "{problems:?}");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "ports.next");
    }

    #[test]
    fn reports_every_problem_at_once_with_node_and_field() {
        // SPEC A-V
        let mut f = good();
        f["nodes"][0]["settings"]["condition"]["all"][0]["field"] = json!("order.nope");
        f["nodes"][1]["settings"] = json!({"until": "2020-01-01T00:00:00Z"});
        f["nodes"][2]["settings"]["branches"][0]["percent"] = json!(20);
        f["nodes"][3]["settings"]["values"]["loi_chao"] = json!("Chào {{khach.ten}}");
        f["nodes"].as_array_mut().unwrap().push(json!({"id": "lost", "type": "delay", "settings": {"duration": {"amount": 1, "unit": "days"}}}));
        f["nodes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": "odd", "type": "teleport"}));
        f["edges"]
            .as_array_mut()
            .unwrap()
            .push(json!({"from": "greet", "to": "ghost"}));
        let problems: Vec<_> = validate(&flow(f), now())
            .into_iter()
            .filter(Problem::is_error)
            .collect();
        let at = |node: &str| {
            problems
                .iter()
                .filter(|p| p.node_id.as_deref() == Some(node))
                .map(|p| p.field.clone())
                .collect::<Vec<_>>()
        };
        assert!(
            at("vip")
                .iter()
                .any(|f| f.starts_with("settings.condition")),
            "{problems:?}"
        );
        assert_eq!(at("wait"), ["settings.until"]);
        assert_eq!(at("split"), ["settings.branches"]);
        assert_eq!(at("greet"), ["settings.values.loi_chao"]);
        assert!(at("lost").contains(&"id".to_string()), "unreachable");
        assert!(at("odd").contains(&"type".to_string()), "unknown type");
        assert!(
            problems
                .iter()
                .any(|p| p.field.starts_with("edges[") && p.field.ends_with(".to")),
            "dangling edge"
        );
    }

    #[test]
    fn bad_template_syntax_and_bad_variable_names_are_errors() {
        // SPEC A-V
        let mut f = good();
        f["nodes"][3]["settings"]["values"]["loi_chao"] = json!("Chào {{customer.name");
        f["variables"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "Số ĐT", "type": "phone"}));
        f["variables"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "customer", "type": "object"}));
        let problems: Vec<_> = validate(&flow(f), now())
            .into_iter()
            .filter(Problem::is_error)
            .map(|p| p.field)
            .collect();
        assert!(
            problems.contains(&"settings.values.loi_chao".to_string()),
            "{problems:?}"
        );
        assert!(problems.contains(&"variables[2].name".to_string()));
        assert!(problems.contains(&"variables[3].name".to_string()));
    }

    #[test]
    fn a_flow_without_a_start_or_with_a_double_port_is_an_error() {
        // SPEC A-V
        let mut f = good();
        f["edges"].as_array_mut().unwrap().remove(0);
        f["edges"]
            .as_array_mut()
            .unwrap()
            .push(json!({"from": "vip", "port": "yes", "to": "greet"}));
        f["edges"]
            .as_array_mut()
            .unwrap()
            .push(json!({"from": "vip", "port": "maybe", "to": "greet"}));
        let fields: Vec<_> = validate(&flow(f), now())
            .into_iter()
            .filter(Problem::is_error)
            .map(|p| p.field)
            .collect();
        assert!(fields.contains(&"edges".to_string()), "{fields:?}");
        assert!(
            fields
                .iter()
                .any(|f| f.starts_with("edges[") && !f.contains('.')),
            "double port: {fields:?}"
        );
        assert!(fields.iter().any(|f| f.ends_with(".port")), "{fields:?}");
    }
}
