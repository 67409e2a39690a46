//! The dispatcher: on every cron tick and after every call event it
//! decides, per running campaign, which customers to dial now (B-M, B-P,
//! B-G, B-D, B-A, B-C) and returns the carrier [`Order`]s. Everything it
//! knows is in the store, so a restart loses nothing; each decision runs in
//! one write transaction that first takes SQLite's write lock, so two
//! concurrent ticks cannot both see the same free line and exceed the cap.

use careflow_api::ApiError;
use careflow_dialer::{Pacer, View};
use careflow_engine::Clock;
use careflow_store::{Db, SqlValue};

use crate::agents;
use crate::call::{self, CallEvent, CallResult, CallState, Transition};
use crate::calls::{self, CALL_COLUMNS, Order, call_of};
use crate::campaigns::{self, Campaign};
use crate::hours;
use crate::lifecycle::Status;
use crate::settings::{HotlineRotation, Mode};

/// Concurrent calls a workspace may hold when its plan says nothing.
pub const DEFAULT_MAX_CONCURRENT_CALLS: i64 = 20;
/// A call with no carrier news for this long is given up as failed.
const STUCK_MS: i64 = 10 * 60_000;

/// Calls holding a carrier line in the workspace now.
pub fn live_lines(db: &impl Db, workspace: &str) -> Result<i64, ApiError> {
    Ok(db
        .execute(
            "SELECT count(*) AS n FROM calls WHERE workspace_id = ? AND state NOT IN ('ended', 'previewing')",
            &[workspace.into()],
        )?
        .first()
        .and_then(|r| r.int("n"))
        .unwrap_or(0))
}

pub fn max_lines(db: &impl Db, workspace: &str) -> Result<i64, ApiError> {
    Ok(db
        .execute(
            "SELECT max_concurrent_calls FROM telephony_plans WHERE workspace_id = ?",
            &[workspace.into()],
        )?
        .first()
        .and_then(|r| r.int("max_concurrent_calls"))
        .unwrap_or(DEFAULT_MAX_CONCURRENT_CALLS))
}

/// The workspace's IANA zone (working hours, daily quotas).
pub fn zone_of(db: &impl Db, workspace: &str) -> Result<chrono_tz::Tz, ApiError> {
    let name = db
        .execute(
            "SELECT timezone FROM workspaces WHERE id = ?",
            &[workspace.into()],
        )?
        .first()
        .and_then(|r| r.text("timezone"))
        .unwrap_or_default();
    Ok(hours::zone(&name))
}

/// Takes SQLite's write lock before reading anything, so the counts read
/// next stay true until commit.
fn lock(db: &impl Db) -> Result<(), ApiError> {
    db.execute(
        "UPDATE campaigns SET updated_at = updated_at WHERE id = ''",
        &[],
    )?;
    Ok(())
}

/// One tick for every running campaign.
pub fn tick(db: &impl Db, clock: &mut impl Clock, provider: &str) -> Result<Vec<Order>, ApiError> {
    campaigns::apply_clock(db, clock)?;
    let mut orders = db.transaction(|db| {
        lock(db)?;
        let now = clock.now_ms();
        agents::end_wrap_ups(db, now)?;
        give_up_stuck_calls(db, clock)
    })?;
    for campaign in campaigns::running(db)? {
        orders.extend(dispatch_campaign(
            db,
            clock,
            provider,
            &campaign.workspace_id,
            &campaign.id,
        )?);
    }
    Ok(orders)
}

/// Runs the dispatcher for the campaigns of one workspace (after a call
/// event or an agent change there).
pub fn tick_workspace(
    db: &impl Db,
    clock: &mut impl Clock,
    provider: &str,
    workspace: &str,
) -> Result<Vec<Order>, ApiError> {
    let mut orders = Vec::new();
    for campaign in campaigns::running(db)?
        .into_iter()
        .filter(|c| c.workspace_id == workspace)
    {
        orders.extend(dispatch_campaign(
            db,
            clock,
            provider,
            workspace,
            &campaign.id,
        )?);
    }
    Ok(orders)
}

