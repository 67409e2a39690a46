//! The run state machine. A run is `Running` at a node, `Waiting` until a
//! due time before going on to a node, or ended (`Completed`, `Failed`,
//! `Cancelled`). One `transition` holds the whole table; ended runs absorb
//! late events unchanged, and events that make no sense are typed errors.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::model::Flow;
use crate::nodes::Outcome;

/// Steps a run may take before it is stopped as a runaway loop.
pub const DEFAULT_MAX_STEPS: u32 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Waiting,
    Completed,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub fn is_ended(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Waiting => "waiting",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => Self::Running,
            "waiting" => Self::Waiting,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub status: RunStatus,
    /// The node to execute next (running), or to go on to (waiting).
    pub at: Option<String>,
    /// Steps taken so far.
    pub steps: u32,
    pub due_at: Option<DateTime<Utc>>,
    pub context: Value,
    pub error: Option<String>,
}

/// Something that happened to a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The node at `at` finished with this outcome.
    StepCompleted(Outcome),
    /// The node at `at` could not complete.
    StepFailed(String),
    /// The wait's due time passed.
    WaitElapsed,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("a {state} run cannot take event {event}")]
    Unexpected {
        state: &'static str,
        event: &'static str,
    },
}

fn event_name(event: &Event) -> &'static str {
    match event {
        Event::StepCompleted(_) => "step_completed",
        Event::StepFailed(_) => "step_failed",
        Event::WaitElapsed => "wait_elapsed",
        Event::Cancelled => "cancelled",
    }
}

/// The variables a new run starts with: each trigger value at the top
/// (`{{so_dien_thoai}}`) and under `trigger` (`{{trigger.so_dien_thoai}}`),
/// and the run itself under `run`.
pub fn initial_context(
    data: &Map<String, Value>,
    run_id: &str,
    started_at: DateTime<Utc>,
) -> Value {
    let mut context = data.clone();
    context.insert("trigger".into(), Value::Object(data.clone()));
    context.insert(
        "run".into(),
        json!({ "id": run_id, "started_at": started_at.to_rfc3339() }),
    );
    Value::Object(context)
}

/// A new run at the flow's first node.
pub fn start(flow: &Flow, context: Value) -> Run {
    let at = flow.start().map(str::to_string);
    Run {
        status: if at.is_some() {
            RunStatus::Running
        } else {
            RunStatus::Completed
        },
        at,
        steps: 0,
        due_at: None,
        context,
        error: None,
    }
}

/// The transition table.
pub fn transition(
    run: &Run,
    flow: &Flow,
    event: Event,
    now: DateTime<Utc>,
    max_steps: u32,
) -> Result<Run, RunError> {
    if run.status.is_ended() {
        return Ok(run.clone());
    }
    let mut next = run.clone();
    match (run.status, event) {
        (_, Event::Cancelled) => {
            next.status = RunStatus::Cancelled;
            next.due_at = None;
        }
        (RunStatus::Running, Event::StepCompleted(outcome)) => {
            let from = run.at.as_deref().unwrap_or_default();
            if let Value::Object(context) = &mut next.context {
                context.extend(outcome.patch);
            }
            next.steps += 1;
            next.at = flow.next(from, &outcome.port).map(str::to_string);
            match outcome.wait_until {
                Some(due) if due > now => {
                    next.status = RunStatus::Waiting;
                    next.due_at = Some(due);
                }
                _ => settle(&mut next, max_steps),
            }
        }
        (RunStatus::Running, Event::StepFailed(message)) => {
            next.status = RunStatus::Failed;
            next.error = Some(format!(
                "node `{}`: {message}",
                run.at.as_deref().unwrap_or("?")
            ));
        }
        (RunStatus::Waiting, Event::WaitElapsed) => {
            next.due_at = None;
            settle(&mut next, max_steps);
        }
        (state, event) => {
            return Err(RunError::Unexpected {
                state: state.as_str(),
                event: event_name(&event),
            });
        }
    }
    Ok(next)
}

