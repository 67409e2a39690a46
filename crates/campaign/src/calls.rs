//! Call records: carrier events applied through the call state machine
//! (each event id once), what follows an answer in each mode (bridge to
//! the reserved agent, queue on hold music, offer, IVR), and what an
//! ended call leaves behind (dial result, retry or done, agent wrap-up,
//! ticket). The carrier itself is reached by the component that executes
//! the returned [`Order`]s.

use careflow_api::ApiError;
use careflow_engine::Clock;
use careflow_store::{Db, Row, SqlValue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::agents;
use crate::call::{self, CallEvent, CallResult, CallState, Transition};
use crate::campaigns::{self, Campaign};
use crate::settings::Mode;

/// What the telephony component must ask the carrier to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "order", rename_all = "snake_case")]
pub enum Order {
    Originate {
        call_id: String,
        from: String,
        to: String,
        ivr: Option<String>,
    },
    Bridge {
        call_id: String,
        provider_call_id: String,
        extension: String,
    },
    Play {
        call_id: String,
        provider_call_id: String,
        audio: String,
    },
    Hangup {
        call_id: String,
        provider_call_id: String,
    },
}

/// A carrier event after the adapter verified and parsed it.
#[derive(Debug, Clone)]
pub struct CarrierEvent {
    pub event_id: String,
    pub provider_call_id: String,
    /// careflow's call id, when the carrier echoes it.
    pub reference: Option<String>,
    pub signal: CallEvent,
    pub at_ms: i64,
    pub talk_seconds: Option<u32>,
}

/// A stored call.
#[derive(Debug, Clone)]
pub struct Call {
    pub id: String,
    pub workspace_id: String,
    pub campaign_id: Option<String>,
    pub customer_row: Option<String>,
    pub agent_id: Option<String>,
    pub leg: String,
    pub to_number: String,
    pub from_number: String,
    pub provider_call_id: Option<String>,
    pub state: CallState,
    pub placed_ms: i64,
    pub answered_ms: Option<i64>,
    pub queued_ms: Option<i64>,
    pub offered_ms: Option<i64>,
    pub skipped_agents: Vec<String>,
}

pub(crate) const CALL_COLUMNS: &str = "id, workspace_id, campaign_id, campaign_customer_id, agent_id, leg, from_number, to_number, provider, provider_call_id, state, result, attempt, placed_ms, answered_ms, queued_ms, offered_ms, bridged_ms, ended_ms, talk_seconds, skipped_agents, answers, disposition, ticket_id, error";

pub(crate) fn call_of(r: &Row<'_>) -> Call {
    Call {
        id: r.text("id").unwrap_or_default(),
        workspace_id: r.text("workspace_id").unwrap_or_default(),
        campaign_id: r.text("campaign_id"),
        customer_row: r.text("campaign_customer_id"),
        agent_id: r.text("agent_id"),
        leg: r.text("leg").unwrap_or_default(),
        to_number: r.text("to_number").unwrap_or_default(),
        from_number: r.text("from_number").unwrap_or_default(),
        provider_call_id: r.text("provider_call_id"),
        state: r
            .text("state")
            .and_then(|s| CallState::parse(&s))
            .unwrap_or(CallState::Ended),
        placed_ms: r.int("placed_ms").unwrap_or(0),
        answered_ms: r.int("answered_ms"),
        queued_ms: r.int("queued_ms"),
        offered_ms: r.int("offered_ms"),
        skipped_agents: r
            .text("skipped_agents")
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
    }
}

fn time(ms: Option<i64>) -> Option<String> {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// The JSON shape of a call in the API.
pub fn call_json(r: &Row<'_>) -> Value {
    json!({
        "id": r.text("id"),
        "campaign_id": r.text("campaign_id"),
        "campaign_customer_id": r.text("campaign_customer_id"),
        "agent_id": r.text("agent_id"),
        "leg": r.text("leg"),
        "from": r.text("from_number"),
        "to": r.text("to_number"),
        "provider": r.text("provider"),
        "provider_call_id": r.text("provider_call_id"),
        "state": r.text("state"),
        "result": r.text("result"),
        "attempt": r.int("attempt"),
        "placed_at": time(r.int("placed_ms")),
        "answered_at": time(r.int("answered_ms")),
        "queued_at": time(r.int("queued_ms")),
        "bridged_at": time(r.int("bridged_ms")),
        "ended_at": time(r.int("ended_ms")),
        "talk_seconds": r.int("talk_seconds"),
        "answers": r.text("answers").and_then(|a| serde_json::from_str::<Value>(&a).ok()),
        "disposition": r.text("disposition"),
        "ticket_id": r.text("ticket_id"),
        "error": r.text("error"),
    })
}

pub fn load(db: &impl Db, workspace: &str, id: &str) -> Result<Call, ApiError> {
    let rows = db.execute(
        &format!("SELECT {CALL_COLUMNS} FROM calls WHERE workspace_id = ? AND id = ?"),
        &[workspace.into(), id.into()],
    )?;
    rows.first()
        .map(|r| call_of(&r))
        .ok_or_else(|| ApiError::not_found(format!("no call {id}")))
}

pub fn get(db: &impl Db, workspace: &str, id: &str) -> Result<Value, ApiError> {
    let rows = db.execute(
        &format!("SELECT {CALL_COLUMNS} FROM calls WHERE workspace_id = ? AND id = ?"),
        &[workspace.into(), id.into()],
    )?;
    rows.first()
        .map(|r| call_json(&r))
        .ok_or_else(|| ApiError::not_found(format!("no call {id}")))
}

/// Which calls a listing wants: `cursor` is the `next_cursor` of the page
/// before (newest first; keyset, so pages stay stable while calls arrive).
#[derive(Debug, Default, Clone)]
pub struct CallQuery<'a> {
    pub campaign: Option<&'a str>,
    pub state: Option<&'a str>,
    pub limit: i64,
    pub cursor: Option<&'a str>,
}

/// A page of calls, newest first, and the cursor of the next page when
/// this one is full.
pub fn list(
    db: &impl Db,
    workspace: &str,
    q: CallQuery<'_>,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    if let Some(s) = q.state
        && s != "live"
        && CallState::parse(s).is_none()
    {
        return Err(ApiError::validation(
            "state",
            format!("no call state `{s}`"),
        ));
    }
    let (after_ms, after_id) = match q.cursor {
        None => (i64::MAX, String::new()),
        Some(c) => c
            .split_once(':')
            .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_string())))
            .ok_or_else(|| {
                ApiError::validation("cursor", "pass the `next_cursor` of the page before")
            })?,
    };
    let live = q.state == Some("live");
    let state = q.state.filter(|s| *s != "live");
    let limit = q.limit.clamp(1, 1000);
    let rows = db.execute(
        &format!("SELECT {CALL_COLUMNS} FROM calls WHERE workspace_id = ? AND (? IS NULL OR campaign_id = ?) AND (? IS NULL OR state = ?) AND (? = 0 OR state NOT IN ('ended', 'previewing')) AND (placed_ms < ? OR (placed_ms = ? AND id < ?)) ORDER BY placed_ms DESC, id DESC LIMIT ?"),
        &[workspace.into(), q.campaign.into(), q.campaign.into(), state.into(), state.into(), SqlValue::Integer(i64::from(live)), SqlValue::Integer(after_ms), SqlValue::Integer(after_ms), after_id.as_str().into(), SqlValue::Integer(limit)],
    )?;
    let page: Vec<Value> = rows.iter().map(|r| call_json(&r)).collect();
    let next = rows
        .iter()
        .last()
        .filter(|_| page.len() as i64 == limit)
        .map(|r| {
            format!(
                "{}:{}",
                r.int("placed_ms").unwrap_or(0),
                r.text("id").unwrap_or_default()
            )
        });
    Ok((page, next))
}

