//! The minimal CRM the flows need (A-T2): customers, tickets, calls,
//! analysed calls and conversations as JSON objects per workspace. Every
//! create, update and special event is written to an outbox
//! (`object_changes`) in the same transaction; draining the outbox
//! evaluates the condition-triggered flows, so no change is lost to a
//! crash between the write and the evaluation.

use careflow_api::ApiError;
use careflow_flow::TriggerKind;
use careflow_flow::condition_trigger::{self, Decision, OBJECTS};
use careflow_store::{Db, Row, SqlValue};
use serde_json::{Map, Value, json};

use crate::{Clock, flows, runs};

fn check_kind(kind: &str) -> Result<(), ApiError> {
    if OBJECTS.contains(&kind) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no object type `{kind}`")))
    }
}

fn string_list(field: &str, v: &Value) -> Result<(), ApiError> {
    match v {
        Value::Array(items)
            if items.iter().all(|i| {
                i.as_str()
                    .is_some_and(|s| !s.trim().is_empty() && s.len() <= 100)
            }) =>
        {
            Ok(())
        }
        _ => Err(ApiError::validation(
            field,
            format!("`{field}` is a list of non-empty names"),
        )),
    }
}

/// Checks and normalises an object's fields for its kind.
fn normalise(kind: &str, mut data: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    data.remove("id");
    for reserved in ["created_at", "updated_at"] {
        data.remove(reserved);
    }
    for list in ["tags", "lists", "groups", "topics"] {
        if let Some(v) = data.get(list) {
            string_list(list, v)?;
        }
    }
    for object in ["attributes", "data"] {
        if data.get(object).is_some_and(|v| !v.is_object()) {
            return Err(ApiError::validation(
                object,
                format!("`{object}` is an object"),
            ));
        }
    }
    if let Some(phone) = data.get("phone").filter(|p| !p.is_null()) {
        let text = phone
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| phone.to_string());
        let normal = careflow_flow::binding::normalize_phone(&text).ok_or_else(|| {
            ApiError::validation("phone", format!("{text:?} is not a phone number"))
        })?;
        data.insert("phone".into(), Value::String(normal));
    }
    if let Some(email) = data.get("email").and_then(Value::as_str) {
        let coerced = careflow_flow::binding::coerce(
            careflow_flow::ValueType::Email,
            &Value::String(email.into()),
        )
        .map_err(|m| ApiError::validation("email", m))?;
        data.insert("email".into(), coerced);
    }
    if kind == "customer"
        && data
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(|n| n.trim().is_empty())
        && data.get("phone").is_none_or(Value::is_null)
    {
        return Err(ApiError::validation(
            "name",
            "a customer needs a name or a phone number",
        ));
    }
    if kind == "ticket"
        && data
            .get("title")
            .and_then(Value::as_str)
            .is_none_or(|t| t.trim().is_empty())
    {
        return Err(ApiError::validation("title", "a ticket needs a title"));
    }
    Ok(data)
}

fn view(row: &Row<'_>) -> Value {
    let mut v: Value = row
        .text("data")
        .and_then(|d| serde_json::from_str(&d).ok())
        .unwrap_or(json!({}));
    v["id"] = json!(row.text("id"));
    v["created_at"] = json!(row.text("created_at"));
    v["updated_at"] = json!(row.text("updated_at"));
    v
}

fn record_change(
    db: &impl Db,
    clock: &impl Clock,
    workspace: &str,
    kind: &str,
    id: &str,
    event: Option<(&str, &Value)>,
) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO object_changes (workspace_id, kind, object_id, event, event_data, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        &[workspace.into(), kind.into(), id.into(), event.map(|(e, _)| e.to_string()).into(), event.map(|(_, d)| d.to_string()).into(), clock.now_text().into()],
    )?;
    Ok(())
}

fn phone_conflict(e: ApiError) -> ApiError {
    if e.message.contains("UNIQUE") {
        ApiError::conflict("another object of this type has this phone number").with_field("phone")
    } else {
        e
    }
}

