//! The flow document: JSON in and out (schema in `docs/flow.schema.json`).

use careflow_condition::ValueType;
use serde::{Deserialize, Serialize};

/// The pseudo node edges start from: `{"from": "trigger", "to": "n1"}`.
pub const TRIGGER_NODE: &str = "trigger";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The variables runs carry (A-V); for API and form triggers, what the
    /// request binds to.
    #[serde(default)]
    pub variables: Vec<VariableDecl>,
    pub trigger: Trigger,
    #[serde(default)]
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub edges: Vec<Edge>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ValueType,
    #[serde(default)]
    pub required: bool,
    /// The label users gave it (e.g. the Excel header `Số điện thoại`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// A-T1
    Form,
    /// A-T2
    Condition,
    /// A-T3
    Api,
    /// A-T4
    Excel,
    /// A-T5b
    Webhook,
    /// A-T5a
    Partner,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    #[serde(rename = "type")]
    pub kind: TriggerKind,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub settings: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub settings: serde_json::Value,
    /// Canvas position, kept for the UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    pub from: String,
    #[serde(default = "default_port")]
    pub port: String,
    pub to: String,
}

fn default_port() -> String {
    "next".to_string()
}

impl Flow {
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Where `port` of `from` leads.
    pub fn next(&self, from: &str, port: &str) -> Option<&str> {
        self.edges
            .iter()
            .find(|e| e.from == from && e.port == port)
            .map(|e| e.to.as_str())
    }

    /// The first node of a run.
    pub fn start(&self) -> Option<&str> {
        self.next(TRIGGER_NODE, "next")
    }
}
