//! Runs in the store: starting one, the work queue of runs that need the
//! engine (`waits`, claimed with a lease so a crashed claim is taken again),
//! inspection, cancel and retry.

use careflow_api::ApiError;
use careflow_flow::run::{self, Run, RunStatus};
use careflow_store::{Db, Row, SqlValue};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::Clock;
use crate::flows::Live;

/// How long a claim holds a run before another engine may take it. The
/// engine renews it before every step, so it only has to outlast one step;
/// after a crash, the run is taken up again within this time.
pub const LEASE_MS: i64 = 30_000;

/// A started (or, for a retried request, the existing) run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Started {
    pub run_id: String,
    /// `false` when the idempotency key matched an earlier run.
    pub created: bool,
}

/// Starts a run of the live flow version with bound trigger data; with an
/// idempotency key, a retry answers the first run and starts nothing.
pub fn start(
    db: &impl Db,
    clock: &mut impl Clock,
    live: &Live,
    trigger_kind: &str,
    data: &Map<String, Value>,
    idempotency_key: Option<&str>,
) -> Result<Started, ApiError> {
    db.transaction(|db| {
        if let Some(key) = idempotency_key {
            let existing = db.execute(
                "SELECT id FROM runs WHERE workspace_id = ? AND flow_id = ? AND idempotency_key = ?",
                &[live.workspace_id.as_str().into(), live.flow_id.as_str().into(), key.into()],
            )?;
            if let Some(id) = existing.first().and_then(|r| r.text("id")) {
                return Ok(Started { run_id: id, created: false });
            }
        }
        let run_id = clock.new_id();
        let now = clock.now_text();
        let state = run::start(&live.flow, run::initial_context(data, &run_id, clock.now()));
        db.execute(
            "INSERT INTO runs (id, workspace_id, flow_id, version, status, at_node, steps, context, trigger_kind, idempotency_key, started_at, updated_at, ended_at)
             VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)",
            &[
                run_id.as_str().into(),
                live.workspace_id.as_str().into(),
                live.flow_id.as_str().into(),
                SqlValue::Integer(live.version),
                state.status.as_str().into(),
                state.at.clone().into(),
                state.context.to_string().into(),
                trigger_kind.into(),
                idempotency_key.into(),
                now.as_str().into(),
                now.as_str().into(),
                state.status.is_ended().then(|| now.clone()).into(),
            ],
        )?;
        if !state.status.is_ended() {
            db.execute(
                "INSERT INTO waits (run_id, workspace_id, due_at) VALUES (?, ?, ?)",
                &[run_id.as_str().into(), live.workspace_id.as_str().into(), SqlValue::Integer(clock.now_ms())],
            )?;
        }
        Ok(Started { run_id, created: true })
    })
}

/// Claims up to `limit` due runs for `claim_id`; returns their ids.
pub fn claim_due(
    db: &impl Db,
    now_ms: i64,
    claim_id: &str,
    limit: i64,
) -> Result<Vec<String>, ApiError> {
    let rows = db.execute(
        "UPDATE waits SET claim_id = ?, lease_until = ?
         WHERE run_id IN (SELECT run_id FROM waits WHERE due_at <= ? AND (lease_until IS NULL OR lease_until < ?) ORDER BY due_at LIMIT ?)
         RETURNING run_id",
        &[claim_id.into(), SqlValue::Integer(now_ms + LEASE_MS), SqlValue::Integer(now_ms), SqlValue::Integer(now_ms), SqlValue::Integer(limit)],
    )?;
    Ok(rows.iter().filter_map(|r| r.text("run_id")).collect())
}

/// Claims one run if it is due and not held by a live lease.
pub fn claim(db: &impl Db, run_id: &str, now_ms: i64, claim_id: &str) -> Result<bool, ApiError> {
    let rows = db.execute(
        "UPDATE waits SET claim_id = ?, lease_until = ? WHERE run_id = ? AND due_at <= ? AND (lease_until IS NULL OR lease_until < ? OR claim_id = ?) RETURNING run_id",
        &[claim_id.into(), SqlValue::Integer(now_ms + LEASE_MS), run_id.into(), SqlValue::Integer(now_ms), SqlValue::Integer(now_ms), claim_id.into()],
    )?;
    Ok(rows.first().is_some())
}

