//! Campaigns in the store: create and edit (B-1), the agents they use
//! (B-3), lifecycle actions with who and when (B-4) and the clock that
//! starts approved campaigns at their start time and finishes them at
//! their end.

use careflow_api::ApiError;
use careflow_engine::Clock;
use careflow_store::{Db, Row, SqlValue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::lifecycle::{self, Action, Status};
use crate::settings::CampaignSettings;

/// One agent of a campaign, with the per-agent daily quota of B-M.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentAssignment {
    pub user_id: String,
    #[serde(default)]
    pub daily_quota: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AgentRef {
    Id(String),
    Assignment(AgentAssignment),
}

#[derive(Debug, Clone, Serialize)]
pub struct CampaignView {
    pub id: String,
    pub name: String,
    pub mode: String,
    pub status: String,
    pub settings: Value,
    pub agents: Vec<AgentAssignment>,
    pub history: Vec<Value>,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A stored campaign, as the dispatcher needs it.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: String,
    pub workspace_id: String,
    pub status: Status,
    pub settings: CampaignSettings,
}

pub(crate) fn campaign_of(row: &Row<'_>) -> Result<Campaign, ApiError> {
    let settings: CampaignSettings = row
        .text("settings")
        .and_then(|s| serde_json::from_str(&s).ok())
        .ok_or_else(|| ApiError::internal("a stored campaign has unreadable settings"))?;
    Ok(Campaign {
        id: row.text("id").unwrap_or_default(),
        workspace_id: row.text("workspace_id").unwrap_or_default(),
        status: row
            .text("status")
            .and_then(|s| Status::parse(&s))
            .unwrap_or(Status::Created),
        settings,
    })
}

/// A request body split up: settings, agents and agent groups (each
/// `None` when the body leaves it out).
struct Body {
    settings: CampaignSettings,
    agents: Option<Vec<AgentRef>>,
    groups: Option<Vec<String>>,
}

/// Splits a request body into settings and the agent list, naming the
/// field at fault.
fn parse_body(body: Value) -> Result<Body, ApiError> {
    let Value::Object(mut map) = body else {
        return Err(ApiError::bad_request("send a JSON object"));
    };
    let agents = match map.remove("agents") {
        None | Some(Value::Null) => None,
        Some(v) => Some(serde_json::from_value::<Vec<AgentRef>>(v).map_err(|_| {
            ApiError::validation(
                "agents",
                "agents are user ids or {\"user_id\", \"daily_quota\"} objects",
            )
        })?),
    };
    let groups = match map.remove("agent_groups") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            serde_json::from_value::<Vec<String>>(v)
                .map_err(|_| ApiError::validation("agent_groups", "a list of agent group ids"))?,
        ),
    };
    let settings: CampaignSettings =
        serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            let field = if path == "." {
                message.split('`').nth(1).unwrap_or("").to_string()
            } else {
                path
            };
            ApiError::validation(field, message)
        })?;
    Ok(Body {
        settings: settings.validate()?,
        agents,
        groups,
    })
}

/// Resolves agents and groups to the workspace's users; unknown ids are
/// a 422 naming the entry.
fn resolve_agents(
    db: &impl Db,
    workspace: &str,
    agents: Vec<AgentRef>,
    groups: Vec<String>,
) -> Result<Vec<AgentAssignment>, ApiError> {
    let mut out: Vec<AgentAssignment> = Vec::new();
    for (i, a) in agents.into_iter().enumerate() {
        let a = match a {
            AgentRef::Id(user_id) => AgentAssignment {
                user_id,
                daily_quota: None,
            },
            AgentRef::Assignment(a) => a,
        };
        let known = db.execute(
            "SELECT 1 AS x FROM users WHERE workspace_id = ? AND id = ?",
            &[workspace.into(), a.user_id.as_str().into()],
        )?;
        if known.first().is_none() {
            return Err(ApiError::validation(
                format!("agents[{i}]"),
                format!("no user {} in this workspace", a.user_id),
            ));
        }
        if let Some(q) = a.daily_quota {
            crate::settings::range(&format!("agents[{i}].daily_quota"), q, 1, 100_000)?;
        }
        if !out.iter().any(|o| o.user_id == a.user_id) {
            out.push(a);
        }
    }
    for (i, g) in groups.iter().enumerate() {
        let members = db.execute(
            "SELECT m.user_id FROM agent_group_members m JOIN agent_groups g ON g.id = m.group_id WHERE g.workspace_id = ? AND g.id = ?",
            &[workspace.into(), g.as_str().into()],
        )?;
        let exists = db.execute(
            "SELECT 1 AS x FROM agent_groups WHERE workspace_id = ? AND id = ?",
            &[workspace.into(), g.as_str().into()],
        )?;
        if exists.first().is_none() {
            return Err(ApiError::validation(
                format!("agent_groups[{i}]"),
                format!("no agent group {g}"),
            ));
        }
        for m in members.iter() {
            let user_id = m.text("user_id").unwrap_or_default();
            if !out.iter().any(|o| o.user_id == user_id) {
                out.push(AgentAssignment {
                    user_id,
                    daily_quota: None,
                });
            }
        }
    }
    Ok(out)
}