/// A new call row (the line counts against the cap from now).
#[allow(clippy::too_many_arguments)]
pub(crate) fn insert(
    db: &impl Db,
    clock: &mut impl Clock,
    campaign: &Campaign,
    customer_row: Option<&str>,
    agent: Option<&str>,
    leg: &str,
    from: &str,
    to: &str,
    provider: &str,
    state: CallState,
    attempt: i64,
) -> Result<String, ApiError> {
    let id = clock.new_id();
    db.execute(
        "INSERT INTO calls (id, workspace_id, campaign_id, campaign_customer_id, agent_id, leg, from_number, to_number, provider, state, attempt, placed_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[id.as_str().into(), campaign.workspace_id.as_str().into(), campaign.id.as_str().into(), customer_row.into(), agent.into(), leg.into(), from.into(), to.into(), provider.into(), state.as_str().into(), SqlValue::Integer(attempt), SqlValue::Integer(clock.now_ms())],
    )?;
    Ok(id)
}

fn set_state(
    db: &impl Db,
    call: &Call,
    state: CallState,
    column: Option<&str>,
    at_ms: i64,
) -> Result<(), ApiError> {
    let stamp = column
        .map(|c| format!(", {c} = {at_ms}"))
        .unwrap_or_default();
    db.execute(
        &format!("UPDATE calls SET state = ?{stamp} WHERE id = ?"),
        &[state.as_str().into(), call.id.as_str().into()],
    )?;
    Ok(())
}