/// Extends a held claim before a step; `false` if another engine took it.
pub fn renew(db: &impl Db, run_id: &str, claim_id: &str, now_ms: i64) -> Result<bool, ApiError> {
    let rows = db.execute(
        "UPDATE waits SET lease_until = ? WHERE run_id = ? AND claim_id = ? RETURNING run_id",
        &[
            SqlValue::Integer(now_ms + LEASE_MS),
            run_id.into(),
            claim_id.into(),
        ],
    )?;
    Ok(rows.first().is_some())
}

/// A run as stored, with what the engine needs to advance it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: String,
    pub workspace_id: String,
    pub flow_id: String,
    pub version: i64,
    pub state: Run,
}

fn run_of(row: &Row<'_>) -> Stored {
    Stored {
        id: row.text("id").unwrap_or_default(),
        workspace_id: row.text("workspace_id").unwrap_or_default(),
        flow_id: row.text("flow_id").unwrap_or_default(),
        version: row.int("version").unwrap_or(0),
        state: Run {
            status: row
                .text("status")
                .and_then(|s| RunStatus::parse(&s))
                .unwrap_or(RunStatus::Failed),
            at: row.text("at_node"),
            steps: row.int("steps").unwrap_or(0) as u32,
            due_at: row
                .int("due_at")
                .and_then(chrono::DateTime::from_timestamp_millis),
            context: row
                .text("context")
                .and_then(|c| serde_json::from_str(&c).ok())
                .unwrap_or(Value::Null),
            error: row.text("error"),
        },
    }
}

const RUN_COLUMNS: &str = "r.id, r.workspace_id, r.flow_id, r.version, r.status, r.at_node, r.steps, r.context, r.error, w.due_at";

pub fn load(db: &impl Db, run_id: &str) -> Result<Stored, ApiError> {
    let rows = db.execute(
        &format!(
            "SELECT {RUN_COLUMNS} FROM runs r LEFT JOIN waits w ON w.run_id = r.id WHERE r.id = ?"
        ),
        &[run_id.into()],
    )?;
    rows.first()
        .map(|r| run_of(&r))
        .ok_or_else(|| ApiError::not_found(format!("no run {run_id}")))
}

/// One step as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub step_no: u32,
    pub node_id: String,
    pub node_type: String,
    pub port: Option<String>,
    pub rendered: Value,
    pub decision: Value,
    pub patch: Value,
    pub error: Option<String>,
    pub started_at: String,
    pub duration_ms: i64,
}

/// Commits one step: the step record, the run's new state and its wait
/// row, in one transaction, only while `claim_id` still holds the run.
pub fn commit_step(
    db: &impl Db,
    clock: &impl Clock,
    stored: &Stored,
    claim_id: &str,
    step: &StepRecord,
    next: &Run,
) -> Result<bool, ApiError> {
    db.transaction(|db| {
        let held = db.execute("SELECT 1 AS x FROM waits WHERE run_id = ? AND claim_id = ?", &[stored.id.as_str().into(), claim_id.into()])?;
        if held.first().is_none() {
            return Ok(false);
        }
        db.execute(
            "INSERT OR REPLACE INTO run_steps (workspace_id, run_id, step_no, node_id, node_type, port, rendered, decision, patch, error, started_at, duration_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                stored.workspace_id.as_str().into(),
                stored.id.as_str().into(),
                SqlValue::Integer(i64::from(step.step_no)),
                step.node_id.as_str().into(),
                step.node_type.as_str().into(),
                step.port.clone().into(),
                step.rendered.to_string().into(),
                step.decision.to_string().into(),
                step.patch.to_string().into(),
                step.error.clone().into(),
                step.started_at.as_str().into(),
                SqlValue::Integer(step.duration_ms),
            ],
        )?;
        save_state(db, clock, &stored.id, next)?;
        match (next.status, next.due_at) {
            (RunStatus::Waiting, Some(due)) => {
                db.execute(
                    "UPDATE waits SET due_at = ?, claim_id = NULL, lease_until = NULL WHERE run_id = ?",
                    &[SqlValue::Integer(due.timestamp_millis()), stored.id.as_str().into()],
                )?;
            }
            (status, _) if status.is_ended() => {
                db.execute("DELETE FROM waits WHERE run_id = ?", &[stored.id.as_str().into()])?;
            }
            _ => {}
        }
        Ok(true)
    })
}

