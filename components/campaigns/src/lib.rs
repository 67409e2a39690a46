//! The `campaigns` component: outbound call campaigns over HTTP (SPEC
//! B-1…B-4 and the dial modes): campaigns and their lifecycle, customers
//! (imports, the manual pick, callback requests), agents, agent groups and
//! the agent state API, call records, the workspace's lines and hotlines,
//! and reports. Thin: it parses, calls `careflow-campaign`, and hands any
//! carrier orders to the `telephony` component.

use careflow_api::{ApiError, idempotent, json_response, parse_form, parse_json};
use careflow_auth::{Principal, Role, authenticate};
use careflow_campaign::lifecycle::Action;
use careflow_campaign::{Order, agents, calls, campaigns, customers, dispatch, reports};
use careflow_engine::{Clock, SystemClock};
use careflow_store::{Db, SpinDb, SqlValue};
use serde_json::{Value, json};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    match route(&req) {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.header(name).and_then(|v| v.as_str())
}

fn ok(status: u16, value: impl serde::Serialize) -> Result<Response, ApiError> {
    let body = serde_json::to_string(&value).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(json_response(status, body))
}

fn body<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    parse_json(header(req, "content-type"), req.body())
}

/// Query parameters.
fn query(req: &Request) -> serde_json::Map<String, Value> {
    parse_form(req.query())
}

fn query_int(req: &Request, name: &str, default: i64) -> Result<i64, ApiError> {
    match query(req).get(name).and_then(Value::as_str) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ApiError::validation(name, format!("`{name}` is a whole number"))),
    }
}