fn extension_of(db: &impl Db, user: &str) -> Result<String, ApiError> {
    Ok(db
        .execute(
            "SELECT extension FROM agent_states WHERE user_id = ?",
            &[user.into()],
        )?
        .first()
        .and_then(|r| r.text("extension"))
        .unwrap_or_else(|| user.to_string()))
}

fn bridge(db: &impl Db, call: &Call, agent: &str, at_ms: i64) -> Result<Vec<Order>, ApiError> {
    set_state(db, call, CallState::Bridged, Some("bridged_ms"), at_ms)?;
    db.execute(
        "UPDATE calls SET agent_id = ? WHERE id = ?",
        &[agent.into(), call.id.as_str().into()],
    )?;
    Ok(call
        .provider_call_id
        .clone()
        .map(|provider_call_id| Order::Bridge {
            call_id: call.id.clone(),
            provider_call_id,
            extension: extension_of(db, agent).unwrap_or_else(|_| agent.to_string()),
        })
        .into_iter()
        .collect())
}

/// The first available agent of the campaign not yet skipped for this
/// call, longest idle first.
fn free_agent(db: &impl Db, call: &Call) -> Result<Option<(String, bool)>, ApiError> {
    let rows = db.execute(
        "SELECT a.user_id, a.auto_answer FROM agent_states a JOIN campaign_agents c ON c.user_id = a.user_id WHERE c.campaign_id = ? AND a.state = 'available' ORDER BY COALESCE(a.last_offered_ms, 0), a.since_ms",
        &[call.campaign_id.as_deref().into()],
    )?;
    Ok(rows.iter().find_map(|r| {
        let user = r.text("user_id")?;
        (!call.skipped_agents.contains(&user)).then_some((user, r.int("auto_answer") == Some(1)))
    }))
}

