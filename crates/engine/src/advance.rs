//! Advancing a claimed run, node by node, until it waits, ends, or the
//! per-call budget is spent (then it is handed back to the queue, due now).

use careflow_api::ApiError;
use careflow_flow::nodes::Outcome;
use careflow_flow::run::{self, Event, RunStatus};
use careflow_flow::{Flow, Node};
use careflow_store::Db;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::runs::{self, StepRecord};
use crate::{Clock, flows};

/// What the engine sends a node component (`POST /execute`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeRequest {
    /// The run's workspace, for nodes that act on its objects.
    #[serde(default)]
    pub workspace_id: String,
    pub node_type: String,
    pub settings: Value,
    pub context: Value,
    pub now: DateTime<Utc>,
    pub random: f64,
    pub idempotency_key: String,
}

/// Runs one node: the `engine` component calls the node's component over
/// service chaining; tests call the node library in-process.
pub trait NodeExecutor {
    fn execute(&mut self, node: &Node, request: &NodeRequest) -> Result<Outcome, String>;
}

/// The draw for a step, derived from the run and step number, so any
/// replay of the step (a retry, a crash before commit) decides the same.
pub fn draw(run_id: &str, step_no: u32) -> f64 {
    let digest = Sha256::digest(format!("{run_id}:{step_no}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// What one call did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advanced {
    pub run_id: String,
    pub steps_taken: u32,
    pub status: String,
    /// Another engine took the run over (the lease expired); nothing more
    /// was written by this call.
    pub lost_claim: bool,
}

pub fn advance(
    db: &impl Db,
    clock: &mut impl Clock,
    executor: &mut impl NodeExecutor,
    run_id: &str,
    claim_id: &str,
    budget: u32,
    max_steps: u32,
) -> Result<Advanced, ApiError> {
    let mut taken = 0;
    let mut flow_cache: Option<(i64, Flow)> = None;
    loop {
        let stored = runs::load(db, run_id)?;
        let status = stored.state.status;
        let done = |lost| {
            Ok(Advanced {
                run_id: run_id.to_string(),
                steps_taken: taken,
                status: status.as_str().into(),
                lost_claim: lost,
            })
        };
        if status.is_ended() {
            return done(false);
        }
        if flow_cache
            .as_ref()
            .is_none_or(|(v, _)| *v != stored.version)
        {
            flow_cache = Some((
                stored.version,
                flows::version(db, &stored.workspace_id, &stored.flow_id, stored.version)?,
            ));
        }
        let flow = &flow_cache.as_ref().expect("loaded above").1;
        let now = clock.now();
        if status == RunStatus::Waiting {
            match stored.state.due_at {
                Some(due) if due > now => {
                    runs::release(db, run_id, claim_id, due.timestamp_millis())?;
                    return done(false);
                }
                _ => {
                    let next =
                        run::transition(&stored.state, flow, Event::WaitElapsed, now, max_steps)
                            .map_err(|e| ApiError::internal(e.to_string()))?;
                    if !runs::commit_state(db, clock, &stored, claim_id, &next)? {
                        return done(true);
                    }
                    continue;
                }
            }
        }
        if taken >= budget {
            runs::release(db, run_id, claim_id, clock.now_ms())?;
            return done(false);
        }
        if !runs::renew(db, run_id, claim_id, clock.now_ms())? {
            return done(true);
        }
        let step_no = stored.state.steps + 1;
        let node_id = stored.state.at.clone().unwrap_or_default();
        let started_ms = clock.now_ms();
        let (event, record) = match flow.node(&node_id) {
            None => (
                Event::StepFailed(format!("the flow has no node `{node_id}`")),
                None,
            ),
            Some(node) => {
                let request = NodeRequest {
                    workspace_id: stored.workspace_id.clone(),
                    node_type: node.kind.clone(),
                    settings: node.settings.clone(),
                    context: stored.state.context.clone(),
                    now,
                    random: draw(run_id, step_no),
                    idempotency_key: format!("{run_id}:{step_no}"),
                };
                match executor.execute(node, &request) {
                    Ok(outcome) => {
                        let record = StepRecord {
                            step_no,
                            node_id: node.id.clone(),
                            node_type: node.kind.clone(),
                            port: Some(outcome.port.clone()),
                            rendered: outcome.rendered.clone(),
                            decision: outcome.decision.clone(),
                            patch: Value::Object(outcome.patch.clone()),
                            error: None,
                            started_at: clock.now_text(),
                            duration_ms: clock.now_ms() - started_ms,
                        };
                        (Event::StepCompleted(outcome), Some(record))
                    }
                    Err(message) => {
                        let record = StepRecord {
                            step_no,
                            node_id: node.id.clone(),
                            node_type: node.kind.clone(),
                            port: None,
                            rendered: Value::Null,
                            decision: Value::Null,
                            patch: Value::Null,
                            error: Some(message.clone()),
                            started_at: clock.now_text(),
                            duration_ms: clock.now_ms() - started_ms,
                        };
                        (Event::StepFailed(message), Some(record))
                    }
                }
            }
        };
        let next = run::transition(&stored.state, flow, event, clock.now(), max_steps)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let committed = match &record {
            Some(r) => runs::commit_step(db, clock, &stored, claim_id, r, &next)?,
            None => runs::commit_state(db, clock, &stored, claim_id, &next)?,
        };
        if !committed {
            return done(true);
        }
        taken += 1;
    }
}

/// Executes nodes in-process with the node library: what the node
/// components do, minus effects (used by tests and the native benchmark).
pub struct InProcess<
    F: FnMut(&careflow_flow::nodes::Effect) -> Result<serde_json::Map<String, Value>, String>,
> {
    /// Carries out an effect and returns the variables it yields.
    pub perform: F,
}

impl<F: FnMut(&careflow_flow::nodes::Effect) -> Result<serde_json::Map<String, Value>, String>>
    NodeExecutor for InProcess<F>
{
    fn execute(&mut self, node: &Node, request: &NodeRequest) -> Result<Outcome, String> {
        let kind = careflow_flow::nodes::node_kind(&node.kind)
            .ok_or_else(|| format!("unknown node type `{}`", node.kind))?;
        let input = careflow_flow::nodes::RunInput {
            context: &request.context,
            now: request.now,
            random: request.random,
            idempotency_key: &request.idempotency_key,
        };
        let mut outcome = kind
            .execute(&request.settings, &input)
            .map_err(|e| e.message)?;
        for effect in &outcome.effects {
            let patch = (self.perform)(effect)?;
            outcome.patch.extend(patch);
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows;
    use careflow_store::NativeDb;
    use serde_json::json;

    struct TestClock {
        ms: i64,
        n: u32,
    }
    impl Clock for TestClock {
        fn now_ms(&self) -> i64 {
            self.ms
        }
        fn new_id(&mut self) -> String {
            self.n += 1;
            format!("id-{}", self.n)
        }
    }

    fn setup() -> (NativeDb, TestClock, flows::Live) {
        let db = NativeDb::in_memory();
        careflow_store::migrate(&db).unwrap();
        db.execute(
            "INSERT INTO workspaces (id, name, created_at) VALUES ('w', 'W', 'now')",
            &[],
        )
        .unwrap();
        let mut clock = TestClock {
            ms: 1_795_600_000_000,
            n: 0,
        };
        let flow: Flow = serde_json::from_value(json!({
            "name": "Chăm sóc",
            "variables": [{"name": "order", "type": "object"}],
            "trigger": {"type": "api"},
            "nodes": [
                {"id": "big", "type": "condition", "settings": {"condition": {"field": "order.total", "op": "gt", "value": 100}}},
                {"id": "wait", "type": "delay", "settings": {"duration": {"amount": 1, "unit": "hours"}}},
                {"id": "call", "type": "action", "settings": {"action": "http_request", "url": "https://shop.vn/{{order.id}}", "response": {"ma": "body.code"}}},
                {"id": "split", "type": "random", "settings": {"branches": [{"port": "a", "percent": 50}, {"port": "b", "percent": 50}]}}
            ],
            "edges": [{"from": "trigger", "to": "big"}, {"from": "big", "port": "yes", "to": "wait"}, {"from": "wait", "to": "call"}, {"from": "call", "to": "split"}]
        }))
        .unwrap();
        let created = flows::create(&db, &mut clock, "w", &flow).unwrap();
        flows::publish(&db, &mut clock, "w", &created.id).unwrap();
        let live = flows::live(&db, Some("w"), &created.id, None).unwrap();
        (db, clock, live)
    }

    #[test]
    fn a_run_waits_durably_then_finishes_and_effects_carry_the_step_key() {
        // SPEC A-T3 A-N1 A-N2 A-N3 A-N8
        let (db, mut clock, live) = setup();
        let data = serde_json::from_value(json!({"order": {"id": "DH1", "total": 500}})).unwrap();
        let started = runs::start(&db, &mut clock, &live, "api", &data, Some("k1")).unwrap();
        assert_eq!(
            runs::start(&db, &mut clock, &live, "api", &data, Some("k1")).unwrap(),
            crate::runs::Started {
                run_id: started.run_id.clone(),
                created: false
            }
        );

        let mut calls = Vec::new();
        let mut exec = InProcess {
            perform: |e: &careflow_flow::nodes::Effect| {
                let careflow_flow::nodes::Effect::Http(call) = e else {
                    return Err("unexpected effect".to_string());
                };
                calls.push((call.url.clone(), call.idempotency_key.clone()));
                Ok(serde_json::from_value(json!({"ma": "X1"})).unwrap())
            },
        };
        let claimed = runs::claim_due(&db, clock.ms, "c1", 10).unwrap();
        assert_eq!(claimed, std::slice::from_ref(&started.run_id));
        let a = advance(&db, &mut clock, &mut exec, &started.run_id, "c1", 50, 1000).unwrap();
        assert_eq!((a.status.as_str(), a.steps_taken), ("waiting", 2));
        assert!(
            runs::claim_due(&db, clock.ms, "c2", 10).unwrap().is_empty(),
            "not due yet"
        );

        clock.ms += 3_600_000;
        let claimed = runs::claim_due(&db, clock.ms, "c2", 10).unwrap();
        assert_eq!(claimed.len(), 1);
        let a = advance(&db, &mut clock, &mut exec, &started.run_id, "c2", 50, 1000).unwrap();
        assert_eq!(a.status, "completed");
        assert_eq!(
            calls,
            [(
                "https://shop.vn/DH1".to_string(),
                format!("{}:3", started.run_id)
            )]
        );
        let view = runs::inspect(&db, "w", &started.run_id).unwrap();
        assert_eq!(view.variables["ma"], "X1");
        let path: Vec<_> = view
            .step_log
            .unwrap()
            .iter()
            .map(|s| s.node_id.clone())
            .collect();
        assert_eq!(path, ["big", "wait", "call", "split"]);
    }

    #[test]
    fn an_expired_lease_is_claimed_again_and_the_old_claim_writes_nothing() {
        let (db, mut clock, live) = setup();
        let data = serde_json::from_value(json!({"order": {"id": "DH2", "total": 1}})).unwrap();
        let started = runs::start(&db, &mut clock, &live, "api", &data, None).unwrap();
        assert_eq!(
            runs::claim_due(&db, clock.ms, "crashed", 10).unwrap().len(),
            1
        );
        assert!(
            runs::claim_due(&db, clock.ms + 1_000, "other", 10)
                .unwrap()
                .is_empty(),
            "lease still held"
        );
        clock.ms += runs::LEASE_MS + 1;
        assert_eq!(
            runs::claim_due(&db, clock.ms, "other", 10).unwrap().len(),
            1
        );
        let mut exec = InProcess {
            perform: |_: &careflow_flow::nodes::Effect| Ok(serde_json::Map::new()),
        };
        let stale = advance(
            &db,
            &mut clock,
            &mut exec,
            &started.run_id,
            "crashed",
            50,
            1000,
        )
        .unwrap();
        assert!(stale.lost_claim);
        let fresh = advance(
            &db,
            &mut clock,
            &mut exec,
            &started.run_id,
            "other",
            50,
            1000,
        )
        .unwrap();
        assert_eq!(
            fresh.status, "completed",
            "total 1 takes the `no` port, which ends the run"
        );
    }

    #[test]
    fn a_failed_step_can_be_retried_and_draws_are_stable() {
        let (db, mut clock, live) = setup();
        let data = serde_json::from_value(json!({"order": {"id": "DH3", "total": 500}})).unwrap();
        let started = runs::start(&db, &mut clock, &live, "api", &data, None).unwrap();
        runs::claim_due(&db, clock.ms, "c", 10).unwrap();
        clock.ms += 1;
        let mut failing = InProcess {
            perform: |_: &careflow_flow::nodes::Effect| Err("partner down".to_string()),
        };
        advance(
            &db,
            &mut clock,
            &mut failing,
            &started.run_id,
            "c",
            50,
            1000,
        )
        .unwrap();
        clock.ms += 3_600_000;
        runs::claim_due(&db, clock.ms, "c", 10).unwrap();
        let failed = advance(
            &db,
            &mut clock,
            &mut failing,
            &started.run_id,
            "c",
            50,
            1000,
        )
        .unwrap();
        assert_eq!(failed.status, "failed");
        let view = runs::inspect(&db, "w", &started.run_id).unwrap();
        assert!(view.error.unwrap().contains("partner down"));
        runs::retry(&db, &clock, "w", &started.run_id).unwrap();
        runs::claim_due(&db, clock.ms, "c2", 10).unwrap();
        let mut ok = InProcess {
            perform: |_: &careflow_flow::nodes::Effect| Ok(serde_json::Map::new()),
        };
        assert_eq!(
            advance(&db, &mut clock, &mut ok, &started.run_id, "c2", 50, 1000)
                .unwrap()
                .status,
            "completed"
        );
        assert_eq!(draw("r", 1), draw("r", 1));
        assert_ne!(draw("r", 1), draw("r", 2));
        assert!((0.0..1.0).contains(&draw("x", 7)));
    }

    #[test]
    fn runs_of_another_workspace_are_not_found() {
        let (db, mut clock, live) = setup();
        let started =
            runs::start(&db, &mut clock, &live, "api", &serde_json::Map::new(), None).unwrap();
        assert_eq!(
            runs::inspect(&db, "other", &started.run_id)
                .unwrap_err()
                .status,
            404
        );
        assert_eq!(
            runs::cancel(&db, &clock, "other", &started.run_id)
                .unwrap_err()
                .status,
            404
        );
        assert!(
            runs::list(&db, "other", None, None, None, 50)
                .unwrap()
                .is_empty()
        );
    }
}