fn query_text(req: &Request, name: &str) -> Option<String> {
    query(req)
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Supervisors and managers run campaigns; agents only work them.
fn require_supervisor(principal: &Principal) -> Result<&str, ApiError> {
    let (workspace, role) = principal.workspace()?;
    if role == Role::Agent {
        return Err(ApiError::forbidden(
            "a key with role `agent` cannot manage campaigns; it needs `supervisor`, `admin` or `owner`",
        ));
    }
    Ok(workspace)
}

/// An `agent` key may end or record only the calls it was bridged to.
fn require_own_call(
    db: &SpinDb,
    principal: &Principal,
    workspace: &str,
    call: &str,
) -> Result<(), ApiError> {
    let (_, role) = principal.workspace()?;
    if role != Role::Agent {
        return Ok(());
    }
    let view = calls::get(db, workspace, call)?;
    match view["agent_id"].as_str() {
        Some(agent) => principal.act_for(agent).map(drop),
        None => Err(ApiError::forbidden(
            "an `agent` key acts only on calls bridged to its member",
        )),
    }
}

/// The provider calls are placed through (for new call rows).
fn provider() -> String {
    spin_sdk::variables::get("telephony_provider").unwrap_or_else(|_| "generic".into())
}

/// Hands carrier orders to the `telephony` component. The orders'
/// effects are already stored, so if this hop fails the call records say
/// so and the stuck-call watchdog ends them.
fn send_orders(orders: &[Order]) -> Result<(), ApiError> {
    if orders.is_empty() {
        return Ok(());
    }
    let body = serde_json::to_string(orders).map_err(|e| ApiError::internal(e.to_string()))?;
    let hop = Request::post("http://telephony.spin.internal/orders", body)
        .header("content-type", "application/json")
        .build();
    let res: Response = spin_sdk::http::run(spin_sdk::http::send(hop))
        .map_err(|e| ApiError::unavailable(format!("the telephony bridge did not answer: {e}")))?;
    if *res.status() >= 300 {
        return Err(ApiError::unavailable(format!(
            "the telephony bridge answered {}",
            res.status()
        )));
    }
    Ok(())
}

/// Lets the dispatcher react now to an agent who became available.
fn nudge_dispatcher(workspace: &str) {
    let hop = Request::post(
        format!("http://telephony.spin.internal/workspaces/{workspace}/dispatch"),
        "",
    )
    .build();
    let _ = spin_sdk::http::run(spin_sdk::http::send::<_, Response>(hop));
}

/// A page of calls: `{data, next_cursor}`.
fn calls_page(
    db: &SpinDb,
    req: &Request,
    workspace: &str,
    campaign: Option<&str>,
) -> Result<Value, ApiError> {
    let state = query_text(req, "state");
    let cursor = query_text(req, "cursor");
    let (data, next) = calls::list(
        db,
        workspace,
        calls::CallQuery {
            campaign,
            state: state.as_deref(),
            limit: query_int(req, "limit", 100)?,
            cursor: cursor.as_deref(),
        },
    )?;
    Ok(json!({"data": data, "next_cursor": next}))
}

/// Runs a creating request once per `Idempotency-Key` (answers stored
/// as they are: nothing secret in them).
fn once(
    db: &SpinDb,
    req: &Request,
    workspace: &str,
    work: impl FnOnce(&SpinDb) -> Result<(u16, Value), ApiError>,
) -> Result<Response, ApiError> {
    idempotent(db, req, workspace, &now_text(), |v| v, work)
}

fn now_text() -> String {
    SystemClock.now_text()
}

fn route(req: &Request) -> Result<Response, ApiError> {
    let segments: Vec<String> = req
        .path()
        .trim_start_matches("/api/v1")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let path: Vec<&str> = segments.iter().map(String::as_str).collect();
    let db = SpinDb::open_default()?;
    let admin_token = spin_sdk::variables::get("admin_token").ok();
    let principal = authenticate(&db, header(req, "authorization"), admin_token.as_deref())?;
    let (workspace, _) = principal.workspace()?;
    let workspace = workspace.to_string();
    let method = req.method();
    let mut clock = SystemClock;
    match (method, path.as_slice()) {
        // Campaigns (B-1, B-4).
        (Method::Get, ["campaigns"]) => ok(
            200,
            json!({"data": campaigns::list(&db, &workspace, query_text(req, "status").as_deref())?}),
        ),
        (Method::Post, ["campaigns"]) => {
            require_supervisor(&principal)?;
            let input: Value = body(req)?;
            once(&db, req, &workspace, |db| {
                let view =
                    campaigns::create(db, &mut clock, &workspace, key_actor(&principal), input)?;
                Ok((201, serde_json::to_value(view).unwrap_or_default()))
            })
        }
        (Method::Get, ["campaigns", id]) => ok(200, campaigns::get(&db, &workspace, id)?),
        (Method::Patch, ["campaigns", id]) => {
            require_supervisor(&principal)?;
            ok(
                200,
                campaigns::update(&db, &mut clock, &workspace, id, body(req)?)?,
            )
        }
        (Method::Post, ["campaigns", id, verb]) if Action::parse(verb).is_some() => {
            let action = Action::parse(verb).unwrap_or(Action::Pause);
            match action {
                Action::Approve | Action::Reject => {
                    principal.require_manager()?;
                }
                _ => {
                    require_supervisor(&principal)?;
                }
            }
            let view = campaigns::act(
                &db,
                &mut clock,
                &workspace,
                id,
                action,
                key_actor(&principal),
            )?;
            if view.status == "running" {
                nudge_dispatcher(&workspace);
            }
            ok(200, view)
        }
        (Method::Get, ["campaigns", id, "report"]) => {
            ok(200, reports::report(&db, &workspace, id, clock.now_ms())?)
        }
        (Method::Get, ["campaigns", id, "agents"]) => {
            campaigns::load(&db, &workspace, id)?;
            ok(
                200,
                json!({"data": campaigns::agents(&db, &workspace, id)?}),
            )
        }
        (Method::Get, ["campaigns", id, "calls"]) => {
            campaigns::load(&db, &workspace, id)?;
            ok(200, calls_page(&db, req, &workspace, Some(id))?)
        }
        // Customers (B-2).
        (Method::Get, ["campaigns", id, "customers"]) => ok(
            200,
            json!({"data": customers::list(&db, &workspace, id, query_text(req, "state").as_deref(), query_int(req, "limit", 100)?, query_int(req, "offset", 0)?)?}),
        ),
        (Method::Post, ["campaigns", id, "customers"]) => {
            require_supervisor(&principal)?;
            let source: customers::Source = body(req)?;
            once(&db, req, &workspace, |db| {
                let rows = customers::rows_of(db, &clock, &workspace, source)?;
                let report = customers::import(db, &mut clock, &workspace, id, rows)?;
                Ok((200, serde_json::to_value(report).unwrap_or_default()))
            })
        }
        (Method::Post, ["campaigns", id, "customers", "import"]) => {
            require_supervisor(&principal)?;
            let ct = header(req, "content-type").unwrap_or_default();
            if !(ct
                .starts_with("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                || ct.starts_with("application/octet-stream"))
            {
                return Err(ApiError::unsupported_media_type(
                    "send the .xlsx file as the body with Content-Type application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ));
            }
            once(&db, req, &workspace, |db| {
                let rows = customers::rows_of_xlsx(req.body())?;
                let report = customers::import(db, &mut clock, &workspace, id, rows)?;
                Ok((200, serde_json::to_value(report).unwrap_or_default()))
            })
        }
        (Method::Post, ["campaigns", id, "customers", "pick"]) => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Pick {
                #[serde(default)]
                agent_id: Option<String>,
                #[serde(default)]
                customer_id: Option<String>,
            }
            let input: Pick = body(req)?;
            let agent = principal.act_for(input.agent_id.as_deref().unwrap_or("me"))?;
            let zone = dispatch::zone_of(&db, &workspace)?;
            // A retried pick (same Idempotency-Key) must not claim a second
            // customer and spend the agent's quota twice.
            once(&db, req, &workspace, |db| {
                let picked = customers::pick(
                    db,
                    &mut clock,
                    &workspace,
                    id,
                    &agent,
                    input.customer_id.as_deref(),
                    zone,
                )?;
                Ok((200, serde_json::to_value(picked).unwrap_or_default()))
            })
        }
        (Method::Post, ["campaigns", id, "callbacks"]) => {
            // The inbound queue's integration (PBX), not an agent's key.
            require_supervisor(&principal)?;
            let input: customers::CallbackRequest = body(req)?;
            let out = once(&db, req, &workspace, |db| {
                Ok((
                    201,
                    customers::request_callback(db, &mut clock, &workspace, id, input)?,
                ))
            })?;
            nudge_dispatcher(&workspace);
            Ok(out)
        }
        // Agents and the agent state API (B-3).
        (Method::Get, ["agents"]) => ok(
            200,
            json!({"data": agents::list(&db, &workspace, query_text(req, "state").as_deref())?}),
        ),
        (Method::Get, ["agents", user]) => {
            let user = if *user == "me" {
                principal.act_for(user)?
            } else {
                user.to_string()
            };
            ok(200, agents::get(&db, &workspace, &user)?)
        }
        (Method::Put, ["agents", user, "state"]) => {
            let user = principal.act_for(user)?;
            let view = agents::set_state(&db, &clock, &workspace, &user, body(req)?)?;
            if view.state == "available" {
                nudge_dispatcher(&workspace);
            }
            ok(200, view)
        }
        (Method::Post, ["agents", user, "calls"]) => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Dial {
                campaign_customer_id: String,
            }
            let user = principal.act_for(user)?;
            let input: Dial = body(req)?;
            let orders = dispatch::manual_dial(
                &db,
                &mut clock,
                &provider(),
                &workspace,
                &user,
                &input.campaign_customer_id,
            )?;
            send_orders(&orders)?;
            let call_id = match orders.first() {
                Some(Order::Originate { call_id, .. }) => call_id.clone(),
                _ => return Err(ApiError::internal("manual dial placed no call")),
            };
            ok(201, calls::get(&db, &workspace, &call_id)?)
        }
        (
            Method::Post,
            [
                "agents",
                user,
                "calls",
                call,
                verb @ ("accept" | "dial" | "skip"),
            ],
        ) => {
            let user = principal.act_for(user)?;
            let orders = match *verb {
                "accept" => calls::accept(&db, &clock, &workspace, &user, call)?,
                verb => dispatch::preview_action(
                    &db,
                    &mut clock,
                    &workspace,
                    &user,
                    call,
                    verb == "dial",
                )?,
            };
            send_orders(&orders)?;
            if *verb == "skip" {
                nudge_dispatcher(&workspace);
            }
            ok(200, calls::get(&db, &workspace, call)?)
        }
        (Method::Get, ["agent-groups"]) => {
            ok(200, json!({"data": agents::list_groups(&db, &workspace)?}))
        }
        (Method::Post, ["agent-groups"]) => {
            require_supervisor(&principal)?;
            let input = body(req)?;
            once(&db, req, &workspace, |db| {
                Ok((
                    201,
                    agents::create_group(db, &mut clock, &workspace, input)?,
                ))
            })
        }
        // Calls, lines and hotlines.
        (Method::Get, ["telephony", "calls"]) => ok(
            200,
            calls_page(
                &db,
                req,
                &workspace,
                query_text(req, "campaign_id").as_deref(),
            )?,
        ),
        (Method::Get, ["telephony", "calls", id]) => ok(200, calls::get(&db, &workspace, id)?),
        (Method::Post, ["telephony", "calls", id, "hangup"]) => {
            require_own_call(&db, &principal, &workspace, id)?;
            let orders = calls::hang_up(&db, &workspace, id)?;
            send_orders(&orders)?;
            ok(202, calls::get(&db, &workspace, id)?)
        }
        (Method::Post, ["telephony", "calls", id, "result"]) => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Outcome {
                #[serde(default)]
                answers: Option<Value>,
                #[serde(default)]
                disposition: Option<String>,
            }
            let input: Outcome = body(req)?;
            require_own_call(&db, &principal, &workspace, id)?;
            ok(
                200,
                calls::save_result(
                    &db,
                    &clock,
                    &workspace,
                    id,
                    input.answers,
                    input.disposition,
                )?,
            )
        }
        (Method::Get, ["telephony", "lines"]) => ok(200, lines(&db, &workspace)?),
        (Method::Put, ["telephony", "lines"]) => {
            principal.require_manager()?;
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Plan {
                max_concurrent_calls: i64,
            }
            let plan: Plan = body(req)?;
            if !(1..=1000).contains(&plan.max_concurrent_calls) {
                return Err(ApiError::validation(
                    "max_concurrent_calls",
                    "1 to 1000 concurrent calls",
                ));
            }
            db.execute(
                "INSERT INTO telephony_plans (workspace_id, max_concurrent_calls, updated_at) VALUES (?, ?, ?) ON CONFLICT (workspace_id) DO UPDATE SET max_concurrent_calls = excluded.max_concurrent_calls, updated_at = excluded.updated_at",
                &[workspace.as_str().into(), SqlValue::Integer(plan.max_concurrent_calls), now_text().into()],
            )?;
            ok(200, lines(&db, &workspace)?)
        }
        (Method::Get, ["telephony", "hotlines"]) => {
            ok(200, json!({"data": hotlines(&db, &workspace)?}))
        }
        (Method::Post, ["telephony", "hotlines"]) => {
            principal.require_manager()?;
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Hotline {
                number: String,
            }
            let input: Hotline = body(req)?;
            let number = careflow_flow_phone(&input.number)?;
            db.execute(
                "INSERT OR IGNORE INTO hotlines (workspace_id, number, created_at) VALUES (?, ?, ?)",
                &[workspace.as_str().into(), number.as_str().into(), now_text().into()],
            )?;
            ok(201, json!({"data": hotlines(&db, &workspace)?}))
        }
        (Method::Delete, ["telephony", "hotlines", number]) => {
            principal.require_manager()?;
            let gone = db.execute(
                "DELETE FROM hotlines WHERE workspace_id = ? AND number = ? RETURNING number",
                &[workspace.as_str().into(), (*number).into()],
            )?;
            if gone.first().is_none() {
                return Err(ApiError::not_found(format!("no hotline {number}")));
            }
            ok(200, json!({"data": hotlines(&db, &workspace)?}))
        }
        (_, ["campaigns", ..] | ["agents", ..] | ["agent-groups"] | ["telephony", ..]) => Err(
            ApiError::not_found(format!("no endpoint {} {}", method, req.path())),
        ),
        _ => Err(ApiError::not_found(format!(
            "no endpoint {} {}",
            method,
            req.path()
        ))),
    }
}

/// Who did it, for the campaign history: the API key's id.
fn key_actor(principal: &Principal) -> &str {
    match principal {
        Principal::Key { key_id, .. } => key_id,
        Principal::PlatformAdmin => "platform-admin",
    }
}

fn careflow_flow_phone(raw: &str) -> Result<String, ApiError> {
    careflow_campaign::settings::hotline_number("number", raw)
}

fn lines(db: &SpinDb, workspace: &str) -> Result<Value, ApiError> {
    Ok(json!({
        "max_concurrent_calls": dispatch::max_lines(db, workspace)?,
        "live_calls": dispatch::live_lines(db, workspace)?,
    }))
}

fn hotlines(db: &SpinDb, workspace: &str) -> Result<Vec<Value>, ApiError> {
    let now = SystemClock.now_ms();
    let rows = db.execute(
        "SELECT number, failing_until FROM hotlines WHERE workspace_id = ? ORDER BY number",
        &[workspace.into()],
    )?;
    Ok(rows
        .iter()
        .map(|r| json!({"number": r.text("number"), "failing": r.int("failing_until").is_some_and(|t| t > now)}))
        .collect())
}
