//! `trigger-condition` (private, A-T2): `POST /changes` evaluates the
//! recorded business-object changes against the condition-triggered flows
//! and starts the runs they fire. `admin` calls it right after a change;
//! the engine's tick drains whatever a failed hop left behind.

use careflow_api::{ApiError, json_response};
use careflow_store::SpinDb;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

/// Changes evaluated per call.
const BATCH: i64 = 500;

#[http_component]
fn handle(req: Request) -> Response {
    let result = (|| {
        if *req.method() != Method::Post {
            return Err(ApiError::method_not_allowed("use POST"));
        }
        let db = SpinDb::open_default()?;
        let started =
            careflow_engine::crm::drain_changes(&db, &mut careflow_engine::SystemClock, BATCH)?;
        Ok(json_response(
            200,
            serde_json::json!({ "runs_started": started }).to_string(),
        ))
    })();
    result.unwrap_or_else(ApiError::into_response)
}