/// After a step: go on, end at an open port, or stop a runaway loop.
fn settle(run: &mut Run, max_steps: u32) {
    run.status = if run.at.is_none() {
        RunStatus::Completed
    } else if run.steps >= max_steps {
        run.error = Some(format!(
            "stopped after {max_steps} steps: the flow loops without end"
        ));
        RunStatus::Failed
    } else {
        RunStatus::Running
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn flow() -> Flow {
        serde_json::from_value(json!({
            "name": "f",
            "trigger": {"type": "api"},
            "nodes": [
                {"id": "a", "type": "delay", "settings": {"duration": {"amount": 1, "unit": "hours"}}},
                {"id": "b", "type": "action", "settings": {"action": "set_variables", "values": {"x": "1"}}}
            ],
            "edges": [{"from": "trigger", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "a"}]
        }))
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2026-11-25T10:00:00Z".parse().unwrap()
    }

    fn outcome(port: &str, wait: Option<DateTime<Utc>>) -> Outcome {
        Outcome {
            port: port.into(),
            wait_until: wait,
            ..Default::default()
        }
    }

    #[test]
    fn a_delay_step_waits_then_goes_on_to_the_next_node() {
        // SPEC A-N2
        let f = flow();
        let run = start(&f, json!({}));
        assert_eq!(
            (run.status, run.at.as_deref()),
            (RunStatus::Running, Some("a"))
        );
        let due = now() + Duration::hours(1);
        let waiting = transition(
            &run,
            &f,
            Event::StepCompleted(outcome("next", Some(due))),
            now(),
            100,
        )
        .unwrap();
        assert_eq!(
            (waiting.status, waiting.at.as_deref(), waiting.due_at),
            (RunStatus::Waiting, Some("b"), Some(due))
        );
        let resumed = transition(&waiting, &f, Event::WaitElapsed, due, 100).unwrap();
        assert_eq!(
            (resumed.status, resumed.at.as_deref()),
            (RunStatus::Running, Some("b"))
        );
    }

    #[test]
    fn patches_merge_into_the_context_and_an_open_port_completes() {
        let f = flow();
        let mut run = start(&f, json!({"a": 1}));
        run.at = Some("b".into());
        let mut o = outcome("nowhere", None);
        o.patch.insert("x".into(), json!("1"));
        let done = transition(&run, &f, Event::StepCompleted(o), now(), 100).unwrap();
        assert_eq!(done.status, RunStatus::Completed);
        assert_eq!(done.context, json!({"a": 1, "x": "1"}));
    }

    #[test]
    fn a_runaway_loop_fails_at_the_step_limit() {
        let f = flow();
        let mut run = start(&f, json!({}));
        for _ in 0..10 {
            run = transition(
                &run,
                &f,
                Event::StepCompleted(outcome("next", None)),
                now(),
                10,
            )
            .unwrap();
        }
        assert_eq!(run.status, RunStatus::Failed);
        assert!(run.error.as_deref().unwrap().contains("10 steps"));
    }

    #[test]
    fn ended_runs_absorb_late_events_and_nonsense_is_a_typed_error() {
        let f = flow();
        let run = start(&f, json!({}));
        let cancelled = transition(&run, &f, Event::Cancelled, now(), 100).unwrap();
        assert_eq!(cancelled.status, RunStatus::Cancelled);
        for late in [
            Event::WaitElapsed,
            Event::StepFailed("x".into()),
            Event::StepCompleted(outcome("next", None)),
        ] {
            assert_eq!(
                transition(&cancelled, &f, late, now(), 100).unwrap(),
                cancelled
            );
        }
        assert_eq!(
            transition(&run, &f, Event::WaitElapsed, now(), 100),
            Err(RunError::Unexpected {
                state: "running",
                event: "wait_elapsed"
            })
        );
        let failed = transition(&run, &f, Event::StepFailed("boom".into()), now(), 100).unwrap();
        assert_eq!(failed.error.as_deref(), Some("node `a`: boom"));
    }

    #[test]
    fn trigger_data_is_bound_at_the_top_and_under_trigger() {
        // SPEC A-T3
        let data: Map<String, Value> =
            serde_json::from_value(json!({"so_dien_thoai": "84912345678"})).unwrap();
        let ctx = initial_context(&data, "r1", now());
        assert_eq!(ctx["so_dien_thoai"], "84912345678");
        assert_eq!(ctx["trigger"]["so_dien_thoai"], "84912345678");
        assert_eq!(ctx["run"]["id"], "r1");
    }
}