/// B-D: gives a waiting customer to a free agent. An auto-answering
/// softphone takes it at once; otherwise the agent is offered it and has
/// the campaign's accept time.
pub(crate) fn offer(
    db: &impl Db,
    call: &Call,
    hold_music: &str,
    now_ms: i64,
) -> Result<Vec<Order>, ApiError> {
    if let Some((agent, auto_answer)) = free_agent(db, call)?
        && agents::reserve(db, now_ms, &agent, &call.id)?
    {
        if auto_answer {
            return bridge(db, call, &agent, now_ms);
        }
        db.execute(
            "UPDATE calls SET state = 'offered', offered_ms = ?, agent_id = ? WHERE id = ?",
            &[
                SqlValue::Integer(now_ms),
                agent.as_str().into(),
                call.id.as_str().into(),
            ],
        )?;
        return Ok(vec![]);
    }
    if call.state == CallState::Answered {
        set_state(db, call, CallState::Queued, Some("queued_ms"), now_ms)?;
        return Ok(call
            .provider_call_id
            .clone()
            .map(|provider_call_id| Order::Play {
                call_id: call.id.clone(),
                provider_call_id,
                audio: hold_music.to_string(),
            })
            .into_iter()
            .collect());
    }
    Ok(vec![])
}

/// Applies one carrier event. A replayed event id changes nothing; an
/// event for a call careflow does not know is recorded and ignored.
pub fn apply_event(
    db: &impl Db,
    clock: &mut impl Clock,
    provider: &str,
    event: &CarrierEvent,
) -> Result<Vec<Order>, ApiError> {
    db.transaction(|db| {
        let found = match &event.reference {
            Some(reference) => db.execute(
                &format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = ? AND provider = ?"),
                &[reference.as_str().into(), provider.into()],
            )?,
            None => db.execute(
                &format!("SELECT {CALL_COLUMNS} FROM calls WHERE provider = ? AND provider_call_id = ?"),
                &[provider.into(), event.provider_call_id.as_str().into()],
            )?,
        };
        let call = found.first().map(|r| call_of(&r));
        let fresh = db.execute(
            "INSERT INTO call_events (provider, event_id, workspace_id, call_id, signal, at_ms, applied, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING event_id",
            &[provider.into(), event.event_id.as_str().into(), call.as_ref().map(|c| c.workspace_id.clone()).unwrap_or_default().into(), call.as_ref().map(|c| c.id.clone()).unwrap_or_default().into(), format!("{:?}", event.signal).into(), SqlValue::Integer(event.at_ms), SqlValue::Integer(i64::from(call.is_some())), clock.now_text().into()],
        )?;
        let (Some(mut call), Some(_)) = (call, fresh.first()) else {
            return Ok(vec![]);
        };
        if call.provider_call_id.is_none() {
            db.execute(
                "UPDATE calls SET provider_call_id = ? WHERE id = ?",
                &[event.provider_call_id.as_str().into(), call.id.as_str().into()],
            )?;
            call.provider_call_id = Some(event.provider_call_id.clone());
        }
        let now = clock.now_ms();
        match call::transition(call.state, event.signal) {
            Err(_) | Ok(Transition::Ignored) => Ok(vec![]),
            Ok(Transition::Moved(CallState::Answered)) => {
                set_state(db, &call, CallState::Answered, Some("answered_ms"), now)?;
                call.state = CallState::Answered;
                after_answer(db, clock, &call)
            }
            Ok(Transition::Moved(state)) => {
                set_state(db, &call, state, None, now)?;
                Ok(vec![])
            }
            Ok(Transition::Ended(result)) => finish(db, clock, &call, result, event.talk_seconds),
        }
    })
}

fn campaign_of_call(db: &impl Db, call: &Call) -> Result<Option<Campaign>, ApiError> {
    match &call.campaign_id {
        Some(id) => Ok(Some(campaigns::load(db, &call.workspace_id, id)?)),
        None => Ok(None),
    }
}