pub fn create(
    db: &impl Db,
    clock: &mut impl Clock,
    workspace: &str,
    kind: &str,
    input: Value,
) -> Result<Value, ApiError> {
    let id = clock.new_id();
    create_with_id(db, clock, workspace, kind, &id, input)
}

fn create_with_id(
    db: &impl Db,
    clock: &mut impl Clock,
    workspace: &str,
    kind: &str,
    id: &str,
    input: Value,
) -> Result<Value, ApiError> {
    check_kind(kind)?;
    let Value::Object(fields) = input else {
        return Err(ApiError::bad_request("send a JSON object"));
    };
    let data = normalise(kind, fields)?;
    let id = id.to_string();
    let now = clock.now_text();
    db.transaction(|db| {
        db.execute(
            "INSERT INTO crm_objects (id, workspace_id, kind, phone, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            &[id.as_str().into(), workspace.into(), kind.into(), data.get("phone").and_then(Value::as_str).into(), Value::Object(data.clone()).to_string().into(), now.as_str().into(), now.as_str().into()],
        )
        .map_err(|e| phone_conflict(e.into()))?;
        record_change(db, clock, workspace, kind, &id, None)?;
        get(db, workspace, kind, &id)
    })
}

pub fn get(db: &impl Db, workspace: &str, kind: &str, id: &str) -> Result<Value, ApiError> {
    check_kind(kind)?;
    let rows = db.execute("SELECT id, data, created_at, updated_at FROM crm_objects WHERE workspace_id = ? AND kind = ? AND id = ?", &[workspace.into(), kind.into(), id.into()])?;
    rows.first()
        .map(|r| view(&r))
        .ok_or_else(|| ApiError::not_found(format!("no {kind} {id}")))
}

pub fn list(db: &impl Db, workspace: &str, kind: &str, limit: i64) -> Result<Vec<Value>, ApiError> {
    check_kind(kind)?;
    let rows = db.execute(
        "SELECT id, data, created_at, updated_at FROM crm_objects WHERE workspace_id = ? AND kind = ? ORDER BY created_at DESC, id LIMIT ?",
        &[workspace.into(), kind.into(), SqlValue::Integer(limit.clamp(1, 500))],
    )?;
    Ok(rows.iter().map(|r| view(&r)).collect())
}

/// Merges `patch` into the object (`attributes`/`data` one level deep;
/// `null` removes a field).
pub fn update(
    db: &impl Db,
    clock: &mut impl Clock,
    workspace: &str,
    kind: &str,
    id: &str,
    patch: Value,
) -> Result<Value, ApiError> {
    let Value::Object(patch) = patch else {
        return Err(ApiError::bad_request(
            "send a JSON object of fields to change",
        ));
    };
    db.transaction(|db| {
        let current = get(db, workspace, kind, id)?;
        let mut data = current.as_object().cloned().unwrap_or_default();
        for (key, value) in patch {
            match (data.get_mut(&key), value) {
                (Some(Value::Object(existing)), Value::Object(more)) if key == "attributes" || key == "data" => existing.extend(more),
                (_, Value::Null) => {
                    data.remove(&key);
                }
                (_, value) => {
                    data.insert(key, value);
                }
            }
        }
        let data = normalise(kind, data)?;
        db.execute(
            "UPDATE crm_objects SET data = ?, phone = ?, updated_at = ? WHERE workspace_id = ? AND kind = ? AND id = ?",
            &[Value::Object(data.clone()).to_string().into(), data.get("phone").and_then(Value::as_str).into(), clock.now_text().into(), workspace.into(), kind.into(), id.into()],
        )
        .map_err(|e| phone_conflict(e.into()))?;
        record_change(db, clock, workspace, kind, id, None)?;
        get(db, workspace, kind, id)
    })
}