fn store_agents(
    db: &impl Db,
    workspace: &str,
    campaign: &str,
    agents: &[AgentAssignment],
) -> Result<(), ApiError> {
    db.execute(
        "DELETE FROM campaign_agents WHERE workspace_id = ? AND campaign_id = ?",
        &[workspace.into(), campaign.into()],
    )?;
    for a in agents {
        db.execute(
            "INSERT INTO campaign_agents (workspace_id, campaign_id, user_id, daily_quota) VALUES (?, ?, ?, ?)",
            &[workspace.into(), campaign.into(), a.user_id.as_str().into(), a.daily_quota.map(i64::from).into()],
        )?;
    }
    Ok(())
}

/// A campaign dials only from the workspace's own hotlines (registered
/// under `/api/v1/telephony/hotlines`): a number is a carrier contract, and
/// another workspace's number is not ours to show as caller id.
fn check_hotlines(
    db: &impl Db,
    workspace: &str,
    settings: &CampaignSettings,
) -> Result<(), ApiError> {
    let mut numbers: Vec<(String, &str)> = Vec::new();
    if let Some(h) = &settings.hotline {
        numbers.push(("hotline".into(), h));
    }
    if settings.mode == crate::settings::Mode::AutoCall
        && let Some(auto) = &settings.auto_call
    {
        for (i, h) in auto.hotlines.iter().enumerate() {
            numbers.push((format!("auto_call.hotlines[{i}]"), h));
        }
    }
    for (field, number) in numbers {
        let known = db.execute(
            "SELECT 1 AS x FROM hotlines WHERE workspace_id = ? AND number = ?",
            &[workspace.into(), number.into()],
        )?;
        if known.first().is_none() {
            return Err(ApiError::validation(
                field,
                format!(
                    "{number} is not one of this workspace's hotlines; register it under /api/v1/telephony/hotlines"
                ),
            ));
        }
    }
    Ok(())
}

fn settings_text(settings: &CampaignSettings) -> Result<String, ApiError> {
    serde_json::to_string(settings).map_err(|e| ApiError::internal(e.to_string()))
}

pub fn create(
    db: &impl Db,
    clock: &mut impl Clock,
    workspace: &str,
    actor: &str,
    body: Value,
) -> Result<CampaignView, ApiError> {
    let Body {
        settings,
        agents,
        groups,
    } = parse_body(body)?;
    let id = clock.new_id();
    let now = clock.now_text();
    db.transaction(|db| {
        check_hotlines(db, workspace, &settings)?;
        let agents = resolve_agents(db, workspace, agents.unwrap_or_default(), groups.unwrap_or_default())?;
        db.execute(
            "INSERT INTO campaigns (id, workspace_id, name, mode, status, settings, starts_at_ms, ends_at_ms, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, 'created', ?, ?, ?, ?, ?, ?)",
            &[id.as_str().into(), workspace.into(), settings.name.as_str().into(), settings.mode.as_str().into(), settings_text(&settings)?.into(), SqlValue::Integer(settings.starts_at.timestamp_millis()), SqlValue::Integer(settings.ends_at.timestamp_millis()), actor.into(), now.as_str().into(), now.as_str().into()],
        )?;
        store_agents(db, workspace, &id, &agents)?;
        get(db, workspace, &id)
    })
}