fn save_state(db: &impl Db, clock: &impl Clock, run_id: &str, next: &Run) -> Result<(), ApiError> {
    let now = clock.now_text();
    db.execute(
        "UPDATE runs SET status = ?, at_node = ?, steps = ?, context = ?, error = ?, updated_at = ?, ended_at = ? WHERE id = ?",
        &[
            next.status.as_str().into(),
            next.at.clone().into(),
            SqlValue::Integer(i64::from(next.steps)),
            next.context.to_string().into(),
            next.error.clone().into(),
            now.as_str().into(),
            next.status.is_ended().then(|| now.clone()).into(),
            run_id.into(),
        ],
    )?;
    Ok(())
}

/// Saves a state change that is not a node step (a wait elapsing).
pub fn commit_state(
    db: &impl Db,
    clock: &impl Clock,
    stored: &Stored,
    claim_id: &str,
    next: &Run,
) -> Result<bool, ApiError> {
    db.transaction(|db| {
        let held = db.execute(
            "SELECT 1 AS x FROM waits WHERE run_id = ? AND claim_id = ?",
            &[stored.id.as_str().into(), claim_id.into()],
        )?;
        if held.first().is_none() {
            return Ok(false);
        }
        save_state(db, clock, &stored.id, next)?;
        if next.status.is_ended() {
            db.execute(
                "DELETE FROM waits WHERE run_id = ?",
                &[stored.id.as_str().into()],
            )?;
        }
        Ok(true)
    })
}

/// Gives a claimed run back, due again at `due_ms` (budget exhausted).
pub fn release(db: &impl Db, run_id: &str, claim_id: &str, due_ms: i64) -> Result<(), ApiError> {
    db.execute(
        "UPDATE waits SET claim_id = NULL, lease_until = NULL, due_at = ? WHERE run_id = ? AND claim_id = ?",
        &[SqlValue::Integer(due_ms), run_id.into(), claim_id.into()],
    )?;
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub id: String,
    pub flow_id: String,
    pub version: i64,
    pub status: String,
    pub at_node: Option<String>,
    pub steps: i64,
    pub due_at: Option<String>,
    pub error: Option<String>,
    pub trigger_kind: String,
    pub variables: Value,
    pub started_at: String,
    pub updated_at: String,
    pub ended_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_log: Option<Vec<StepRecord>>,
}

fn run_view(row: &Row<'_>) -> RunView {
    RunView {
        id: row.text("id").unwrap_or_default(),
        flow_id: row.text("flow_id").unwrap_or_default(),
        version: row.int("version").unwrap_or(0),
        status: row.text("status").unwrap_or_default(),
        at_node: row.text("at_node"),
        steps: row.int("steps").unwrap_or(0),
        due_at: row
            .int("due_at")
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339()),
        error: row.text("error"),
        trigger_kind: row.text("trigger_kind").unwrap_or_default(),
        variables: row
            .text("context")
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or(Value::Null),
        started_at: row.text("started_at").unwrap_or_default(),
        updated_at: row.text("updated_at").unwrap_or_default(),
        ended_at: row.text("ended_at"),
        step_log: None,
    }
}

const VIEW_COLUMNS: &str = "r.id, r.flow_id, r.version, r.status, r.at_node, r.steps, r.error, r.trigger_kind, r.context, r.started_at, r.updated_at, r.ended_at, w.due_at";

/// Runs of a workspace, newest first, filtered by flow, status and start time.
pub fn list(
    db: &impl Db,
    workspace: &str,
    flow_id: Option<&str>,
    status: Option<&str>,
    since: Option<&str>,
    limit: i64,
) -> Result<Vec<RunView>, ApiError> {
    if let Some(s) = status
        && RunStatus::parse(s).is_none()
    {
        return Err(ApiError::validation(
            "status",
            format!("{s:?} is not running, waiting, completed, failed or cancelled"),
        ));
    }
    let rows = db.execute(
        &format!(
            "SELECT {VIEW_COLUMNS} FROM runs r LEFT JOIN waits w ON w.run_id = r.id
             WHERE r.workspace_id = ? AND (? IS NULL OR r.flow_id = ?) AND (? IS NULL OR r.status = ?) AND (? IS NULL OR r.started_at >= ?)
             ORDER BY r.started_at DESC, r.id LIMIT ?"
        ),
        &[workspace.into(), flow_id.into(), flow_id.into(), status.into(), status.into(), since.into(), since.into(), SqlValue::Integer(limit.clamp(1, 500))],
    )?;
    Ok(rows.iter().map(|r| run_view(&r)).collect())
}

