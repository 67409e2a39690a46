//! The `admin` component: health, workspaces, members and API keys, flows
//! (drafts, validation, versions, dry runs) and run inspection under
//! `/api/v1/`. Thin by design: it parses the request, calls `careflow-auth`
//! or `careflow-engine`, and maps the result to JSON.

use careflow_api::{ApiError, json_response, parse_json};
use careflow_auth::{Context, Principal, authenticate};
use careflow_store::SpinDb;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

/// Time and randomness from the host (WASI clocks and random).
struct HostContext;

impl Context for HostContext {
    fn now(&self) -> String {
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
    fn new_id(&mut self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
    fn secret(&mut self) -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }
}

#[http_component]
fn handle(req: Request) -> Response {
    match route(&req) {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

fn segments(req: &Request) -> Vec<String> {
    req.path()
        .trim_start_matches("/api/v1")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.header(name).and_then(|v| v.as_str())
}

fn route(req: &Request) -> Result<Response, ApiError> {
    let segments = segments(req);
    let path: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method();
    if path == ["health"] {
        return match method {
            Method::Get => Ok(health()),
            _ => Err(ApiError::method_not_allowed("use GET")),
        };
    }
    let db = SpinDb::open_default()?;
    let admin_token = spin_sdk::variables::get("admin_token").ok();
    let principal = authenticate(&db, header(req, "authorization"), admin_token.as_deref())?;
    let mut ctx = HostContext;
    match (method, path.as_slice()) {
        (Method::Post, ["workspaces"]) => {
            if principal != Principal::PlatformAdmin {
                return Err(ApiError::forbidden(
                    "creating a workspace needs the platform admin token",
                ));
            }
            idempotent(&db, req, "platform", |db| {
                let input = parse_json(header(req, "content-type"), req.body())?;
                let (workspace, owner, api_key) =
                    careflow_auth::create_workspace(db, &mut ctx, input)?;
                Ok((
                    201,
                    serde_json::json!({ "workspace": workspace, "owner": owner, "api_key": api_key }),
                ))
            })
        }
        (Method::Get, ["workspaces", "current"]) => {
            let (workspace, _) = principal.workspace()?;
            ok(200, careflow_auth::get_workspace(&db, workspace)?)
        }
        (Method::Get, ["users"]) => {
            let (workspace, _) = principal.workspace()?;
            ok(
                200,
                serde_json::json!({ "data": careflow_auth::list_users(&db, workspace)? }),
            )
        }
        (Method::Post, ["users"]) => {
            let workspace = principal.require_manager()?.to_string();
            idempotent(&db, req, &workspace, |db| {
                let input = parse_json(header(req, "content-type"), req.body())?;
                Ok((
                    201,
                    serde_json::to_value(careflow_auth::create_user(
                        db, &mut ctx, &workspace, input,
                    )?)
                    .unwrap_or_default(),
                ))
            })
        }
        (Method::Get, ["users", id]) => {
            let (workspace, _) = principal.workspace()?;
            ok(200, careflow_auth::get_user(&db, workspace, id)?)
        }
        (Method::Get, ["api-keys"]) => {
            let workspace = principal.require_manager()?;
            ok(
                200,
                serde_json::json!({ "data": careflow_auth::list_api_keys(&db, workspace)? }),
            )
        }
        (Method::Post, ["api-keys"]) => {
            let workspace = principal.require_manager()?.to_string();
            let (_, role) = principal.workspace()?;
            idempotent(&db, req, &workspace, |db| {
                let input = parse_json(header(req, "content-type"), req.body())?;
                Ok((
                    201,
                    serde_json::to_value(careflow_auth::create_api_key(
                        db, &mut ctx, &workspace, role, input,
                    )?)
                    .unwrap_or_default(),
                ))
            })
        }
        (Method::Delete, ["api-keys", id]) => {
            let workspace = principal.require_manager()?;
            ok(
                200,
                careflow_auth::revoke_api_key(&db, &ctx, workspace, id)?,
            )
        }
        (
            _,
            ["flows", ..]
            | ["runs", ..]
            | ["node-types"]
            | ["partners"]
            | ["workspaces", "current", "allowed-hosts"]
            | ["customers", ..]
            | ["tickets", ..]
            | ["calls", ..]
            | ["analysed-calls", ..]
            | ["conversations", ..],
        ) => flows_and_runs(&db, req, &principal, method, &path),
        (
            _,
            ["workspaces"]
            | ["workspaces", "current"]
            | ["users"]
            | ["users", _]
            | ["api-keys"]
            | ["api-keys", _],
        ) => Err(ApiError::method_not_allowed(format!(
            "{method} is not supported on {}",
            req.path()
        ))),
        _ => Err(ApiError::not_found(format!(
            "no endpoint {} {}",
            method,
            req.path()
        ))),
    }
}

/// Flows (A-V: validated on every save, publishable only without errors)
/// and runs (inspection, cancel, retry).
fn flows_and_runs(
    db: &SpinDb,
    req: &Request,
    principal: &Principal,
    method: &Method,
    path: &[&str],
) -> Result<Response, ApiError> {
    use careflow_engine::{flows, runs};
    let (workspace, _) = principal.workspace()?;
    let mut clock = careflow_engine::SystemClock;
    let document = || -> Result<careflow_flow::Flow, ApiError> {
        let value: serde_json::Value = parse_json(header(req, "content-type"), req.body())?;
        flows::parse_document(&value)
    };
    match (method, path) {
        (method, [collection, rest @ ..]) if object_kind(collection).is_some() => objects(
            db,
            req,
            principal,
            method,
            object_kind(collection).unwrap_or_default(),
            rest,
        ),
        (Method::Get, ["workspaces", "current", "allowed-hosts"]) => ok(
            200,
            serde_json::json!({ "hosts": careflow_engine::partners::allowed_hosts(db, workspace)? }),
        ),
        (Method::Put, ["workspaces", "current", "allowed-hosts"]) => {
            let workspace = principal.require_manager()?;
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Hosts {
                hosts: Vec<String>,
            }
            let input: Hosts = parse_json(header(req, "content-type"), req.body())?;
            ok(
                200,
                serde_json::json!({ "hosts": careflow_engine::partners::set_allowed_hosts(db, workspace, &input.hosts)? }),
            )
        }
        (Method::Get, ["partners"]) => ok(
            200,
            serde_json::json!({ "data": careflow_engine::partners::list(db, workspace)? }),
        ),
        (Method::Post, ["partners"]) => {
            let workspace = principal.require_manager()?;
            let input = parse_json(header(req, "content-type"), req.body())?;
            ok(
                201,
                careflow_engine::partners::connect(db, &mut clock, workspace, input)?,
            )
        }
        (Method::Get, ["node-types"]) => {
            let described: Vec<_> = careflow_flow::nodes::registry()
                .iter()
                .map(|n| n.describe())
                .collect();
            ok(200, serde_json::json!({ "data": described }))
        }
        (Method::Get, ["flows"]) => ok(
            200,
            serde_json::json!({ "data": flows::list(db, &clock, workspace)? }),
        ),
        (Method::Post, ["flows"]) => {
            let workspace = principal.require_manager()?.to_string();
            idempotent(db, req, &workspace, |db| {
                let flow = document()?;
                Ok((
                    201,
                    serde_json::to_value(flows::create(db, &mut clock, &workspace, &flow)?)
                        .unwrap_or_default(),
                ))
            })
        }
        (Method::Get, ["flows", id]) => ok(200, flows::get(db, &clock, workspace, id)?),
        (Method::Put, ["flows", id]) => {
            let workspace = principal.require_manager()?;
            let flow = document()?;
            ok(200, flows::update(db, &mut clock, workspace, id, &flow)?)
        }
        (Method::Post, ["flows", id, "publish"]) => {
            let workspace = principal.require_manager()?;
            ok(200, flows::publish(db, &mut clock, workspace, id)?)
        }
        (Method::Post, ["flows", id, action @ ("enable" | "disable")]) => {
            let workspace = principal.require_manager()?;
            ok(
                200,
                flows::set_enabled(db, &clock, workspace, id, *action == "enable")?,
            )
        }
        (Method::Post, ["flows", id, "simulate"]) => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct SimulateRequest {
                #[serde(default)]
                data: serde_json::Map<String, serde_json::Value>,
                /// Draws in [0, 1) for random splits, in step order.
                #[serde(default)]
                draws: Vec<f64>,
            }
            let input: SimulateRequest = parse_json(header(req, "content-type"), req.body())?;
            if input.draws.iter().any(|d| !(0.0..1.0).contains(d)) {
                return Err(ApiError::validation(
                    "draws",
                    "each draw is a number in [0, 1)",
                ));
            }
            let view = flows::get(db, &clock, workspace, id)?;
            let flow = flows::parse_document(&view.draft)?;
            let data =
                careflow_flow::binding::bind(&flow.variables, &input.data).map_err(|errors| {
                    ApiError::validation(
                        format!("data.{}", errors[0].field),
                        format!("{} variable(s) are missing or invalid", errors.len()),
                    )
                    .with_details(serde_json::to_value(&errors).unwrap_or_default())
                })?;
            let simulation =
                careflow_flow::simulate::simulate(&flow, &data, &input.draws, chrono::Utc::now());
            ok(
                200,
                serde_json::json!({ "simulation": simulation, "problems": view.problems }),
            )
        }
        (Method::Get, ["runs"]) => {
            let query = careflow_api::parse_form(req.query());
            let get = |k: &str| {
                query
                    .get(k)
                    .and_then(|v| v.as_str())
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            };
            let limit = match get("limit") {
                Some(l) => l
                    .parse::<i64>()
                    .map_err(|_| ApiError::validation("limit", "must be a number 1–500"))?,
                None => 100,
            };
            let data = runs::list(
                db,
                workspace,
                get("flow_id").as_deref(),
                get("status").as_deref(),
                get("since").as_deref(),
                limit,
            )?;
            ok(200, serde_json::json!({ "data": data }))
        }
        (Method::Get, ["runs", id]) => ok(200, runs::inspect(db, workspace, id)?),
        (Method::Post, ["runs", id, "cancel"]) => ok(200, runs::cancel(db, &clock, workspace, id)?),
        (Method::Post, ["runs", id, "retry"]) => ok(200, runs::retry(db, &clock, workspace, id)?),
        _ => Err(ApiError::not_found(format!(
            "no endpoint {} {}",
            method,
            req.path()
        ))),
    }
}

/// The object type behind a collection path.
fn object_kind(collection: &str) -> Option<&'static str> {
    Some(match collection {
        "customers" => "customer",
        "tickets" => "ticket",
        "calls" => "call",
        "analysed-calls" => "analysed_call",
        "conversations" => "conversation",
        _ => return None,
    })
}

/// The minimal CRM (A-T2): every write is recorded as a change, and the
/// condition trigger is asked to evaluate it at once.
fn objects(
    db: &SpinDb,
    req: &Request,
    principal: &Principal,
    method: &Method,
    kind: &str,
    rest: &[&str],
) -> Result<Response, ApiError> {
    use careflow_engine::crm;
    let (workspace, _) = principal.workspace()?;
    let mut clock = careflow_engine::SystemClock;
    let body = || parse_json::<serde_json::Value>(header(req, "content-type"), req.body());
    let response = match (method, rest) {
        (Method::Get, []) => {
            return ok(
                200,
                serde_json::json!({ "data": crm::list(db, workspace, kind, 100)? }),
            );
        }
        (Method::Get, [id]) => return ok(200, crm::get(db, workspace, kind, id)?),
        (Method::Post, []) => ok(201, crm::create(db, &mut clock, workspace, kind, body()?)?),
        (Method::Patch, [id]) => ok(
            200,
            crm::update(db, &mut clock, workspace, kind, id, body()?)?,
        ),
        (Method::Post, [id, "events"]) => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct SpecialEvent {
                event: String,
                #[serde(default)]
                data: serde_json::Value,
            }
            let input: SpecialEvent = parse_json(header(req, "content-type"), req.body())?;
            crm::event(db, &clock, workspace, kind, id, &input.event, &input.data)?;
            ok(202, serde_json::json!({ "accepted": true }))
        }
        _ => {
            return Err(ApiError::method_not_allowed(format!(
                "{method} is not supported on {}",
                req.path()
            )));
        }
    };
    let hop = Request::post("http://trigger-condition.spin.internal/changes", "").build();
    // Best effort: the engine's tick evaluates changes a failed hop left.
    let _ = spin_sdk::http::run(spin_sdk::http::send::<_, Response>(hop));
    response
}

