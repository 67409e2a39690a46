//! A campaign's customers (SPEC B-2): from existing contacts, a saved
//! filter, a customer group, plain rows or an `.xlsx` upload. Phones are
//! normalised to `84…`; rows whose phone cannot be are listed with the
//! reason, and duplicates (within the import or already in the campaign)
//! are removed and reported. Also the manual pick of B-M.

use careflow_api::ApiError;
use careflow_condition::Condition;
use careflow_engine::Clock;
use careflow_store::{Db, Row, SqlValue};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::campaigns::{self, Campaign};
use crate::settings::Mode;

/// Most customers one import adds.
pub const MAX_IMPORT_ROWS: usize = 100_000;

/// Column keys (after the sheet's header normalisation) that hold the
/// phone and the name; the template uses the first Vietnamese ones.
const PHONE_KEYS: &[&str] = &["so_dien_thoai", "phone", "sdt", "dien_thoai", "mobile"];
const NAME_KEYS: &[&str] = &["ho_ten", "name", "ten", "ten_khach_hang", "full_name"];

/// Where customers come from.
#[derive(Debug, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// Existing contacts by id.
    Contacts { ids: Vec<String> },
    /// Contacts matching a saved filter (a condition over the customer).
    Filter { filter: Value },
    /// Contacts in a customer group (`groups` on the customer).
    Group { group: String },
    /// Rows given inline: `{"phone", "name", …}`.
    Rows { rows: Vec<Map<String, Value>> },
}

/// One row to import, with the row number the report names.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub row: usize,
    pub customer_id: Option<String>,
    pub fields: Map<String, Value>,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct ImportReport {
    pub added: usize,
    pub duplicates: Vec<Value>,
    pub errors: Vec<Value>,
}

fn customer_rows(rows: impl Iterator<Item = (String, Value)>) -> Vec<ImportRow> {
    rows.enumerate()
        .map(|(i, (id, data))| ImportRow {
            row: i + 1,
            customer_id: Some(id),
            fields: data.as_object().cloned().unwrap_or_default(),
        })
        .collect()
}

fn contacts_where(
    db: &impl Db,
    workspace: &str,
    keep: impl Fn(&Value) -> bool,
) -> Result<Vec<(String, Value)>, ApiError> {
    let rows = db.execute(
        "SELECT id, data FROM crm_objects WHERE workspace_id = ? AND kind = 'customer' ORDER BY created_at, id",
        &[workspace.into()],
    )?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let data: Value = serde_json::from_str(&r.text("data")?).ok()?;
            keep(&data).then(|| (r.text("id").unwrap_or_default(), data))
        })
        .collect())
}

/// A filter or group matching more contacts than one import takes is the
/// request's fault (422 on that field), not a body too large.
fn at_most_one_import(field: &str, matched: usize) -> Result<(), ApiError> {
    if matched > MAX_IMPORT_ROWS {
        return Err(ApiError::validation(
            field,
            format!("it matches {matched} contacts; one import adds at most {MAX_IMPORT_ROWS}"),
        ));
    }
    Ok(())
}

/// Turns a source into rows to import.
pub fn rows_of(
    db: &impl Db,
    clock: &impl Clock,
    workspace: &str,
    source: Source,
) -> Result<Vec<ImportRow>, ApiError> {
    match source {
        Source::Contacts { ids } => {
            let mut found = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                let rows = db.execute(
                    "SELECT data FROM crm_objects WHERE workspace_id = ? AND kind = 'customer' AND id = ?",
                    &[workspace.into(), id.as_str().into()],
                )?;
                let data = rows
                    .first()
                    .and_then(|r| r.text("data"))
                    .and_then(|d| serde_json::from_str(&d).ok())
                    .ok_or_else(|| {
                        ApiError::validation(format!("ids[{i}]"), format!("no customer {id}"))
                    })?;
                found.push((id.clone(), data));
            }
            Ok(customer_rows(found.into_iter()))
        }
        Source::Filter { filter } => {
            let condition = Condition::from_value(&filter)
                .map_err(|e| ApiError::validation("filter", e.to_string()))?;
            let now = clock.now();
            let found = contacts_where(db, workspace, |data| {
                condition.evaluate(&json!({ "customer": data }), now)
            })?;
            at_most_one_import("filter", found.len())?;
            Ok(customer_rows(found.into_iter()))
        }
        Source::Group { group } => {
            let found = contacts_where(db, workspace, |data| {
                data["groups"]
                    .as_array()
                    .is_some_and(|g| g.iter().any(|x| x.as_str() == Some(group.as_str())))
            })?;
            at_most_one_import("group", found.len())?;
            Ok(customer_rows(found.into_iter()))
        }
        Source::Rows { rows } => Ok(rows
            .into_iter()
            .enumerate()
            .map(|(i, fields)| ImportRow {
                row: i + 1,
                customer_id: None,
                fields,
            })
            .collect()),
    }
}