fn after_answer(db: &impl Db, clock: &mut impl Clock, call: &Call) -> Result<Vec<Order>, ApiError> {
    let Some(campaign) = campaign_of_call(db, call)? else {
        return Ok(vec![]);
    };
    let now = clock.now_ms();
    match (campaign.settings.mode, call.leg.as_str(), &call.agent_id) {
        // B-C: the agent picked up; now ring the customer.
        (Mode::AutoCallback, "agent", Some(agent)) => {
            let customer_phone = db
                .execute(
                    "SELECT phone FROM campaign_customers WHERE id = ?",
                    &[call.customer_row.as_deref().into()],
                )?
                .first()
                .and_then(|r| r.text("phone"))
                .unwrap_or_default();
            set_state(db, call, CallState::Bridged, Some("bridged_ms"), now)?;
            let id = insert(
                db,
                clock,
                &campaign,
                call.customer_row.as_deref(),
                Some(agent),
                "customer",
                &call.from_number,
                &customer_phone,
                &provider_of(db, call)?,
                CallState::Dialing,
                1,
            )?;
            Ok(vec![Order::Originate {
                call_id: id,
                from: call.from_number.clone(),
                to: customer_phone,
                ivr: None,
            }])
        }
        (Mode::AutoCall, _, _) => {
            set_state(db, call, CallState::Playing, None, now)?;
            Ok(vec![])
        }
        (_, _, Some(agent)) => bridge(db, call, agent, now),
        (_, _, None) => offer(db, call, &campaign.settings.predictive.hold_music, now),
    }
}

fn provider_of(db: &impl Db, call: &Call) -> Result<String, ApiError> {
    Ok(db
        .execute(
            "SELECT provider FROM calls WHERE id = ?",
            &[call.id.as_str().into()],
        )?
        .first()
        .and_then(|r| r.text("provider"))
        .unwrap_or_default())
}

/// A call ended with `result`: store it, free the agent (wrap-up), decide
/// the customer's retry, and open a ticket when the campaign wants one.
pub(crate) fn finish(
    db: &impl Db,
    clock: &mut impl Clock,
    call: &Call,
    result: CallResult,
    talk_seconds: Option<u32>,
) -> Result<Vec<Order>, ApiError> {
    let now = clock.now_ms();
    db.execute(
        "UPDATE calls SET state = 'ended', result = ?, ended_ms = ?, talk_seconds = ? WHERE id = ? AND state <> 'ended'",
        &[result.as_str().into(), SqlValue::Integer(now), talk_seconds.map(i64::from).into(), call.id.as_str().into()],
    )?;
    let campaign = campaign_of_call(db, call)?;
    let mut orders = Vec::new();
    // The other leg of a B-C callback goes down with this one.
    if let (Some(c), Some(agent)) = (&campaign, &call.agent_id)
        && c.settings.mode == Mode::AutoCallback
    {
        let sibling = db.execute(
            &format!("SELECT {CALL_COLUMNS} FROM calls WHERE campaign_customer_id = ? AND agent_id = ? AND id <> ? AND state NOT IN ('ended', 'previewing')"),
            &[call.customer_row.as_deref().into(), agent.as_str().into(), call.id.as_str().into()],
        )?;
        for s in sibling.iter().map(|r| call_of(&r)) {
            if let Some(p) = s.provider_call_id.clone() {
                orders.push(Order::Hangup {
                    call_id: s.id.clone(),
                    provider_call_id: p,
                });
            }
        }
        if call.leg == "agent" && result != CallResult::Answered {
            // The agent did not pick up: the customer waits for the next.
            db.execute(
                "UPDATE campaign_customers SET state = 'pending', attempts = MAX(attempts - 1, 0) WHERE id = ? AND state = 'calling'",
                &[call.customer_row.as_deref().into()],
            )?;
        }
    }
    if let Some(agent) = &call.agent_id {
        let wrap = campaign.as_ref().map_or(0, |c| c.settings.wrap_up_seconds);
        let busy = db.execute(
            "SELECT call_id FROM agent_states WHERE user_id = ?",
            &[agent.as_str().into()],
        )?;
        let holder = busy.first().and_then(|r| r.text("call_id"));
        // Wrap-up follows a conversation; an agent who only heard a phone
        // ring is free at once. The agent holds one call id; a callback's
        // agent leg and customer leg both release them.
        let wrap = if result == CallResult::Answered {
            wrap
        } else {
            0
        };
        if let Some(holder) = holder {
            let mine = holder == call.id
                || db
                    .execute(
                        "SELECT 1 AS x FROM calls WHERE id = ? AND campaign_customer_id = ?",
                        &[holder.as_str().into(), call.customer_row.as_deref().into()],
                    )?
                    .first()
                    .is_some();
            if mine {
                agents::release(db, now, agent, &holder, wrap)?;
            }
        }
    }
    if let (Some(campaign), Some(row)) = (&campaign, &call.customer_row)
        && !(campaign.settings.mode == Mode::AutoCallback && call.leg == "agent")
    {
        let settings = &campaign.settings;
        let attempts = db
            .execute(
                "SELECT attempts FROM campaign_customers WHERE id = ?",
                &[row.as_str().into()],
            )?
            .first()
            .and_then(|r| r.int("attempts"))
            .unwrap_or(0);
        let retry = result.is_retryable() && attempts < i64::from(settings.max_attempts);
        if result == CallResult::Skipped {
            db.execute(
                "UPDATE campaign_customers SET state = 'pending', attempts = MAX(attempts - 1, 0), next_attempt_ms = ? WHERE id = ?",
                &[SqlValue::Integer(now), row.as_str().into()],
            )?;
        } else {
            let (state, next) = if retry {
                ("pending", now + i64::from(settings.retry_minutes) * 60_000)
            } else {
                ("done", 0)
            };
            db.execute(
                "UPDATE campaign_customers SET state = ?, last_result = ?, next_attempt_ms = ? WHERE id = ?",
                &[state.into(), result.as_str().into(), SqlValue::Integer(next), row.as_str().into()],
            )?;
        }
        let wants_ticket = match settings.mode {
            // B-A: a ticket when the call reached a person or voicemail.
            Mode::AutoCall => {
                settings.create_ticket
                    && matches!(result, CallResult::Answered | CallResult::Voicemail)
            }
            _ => settings.create_ticket && result != CallResult::Skipped,
        };
        if wants_ticket {
            let ticket = careflow_engine::crm::create(
                db,
                clock,
                &call.workspace_id,
                "ticket",
                json!({"title": format!("{} – {}", settings.name, call.to_number), "channel": "Call", "phone": call.to_number, "campaign_id": campaign.id, "call_id": call.id, "result": result.as_str()}),
            )?;
            db.execute(
                "UPDATE calls SET ticket_id = ? WHERE id = ?",
                &[ticket["id"].as_str().into(), call.id.as_str().into()],
            )?;
        }
    }
    Ok(orders)
}