/// One run with its steps.
pub fn inspect(db: &impl Db, workspace: &str, run_id: &str) -> Result<RunView, ApiError> {
    let rows = db.execute(&format!("SELECT {VIEW_COLUMNS} FROM runs r LEFT JOIN waits w ON w.run_id = r.id WHERE r.workspace_id = ? AND r.id = ?"), &[workspace.into(), run_id.into()])?;
    let mut view = rows
        .first()
        .map(|r| run_view(&r))
        .ok_or_else(|| ApiError::not_found(format!("no run {run_id}")))?;
    let steps = db.execute(
        "SELECT step_no, node_id, node_type, port, rendered, decision, patch, error, started_at, duration_ms FROM run_steps WHERE run_id = ? ORDER BY step_no",
        &[run_id.into()],
    )?;
    let json = |r: &Row<'_>, c: &str| {
        r.text(c)
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    };
    view.step_log = Some(
        steps
            .iter()
            .map(|r| StepRecord {
                step_no: r.int("step_no").unwrap_or(0) as u32,
                node_id: r.text("node_id").unwrap_or_default(),
                node_type: r.text("node_type").unwrap_or_default(),
                port: r.text("port"),
                rendered: json(&r, "rendered"),
                decision: json(&r, "decision"),
                patch: json(&r, "patch"),
                error: r.text("error"),
                started_at: r.text("started_at").unwrap_or_default(),
                duration_ms: r.int("duration_ms").unwrap_or(0),
            })
            .collect(),
    );
    Ok(view)
}

/// Cancels a run that has not ended (cancelling again answers the same).
pub fn cancel(
    db: &impl Db,
    clock: &impl Clock,
    workspace: &str,
    run_id: &str,
) -> Result<RunView, ApiError> {
    db.transaction(|db| {
        inspect(db, workspace, run_id)?;
        let stored = load(db, run_id)?;
        if !stored.state.status.is_ended() {
            let flow =
                crate::flows::version(db, &stored.workspace_id, &stored.flow_id, stored.version)?;
            let next = run::transition(
                &stored.state,
                &flow,
                run::Event::Cancelled,
                clock.now(),
                run::DEFAULT_MAX_STEPS,
            )
            .map_err(|e| ApiError::internal(e.to_string()))?;
            save_state(db, clock, run_id, &next)?;
            db.execute("DELETE FROM waits WHERE run_id = ?", &[run_id.into()])?;
        }
        inspect(db, workspace, run_id)
    })
}

/// Retries the failed step of a failed run: the run goes back to running
/// at the node that failed and is due now.
pub fn retry(
    db: &impl Db,
    clock: &impl Clock,
    workspace: &str,
    run_id: &str,
) -> Result<RunView, ApiError> {
    db.transaction(|db| {
        inspect(db, workspace, run_id)?;
        let stored = load(db, run_id)?;
        if stored.state.status != RunStatus::Failed {
            return Err(ApiError::conflict(format!("only a failed run can be retried; this one is {}", stored.state.status.as_str())));
        }
        if stored.state.at.is_none() {
            return Err(ApiError::conflict("the run failed outside a node; start a new run"));
        }
        let mut next = stored.state.clone();
        next.status = RunStatus::Running;
        next.error = None;
        save_state(db, clock, run_id, &next)?;
        db.execute(
            "INSERT INTO waits (run_id, workspace_id, due_at) VALUES (?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET due_at = excluded.due_at, claim_id = NULL, lease_until = NULL",
            &[run_id.into(), workspace.into(), SqlValue::Integer(clock.now_ms())],
        )?;
        inspect(db, workspace, run_id)
    })
}
