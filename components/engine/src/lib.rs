//! `engine` (private): advances runs. `POST /runs/:id/advance` takes one
//! run (a trigger just started it); `POST /tick` claims the due runs (the
//! cron component calls it every second). Each node runs in its own
//! component, reached by service chaining (`http://node-<type>.spin.internal`).

use careflow_api::{ApiError, json_response};
use careflow_engine::advance::{NodeExecutor, NodeRequest, advance};
use careflow_engine::{Clock, runs};
use careflow_flow::Node;
use careflow_flow::nodes::Outcome;
use careflow_store::SpinDb;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

/// Steps one call may take before handing the run back to the queue, so
/// no request runs near the platform's time limit.
const BUDGET: u32 = 50;
/// Runs claimed per batch; a tick claims batches until nothing is due or
/// its time is up, so a burst of due delays drains at full speed.
const TICK_BATCH: i64 = 50;
/// How long one tick keeps claiming (well under the request time limit;
/// the next cron tick carries on).
const TICK_BUDGET_MS: i64 = 20_000;
/// Upload rows one tick turns into runs.
const UPLOAD_ROWS_PER_TICK: i64 = 5_000;

/// Runs a node in its component.
struct ChainedNodes;

impl NodeExecutor for ChainedNodes {
    fn execute(&mut self, node: &Node, request: &NodeRequest) -> Result<Outcome, String> {
        let body = serde_json::to_vec(request).map_err(|e| e.to_string())?;
        let url = format!("http://node-{}.spin.internal/execute", node.kind);
        let out = Request::post(url.clone(), body)
            .header("content-type", "application/json")
            .build();
        let res: Response =
            spin_sdk::http::run(spin_sdk::http::send(out)).map_err(|e| format!("{url}: {e}"))?;
        let value: serde_json::Value = serde_json::from_slice(res.body())
            .map_err(|e| format!("{url} answered non-JSON: {e}"))?;
        if *res.status() != 200 {
            return Err(value["error"]["message"]
                .as_str()
                .unwrap_or("the node failed")
                .to_string());
        }
        serde_json::from_value(value)
            .map_err(|e| format!("{url} answered an unreadable outcome: {e}"))
    }
}

#[http_component]
fn handle(req: Request) -> Response {
    match route(&req) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn route(req: &Request) -> Result<Response, ApiError> {
    if *req.method() != Method::Post {
        return Err(ApiError::method_not_allowed("use POST"));
    }
    let segments: Vec<&str> = req.path().split('/').filter(|s| !s.is_empty()).collect();
    let db = SpinDb::open_default()?;
    let mut clock = careflow_engine::SystemClock;
    let claim_id = clock.new_id();
    match segments.as_slice() {
        ["runs", run_id, "advance"] => {
            if !runs::claim(&db, run_id, clock.now_ms(), &claim_id)? {
                return Ok(json_response(
                    200,
                    serde_json::json!({ "run_id": run_id, "claimed": false }).to_string(),
                ));
            }
            let result = advance(
                &db,
                &mut clock,
                &mut ChainedNodes,
                run_id,
                &claim_id,
                BUDGET,
                careflow_flow::run::DEFAULT_MAX_STEPS,
            )?;
            Ok(json_response(
                200,
                serde_json::to_string(&result).unwrap_or_default(),
            ))
        }
        ["tick"] => {
            let started = clock.now_ms();
            // Object changes a failed hop left unevaluated (A-T2).
            let from_changes = careflow_engine::crm::drain_changes(&db, &mut clock, 500)?;
            // Rows of Excel uploads become runs here, a chunk at a time.
            let from_uploads =
                careflow_engine::uploads::drain(&db, &mut clock, UPLOAD_ROWS_PER_TICK, 500)?;
            let (mut advanced, mut failed) = (0, 0);
            while clock.now_ms() - started < TICK_BUDGET_MS {
                let claimed = runs::claim_due(&db, clock.now_ms(), &claim_id, TICK_BATCH)?;
                if claimed.is_empty() {
                    break;
                }
                for run_id in &claimed {
                    let max_steps = careflow_flow::run::DEFAULT_MAX_STEPS;
                    match advance(
                        &db,
                        &mut clock,
                        &mut ChainedNodes,
                        run_id,
                        &claim_id,
                        BUDGET,
                        max_steps,
                    ) {
                        Ok(_) => advanced += 1,
                        Err(e) => {
                            // Its lease runs out and a later tick retries it.
                            eprintln!("run {run_id}: {}", e.message);
                            failed += 1;
                        }
                    }
                }
            }
            let body = serde_json::json!({ "advanced": advanced, "failed": failed, "started_from_uploads": from_uploads, "started_from_changes": from_changes });
            Ok(json_response(200, body.to_string()))
        }
        _ => Err(ApiError::not_found(format!("no endpoint {}", req.path()))),
    }
}