/// The carrier took the originate: remember its call id.
pub fn originated(db: &impl Db, call_id: &str, provider_call_id: &str) -> Result<(), ApiError> {
    db.execute(
        "UPDATE calls SET provider_call_id = COALESCE(provider_call_id, ?) WHERE id = ?",
        &[provider_call_id.into(), call_id.into()],
    )?;
    Ok(())
}

/// The carrier refused the originate. A refused hotline is marked failing
/// for a minute and the customer goes to the back of the line without
/// losing an attempt (B-A); any other refusal counts as a failed attempt.
pub fn originate_failed(
    db: &impl Db,
    clock: &mut impl Clock,
    call_id: &str,
    error: &str,
    hotline_refused: bool,
) -> Result<Vec<Order>, ApiError> {
    db.transaction(|db| {
        let rows = db.execute(
            &format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = ?"),
            &[call_id.into()],
        )?;
        let Some(call) = rows.first().map(|r| call_of(&r)) else {
            return Ok(vec![]);
        };
        if call.state == CallState::Ended {
            return Ok(vec![]);
        }
        db.execute("UPDATE calls SET error = ? WHERE id = ?", &[error.into(), call_id.into()])?;
        let now = clock.now_ms();
        if hotline_refused {
            db.execute(
                "UPDATE hotlines SET failing_until = ? WHERE workspace_id = ? AND number = ?",
                &[SqlValue::Integer(now + 60_000), call.workspace_id.as_str().into(), call.from_number.as_str().into()],
            )?;
            db.execute(
                "UPDATE calls SET state = 'ended', result = 'failed', ended_ms = ? WHERE id = ?",
                &[SqlValue::Integer(now), call_id.into()],
            )?;
            db.execute(
                "UPDATE campaign_customers SET state = 'pending', attempts = MAX(attempts - 1, 0), next_attempt_ms = ? WHERE id = ?",
                &[SqlValue::Integer(now), call.customer_row.as_deref().into()],
            )?;
            if let Some(agent) = &call.agent_id {
                agents::release(db, now, agent, &call.id, 0)?;
            }
            return Ok(vec![]);
        }
        finish(db, clock, &call, CallResult::Failed, None)
    })
}