fn give_up_stuck_calls(db: &impl Db, clock: &mut impl Clock) -> Result<Vec<Order>, ApiError> {
    let now = clock.now_ms();
    let stuck = db.execute(
        &format!("SELECT {CALL_COLUMNS} FROM calls WHERE state IN ('dialing', 'ringing') AND placed_ms < ?"),
        &[SqlValue::Integer(now - STUCK_MS)],
    )?;
    let mut orders = Vec::new();
    for c in stuck.iter().map(|r| call_of(&r)) {
        orders.extend(calls::finish(db, clock, &c, CallResult::Failed, None)?);
    }
    Ok(orders)
}

fn dispatch_campaign(
    db: &impl Db,
    clock: &mut impl Clock,
    provider: &str,
    workspace: &str,
    id: &str,
) -> Result<Vec<Order>, ApiError> {
    db.transaction(|db| {
        lock(db)?;
        let campaign = campaigns::load(db, workspace, id)?;
        if campaign.status != Status::Running {
            return Ok(vec![]);
        }
        let now = clock.now_ms();
        let mut orders = serve_waiting(db, clock, &campaign)?;
        let zone = zone_of(db, workspace)?;
        if !hours::is_open(&campaign.settings.working_hours, zone, clock.now()) {
            return Ok(orders);
        }
        skip_do_not_call(db, &campaign, now)?;
        let mut lines = (max_lines(db, workspace)? - live_lines(db, workspace)?).max(0);
        match campaign.settings.mode {
            Mode::Manual => {}
            Mode::Preview => {
                orders.extend(dial_due_previews(db, clock, &campaign, &mut lines)?);
                for agent in idle_agents(db, &campaign)? {
                    // The call waits in preview; it is dialled later.
                    let from = hotline(&campaign).to_string();
                    let next = Next {
                        provider,
                        agent: Some(&agent),
                        from: &from,
                        state: CallState::Previewing,
                        ivr: None,
                    };
                    if place_next(db, clock, &campaign, next)?.is_none() {
                        break;
                    }
                }
            }
            Mode::Progressive => {
                for agent in idle_agents(db, &campaign)? {
                    if lines <= 0 {
                        break;
                    }
                    let from = hotline(&campaign).to_string();
                    let next = Next {
                        provider,
                        agent: Some(&agent),
                        from: &from,
                        state: CallState::Dialing,
                        ivr: None,
                    };
                    let Some(order) = place_next(db, clock, &campaign, next)? else {
                        break;
                    };
                    lines -= 1;
                    orders.push(order);
                }
            }
            Mode::Predictive => {
                let n = pace(db, &campaign, now)?.min(lines.max(0) as usize);
                for _ in 0..n {
                    let from = hotline(&campaign).to_string();
                    let next = Next {
                        provider,
                        agent: None,
                        from: &from,
                        state: CallState::Dialing,
                        ivr: None,
                    };
                    let Some(order) = place_next(db, clock, &campaign, next)? else {
                        break;
                    };
                    orders.push(order);
                }
            }
            Mode::AutoCall => {
                let Some(auto) = &campaign.settings.auto_call else {
                    return Ok(orders);
                };
                let in_flight = campaign_lines(db, &campaign)?;
                let mut room = (i64::from(auto.concurrent_calls) - in_flight).min(lines);
                while room > 0 {
                    let Some(from) = pick_hotline(db, clock, &campaign, now)? else {
                        break;
                    };
                    let next = Next {
                        provider,
                        agent: None,
                        from: &from,
                        state: CallState::Dialing,
                        ivr: Some(auto.ivr.clone()),
                    };
                    let Some(order) = place_next(db, clock, &campaign, next)? else {
                        break;
                    };
                    room -= 1;
                    orders.push(order);
                }
            }
            Mode::AutoCallback => {
                for agent in idle_agents(db, &campaign)? {
                    if lines < 2 {
                        break;
                    }
                    let Some((row, _phone, attempt)) = claim_customer(db, &campaign, now)? else {
                        break;
                    };
                    let extension = agents::get(db, workspace, &agent)?.extension;
                    let to = format!("agent:{extension}");
                    let call_id = calls::insert(
                        db,
                        clock,
                        &campaign,
                        Some(&row),
                        Some(&agent),
                        "agent",
                        hotline(&campaign),
                        &to,
                        provider,
                        CallState::Dialing,
                        attempt,
                    )?;
                    agents::reserve(db, now, &agent, &call_id)?;
                    lines -= 2;
                    orders.push(Order::Originate {
                        call_id,
                        from: hotline(&campaign).to_string(),
                        to,
                        ivr: None,
                    });
                }
            }
        }
        Ok(orders)
    })
}