/// Merges `patch` into the stored settings (B-1) while the campaign is
/// editable; the mode stays what it was created with.
pub fn update(
    db: &impl Db,
    clock: &mut impl Clock,
    workspace: &str,
    id: &str,
    patch: Value,
) -> Result<CampaignView, ApiError> {
    let Value::Object(patch) = patch else {
        return Err(ApiError::bad_request("send a JSON object"));
    };
    db.transaction(|db| {
        let current = load(db, workspace, id)?;
        if !current.status.is_editable() {
            return Err(ApiError::conflict(format!(
                "a {} campaign cannot be edited; pause it first",
                current.status.as_str()
            )));
        }
        if let Some(mode) = patch.get("mode")
            && mode.as_str() != Some(current.settings.mode.as_str())
        {
            return Err(ApiError::validation(
                "mode",
                "the dial mode is chosen when the campaign is created",
            ));
        }
        let mut merged = serde_json::to_value(&current.settings).unwrap_or_default();
        for (k, v) in patch {
            merged[k] = v;
        }
        let Body {
            settings,
            agents,
            groups,
        } = parse_body(merged)?;
        check_hotlines(db, workspace, &settings)?;
        if agents.is_some() || groups.is_some() {
            let agents = resolve_agents(db, workspace, agents.unwrap_or_default(), groups.unwrap_or_default())?;
            store_agents(db, workspace, id, &agents)?;
        }
        db.execute(
            "UPDATE campaigns SET name = ?, settings = ?, starts_at_ms = ?, ends_at_ms = ?, updated_at = ? WHERE workspace_id = ? AND id = ?",
            &[settings.name.as_str().into(), settings_text(&settings)?.into(), SqlValue::Integer(settings.starts_at.timestamp_millis()), SqlValue::Integer(settings.ends_at.timestamp_millis()), clock.now_text().into(), workspace.into(), id.into()],
        )?;
        get(db, workspace, id)
    })
}

pub fn load(db: &impl Db, workspace: &str, id: &str) -> Result<Campaign, ApiError> {
    let rows = db.execute(
        "SELECT id, workspace_id, status, settings FROM campaigns WHERE workspace_id = ? AND id = ?",
        &[workspace.into(), id.into()],
    )?;
    let row = rows
        .first()
        .ok_or_else(|| ApiError::not_found(format!("no campaign {id}")))?;
    campaign_of(&row)
}

pub fn agents(db: &impl Db, workspace: &str, id: &str) -> Result<Vec<AgentAssignment>, ApiError> {
    let rows = db.execute(
        "SELECT user_id, daily_quota FROM campaign_agents WHERE workspace_id = ? AND campaign_id = ? ORDER BY user_id",
        &[workspace.into(), id.into()],
    )?;
    Ok(rows
        .iter()
        .map(|r| AgentAssignment {
            user_id: r.text("user_id").unwrap_or_default(),
            daily_quota: r.int("daily_quota").map(|q| q as u32),
        })
        .collect())
}

pub fn get(db: &impl Db, workspace: &str, id: &str) -> Result<CampaignView, ApiError> {
    let rows = db.execute(
        "SELECT id, name, mode, status, settings, created_by, created_at, updated_at FROM campaigns WHERE workspace_id = ? AND id = ?",
        &[workspace.into(), id.into()],
    )?;
    let row = rows
        .first()
        .ok_or_else(|| ApiError::not_found(format!("no campaign {id}")))?;
    let history = db.execute(
        "SELECT from_status, to_status, actor, reason, at FROM campaign_transitions WHERE workspace_id = ? AND campaign_id = ? ORDER BY seq",
        &[workspace.into(), id.into()],
    )?;
    Ok(CampaignView {
        id: row.text("id").unwrap_or_default(),
        name: row.text("name").unwrap_or_default(),
        mode: row.text("mode").unwrap_or_default(),
        status: row.text("status").unwrap_or_default(),
        settings: row
            .text("settings")
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
        agents: agents(db, workspace, id)?,
        history: history
            .iter()
            .map(|h| {
                json!({"from": h.text("from_status"), "to": h.text("to_status"), "by": h.text("actor"), "reason": h.text("reason"), "at": h.text("at")})
            })
            .collect(),
        created_by: row.text("created_by"),
        created_at: row.text("created_at").unwrap_or_default(),
        updated_at: row.text("updated_at").unwrap_or_default(),
    })
}

