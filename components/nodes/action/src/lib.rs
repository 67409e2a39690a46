//! `node-action` (private, A-N8): runs an action step and carries out its
//! effects: a partner HTTP call (only to hosts the workspace allowed) with
//! the step's `Idempotency-Key`, retried with backoff on 5xx, 429 and
//! network errors, its answer mapped to variables; CRM changes in the
//! workspace's store.

use careflow_api::ApiError;
use careflow_flow::nodes::Effect;
use careflow_flow::nodes::action::{HttpCall, backoff_ms, map_response, retryable};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    let workspace = serde_json::from_slice::<serde_json::Value>(req.body())
        .ok()
        .and_then(|v| v["workspace_id"].as_str().map(str::to_string))
        .unwrap_or_default();
    let result =
        careflow_engine::node_service::execute("action", req.body()).and_then(|mut outcome| {
            for effect in std::mem::take(&mut outcome.effects) {
                match &effect {
                    Effect::Http(call) => {
                    let db = careflow_store::SpinDb::open_default()?;
                    let hosts = careflow_engine::partners::allowed_hosts(&db, &workspace)?;
                    if !careflow_flow::nodes::action::host_allowed(&hosts, &call.url) {
                        return Err(ApiError::validation(
                            "settings.url",
                            format!("{} is not a partner host this workspace allows (PUT /api/v1/workspaces/current/allowed-hosts)", call.url),
                        ));
                    }
                    outcome.patch.extend(perform(call)?)
                }
                    Effect::Crm(change) => {
                        let db = careflow_store::SpinDb::open_default()?;
                        let patch = careflow_engine::crm::apply(
                            &db,
                            &mut careflow_engine::SystemClock,
                            &workspace,
                            change,
                        )
                        .map_err(|e| {
                            ApiError::validation("settings", format!("{}: {}", e.code, e.message))
                        })?;
                        outcome.patch.extend(patch);
                    }
                }
                outcome.effects.push(effect);
            }
            Ok(outcome)
        });
    match result {
        Ok(outcome) => {
            careflow_api::json_response(200, serde_json::to_string(&outcome).unwrap_or_default())
        }
        Err(e) => e.into_response(),
    }
}

fn method(name: &str) -> Method {
    match name {
        "GET" => Method::Get,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        _ => Method::Post,
    }
}

fn perform(call: &HttpCall) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    let mut last = String::new();
    for attempt in 1..=call.max_attempts {
        if attempt > 1 {
            std::thread::sleep(std::time::Duration::from_millis(backoff_ms(attempt)));
        }
        let mut builder = Request::builder();
        builder
            .method(method(&call.method))
            .uri(call.url.clone())
            .header("idempotency-key", call.idempotency_key.clone());
        for (name, value) in &call.headers {
            builder.header(name.clone(), value.clone());
        }
        if let Some(body) = &call.body {
            if !call
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                builder.header("content-type", "application/json");
            }
            // A length, not chunked encoding: many partner APIs refuse chunks.
            builder.header("content-length", body.len().to_string());
            builder.body(body.clone());
        }
        match spin_sdk::http::run(spin_sdk::http::send::<_, Response>(builder.build())) {
            Ok(res) => {
                let status = *res.status();
                let headers: Vec<(String, String)> = res
                    .headers()
                    .map(|(k, v)| (k.to_string(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                let body = String::from_utf8_lossy(res.body()).into_owned();
                if retryable(Some(status)) && attempt < call.max_attempts {
                    last = format!("answered {status}");
                    continue;
                }
                return map_response(call, status, &headers, &body)
                    .map_err(|e| ApiError::validation("settings.url", e.message));
            }
            Err(e) => {
                last = e.to_string();
                if !retryable(None) {
                    break;
                }
            }
        }
    }
    Err(ApiError::validation(
        "settings.url",
        format!(
            "{} {} failed after {} attempt(s): {last}",
            call.method, call.url, call.max_attempts
        ),
    ))
}
