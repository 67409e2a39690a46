//! `trigger-api` (A-T3): third parties start a flow with GET, POST, PUT,
//! PATCH or DELETE on `/api/v1/flows/:id/trigger`. Query, JSON or form data
//! are bound to the flow's declared variables; `Idempotency-Key` makes a
//! retry answer the same run. Partners that cannot send headers use the
//! flow's `?token=`. The run is handed to the engine at once; if that hop
//! fails the cron tick picks the run up, so the answer is always `202`.

use careflow_api::{ApiError, json_response, parse_form};
use careflow_engine::{flows, runs};
use careflow_store::SpinDb;
use serde_json::{Map, Value, json};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    match trigger(&req) {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.header(name).and_then(|v| v.as_str())
}

/// Query values, then the body's (JSON object or form) on top.
fn input(req: &Request) -> Result<Map<String, Value>, ApiError> {
    let mut input = parse_form(req.query());
    input.remove("token");
    let body = req.body();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(input);
    }
    if body.len() > careflow_api::MAX_JSON_BODY {
        return Err(ApiError::payload_too_large(format!(
            "the body is larger than {} bytes",
            careflow_api::MAX_JSON_BODY
        )));
    }
    let content_type = header(req, "content-type")
        .unwrap_or("application/json")
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        input.extend(parse_form(&String::from_utf8_lossy(body)));
    } else if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => input.extend(fields),
            Ok(_) => {
                return Err(ApiError::bad_request(
                    "the JSON body must be an object of variable values",
                ));
            }
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "the body is not valid JSON: {e}"
                )));
            }
        }
    } else {
        return Err(ApiError::unsupported_media_type(format!(
            "send JSON or a form, not {content_type:?}"
        )));
    }
    Ok(input)
}

fn trigger(req: &Request) -> Result<Response, ApiError> {
    if !matches!(
        req.method(),
        Method::Get | Method::Post | Method::Put | Method::Patch | Method::Delete
    ) {
        return Err(ApiError::method_not_allowed(
            "use GET, POST, PUT, PATCH or DELETE",
        ));
    }
    let flow_id = header(req, "spin-path-match-id")
        .unwrap_or_default()
        .to_string();
    let db = SpinDb::open_default()?;
    let token = parse_form(req.query())
        .get("token")
        .and_then(Value::as_str)
        .map(str::to_string);
    let workspace = match header(req, "authorization") {
        Some(auth) => {
            let admin = spin_sdk::variables::get("admin_token").ok();
            let principal = careflow_auth::authenticate(&db, Some(auth), admin.as_deref())?;
            Some(principal.workspace()?.0.to_string())
        }
        None => None,
    };
    let live = flows::live(&db, workspace.as_deref(), &flow_id, token.as_deref())?;
    live.expect_trigger(careflow_flow::TriggerKind::Api)?;
    let data =
        careflow_flow::binding::bind(&live.flow.variables, &input(req)?).map_err(|errors| {
            ApiError::validation(
                errors[0].field.clone(),
                format!("{} variable(s) are missing or invalid", errors.len()),
            )
            .with_details(serde_json::to_value(&errors).unwrap_or_default())
        })?;
    let key = header(req, "idempotency-key")
        .map(str::trim)
        .filter(|k| !k.is_empty());
    if key.is_some_and(|k| k.len() > 255) {
        return Err(
            ApiError::bad_request("Idempotency-Key must be at most 255 characters")
                .with_field("Idempotency-Key"),
        );
    }
    let started = runs::start(
        &db,
        &mut careflow_engine::SystemClock,
        &live,
        "api",
        &data,
        key,
    )?;
    if started.created {
        careflow_api::ask_engine_to_advance(&started.run_id);
    }
    let body = json!({ "run_id": started.run_id, "replayed": !started.created, "run_url": format!("/api/v1/runs/{}", started.run_id) });
    Ok(json_response(202, body.to_string()))
}