pub fn list(
    db: &impl Db,
    workspace: &str,
    status: Option<&str>,
) -> Result<Vec<CampaignView>, ApiError> {
    if let Some(s) = status
        && Status::parse(s).is_none()
    {
        return Err(ApiError::validation(
            "status",
            format!("no campaign status `{s}`"),
        ));
    }
    let rows = db.execute(
        "SELECT id FROM campaigns WHERE workspace_id = ? AND (? IS NULL OR status = ?) ORDER BY created_at DESC, id LIMIT 500",
        &[workspace.into(), status.into(), status.into()],
    )?;
    rows.iter()
        .map(|r| get(db, workspace, &r.text("id").unwrap_or_default()))
        .collect()
}

fn record(
    db: &impl Db,
    clock: &impl Clock,
    campaign: &Campaign,
    to: Status,
    actor: &str,
    reason: Option<&str>,
) -> Result<(), ApiError> {
    let now = clock.now_text();
    db.execute(
        "UPDATE campaigns SET status = ?, updated_at = ? WHERE workspace_id = ? AND id = ? AND status = ?",
        &[to.as_str().into(), now.as_str().into(), campaign.workspace_id.as_str().into(), campaign.id.as_str().into(), campaign.status.as_str().into()],
    )?;
    db.execute(
        "INSERT INTO campaign_transitions (workspace_id, campaign_id, from_status, to_status, actor, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        &[campaign.workspace_id.as_str().into(), campaign.id.as_str().into(), campaign.status.as_str().into(), to.as_str().into(), actor.into(), reason.into(), now.into()],
    )?;
    Ok(())
}

/// An operator's lifecycle action (B-4); an action the table refuses is a
/// 409, and so is starting outside the campaign's time window.
pub fn act(
    db: &impl Db,
    clock: &mut impl Clock,
    workspace: &str,
    id: &str,
    action: Action,
    actor: &str,
) -> Result<CampaignView, ApiError> {
    if matches!(action, Action::StartTimeReached | Action::EndTimeReached) {
        return Err(ApiError::validation(
            "action",
            "the clock takes this action, not an operator",
        ));
    }
    db.transaction(|db| {
        let campaign = load(db, workspace, id)?;
        let to = lifecycle::transition(campaign.status, action)
            .map_err(|e| ApiError::conflict(e.to_string()))?;
        if to == Status::Running {
            let now = clock.now();
            if now < campaign.settings.starts_at || now >= campaign.settings.ends_at {
                return Err(ApiError::conflict(format!(
                    "the campaign runs from {} to {}; it cannot start now",
                    campaign.settings.starts_at.to_rfc3339(),
                    campaign.settings.ends_at.to_rfc3339()
                )));
            }
        }
        record(db, clock, &campaign, to, actor, None)?;
        get(db, workspace, id)
    })
}

/// The clock's part of B-4: approved campaigns start at their start time;
/// every unfinished one stops at its end, customers left or not. Safe to
/// run every tick; returns the campaigns it moved.
pub fn apply_clock(db: &impl Db, clock: &impl Clock) -> Result<Vec<(String, Status)>, ApiError> {
    let now = clock.now_ms();
    let due = db.execute(
        "SELECT id, workspace_id, status, settings FROM campaigns WHERE (status = 'approved' AND starts_at_ms <= ?) OR (status IN ('approved', 'running', 'paused') AND ends_at_ms <= ?)",
        &[SqlValue::Integer(now), SqlValue::Integer(now)],
    )?;
    let mut moved = Vec::new();
    for row in due.iter() {
        let campaign = campaign_of(&row)?;
        let action = if campaign.settings.ends_at.timestamp_millis() <= now {
            Action::EndTimeReached
        } else {
            Action::StartTimeReached
        };
        if let Ok(to) = lifecycle::transition(campaign.status, action) {
            let reason = match action {
                Action::EndTimeReached => "end time reached",
                _ => "start time reached",
            };
            db.transaction(|db| record(db, clock, &campaign, to, "system", Some(reason)))?;
            moved.push((campaign.id.clone(), to));
        }
    }
    Ok(moved)
}

/// Every campaign the dispatcher works on now.
pub fn running(db: &impl Db) -> Result<Vec<Campaign>, ApiError> {
    let rows = db.execute(
        "SELECT id, workspace_id, status, settings FROM campaigns WHERE status = 'running' ORDER BY created_at",
        &[],
    )?;
    rows.iter().map(|r| campaign_of(&r)).collect()
}
