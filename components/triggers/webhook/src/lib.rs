//! `trigger-webhook` (A-T5b): `POST /hooks/:token` takes any partner's JSON
//! and starts the flow whose webhook URL it is, with the known objects
//! (order, customer, invoice, product, ticket) bound automatically. The
//! partner's delivery id (`X-Event-Id`, `X-Shopify-Webhook-Id`, …, or the
//! payload's `event_id`) deduplicates retries: the same delivery three
//! times is one run.

use careflow_api::{ApiError, json_response};
use careflow_engine::{flows, runs};
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
            "webhooks are delivered with POST",
        ));
    }
    let body = req.body();
    if body.len() > careflow_api::MAX_JSON_BODY {
        return Err(ApiError::payload_too_large(format!(
            "the payload is larger than {} bytes",
            careflow_api::MAX_JSON_BODY
        )));
    }
    let payload: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the payload is not JSON: {e}")))?;
    if !payload.is_object() {
        return Err(ApiError::bad_request("the payload must be a JSON object"));
    }
    let token = req
        .header("spin-path-match-token")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let db = SpinDb::open_default()?;
    let live = flows::live_by_token(&db, &token)?;
    live.expect_trigger(careflow_flow::TriggerKind::Webhook)?;
    let data = careflow_flow::webhook::bind_known_objects(&payload);
    let header = |name: &str| {
        req.header(name)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let event = careflow_flow::webhook::event_id(header, &payload);
    let started = runs::start(
        &db,
        &mut careflow_engine::SystemClock,
        &live,
        "webhook",
        &data,
        event.as_deref(),
    )?;
    if started.created {
        careflow_api::ask_engine_to_advance(&started.run_id);
    }
    let bound: Vec<&String> = data.keys().filter(|k| *k != "payload").collect();
    Ok(json_response(
        202,
        json!({ "run_id": started.run_id, "replayed": !started.created, "bound": bound })
            .to_string(),
    ))
}