/// Rows of an `.xlsx` upload (the template's header row first).
pub fn rows_of_xlsx(bytes: &[u8]) -> Result<Vec<ImportRow>, ApiError> {
    let sheet = careflow_sheet::read_xlsx(bytes).map_err(|e| {
        let status_413 = matches!(e, careflow_sheet::SheetError::TooLarge);
        if status_413 {
            ApiError::payload_too_large(e.to_string())
        } else {
            ApiError::validation("file", e.to_string())
        }
    })?;
    if !sheet
        .columns
        .iter()
        .any(|c| PHONE_KEYS.contains(&c.key.as_str()))
    {
        return Err(ApiError::validation(
            "file",
            "the sheet has no phone column (`Số điện thoại` in the template)",
        ));
    }
    Ok(sheet
        .rows
        .into_iter()
        .map(|(row, fields)| ImportRow {
            row,
            customer_id: None,
            fields,
        })
        .collect())
}

fn first_text(fields: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match fields.get(*k)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// Adds rows to a campaign that is not finished: leads keep arriving while
/// a campaign runs (uploads, a flow's `add_to_campaign`, B-C callbacks).
/// Phone is required in every mode: every mode ends in a call.
pub fn import(
    db: &impl Db,
    clock: &mut impl Clock,
    workspace: &str,
    campaign_id: &str,
    rows: Vec<ImportRow>,
) -> Result<ImportReport, ApiError> {
    if rows.len() > MAX_IMPORT_ROWS {
        return Err(ApiError::payload_too_large(format!(
            "one import adds at most {MAX_IMPORT_ROWS} customers"
        )));
    }
    db.transaction(|db| {
        let campaign = campaigns::load(db, workspace, campaign_id)?;
        if campaign.status == crate::lifecycle::Status::Finished {
            return Err(ApiError::conflict("the campaign is finished"));
        }
        let mut report = ImportReport::default();
        let now = clock.now_text();
        let mut seen = std::collections::HashSet::new();
        for r in rows {
            let raw = first_text(&r.fields, PHONE_KEYS);
            let Some(raw) = raw else {
                report.errors.push(json!({"row": r.row, "field": "phone", "message": "the phone is required"}));
                continue;
            };
            let Some(phone) = careflow_flow::binding::normalize_phone(&raw) else {
                report.errors.push(json!({"row": r.row, "field": "phone", "message": format!("{raw:?} is not a phone number (write it as 0912345678 or 84912345678)")}));
                continue;
            };
            if !seen.insert(phone.clone()) {
                report.duplicates.push(json!({"row": r.row, "phone": phone, "reason": "repeated in this import"}));
                continue;
            }
            let existing = db.execute(
                "SELECT 1 AS x FROM campaign_customers WHERE campaign_id = ? AND phone = ?",
                &[campaign_id.into(), phone.as_str().into()],
            )?;
            if existing.first().is_some() {
                report.duplicates.push(json!({"row": r.row, "phone": phone, "reason": "already in the campaign"}));
                continue;
            }
            let name = first_text(&r.fields, NAME_KEYS);
            db.execute(
                "INSERT INTO campaign_customers (id, workspace_id, campaign_id, customer_id, phone, name, data, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                &[clock.new_id().into(), workspace.into(), campaign_id.into(), r.customer_id.into(), phone.into(), name.into(), Value::Object(r.fields).to_string().into(), now.as_str().into()],
            )?;
            report.added += 1;
        }
        Ok(report)
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerView {
    pub id: String,
    pub customer_id: Option<String>,
    pub phone: String,
    pub name: Option<String>,
    pub data: Value,
    pub state: String,
    pub attempts: i64,
    pub last_result: Option<String>,
    pub next_attempt_at: Option<String>,
    pub claimed_by: Option<String>,
}

pub(crate) fn customer_view(r: &Row<'_>) -> CustomerView {
    CustomerView {
        id: r.text("id").unwrap_or_default(),
        customer_id: r.text("customer_id"),
        phone: r.text("phone").unwrap_or_default(),
        name: r.text("name"),
        data: r
            .text("data")
            .and_then(|d| serde_json::from_str(&d).ok())
            .unwrap_or_default(),
        state: r.text("state").unwrap_or_default(),
        attempts: r.int("attempts").unwrap_or(0),
        last_result: r.text("last_result"),
        next_attempt_at: r
            .int("next_attempt_ms")
            .filter(|ms| *ms > 0)
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339()),
        claimed_by: r.text("claimed_by"),
    }
}

pub(crate) const CUSTOMER_COLUMNS: &str =
    "id, customer_id, phone, name, data, state, attempts, last_result, next_attempt_ms, claimed_by";

pub fn list(
    db: &impl Db,
    workspace: &str,
    campaign_id: &str,
    state: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<CustomerView>, ApiError> {
    campaigns::load(db, workspace, campaign_id)?;
    let rows = db.execute(
        &format!("SELECT {CUSTOMER_COLUMNS} FROM campaign_customers WHERE workspace_id = ? AND campaign_id = ? AND (? IS NULL OR state = ?) ORDER BY created_at, rowid LIMIT ? OFFSET ?"),
        &[workspace.into(), campaign_id.into(), state.into(), state.into(), SqlValue::Integer(limit.clamp(1, 1000)), SqlValue::Integer(offset.max(0))],
    )?;
    Ok(rows.iter().map(|r| customer_view(&r)).collect())
}

/// The workspace-local day a manual quota counts in.
fn quota_day(clock: &impl Clock, zone: chrono_tz::Tz) -> String {
    clock
        .now()
        .with_timezone(&zone)
        .format("%Y-%m-%d")
        .to_string()
}

/// A customer an agent may take now (binds `now` twice): waiting, not
/// taken, due for its next attempt, and not on the do-not-call list.
const PICKABLE: &str = "state = 'pending' AND claimed_by IS NULL AND next_attempt_ms <= ? AND NOT EXISTS (SELECT 1 FROM do_not_call d WHERE d.workspace_id = campaign_customers.workspace_id AND d.phone = campaign_customers.phone AND d.until_ms > ?)";

/// B-M: an agent takes the next customer (or the one named). Two agents
/// never get the same customer: the claim is one conditional update.
/// The daily quota (per agent, else the campaign's) is checked in the
/// same transaction.
pub fn pick(
    db: &impl Db,
    clock: &mut impl Clock,
    workspace: &str,
    campaign_id: &str,
    agent: &str,
    wanted: Option<&str>,
    zone: chrono_tz::Tz,
) -> Result<CustomerView, ApiError> {
    db.transaction(|db| {
        let campaign: Campaign = campaigns::load(db, workspace, campaign_id)?;
        if campaign.settings.mode != Mode::Manual {
            return Err(ApiError::conflict("customers are picked only in manual campaigns"));
        }
        if campaign.status != crate::lifecycle::Status::Running {
            return Err(ApiError::conflict(format!(
                "the campaign is {}, not running",
                campaign.status.as_str()
            )));
        }
        let assigned = db.execute(
            "SELECT daily_quota FROM campaign_agents WHERE campaign_id = ? AND user_id = ?",
            &[campaign_id.into(), agent.into()],
        )?;
        let Some(assignment) = assigned.first() else {
            return Err(ApiError::forbidden("the agent is not on this campaign"));
        };
        let quota = assignment
            .int("daily_quota")
            .or(campaign.settings.manual.daily_quota.map(i64::from));
        let day = quota_day(clock, zone);
        let picked = db
            .execute(
                "SELECT picks FROM manual_picks WHERE campaign_id = ? AND user_id = ? AND day = ?",
                &[campaign_id.into(), agent.into(), day.as_str().into()],
            )?
            .first()
            .and_then(|r| r.int("picks"))
            .unwrap_or(0);
        if let Some(q) = quota
            && picked >= q
        {
            return Err(ApiError::too_many_requests(format!(
                "the daily quota of {q} customers is used up"
            )));
        }
        let now = clock.now_ms();
        let candidate = match wanted {
            Some(id) => id.to_string(),
            None => db
                .execute(
                    &format!("SELECT id FROM campaign_customers WHERE campaign_id = ? AND {PICKABLE} ORDER BY next_attempt_ms, created_at, rowid LIMIT 1"),
                    &[campaign_id.into(), SqlValue::Integer(now), SqlValue::Integer(now)],
                )?
                .first()
                .and_then(|r| r.text("id"))
                .ok_or_else(|| ApiError::not_found("no customer is left to pick"))?,
        };
        let claimed = db.execute(
            &format!("UPDATE campaign_customers SET claimed_by = ?, claimed_ms = ? WHERE workspace_id = ? AND campaign_id = ? AND id = ? AND {PICKABLE} RETURNING id"),
            &[agent.into(), SqlValue::Integer(now), workspace.into(), campaign_id.into(), candidate.as_str().into(), SqlValue::Integer(now), SqlValue::Integer(now)],
        )?;
        if claimed.first().is_none() {
            return Err(ApiError::conflict(
                "another agent has this customer, it is done, its retry time has not come, or it is on the do-not-call list",
            ));
        }
        db.execute(
            "INSERT INTO manual_picks (workspace_id, campaign_id, user_id, day, picks) VALUES (?, ?, ?, ?, 1) ON CONFLICT (campaign_id, user_id, day) DO UPDATE SET picks = picks + 1",
            &[workspace.into(), campaign_id.into(), agent.into(), day.into()],
        )?;
        let row = db.execute(
            &format!("SELECT {CUSTOMER_COLUMNS} FROM campaign_customers WHERE id = ?"),
            &[candidate.as_str().into()],
        )?;
        let view = row
            .first()
            .map(|r| customer_view(&r))
            .ok_or_else(|| ApiError::internal("the claimed customer vanished"))?;
        if campaign.settings.manual.assign_account_manager
            && let Some(customer) = &view.customer_id
        {
            careflow_engine::crm::update(db, clock, workspace, "customer", customer, json!({"account_manager": agent}))?;
        }
        Ok(view)
    })
}

/// B-C: a caller in the inbound queue pressed the callback key after
/// waiting long enough; they join the callback campaign once.
pub fn request_callback(
    db: &impl Db,
    clock: &mut impl Clock,
    workspace: &str,
    campaign_id: &str,
    input: CallbackRequest,
) -> Result<Value, ApiError> {
    let campaign = campaigns::load(db, workspace, campaign_id)?;
    if campaign.settings.mode != Mode::AutoCallback {
        return Err(ApiError::conflict(
            "callbacks join only auto-callback campaigns",
        ));
    }
    use crate::lifecycle::Status;
    if !matches!(
        campaign.status,
        Status::Approved | Status::Running | Status::Paused
    ) {
        return Err(ApiError::conflict(format!(
            "the callback campaign is {}; it takes requests once approved",
            campaign.status.as_str()
        )));
    }
    let cb = &campaign.settings.callback;
    if input.key != cb.key {
        return Err(ApiError::validation(
            "key",
            format!("the callback key of this campaign is `{}`", cb.key),
        ));
    }
    if input.waited_seconds < cb.min_wait_seconds {
        return Err(ApiError::validation(
            "waited_seconds",
            format!(
                "a callback registers after {} s in the queue",
                cb.min_wait_seconds
            ),
        ));
    }
    let phone = careflow_flow::binding::normalize_phone(&input.phone).ok_or_else(|| {
        ApiError::validation("phone", format!("{:?} is not a phone number", input.phone))
    })?;
    db.transaction(|db| {
        let pending = db.execute(
            "SELECT id FROM campaign_customers WHERE campaign_id = ? AND phone = ? AND state IN ('pending', 'calling')",
            &[campaign_id.into(), phone.as_str().into()],
        )?;
        if let Some(existing) = pending.first() {
            return Ok(json!({"id": existing.text("id"), "created": false}));
        }
        let ticket = careflow_engine::crm::create(db, clock, workspace, "ticket", json!({"title": format!("Callback {phone}"), "channel": "Callback", "phone": phone}))?;
        // A customer called back before comes back as pending once more.
        let id = clock.new_id();
        let stored = db.execute(
            "INSERT INTO campaign_customers (id, workspace_id, campaign_id, phone, name, data, state, attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?) ON CONFLICT (campaign_id, phone) DO UPDATE SET state = 'pending', attempts = 0, next_attempt_ms = 0, data = excluded.data, created_at = excluded.created_at RETURNING id",
            &[id.as_str().into(), workspace.into(), campaign_id.into(), phone.as_str().into(), input.name.into(), json!({"ticket_id": ticket["id"], "queue": input.queue}).to_string().into(), clock.now_text().into()],
        )?;
        let id = stored.first().and_then(|r| r.text("id")).unwrap_or(id);
        Ok(json!({"id": id, "created": true, "ticket_id": ticket["id"]}))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackRequest {
    pub phone: String,
    #[serde(default)]
    pub name: Option<String>,
    pub key: String,
    pub waited_seconds: u32,
    #[serde(default)]
    pub queue: Option<String>,
}
