//! A problem found when a flow is saved or published.

use serde::Serialize;

/// One problem, located by node and setting, so the UI can point at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Errors block publishing; warnings are shown and allowed.
    pub severity: Severity,
    /// The node at fault; `None` for the flow as a whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// The setting or part at fault (`settings.condition.all[0].value`,
    /// `variables[2].name`, `edges[3]`).
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Problem {
    pub fn flow(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            node_id: None,
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn node(node_id: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            node_id: Some(node_id.to_string()),
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