/// Records a special event on an object (the extended condition).
pub fn event(
    db: &impl Db,
    clock: &impl Clock,
    workspace: &str,
    kind: &str,
    id: &str,
    name: &str,
    data: &Value,
) -> Result<(), ApiError> {
    get(db, workspace, kind, id)?;
    if name.is_empty()
        || name.len() > 100
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(ApiError::validation(
            "event",
            "an event name such as zns.rated",
        ));
    }
    record_change(db, clock, workspace, kind, id, Some((name, data)))
}

/// Evaluates up to `limit` recorded changes against the condition-triggered
/// flows and starts the runs they fire. Returns how many runs started.
pub fn drain_changes(db: &impl Db, clock: &mut impl Clock, limit: i64) -> Result<usize, ApiError> {
    let changes = db.execute(
        "SELECT seq, workspace_id, kind, object_id, event, event_data FROM object_changes ORDER BY seq LIMIT ?",
        &[SqlValue::Integer(limit)],
    )?;
    let mut started = 0;
    for change in changes.iter() {
        let seq = change.int("seq").unwrap_or(0);
        let workspace = change.text("workspace_id").unwrap_or_default();
        let kind = change.text("kind").unwrap_or_default();
        let object_id = change.text("object_id").unwrap_or_default();
        let event = change.text("event");
        let event_data: Value = change
            .text("event_data")
            .and_then(|d| serde_json::from_str(&d).ok())
            .unwrap_or(Value::Null);
        db.transaction(|db| {
            if let Ok(object) = get(db, &workspace, &kind, &object_id) {
                for live in flows::live_with_trigger(db, &workspace, TriggerKind::Condition)? {
                    let flow_id = live.flow_id.clone();
                    let Ok(settings) = serde_json::from_value::<condition_trigger::Settings>(live.flow.trigger.settings.clone()) else { continue };
                    let state = db.execute("SELECT matched FROM condition_state WHERE flow_id = ? AND object_id = ?", &[flow_id.as_str().into(), object_id.as_str().into()])?;
                    let was = state.first().and_then(|r| r.int("matched")) == Some(1);
                    let Decision { fire, matched } = condition_trigger::decide(&settings, &kind, &object, was, event.as_deref(), clock.now());
                    db.execute(
                        "INSERT INTO condition_state (workspace_id, flow_id, object_id, matched) VALUES (?, ?, ?, ?) ON CONFLICT (flow_id, object_id) DO UPDATE SET matched = excluded.matched",
                        &[workspace.as_str().into(), flow_id.as_str().into(), object_id.as_str().into(), SqlValue::Integer(i64::from(matched))],
                    )?;
                    if fire {
                        let mut data = Map::new();
                        data.insert(kind.clone(), object.clone());
                        if let Some(name) = &event {
                            data.insert("event".into(), json!({ "name": name, "data": event_data }));
                        }
                        runs::start(db, clock, &live, "condition", &data, Some(&format!("change:{seq}")))?;
                        started += 1;
                    }
                }
            }
            db.execute("DELETE FROM object_changes WHERE seq = ?", &[SqlValue::Integer(seq)])?;
            Ok::<_, ApiError>(())
        })?;
    }
    Ok(started)
}