/// How the next customer is called.
struct Next<'a> {
    provider: &'a str,
    /// The agent who takes the call (reserved now), if one is chosen.
    agent: Option<&'a str>,
    from: &'a str,
    state: CallState,
    ivr: Option<String>,
}

/// Claims the next due customer and writes their call (with the agent
/// reserved): the originate order, or `None` when no customer is due.
fn place_next(
    db: &impl Db,
    clock: &mut impl Clock,
    campaign: &Campaign,
    next: Next<'_>,
) -> Result<Option<Order>, ApiError> {
    let now = clock.now_ms();
    let Some((row, phone, attempt)) = claim_customer(db, campaign, now)? else {
        return Ok(None);
    };
    db.execute(
        "UPDATE campaign_customers SET hotline = ? WHERE id = ?",
        &[next.from.into(), row.as_str().into()],
    )?;
    let call_id = calls::insert(
        db,
        clock,
        campaign,
        Some(&row),
        next.agent,
        "customer",
        next.from,
        &phone,
        next.provider,
        next.state,
        attempt,
    )?;
    if let Some(agent) = next.agent
        && !agents::reserve(db, now, agent, &call_id)?
    {
        return Err(ApiError::internal(
            "an idle agent was taken inside the dispatcher's lock",
        ));
    }
    Ok(Some(Order::Originate {
        call_id,
        from: next.from.to_string(),
        to: phone,
        ivr: next.ivr,
    }))
}

fn hotline(campaign: &Campaign) -> &str {
    campaign.settings.hotline.as_deref().unwrap_or_default()
}

/// Available agents of the campaign, longest idle first.
fn idle_agents(db: &impl Db, campaign: &Campaign) -> Result<Vec<String>, ApiError> {
    let rows = db.execute(
        "SELECT a.user_id FROM agent_states a JOIN campaign_agents c ON c.user_id = a.user_id WHERE c.campaign_id = ? AND a.state = 'available' ORDER BY a.since_ms, a.user_id",
        &[campaign.id.as_str().into()],
    )?;
    Ok(rows.iter().filter_map(|r| r.text("user_id")).collect())
}

fn campaign_lines(db: &impl Db, campaign: &Campaign) -> Result<i64, ApiError> {
    Ok(db
        .execute(
            "SELECT count(*) AS n FROM calls WHERE campaign_id = ? AND state NOT IN ('ended', 'previewing')",
            &[campaign.id.as_str().into()],
        )?
        .first()
        .and_then(|r| r.int("n"))
        .unwrap_or(0))
}

/// Customers whose number is on the do-not-call list are never dialled.
fn skip_do_not_call(db: &impl Db, campaign: &Campaign, now: i64) -> Result<(), ApiError> {
    db.execute(
        "UPDATE campaign_customers SET state = 'done', last_result = 'dnc' WHERE campaign_id = ? AND state = 'pending' AND phone IN (SELECT phone FROM do_not_call WHERE workspace_id = ? AND until_ms > ?)",
        &[campaign.id.as_str().into(), campaign.workspace_id.as_str().into(), SqlValue::Integer(now)],
    )?;
    Ok(())
}

/// The next due customer, marked `calling` with one more attempt. Fresh
/// customers first, then retries and customers sent to the back.
fn claim_customer(
    db: &impl Db,
    campaign: &Campaign,
    now: i64,
) -> Result<Option<(String, String, i64)>, ApiError> {
    let rows = db.execute(
        "UPDATE campaign_customers SET state = 'calling', attempts = attempts + 1, claimed_ms = ? WHERE id = (SELECT id FROM campaign_customers WHERE campaign_id = ? AND state = 'pending' AND next_attempt_ms <= ? AND attempts < ? AND claimed_by IS NULL ORDER BY next_attempt_ms, created_at, rowid LIMIT 1) RETURNING id, phone, attempts",
        &[SqlValue::Integer(now), campaign.id.as_str().into(), SqlValue::Integer(now), SqlValue::Integer(i64::from(campaign.settings.max_attempts))],
    )?;
    Ok(rows.first().map(|r| {
        (
            r.text("id").unwrap_or_default(),
            r.text("phone").unwrap_or_default(),
            r.int("attempts").unwrap_or(1),
        )
    }))
}

