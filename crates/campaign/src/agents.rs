//! Agents (SPEC B-3): agent groups and the agent state an agent's
//! softphone or the web UI reports (logged in, available, on call,
//! wrap-up, paused, offline). `on_call` and `wrap_up` are the system's to
//! set: an agent cannot walk away from a call by saying they are offline.

use careflow_api::ApiError;
use careflow_engine::Clock;
use careflow_store::{Db, Row, SqlValue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    Offline,
    /// Signed in, not taking calls yet.
    LoggedIn,
    Available,
    OnCall,
    WrapUp,
    Paused,
}

impl AgentState {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Offline => "offline",
            AgentState::LoggedIn => "logged_in",
            AgentState::Available => "available",
            AgentState::OnCall => "on_call",
            AgentState::WrapUp => "wrap_up",
            AgentState::Paused => "paused",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(Value::String(text.into())).ok()
    }

    /// Counted as staffing the campaign (the pacer's agent count).
    pub fn is_staffed(self) -> bool {
        matches!(
            self,
            AgentState::Available | AgentState::OnCall | AgentState::WrapUp
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateInput {
    pub state: AgentState,
    /// The softphone extension calls are bridged to; defaults to the
    /// one stored, else the user id.
    #[serde(default)]
    pub extension: Option<String>,
    /// The softphone takes offered calls without a click (B-D offers).
    #[serde(default)]
    pub auto_answer: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    pub user_id: String,
    pub name: Option<String>,
    pub extension: String,
    pub state: String,
    pub auto_answer: bool,
    pub call_id: Option<String>,
    pub since: Option<String>,
    pub wrap_until: Option<String>,
}

fn time(ms: Option<i64>) -> Option<String> {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn view(r: &Row<'_>) -> AgentView {
    AgentView {
        user_id: r.text("user_id").unwrap_or_default(),
        name: r.text("name"),
        extension: r.text("extension").unwrap_or_default(),
        state: r.text("state").unwrap_or_else(|| "offline".into()),
        auto_answer: r.int("auto_answer") == Some(1),
        call_id: r.text("call_id"),
        since: time(r.int("since_ms")),
        wrap_until: time(r.int("wrap_until_ms")),
    }
}

const SELECT: &str = "SELECT u.id AS user_id, u.name, COALESCE(a.extension, u.id) AS extension, COALESCE(a.state, 'offline') AS state, COALESCE(a.auto_answer, 0) AS auto_answer, a.call_id, a.since_ms, a.wrap_until_ms FROM users u LEFT JOIN agent_states a ON a.user_id = u.id";

pub fn get(db: &impl Db, workspace: &str, user_id: &str) -> Result<AgentView, ApiError> {
    let rows = db.execute(
        &format!("{SELECT} WHERE u.workspace_id = ? AND u.id = ?"),
        &[workspace.into(), user_id.into()],
    )?;
    rows.first()
        .map(|r| view(&r))
        .ok_or_else(|| ApiError::not_found(format!("no user {user_id}")))
}

pub fn list(
    db: &impl Db,
    workspace: &str,
    state: Option<&str>,
) -> Result<Vec<AgentView>, ApiError> {
    if let Some(s) = state
        && AgentState::parse(s).is_none()
    {
        return Err(ApiError::validation(
            "state",
            format!("no agent state `{s}`"),
        ));
    }
    let rows = db.execute(
        &format!("{SELECT} WHERE u.workspace_id = ? AND (? IS NULL OR COALESCE(a.state, 'offline') = ?) ORDER BY u.created_at, u.id"),
        &[workspace.into(), state.into(), state.into()],
    )?;
    Ok(rows.iter().map(|r| view(&r)).collect())
}

/// The agent (or their softphone) reports a state.
pub fn set_state(
    db: &impl Db,
    clock: &impl Clock,
    workspace: &str,
    user_id: &str,
    input: StateInput,
) -> Result<AgentView, ApiError> {
    if matches!(input.state, AgentState::OnCall | AgentState::WrapUp) {
        return Err(ApiError::validation(
            "state",
            "on_call and wrap_up are set by the system when calls start and end",
        ));
    }
    if let Some(ext) = &input.extension
        && (ext.trim().is_empty() || ext.len() > 64)
    {
        return Err(ApiError::validation(
            "extension",
            "an extension of 1 to 64 characters",
        ));
    }
    db.transaction(|db| {
        let current = get(db, workspace, user_id)?;
        if current.state == AgentState::OnCall.as_str() {
            return Err(ApiError::conflict("the agent is on a call; end it first"));
        }
        let extension = input.extension.clone().unwrap_or(current.extension);
        let auto_answer = input.auto_answer.unwrap_or(current.auto_answer);
        db.execute(
            "INSERT INTO agent_states (user_id, workspace_id, extension, state, auto_answer, since_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET extension = excluded.extension, state = excluded.state, auto_answer = excluded.auto_answer, since_ms = excluded.since_ms, call_id = NULL, wrap_until_ms = NULL",
            &[user_id.into(), workspace.into(), extension.into(), input.state.as_str().into(), SqlValue::Integer(i64::from(auto_answer)), SqlValue::Integer(clock.now_ms())],
        )?;
        get(db, workspace, user_id)
    })
}

/// Takes an available agent for a call; `false` when someone else got
/// them first (the update is conditional, so two ticks cannot both win).
pub(crate) fn reserve(
    db: &impl Db,
    now_ms: i64,
    user_id: &str,
    call_id: &str,
) -> Result<bool, ApiError> {
    let rows = db.execute(
        "UPDATE agent_states SET state = 'on_call', call_id = ?, since_ms = ?, last_offered_ms = ? WHERE user_id = ? AND state = 'available' RETURNING user_id",
        &[call_id.into(), SqlValue::Integer(now_ms), SqlValue::Integer(now_ms), user_id.into()],
    )?;
    Ok(rows.first().is_some())
}

/// The call ended: the agent rests for the wrap-up time, then is
/// available again.
pub(crate) fn release(
    db: &impl Db,
    now_ms: i64,
    user_id: &str,
    call_id: &str,
    wrap_seconds: u32,
) -> Result<(), ApiError> {
    let (state, until) = if wrap_seconds == 0 {
        ("available", None)
    } else {
        ("wrap_up", Some(now_ms + i64::from(wrap_seconds) * 1000))
    };
    db.execute(
        "UPDATE agent_states SET state = ?, call_id = NULL, since_ms = ?, wrap_until_ms = ? WHERE user_id = ? AND call_id = ?",
        &[state.into(), SqlValue::Integer(now_ms), until.into(), user_id.into(), call_id.into()],
    )?;
    Ok(())
}

/// Ends every wrap-up whose time is over.
pub(crate) fn end_wrap_ups(db: &impl Db, now_ms: i64) -> Result<(), ApiError> {
    db.execute(
        "UPDATE agent_states SET state = 'available', wrap_until_ms = NULL, since_ms = ? WHERE state = 'wrap_up' AND wrap_until_ms <= ?",
        &[SqlValue::Integer(now_ms), SqlValue::Integer(now_ms)],
    )?;
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    pub name: String,
    #[serde(default)]
    pub members: Vec<String>,
}

pub fn create_group(
    db: &impl Db,
    clock: &mut impl Clock,
    workspace: &str,
    input: GroupInput,
) -> Result<Value, ApiError> {
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::validation(
            "name",
            "a name of 1 to 200 characters",
        ));
    }
    let id = clock.new_id();
    db.transaction(|db| {
        let taken = db.execute(
            "SELECT 1 AS x FROM agent_groups WHERE workspace_id = ? AND name = ?",
            &[workspace.into(), name.as_str().into()],
        )?;
        if taken.first().is_some() {
            return Err(ApiError::conflict(format!("a group named {name} exists")).with_field("name"));
        }
        db.execute(
            "INSERT INTO agent_groups (id, workspace_id, name, created_at) VALUES (?, ?, ?, ?)",
            &[id.as_str().into(), workspace.into(), name.as_str().into(), clock.now_text().into()],
        )?;
        for (i, m) in input.members.iter().enumerate() {
            let known = db.execute(
                "SELECT 1 AS x FROM users WHERE workspace_id = ? AND id = ?",
                &[workspace.into(), m.as_str().into()],
            )?;
            if known.first().is_none() {
                return Err(ApiError::validation(format!("members[{i}]"), format!("no user {m}")));
            }
            db.execute(
                "INSERT OR IGNORE INTO agent_group_members (workspace_id, group_id, user_id) VALUES (?, ?, ?)",
                &[workspace.into(), id.as_str().into(), m.as_str().into()],
            )?;
        }
        Ok(json!({"id": id, "name": name, "members": input.members}))
    })
}

pub fn list_groups(db: &impl Db, workspace: &str) -> Result<Vec<Value>, ApiError> {
    let groups = db.execute(
        "SELECT id, name FROM agent_groups WHERE workspace_id = ? ORDER BY name",
        &[workspace.into()],
    )?;
    groups
        .iter()
        .map(|g| {
            let id = g.text("id").unwrap_or_default();
            let members = db.execute(
                "SELECT user_id FROM agent_group_members WHERE group_id = ? ORDER BY user_id",
                &[id.as_str().into()],
            )?;
            Ok(json!({"id": id, "name": g.text("name"), "members": members.iter().filter_map(|m| m.text("user_id")).collect::<Vec<_>>()}))
        })
        .collect()
}
