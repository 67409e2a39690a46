//! The body of every node component: read the engine's `NodeRequest`, run
//! the node type, answer its `Outcome`. Effects are left for the caller.

use careflow_api::ApiError;
use careflow_flow::nodes::{Outcome, RunInput, node_kind};

use crate::advance::NodeRequest;

/// Reads the engine's request `body`.
pub fn parse(body: &[u8]) -> Result<NodeRequest, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("not a node request: {e}")))
}

/// Runs `kind` for the engine's request `body`.
pub fn execute(kind: &str, body: &[u8]) -> Result<Outcome, ApiError> {
    execute_request(kind, &parse(body)?)
}

/// Runs `kind` for an already parsed request.
pub fn execute_request(kind: &str, request: &NodeRequest) -> Result<Outcome, ApiError> {
    if request.node_type != kind {
        return Err(ApiError::bad_request(format!(
            "this is the `{kind}` node, not `{}`",
            request.node_type
        )));
    }
    let node =
        node_kind(kind).ok_or_else(|| ApiError::internal(format!("unknown node type {kind}")))?;
    let input = RunInput {
        context: &request.context,
        now: request.now,
        random: request.random,
        idempotency_key: &request.idempotency_key,
    };
    node.execute(&request.settings, &input)
        .map_err(|e| ApiError::validation("settings", e.message))
}