/// B-A hotline rotation; a hotline the carrier refused recently is
/// skipped.
fn pick_hotline(
    db: &impl Db,
    clock: &mut impl Clock,
    campaign: &Campaign,
    now: i64,
) -> Result<Option<String>, ApiError> {
    let failing = |number: &str| -> Result<bool, ApiError> {
        Ok(db
            .execute(
                "SELECT 1 AS x FROM hotlines WHERE workspace_id = ? AND number = ? AND failing_until > ?",
                &[campaign.workspace_id.as_str().into(), number.into(), SqlValue::Integer(now)],
            )?
            .first()
            .is_some())
    };
    let Some(auto) = &campaign.settings.auto_call else {
        return Ok(None);
    };
    let candidates: Vec<String> = match auto.hotline_rotation {
        HotlineRotation::Single => campaign.settings.hotline.clone().into_iter().collect(),
        HotlineRotation::Random => auto.hotlines.clone(),
        HotlineRotation::All => db
            .execute(
                "SELECT number FROM hotlines WHERE workspace_id = ? ORDER BY number",
                &[campaign.workspace_id.as_str().into()],
            )?
            .iter()
            .filter_map(|r| r.text("number"))
            .collect(),
    };
    let mut usable = Vec::new();
    for c in candidates {
        if !failing(&c)? {
            usable.push(c);
        }
    }
    if usable.is_empty() {
        return Ok(None);
    }
    let index = match auto.hotline_rotation {
        // Round robin: the campaign's call count picks the next one.
        HotlineRotation::All => campaign_calls(db, campaign)? as usize % usable.len(),
        _ => {
            let id = clock.new_id();
            id.bytes().fold(0usize, |acc, b| {
                acc.wrapping_mul(31).wrapping_add(b as usize)
            }) % usable.len()
        }
    };
    Ok(Some(usable.swap_remove(index)))
}

fn campaign_calls(db: &impl Db, campaign: &Campaign) -> Result<i64, ApiError> {
    Ok(db
        .execute(
            "SELECT count(*) AS n FROM calls WHERE campaign_id = ?",
            &[campaign.id.as_str().into()],
        )?
        .first()
        .and_then(|r| r.int("n"))
        .unwrap_or(0))
}

/// B-P: previews whose time is up are dialled.
fn dial_due_previews(
    db: &impl Db,
    clock: &mut impl Clock,
    campaign: &Campaign,
    lines: &mut i64,
) -> Result<Vec<Order>, ApiError> {
    let deadline = clock.now_ms() - i64::from(campaign.settings.preview.seconds) * 1000;
    let due = db.execute(
        &format!("SELECT {CALL_COLUMNS} FROM calls WHERE campaign_id = ? AND state = 'previewing' AND placed_ms <= ? ORDER BY placed_ms"),
        &[campaign.id.as_str().into(), SqlValue::Integer(deadline)],
    )?;
    let mut orders = Vec::new();
    for c in due.iter().map(|r| call_of(&r)) {
        if *lines <= 0 {
            break;
        }
        *lines -= 1;
        orders.push(start_preview_call(db, &c)?);
    }
    Ok(orders)
}

fn start_preview_call(db: &impl Db, c: &calls::Call) -> Result<Order, ApiError> {
    db.execute(
        "UPDATE calls SET state = 'dialing' WHERE id = ? AND state = 'previewing'",
        &[c.id.as_str().into()],
    )?;
    Ok(Order::Originate {
        call_id: c.id.clone(),
        from: c.from_number.clone(),
        to: c.to_number.clone(),
        ivr: None,
    })
}

