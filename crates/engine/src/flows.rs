//! Flows: a mutable draft, validated on every save; publishing freezes the
//! draft into a numbered version that runs pin.

use careflow_api::ApiError;
use careflow_flow::{Flow, Problem};
use careflow_store::{Db, Row, SqlValue};
use serde::Serialize;
use serde_json::Value;

use crate::Clock;

#[derive(Debug, Clone, Serialize)]
pub struct FlowView {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub published_version: Option<i64>,
    /// The per-flow token for partners that cannot send headers
    /// (`/api/v1/flows/:id/trigger?token=…`).
    pub trigger_token: String,
    pub draft: Value,
    pub problems: Vec<Problem>,
    pub created_at: String,
    pub updated_at: String,
}

fn problems_of(draft: &Value, now: chrono::DateTime<chrono::Utc>) -> Vec<Problem> {
    match serde_json::from_value::<Flow>(draft.clone()) {
        Ok(flow) => careflow_flow::validate(&flow, now),
        Err(e) => vec![Problem::flow("(document)", e.to_string())],
    }
}

/// Parses a flow document, naming the field at fault when it is not one.
pub fn parse_document(body: &Value) -> Result<Flow, ApiError> {
    serde_json::from_value::<Flow>(body.clone())
        .map_err(|e| ApiError::validation("(document)", format!("not a flow document: {e}")))
}

fn view(row: &Row<'_>, now: chrono::DateTime<chrono::Utc>) -> FlowView {
    let draft: Value = row
        .text("draft")
        .and_then(|d| serde_json::from_str(&d).ok())
        .unwrap_or(Value::Null);
    FlowView {
        id: row.text("id").unwrap_or_default(),
        name: row.text("name").unwrap_or_default(),
        enabled: row.int("enabled") == Some(1),
        published_version: row.int("published_version"),
        trigger_token: row.text("trigger_token").unwrap_or_default(),
        problems: problems_of(&draft, now),
        draft,
        created_at: row.text("created_at").unwrap_or_default(),
        updated_at: row.text("updated_at").unwrap_or_default(),
    }
}

const COLUMNS: &str =
    "id, name, draft, enabled, published_version, trigger_token, created_at, updated_at";

/// Saves a new draft (problems and all).
pub fn create(
    db: &impl Db,
    clock: &mut impl Clock,
    workspace: &str,
    flow: &Flow,
) -> Result<FlowView, ApiError> {
    let id = clock.new_id();
    let token = format!("ft_{}", clock.new_id().replace('-', ""));
    let now = clock.now_text();
    let draft = serde_json::to_string(flow).map_err(|e| ApiError::internal(e.to_string()))?;
    db.execute(
        "INSERT INTO flows (id, workspace_id, name, draft, enabled, trigger_token, created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
        &[id.as_str().into(), workspace.into(), flow.name.as_str().into(), draft.into(), token.into(), now.as_str().into(), now.as_str().into()],
    )?;
    get(db, clock, workspace, &id)
}

pub fn get(
    db: &impl Db,
    clock: &impl Clock,
    workspace: &str,
    id: &str,
) -> Result<FlowView, ApiError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM flows WHERE workspace_id = ? AND id = ?"),
        &[workspace.into(), id.into()],
    )?;
    rows.first()
        .map(|r| view(&r, clock.now()))
        .ok_or_else(|| ApiError::not_found(format!("no flow {id}")))
}

pub fn list(db: &impl Db, clock: &impl Clock, workspace: &str) -> Result<Vec<FlowView>, ApiError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM flows WHERE workspace_id = ? ORDER BY created_at, id"),
        &[workspace.into()],
    )?;
    Ok(rows.iter().map(|r| view(&r, clock.now())).collect())
}

/// Replaces the draft. Published versions and running runs are untouched.
pub fn update(
    db: &impl Db,
    clock: &mut impl Clock,
    workspace: &str,
    id: &str,
    flow: &Flow,
) -> Result<FlowView, ApiError> {
    get(db, clock, workspace, id)?;
    let draft = serde_json::to_string(flow).map_err(|e| ApiError::internal(e.to_string()))?;
    db.execute(
        "UPDATE flows SET name = ?, draft = ?, updated_at = ? WHERE workspace_id = ? AND id = ?",
        &[
            flow.name.as_str().into(),
            draft.into(),
            clock.now_text().into(),
            workspace.into(),
            id.into(),
        ],
    )?;
    get(db, clock, workspace, id)
}

/// Publishes the draft as the next version; 422 listing every error when
/// the draft has any. Publishing also enables the flow.
pub fn publish(
    db: &impl Db,
    clock: &mut impl Clock,
    workspace: &str,
    id: &str,
) -> Result<FlowView, ApiError> {
    db.transaction(|db| {
        let flow = get(db, clock, workspace, id)?;
        let errors: Vec<&Problem> = flow.problems.iter().filter(|p| p.is_error()).collect();
        if let Some(first) = errors.first() {
            let mut e = ApiError::validation(first.field.clone(), format!("the flow has {} problem(s) and cannot be published", errors.len()));
            e.details = Some(serde_json::to_value(&errors).unwrap_or_default());
            return Err(e);
        }
        let version = flow.published_version.unwrap_or(0) + 1;
        let now = clock.now_text();
        db.execute(
            "INSERT INTO flow_versions (workspace_id, flow_id, version, definition, published_at) VALUES (?, ?, ?, ?, ?)",
            &[workspace.into(), id.into(), SqlValue::Integer(version), flow.draft.to_string().into(), now.as_str().into()],
        )?;
        db.execute(
            "UPDATE flows SET published_version = ?, enabled = 1, updated_at = ? WHERE workspace_id = ? AND id = ?",
            &[SqlValue::Integer(version), now.as_str().into(), workspace.into(), id.into()],
        )?;
        get(db, clock, workspace, id)
    })
}

