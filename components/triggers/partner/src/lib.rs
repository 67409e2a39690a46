//! `trigger-partner` (A-T5a): `POST /partners/:kind/events` receives the
//! events of partner accounts a workspace connected (`/api/v1/partners`).
//! The account named in the event finds the workspace and its secret; the
//! signature is checked; every enabled flow listening for that event type
//! starts one run, and a repeated delivery starts nothing new.

use careflow_api::{ApiError, json_response};
use careflow_engine::{partners, runs};
use careflow_flow::partner::{self, PartnerKind};
use careflow_store::SpinDb;
use serde_json::{Value, json};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    match receive(&req) {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

fn receive(req: &Request) -> Result<Response, ApiError> {
    if *req.method() != Method::Post {
        return Err(ApiError::method_not_allowed(
            "partner events are delivered with POST",
        ));
    }
    let kind_name = req
        .header("spin-path-match-kind")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let kind = PartnerKind::parse(&kind_name)
        .ok_or_else(|| ApiError::not_found(format!("careflow has no partner `{kind_name}`")))?;
    let raw = req.body();
    if raw.len() > careflow_api::MAX_JSON_BODY {
        return Err(ApiError::payload_too_large("the event is too large"));
    }
    let body: Value = serde_json::from_slice(raw)
        .map_err(|e| ApiError::bad_request(format!("the event is not JSON: {e}")))?;
    let header = |name: &str| {
        req.header(name)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let account = partner::account_of(kind, &header, &body)
        .ok_or_else(|| ApiError::bad_request("the event names no partner account"))?;
    let db = SpinDb::open_default()?;
    let (workspace, app_id, secret) = partners::find(&db, kind, &account)?;
    partner::verify(kind, &header, raw, &body, &app_id, &secret).map_err(ApiError::unauthorized)?;
    let event =
        partner::parse(kind, &header, raw, &body).map_err(|m| ApiError::validation("event", m))?;
    let mut started = Vec::new();
    for live in partners::flows_for(&db, &workspace, kind, &event.event_type)? {
        let run = runs::start(
            &db,
            &mut careflow_engine::SystemClock,
            &live,
            "partner",
            &event.data,
            Some(&event.dedupe_key),
        )?;
        if run.created {
            careflow_api::ask_engine_to_advance(&run.run_id);
        }
        started.push(
            json!({ "flow_id": live.flow_id, "run_id": run.run_id, "replayed": !run.created }),
        );
    }
    // Partners want a quick 200 for every verified delivery.
    Ok(json_response(
        200,
        json!({ "event": event.event_type, "runs": started }).to_string(),
    ))
}
