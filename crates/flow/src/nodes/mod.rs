//! Node types. Each declares, in its own file, its settings (a serde type
//! that denies unknown fields), its output ports, its validation (the only
//! home of its limits) and what it does when a run reaches it.

pub mod action;
pub mod condition;
pub mod delay;
pub mod random;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::schema::VariableTypes;

/// What validation may look at.
pub struct ValidationContext<'a> {
    pub types: &'a VariableTypes,
    /// Now, for settings that must lie in the future.
    pub now: DateTime<Utc>,
}

/// What a node sees when a run reaches it.
pub struct RunInput<'a> {
    /// The run's variables: declared names at the top, `trigger`, `run`.
    pub context: &'a Value,
    pub now: DateTime<Utc>,
    /// A number in [0, 1) drawn by the engine for this step and recorded
    /// with it, so a replayed step decides the same way.
    pub random: f64,
    /// `run_id:step_no`: the idempotency key of effects leaving the system.
    pub idempotency_key: &'a str,
}

/// Something that leaves the system, carried out by the node's component.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    Http(action::HttpCall),
    Crm(action::CrmChange),
}

/// What a node decided.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// The port the run leaves by.
    pub port: String,
    /// Variables to set on the run.
    #[serde(default)]
    pub patch: Map<String, Value>,
    #[serde(default)]
    pub effects: Vec<Effect>,
    /// Wait until then before leaving by `port` (A-N2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_until: Option<DateTime<Utc>>,
    /// The settings as rendered for this run, for run inspection.
    #[serde(default)]
    pub rendered: Value,
    /// What the node decided, recorded with the step (e.g. the branch).
    #[serde(default)]
    pub decision: Value,
}

/// A step that cannot complete; the run fails with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NodeError {
    pub message: String,
}

impl NodeError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// One node type.
pub trait NodeKind: Sync {
    /// The `type` in the flow document.
    fn kind(&self) -> &'static str;
    /// Settings, ports and limits, for the UI and documentation.
    fn describe(&self) -> Value;
    /// The output ports, given the node's settings.
    fn ports(&self, settings: &Value) -> Vec<String>;
    /// Problems with the settings: (field, message).
    fn validate(&self, settings: &Value, ctx: &ValidationContext<'_>) -> Vec<(String, String)>;
    /// What the node does for a run.
    fn execute(&self, settings: &Value, input: &RunInput<'_>) -> Result<Outcome, NodeError>;
}

/// Every node type, by `type`.
pub fn registry() -> &'static [&'static dyn NodeKind] {
    &[
        &condition::ConditionNode,
        &delay::DelayNode,
        &random::RandomNode,
        &action::ActionNode,
    ]
}

pub fn node_kind(kind: &str) -> Option<&'static dyn NodeKind> {
    registry().iter().copied().find(|n| n.kind() == kind)
}

/// Parses settings, naming the field at fault.
pub(crate) fn parse_settings<T: DeserializeOwned>(settings: &Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(settings.clone()).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let field = if path == "." {
            match message.split('`').nth(1) {
                Some(missing) if message.starts_with("missing field") => {
                    format!("settings.{missing}")
                }
                _ => "settings".to_string(),
            }
        } else {
            format!("settings.{path}")
        };
        (field, message)
    })
}

/// Checks that a text setting is a valid template over known variables.
pub(crate) fn check_template(
    field: &str,
    text: &str,
    types: &VariableTypes,
) -> Vec<(String, String)> {
    match careflow_template::Template::parse(text) {
        Err(e) => vec![(field.to_string(), format!("bad template: {e}"))],
        Ok(t) => t
            .references()
            .into_iter()
            .filter(|path| types.type_of(path).is_none())
            .map(|path| {
                (
                    field.to_string(),
                    format!(
                        "`{{{{{path}}}}}` refers to a variable or attribute that does not exist"
                    ),
                )
            })
            .collect(),
    }
}

/// Renders a text setting for a run; a missing variable fails the step.
pub(crate) fn render(field: &str, text: &str, context: &Value) -> Result<String, NodeError> {
    let template = careflow_template::Template::parse(text)
        .map_err(|e| NodeError::new(format!("{field}: {e}")))?;
    template
        .render(context, careflow_template::Missing::Fail)
        .map_err(|e| NodeError::new(format!("{field}: {e}")))
}