pub fn set_enabled(
    db: &impl Db,
    clock: &impl Clock,
    workspace: &str,
    id: &str,
    enabled: bool,
) -> Result<FlowView, ApiError> {
    let flow = get(db, clock, workspace, id)?;
    if enabled && flow.published_version.is_none() {
        return Err(ApiError::conflict("publish the flow before enabling it"));
    }
    db.execute(
        "UPDATE flows SET enabled = ?, updated_at = ? WHERE workspace_id = ? AND id = ?",
        &[
            SqlValue::Integer(i64::from(enabled)),
            clock.now_text().into(),
            workspace.into(),
            id.into(),
        ],
    )?;
    get(db, clock, workspace, id)
}

/// A published version's definition.
pub fn version(
    db: &impl Db,
    workspace: &str,
    flow_id: &str,
    version: i64,
) -> Result<Flow, ApiError> {
    let rows = db.execute(
        "SELECT definition FROM flow_versions WHERE workspace_id = ? AND flow_id = ? AND version = ?",
        &[workspace.into(), flow_id.into(), SqlValue::Integer(version)],
    )?;
    let text = rows
        .first()
        .and_then(|r| r.text("definition"))
        .ok_or_else(|| ApiError::not_found(format!("flow {flow_id} has no version {version}")))?;
    serde_json::from_str(&text)
        .map_err(|e| ApiError::internal(format!("stored flow version is unreadable: {e}")))
}

/// What a trigger needs: the live version of an enabled flow, found by id
/// within a workspace or by its trigger token.
#[derive(Debug, Clone)]
pub struct Live {
    pub workspace_id: String,
    pub flow_id: String,
    pub version: i64,
    pub flow: Flow,
}

/// The published version of a flow, enabled or not (for work already
/// accepted, such as the rows of an upload).
pub fn live_unchecked(db: &impl Db, workspace: &str, flow_id: &str) -> Result<Live, ApiError> {
    let rows = db.execute(
        "SELECT published_version FROM flows WHERE workspace_id = ? AND id = ?",
        &[workspace.into(), flow_id.into()],
    )?;
    let version_no = rows
        .first()
        .and_then(|r| r.int("published_version"))
        .ok_or_else(|| ApiError::not_found(format!("flow {flow_id} has no published version")))?;
    let flow = version(db, workspace, flow_id, version_no)?;
    Ok(Live {
        workspace_id: workspace.to_string(),
        flow_id: flow_id.to_string(),
        version: version_no,
        flow,
    })
}

/// The live versions of a workspace's enabled flows that start from `kind`
/// (partner events, object changes find their flows this way).
pub fn live_with_trigger(
    db: &impl Db,
    workspace: &str,
    kind: careflow_flow::TriggerKind,
) -> Result<Vec<Live>, ApiError> {
    let rows = db.execute(
        "SELECT id FROM flows WHERE workspace_id = ? AND enabled = 1 AND published_version IS NOT NULL",
        &[workspace.into()],
    )?;
    let mut live = Vec::new();
    for id in rows.iter().filter_map(|r| r.text("id")) {
        let flow = live_unchecked(db, workspace, &id)?;
        if flow.flow.trigger.kind == kind {
            live.push(flow);
        }
    }
    Ok(live)
}

/// The live flow behind a webhook URL (`/hooks/:token`).
pub fn live_by_token(db: &impl Db, token: &str) -> Result<Live, ApiError> {
    let rows = db.execute(
        "SELECT id FROM flows WHERE trigger_token = ?",
        &[token.into()],
    )?;
    let id = rows
        .first()
        .and_then(|r| r.text("id"))
        .ok_or_else(|| ApiError::not_found("no flow has this webhook URL"))?;
    live(db, None, &id, Some(token))
}

impl Live {
    /// Refuses a trigger of another kind than the flow's own.
    pub fn expect_trigger(&self, kind: careflow_flow::TriggerKind) -> Result<(), ApiError> {
        if self.flow.trigger.kind != kind {
            return Err(ApiError::conflict(format!(
                "this flow starts from its {:?} trigger, not {kind:?}",
                self.flow.trigger.kind
            )));
        }
        Ok(())
    }
}

pub fn live(
    db: &impl Db,
    workspace: Option<&str>,
    flow_id: &str,
    token: Option<&str>,
) -> Result<Live, ApiError> {
    let rows = match (workspace, token) {
        (Some(w), _) => db.execute("SELECT id, workspace_id, enabled, published_version FROM flows WHERE workspace_id = ? AND id = ?", &[w.into(), flow_id.into()])?,
        (None, Some(t)) => db.execute("SELECT id, workspace_id, enabled, published_version FROM flows WHERE id = ? AND trigger_token = ?", &[flow_id.into(), t.into()])?,
        (None, None) => return Err(ApiError::unauthorized("send `Authorization: Bearer <api key>` or the flow's `?token=`")),
    };
    let row = rows.first().ok_or_else(|| match token {
        Some(_) if workspace.is_none() => {
            ApiError::unauthorized("unknown flow or wrong trigger token")
        }
        _ => ApiError::not_found(format!("no flow {flow_id}")),
    })?;
    let workspace_id = row.text("workspace_id").unwrap_or_default();
    let Some(version_no) = row.int("published_version") else {
        return Err(ApiError::conflict("the flow has no published version"));
    };
    if row.int("enabled") != Some(1) {
        return Err(ApiError::conflict("the flow is disabled"));
    }
    let flow = version(db, &workspace_id, flow_id, version_no)?;
    Ok(Live {
        workspace_id,
        flow_id: flow_id.to_string(),
        version: version_no,
        flow,
    })
}