/// An agent accepts the call offered to them (B-D).
pub fn accept(
    db: &impl Db,
    clock: &impl Clock,
    workspace: &str,
    agent: &str,
    call_id: &str,
) -> Result<Vec<Order>, ApiError> {
    db.transaction(|db| {
        let call = load(db, workspace, call_id)?;
        if call.state != CallState::Offered || call.agent_id.as_deref() != Some(agent) {
            return Err(ApiError::conflict(
                "this call is not offered to this agent (it may have gone to the next agent)",
            ));
        }
        bridge(db, &call, agent, clock.now_ms())
    })
}

/// An agent or supervisor ends a live call; the carrier's `completed`
/// event then ends the record.
pub fn hang_up(db: &impl Db, workspace: &str, call_id: &str) -> Result<Vec<Order>, ApiError> {
    let call = load(db, workspace, call_id)?;
    if !call.state.holds_a_line() {
        return Err(ApiError::conflict(format!(
            "the call is {}",
            call.state.as_str()
        )));
    }
    Ok(call
        .provider_call_id
        .map(|p| Order::Hangup {
            call_id: call.id,
            provider_call_id: p,
        })
        .into_iter()
        .collect())
}

/// The agent's answers to the call script and the call's disposition. A
/// `do_not_call` disposition keeps the number from every campaign of the
/// workspace for the campaign's DNC days.
pub fn save_result(
    db: &impl Db,
    clock: &impl Clock,
    workspace: &str,
    call_id: &str,
    answers: Option<Value>,
    disposition: Option<String>,
) -> Result<Value, ApiError> {
    db.transaction(|db| {
        let call = load(db, workspace, call_id)?;
        let campaign = campaign_of_call(db, &call)?;
        if let (Some(a), Some(c)) = (&answers, &campaign) {
            c.settings.check_answers(a)?;
        }
        if let Some(d) = &disposition
            && !["do_not_call", "interested", "not_interested", "call_back", "wrong_number"].contains(&d.as_str())
        {
            return Err(ApiError::validation(
                "disposition",
                "one of do_not_call, interested, not_interested, call_back, wrong_number",
            ));
        }
        db.execute(
            "UPDATE calls SET answers = COALESCE(?, answers), disposition = COALESCE(?, disposition) WHERE id = ?",
            &[answers.map(|a| a.to_string()).into(), disposition.clone().into(), call_id.into()],
        )?;
        if disposition.as_deref() == Some("do_not_call")
            && let Some(c) = &campaign
        {
            let until = clock.now_ms() + i64::from(c.settings.dnc_days) * 86_400_000;
            db.execute(
                "INSERT INTO do_not_call (workspace_id, phone, until_ms, campaign_id, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace_id, phone) DO UPDATE SET until_ms = MAX(until_ms, excluded.until_ms)",
                &[workspace.into(), call.to_number.as_str().into(), SqlValue::Integer(until), c.id.as_str().into(), clock.now_text().into()],
            )?;
            db.execute(
                "UPDATE campaign_customers SET state = 'done', last_result = 'dnc' WHERE id = ?",
                &[call.customer_row.as_deref().into()],
            )?;
        }
        get(db, workspace, call_id)
    })
}