/// B-P: the agent presses dial (now) or skip (the customer goes back).
pub fn preview_action(
    db: &impl Db,
    clock: &mut impl Clock,
    workspace: &str,
    agent: &str,
    call_id: &str,
    dial: bool,
) -> Result<Vec<Order>, ApiError> {
    db.transaction(|db| {
        lock(db)?;
        let c = calls::load(db, workspace, call_id)?;
        if c.state != CallState::Previewing || c.agent_id.as_deref() != Some(agent) {
            return Err(ApiError::conflict(
                "this call is not in this agent's preview",
            ));
        }
        if dial {
            if live_lines(db, workspace)? >= max_lines(db, workspace)? {
                return Err(ApiError::too_many_requests(
                    "every line of the workspace is busy; try again in a moment",
                ));
            }
            return Ok(vec![start_preview_call(db, &c)?]);
        }
        match call::transition(c.state, CallEvent::Skipped) {
            Ok(Transition::Ended(result)) => calls::finish(db, clock, &c, result, None),
            _ => Ok(vec![]),
        }
    })
}

/// B-M: the agent dials the customer they picked.
pub fn manual_dial(
    db: &impl Db,
    clock: &mut impl Clock,
    provider: &str,
    workspace: &str,
    agent: &str,
    customer_row: &str,
) -> Result<Vec<Order>, ApiError> {
    db.transaction(|db| {
        lock(db)?;
        let rows = db.execute(
            "SELECT campaign_id, phone, state, claimed_by, attempts, next_attempt_ms FROM campaign_customers WHERE workspace_id = ? AND id = ?",
            &[workspace.into(), customer_row.into()],
        )?;
        let row = rows.first().ok_or_else(|| ApiError::not_found(format!("no campaign customer {customer_row}")))?;
        if row.text("claimed_by").as_deref() != Some(agent) {
            return Err(ApiError::forbidden("pick the customer before calling them"));
        }
        let campaign = campaigns::load(db, workspace, &row.text("campaign_id").unwrap_or_default())?;
        if campaign.status != Status::Running {
            return Err(ApiError::conflict(format!("the campaign is {}, not running", campaign.status.as_str())));
        }
        let now = clock.now_ms();
        if !hours::is_open(&campaign.settings.working_hours, zone_of(db, workspace)?, clock.now()) {
            return Err(ApiError::conflict("outside the campaign's working hours"));
        }
        if row.text("state").as_deref() != Some("pending") {
            return Err(ApiError::conflict("this customer is being called or is done"));
        }
        if row.int("attempts").unwrap_or(0) >= i64::from(campaign.settings.max_attempts) {
            return Err(ApiError::conflict("every attempt for this customer is used"));
        }
        if row.int("next_attempt_ms").unwrap_or(0) > now {
            return Err(ApiError::conflict(format!(
                "this customer may be called again after {} minutes between attempts",
                campaign.settings.retry_minutes
            )));
        }
        let phone = row.text("phone").unwrap_or_default();
        let dnc = db.execute(
            "SELECT 1 AS x FROM do_not_call WHERE workspace_id = ? AND phone = ? AND until_ms > ?",
            &[workspace.into(), phone.as_str().into(), SqlValue::Integer(now)],
        )?;
        if dnc.first().is_some() {
            return Err(ApiError::conflict("the customer asked not to be called again"));
        }
        if live_lines(db, workspace)? >= max_lines(db, workspace)? {
            return Err(ApiError::too_many_requests("every line of the workspace is busy; try again in a moment"));
        }
        let attempt = db
            .execute(
                "UPDATE campaign_customers SET state = 'calling', attempts = attempts + 1 WHERE id = ? RETURNING attempts",
                &[customer_row.into()],
            )?
            .first()
            .and_then(|r| r.int("attempts"))
            .unwrap_or(1);
        let call_id = calls::insert(db, clock, &campaign, Some(customer_row), Some(agent), "customer", hotline(&campaign), &phone, provider, CallState::Dialing, attempt)?;
        if !agents::reserve(db, now, agent, &call_id)? {
            return Err(ApiError::conflict("the agent is not available (set the state to available first)"));
        }
        Ok(vec![Order::Originate { call_id, from: hotline(&campaign).to_string(), to: phone, ivr: None }])
    })
}

