//! Errors raised while reading a condition from JSON.

/// Why a JSON document is not a [`Condition`](crate::Condition).
///
/// Every variant names the location inside the condition (`all[1].any[0]`,
/// empty for the root) so the editor can point at the broken part.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConditionError {
    /// The text is not JSON at all.
    #[error("condition is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The node is neither a group (`all` / `any`) nor a rule.
    #[error("{}: expected {{\"all\": [...]}}, {{\"any\": [...]}} or a rule with `field` and `op`", at(.path))]
    NotACondition {
        /// Location of the node.
        path: String,
    },
    /// A group's `all` / `any` is not a list.
    #[error("{}: `{key}` must be a list of conditions", at(.path))]
    GroupNotAList {
        /// Location of the group.
        path: String,
        /// `all` or `any`.
        key: &'static str,
    },
    /// A group object carries keys besides its `all` / `any`.
    #[error("{}: a group has exactly one key, `{key}`, and nothing else", at(.path))]
    MixedGroup {
        /// Location of the group.
        path: String,
        /// `all` or `any`.
        key: &'static str,
    },
    /// A rule object is malformed (unknown operator, unknown key, wrong type).
    #[error("{}: invalid rule: {message}", at(.path))]
    InvalidRule {
        /// Location of the rule.
        path: String,
        /// What serde found wrong.
        message: String,
    },
    /// Groups are nested deeper than [`Condition::MAX_DEPTH`](crate::Condition::MAX_DEPTH).
    #[error("{}: groups are nested deeper than {max} levels", at(.path))]
    TooDeep {
        /// Location of the first group past the limit.
        path: String,
        /// The limit.
        max: usize,
    },
}

fn at(path: &str) -> &str {
    if path.is_empty() { "condition" } else { path }
}
