//! Dry run (`POST /api/v1/flows/:id/simulate`): the path a run would take
//! with given trigger data and the rendered settings of each node, with no
//! side effects. Delays are noted and skipped; random splits use the given
//! draws (default 0.5).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::Flow;
use crate::nodes::{RunInput, node_kind};
use crate::run::{self, Event, RunStatus};

/// Steps a dry run takes at most.
pub const MAX_SIMULATED_STEPS: u32 = 200;

#[derive(Debug, Clone, Serialize)]
pub struct SimulatedStep {
    pub node_id: String,
    pub node_type: String,
    pub port: Option<String>,
    pub rendered: Value,
    pub decision: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_until: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Simulation {
    pub status: RunStatus,
    pub steps: Vec<SimulatedStep>,
    pub variables: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn simulate(
    flow: &Flow,
    data: &Map<String, Value>,
    draws: &[f64],
    now: DateTime<Utc>,
) -> Simulation {
    let mut state = run::start(flow, run::initial_context(data, "simulation", now));
    let mut clock = now;
    let mut steps = Vec::new();
    while !state.status.is_ended() {
        if state.status == RunStatus::Waiting {
            clock = state.due_at.unwrap_or(clock);
            state = run::transition(&state, flow, Event::WaitElapsed, clock, MAX_SIMULATED_STEPS)
                .unwrap_or(state);
            continue;
        }
        let Some(node) = state.at.as_deref().and_then(|id| flow.node(id)) else {
            break;
        };
        let draw = draws.get(steps.len()).copied().unwrap_or(0.5);
        let result = match node_kind(&node.kind) {
            None => Err(format!("unknown node type `{}`", node.kind)),
            Some(kind) => kind
                .execute(
                    &node.settings,
                    &RunInput {
                        context: &state.context,
                        now: clock,
                        random: draw,
                        idempotency_key: "simulation",
                    },
                )
                .map_err(|e| e.message),
        };
        let event = match result {
            Ok(outcome) => {
                steps.push(SimulatedStep {
                    node_id: node.id.clone(),
                    node_type: node.kind.clone(),
                    port: Some(outcome.port.clone()),
                    rendered: outcome.rendered.clone(),
                    decision: outcome.decision.clone(),
                    wait_until: outcome.wait_until,
                    error: None,
                });
                Event::StepCompleted(outcome)
            }
            Err(message) => {
                steps.push(SimulatedStep {
                    node_id: node.id.clone(),
                    node_type: node.kind.clone(),
                    port: None,
                    rendered: Value::Null,
                    decision: Value::Null,
                    wait_until: None,
                    error: Some(message.clone()),
                });
                Event::StepFailed(message)
            }
        };
        match run::transition(&state, flow, event, clock, MAX_SIMULATED_STEPS) {
            Ok(next) => state = next,
            Err(_) => break,
        }
    }
    Simulation {
        status: state.status,
        steps,
        variables: state.context,
        error: state.error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_the_path_with_rendered_settings_and_no_effects() {
        // SPEC A-V
        let flow: Flow = serde_json::from_value(json!({
            "name": "f",
            "variables": [{"name": "customer", "type": "object"}, {"name": "order", "type": "object"}],
            "trigger": {"type": "api"},
            "nodes": [
                {"id": "big", "type": "condition", "settings": {"condition": {"field": "order.total", "op": "gte", "value": 1000000}}},
                {"id": "wait", "type": "delay", "settings": {"duration": {"amount": 2, "unit": "days"}}},
                {"id": "call", "type": "action", "settings": {"action": "http_request", "url": "https://crm.vn/vip/{{customer.phone}}"}},
                {"id": "split", "type": "random", "settings": {"branches": [{"port": "a", "percent": 50}, {"port": "b", "percent": 50}]}}
            ],
            "edges": [
                {"from": "trigger", "to": "big"}, {"from": "big", "port": "yes", "to": "wait"},
                {"from": "wait", "to": "call"}, {"from": "call", "to": "split"}
            ]
        }))
        .unwrap();
        let data = serde_json::from_value(
            json!({"customer": {"phone": "84912345678"}, "order": {"total": 2500000}}),
        )
        .unwrap();
        let sim = simulate(
            &flow,
            &data,
            &[0.5, 0.5, 0.5, 0.2],
            "2026-11-25T10:00:00Z".parse().unwrap(),
        );
        let path: Vec<_> = sim
            .steps
            .iter()
            .map(|s| (s.node_id.as_str(), s.port.as_deref()))
            .collect();
        assert_eq!(
            path,
            [
                ("big", Some("yes")),
                ("wait", Some("next")),
                ("call", Some("next")),
                ("split", Some("a"))
            ]
        );
        assert_eq!(
            sim.steps[2].rendered["url"],
            "https://crm.vn/vip/84912345678"
        );
        assert_eq!(sim.status, RunStatus::Completed);
    }
}