/// B-D: offers that ran out of time go to the next agent (the silent one
/// is paused: they are probably away), customers past the maximum wait
/// are dropped and counted abandoned, the rest wait for a free agent.
fn serve_waiting(
    db: &impl Db,
    clock: &mut impl Clock,
    campaign: &Campaign,
) -> Result<Vec<Order>, ApiError> {
    if campaign.settings.mode != Mode::Predictive {
        return Ok(vec![]);
    }
    let p = &campaign.settings.predictive;
    let now = clock.now_ms();
    let waiting = db.execute(
        &format!("SELECT {CALL_COLUMNS} FROM calls WHERE campaign_id = ? AND state IN ('answered', 'queued', 'offered') ORDER BY answered_ms, placed_ms"),
        &[campaign.id.as_str().into()],
    )?;
    let mut orders = Vec::new();
    for mut c in waiting.iter().map(|r| call_of(&r)) {
        let answered_ms = c.answered_ms.unwrap_or(c.placed_ms);
        // Past the maximum wait the customer is dropped, even while an
        // agent's phone rings with them.
        if answered_ms + i64::from(p.max_wait_seconds) * 1000 <= now {
            if let Ok(Transition::Ended(result)) = call::transition(c.state, CallEvent::Dropped) {
                orders.extend(calls::finish(db, clock, &c, result, None)?);
                if let Some(provider_call_id) = c.provider_call_id.clone() {
                    orders.push(Order::Hangup {
                        call_id: c.id.clone(),
                        provider_call_id,
                    });
                }
            }
            continue;
        }
        if c.state == CallState::Offered
            && c.offered_ms.unwrap_or(now) + i64::from(p.agent_accept_seconds) * 1000 <= now
        {
            if let Some(agent) = c.agent_id.clone() {
                db.execute(
                    "UPDATE agent_states SET state = 'paused', call_id = NULL, since_ms = ? WHERE user_id = ? AND call_id = ?",
                    &[SqlValue::Integer(now), agent.as_str().into(), c.id.as_str().into()],
                )?;
                c.skipped_agents.push(agent);
            }
            db.execute(
                "UPDATE calls SET state = 'queued', agent_id = NULL, skipped_agents = ? WHERE id = ?",
                &[serde_json::to_string(&c.skipped_agents).unwrap_or_default().into(), c.id.as_str().into()],
            )?;
            c.state = CallState::Queued;
            c.agent_id = None;
        }
        if c.state == CallState::Offered {
            continue;
        }
        orders.extend(calls::offer(db, &c, &p.hold_music, now)?);
    }
    Ok(orders)
}

