//! `node-condition` (private, A-N1): the engine posts a step here; the
//! node logic lives in `careflow_flow::nodes::condition`.

use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    match careflow_engine::node_service::execute("condition", req.body()) {
        Ok(outcome) => {
            careflow_api::json_response(200, serde_json::to_string(&outcome).unwrap_or_default())
        }
        Err(e) => e.into_response(),
    }
}