/// Carries out a flow's CRM action (A-N8) in `workspace`; answers the
/// variables the run sees afterwards (the changed `customer` or `ticket`).
pub fn apply(
    db: &impl Db,
    clock: &mut impl Clock,
    workspace: &str,
    change: &careflow_flow::nodes::action::CrmChange,
) -> Result<Map<String, Value>, ApiError> {
    use careflow_flow::nodes::action::CrmOp;
    let field = |name: &str| {
        change
            .fields
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let target = change.target.clone().unwrap_or_default();
    let mut out = Map::new();
    match change.op {
        CrmOp::AddTag | CrmOp::RemoveTag | CrmOp::AddToList | CrmOp::AddToGroup => {
            let (list, value) = match change.op {
                CrmOp::AddTag | CrmOp::RemoveTag => ("tags", field("tag")),
                CrmOp::AddToList => ("lists", field("list")),
                _ => ("groups", field("group")),
            };
            let customer = get(db, workspace, "customer", &target)?;
            let mut items: Vec<Value> = customer
                .get(list)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            items.retain(|v| v.as_str() != Some(value.as_str()));
            if change.op != CrmOp::RemoveTag {
                items.push(Value::String(value));
            }
            out.insert(
                "customer".into(),
                update(
                    db,
                    clock,
                    workspace,
                    "customer",
                    &target,
                    json!({ list: items }),
                )?,
            );
        }
        CrmOp::SetCustomer => {
            let mut patch = Map::new();
            for (key, value) in &change.fields {
                match key.split_once('.') {
                    Some((object @ ("attributes" | "data"), attr)) => {
                        let entry = patch.entry(object.to_string()).or_insert_with(|| json!({}));
                        entry[attr] = value.clone();
                    }
                    _ => {
                        patch.insert(key.clone(), value.clone());
                    }
                }
            }
            out.insert(
                "customer".into(),
                update(
                    db,
                    clock,
                    workspace,
                    "customer",
                    &target,
                    Value::Object(patch),
                )?,
            );
        }
        CrmOp::CreateTicket => {
            // The step's key names the ticket: a replayed step finds it.
            let id = format!("tk_{}", &hex_digest(&change.idempotency_key)[..20]);
            let ticket = match get(db, workspace, "ticket", &id) {
                Ok(existing) => existing,
                Err(_) => {
                    let mut fields = change.fields.clone();
                    fields.entry("status").or_insert(json!("open"));
                    fields.entry("channel").or_insert(json!("flow"));
                    create_with_id(db, clock, workspace, "ticket", &id, Value::Object(fields))?
                }
            };
            out.insert("ticket".into(), ticket);
        }
        CrmOp::AddToCampaign => {
            let campaign = field("campaign");
            let customer = get(db, workspace, "customer", &target)?;
            let phone = customer["phone"].as_str().unwrap_or_default().to_string();
            if phone.is_empty() {
                return Err(ApiError::validation(
                    "customer.phone",
                    format!("customer {target} has no phone number to call"),
                ));
            }
            let open = db.execute(
                "SELECT status FROM campaigns WHERE workspace_id = ? AND id = ?",
                &[workspace.into(), campaign.as_str().into()],
            )?;
            match open.first().and_then(|r| r.text("status")).as_deref() {
                None => return Err(ApiError::not_found(format!("no campaign {campaign}"))),
                Some("finished") => {
                    return Err(ApiError::conflict(format!(
                        "campaign {campaign} is finished"
                    )));
                }
                Some(_) => {}
            }
            // The step's key names the row, and the phone is unique per
            // campaign: a replayed step or a second run adds nothing.
            let id = format!("cc_{}", &hex_digest(&change.idempotency_key)[..20]);
            let added = db.execute(
                "INSERT INTO campaign_customers (id, workspace_id, campaign_id, customer_id, phone, name, data, state, created_at) VALUES (?, ?, ?, ?, ?, ?, '{}', 'pending', ?) ON CONFLICT DO NOTHING RETURNING id",
                &[id.as_str().into(), workspace.into(), campaign.as_str().into(), target.as_str().into(), phone.as_str().into(), customer["name"].as_str().into(), clock.now_text().into()],
            )?;
            out.insert(
                "campaign_customer".into(),
                json!({"campaign_id": campaign, "phone": phone, "added": added.first().is_some()}),
            );
        }
        CrmOp::UpdateTicket => {
            out.insert(
                "ticket".into(),
                update(
                    db,
                    clock,
                    workspace,
                    "ticket",
                    &target,
                    Value::Object(change.fields.clone()),
                )?,
            );
        }
    }
    Ok(out)
}

fn hex_digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