/// Numbers a live system knows about one campaign, for the pacer.
pub fn predictive_view(db: &impl Db, campaign: &Campaign, now: i64) -> Result<View, ApiError> {
    let count = |sql: &str, params: &[SqlValue]| -> Result<u64, ApiError> {
        Ok(db
            .execute(sql, params)?
            .first()
            .and_then(|r| r.int("n"))
            .unwrap_or(0) as u64)
    };
    let id = || SqlValue::from(campaign.id.as_str());
    let agents_rows = db.execute(
        "SELECT a.state, a.since_ms, a.wrap_until_ms, c2.bridged_ms FROM agent_states a JOIN campaign_agents c ON c.user_id = a.user_id LEFT JOIN calls c2 ON c2.id = a.call_id WHERE c.campaign_id = ?",
        &[id()],
    )?;
    let states: Vec<String> = agents_rows.iter().filter_map(|r| r.text("state")).collect();
    let seconds = |ms: i64| (ms.max(0) / 1000) as u32;
    // Talking agents: how long since their call was bridged.
    let talking_for = agents_rows
        .iter()
        .filter(|r| r.text("state").as_deref() == Some("on_call"))
        .filter_map(|r| r.int("bridged_ms"))
        .map(|b| seconds(now - b))
        .collect();
    let wrap_left = agents_rows
        .iter()
        .filter(|r| r.text("state").as_deref() == Some("wrap_up"))
        .filter_map(|r| r.int("wrap_until_ms"))
        .map(|w| seconds(w - now))
        .collect();
    let stats = |sql: &str| -> Result<Option<(f64, f64)>, ApiError> {
        let rows = db.execute(sql, &[id(), SqlValue::Integer(now - 86_400_000)])?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let n = r.int("n").unwrap_or(0);
        let (Some(SqlValue::Real(mean)), Some(SqlValue::Real(sq))) =
            (r.value("mean").cloned(), r.value("sq").cloned())
        else {
            return Ok(None);
        };
        Ok((n >= 10).then(|| (mean, (sq - mean * mean).max(0.01).sqrt())))
    };
    let handle = stats(
        "SELECT count(*) AS n, AVG(CAST(talk_seconds AS REAL)) AS mean, AVG(CAST(talk_seconds AS REAL) * talk_seconds) AS sq FROM calls WHERE campaign_id = ? AND placed_ms > ? AND result = 'answered' AND talk_seconds IS NOT NULL",
    )?;
    let ring = stats(
        "SELECT count(*) AS n, AVG((answered_ms - placed_ms) / 1000.0) AS mean, AVG(((answered_ms - placed_ms) / 1000.0) * ((answered_ms - placed_ms) / 1000.0)) AS sq FROM calls WHERE campaign_id = ? AND placed_ms > ? AND answered_ms IS NOT NULL",
    )?;
    let day = SqlValue::Integer(now - 86_400_000);
    let recent = SqlValue::Integer(now - 300_000);
    Ok(View {
        now: 0,
        agents: states
            .iter()
            .filter(|s| agents::AgentState::parse(s).is_some_and(|s| s.is_staffed()))
            .count(),
        idle_agents: states.iter().filter(|s| *s == "available").count(),
        ringing_for: db
            .execute(
                "SELECT placed_ms FROM calls WHERE campaign_id = ? AND state IN ('dialing', 'ringing')",
                &[id()],
            )?
            .iter()
            .filter_map(|r| r.int("placed_ms"))
            .map(|p| seconds(now - p))
            .collect(),
        queued: count(
            "SELECT count(*) AS n FROM calls WHERE campaign_id = ? AND state IN ('answered', 'queued')",
            &[id()],
        )? as usize,
        placed: count(
            "SELECT count(*) AS n FROM calls WHERE campaign_id = ? AND placed_ms > ?",
            &[id(), day.clone()],
        )?,
        resolved: count(
            "SELECT count(*) AS n FROM calls WHERE campaign_id = ? AND placed_ms > ? AND (answered_ms IS NOT NULL OR state = 'ended')",
            &[id(), day.clone()],
        )?,
        answered: count(
            "SELECT count(*) AS n FROM calls WHERE campaign_id = ? AND placed_ms > ? AND answered_ms IS NOT NULL",
            &[id(), day.clone()],
        )?,
        abandoned: count(
            "SELECT count(*) AS n FROM calls WHERE campaign_id = ? AND placed_ms > ? AND result = 'abandoned'",
            &[id(), day],
        )?,
        recent_answered: count(
            "SELECT count(*) AS n FROM calls WHERE campaign_id = ? AND answered_ms > ?",
            &[id(), recent.clone()],
        )?,
        recent_abandoned: count(
            "SELECT count(*) AS n FROM calls WHERE campaign_id = ? AND result = 'abandoned' AND ended_ms > ?",
            &[id(), recent],
        )?,
        cap: campaign.settings.predictive.max_abandon_rate,
        talking_for,
        wrap_left,
        handle,
        ring,
        max_wait: campaign.settings.predictive.max_wait_seconds,
    })
}

/// B-D pacing: how many calls to place now. The pacer's small state
/// (`campaigns.pacer_state`) carries over between ticks. The 30-day
/// abandon rate near the cap falls back to one call per idle agent.
fn pace(db: &impl Db, campaign: &Campaign, now: i64) -> Result<usize, ApiError> {
    let view = predictive_view(db, campaign, now)?;
    let month = crate::reports::abandon_rate(db, &campaign.id, now - 30 * 86_400_000)?;
    if month.is_some_and(|r| r >= 0.9 * view.cap) {
        return Ok(careflow_dialer::Progressive.calls_to_place(&view));
    }
    let stored = db
        .execute(
            "SELECT pacer_state FROM campaigns WHERE id = ?",
            &[campaign.id.as_str().into()],
        )?
        .first()
        .and_then(|r| r.text("pacer_state"));
    let mut pacer: careflow_dialer::Predictive = stored
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let n = pacer.calls_to_place(&view);
    db.execute(
        "UPDATE campaigns SET pacer_state = ? WHERE id = ?",
        &[
            serde_json::to_string(&pacer).unwrap_or_default().into(),
            campaign.id.as_str().into(),
        ],
    )?;
    Ok(n)
}