fn ok(status: u16, value: impl serde::Serialize) -> Result<Response, ApiError> {
    let body = serde_json::to_string(&value).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(json_response(status, body))
}

fn idempotent(
    db: &SpinDb,
    req: &Request,
    scope: &str,
    work: impl FnOnce(&SpinDb) -> Result<(u16, serde_json::Value), ApiError>,
) -> Result<Response, ApiError> {
    careflow_api::idempotent(db, req, scope, &HostContext.now(), without_secrets, work)
}

fn without_secrets(mut value: serde_json::Value) -> serde_json::Value {
    if let Some(key) = value.get_mut("key") {
        *key = serde_json::Value::Null;
    }
    if let Some(key) = value.get_mut("api_key").and_then(|k| k.get_mut("key")) {
        *key = serde_json::Value::Null;
    }
    value
}

/// Health: the app's version, whether the store answers and its schema
/// version, and the cron trigger's last tick.
fn health() -> Response {
    let version = spin_sdk::variables::get("app_version")
        .unwrap_or_else(|_| env!("CARGO_PKG_VERSION").to_string());
    let store = match SpinDb::open_default().and_then(|db| careflow_store::schema_version(&db)) {
        Ok(v) => serde_json::json!({ "status": "ok", "schema_version": v }),
        Err(e) => serde_json::json!({ "status": "error", "message": e.to_string() }),
    };
    let cron = spin_sdk::key_value::Store::open_default()
        .ok()
        .and_then(|kv| {
            kv.get_json::<serde_json::Value>("cron:last_tick")
                .ok()
                .flatten()
        })
        .unwrap_or(serde_json::Value::Null);
    let healthy = store["status"] == "ok";
    let body = serde_json::json!({
        "status": if healthy { "ok" } else { "degraded" },
        "version": version,
        "store": store,
        "cron": { "last_tick": cron },
    });
    json_response(if healthy { 200 } else { 503 }, body.to_string())
}
