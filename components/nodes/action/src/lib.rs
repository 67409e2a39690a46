//! `node-action` (private, A-N8): runs an action step and carries out its
//! effects: a partner HTTP call (only to hosts the workspace allowed) with
//! the step's `Idempotency-Key`, retried with backoff on 5xx, 429 and
//! network errors, its answer mapped to variables; CRM changes in the
//! workspace's store.

use careflow_api::ApiError;
use careflow_flow::nodes::Effect;
use careflow_flow::nodes::action::{HttpCall, backoff_ms, map_response, retryable};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    match run_step(&req) {
        Ok(outcome) => {
            careflow_api::json_response(200, serde_json::to_string(&outcome).unwrap_or_default())
        }
        Err(e) => e.into_response(),
    }
}

/// Runs the action and carries out its effects in the run's workspace.
fn run_step(req: &Request) -> Result<careflow_flow::nodes::Outcome, ApiError> {
    let request = careflow_engine::node_service::parse(req.body())?;
    let workspace = request.workspace_id.as_str();
    let mut outcome = careflow_engine::node_service::execute_request("action", &request)?;
    if outcome.effects.is_empty() {
        return Ok(outcome);
    }
    let db = careflow_store::SpinDb::open_default()?;
    for effect in &outcome.effects {
        let patch = match effect {
            Effect::Http(call) => {
                let hosts = careflow_engine::partners::allowed_hosts(&db, workspace)?;
                if !careflow_flow::nodes::action::host_allowed(&hosts, &call.url) {
                    return Err(ApiError::validation(
                        "settings.url",
                        format!(
                            "{} is not a partner host this workspace allows (PUT /api/v1/workspaces/current/allowed-hosts)",
                            call.url
                        ),
                    ));
                }
                perform(call)?
            }
            Effect::Crm(change) => careflow_engine::crm::apply(
                &db,
                &mut careflow_engine::SystemClock,
                workspace,
                change,
            )
            .map_err(|e| ApiError::validation("settings", format!("{}: {}", e.code, e.message)))?,
        };
        outcome.patch.extend(patch);
    }
    Ok(outcome)
}

/// One attempt of a partner call through `wasi:http` directly, because
/// spin-sdk 5.2's `send` takes no request options: the call's `timeout_ms`
/// bounds connecting, the first byte and each gap between bytes.
/// A partner's answer to one attempt.
struct PartnerAnswer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn send_with_timeout(call: &HttpCall) -> Result<PartnerAnswer, String> {
    use spin_sdk::wit::wasi::http0_2_0::{outgoing_handler, types as wasi_http};
    let (scheme, rest) = call.url.split_once("://").ok_or("the URL has no scheme")?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    let mut fields: Vec<(String, Vec<u8>)> = vec![(
        "idempotency-key".into(),
        call.idempotency_key.clone().into_bytes(),
    )];
    fields.extend(
        call.headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone().into_bytes())),
    );
    if let Some(body) = &call.body {
        if !call
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            fields.push(("content-type".into(), b"application/json".to_vec()));
        }
        // A length, not chunked encoding: many partner APIs refuse chunks.
        fields.push(("content-length".into(), body.len().to_string().into_bytes()));
    }
    let headers =
        wasi_http::Fields::from_list(&fields).map_err(|e| format!("bad header: {e:?}"))?;
    let request = wasi_http::OutgoingRequest::new(headers);
    let method = match call.method.as_str() {
        "GET" => wasi_http::Method::Get,
        "PUT" => wasi_http::Method::Put,
        "PATCH" => wasi_http::Method::Patch,
        "DELETE" => wasi_http::Method::Delete,
        _ => wasi_http::Method::Post,
    };
    let scheme = if scheme.eq_ignore_ascii_case("https") {
        wasi_http::Scheme::Https
    } else {
        wasi_http::Scheme::Http
    };
    request.set_method(&method).map_err(|()| "bad method")?;
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| "bad scheme")?;
    request
        .set_authority(Some(authority))
        .map_err(|()| "bad host")?;
    request
        .set_path_with_query(Some(&path))
        .map_err(|()| "bad path")?;
    let body = request.body().map_err(|()| "no request body")?;
    let timeout_ns = call.timeout_ms.saturating_mul(1_000_000);
    let options = wasi_http::RequestOptions::new();
    let _ = options.set_connect_timeout(Some(timeout_ns));
    let _ = options.set_first_byte_timeout(Some(timeout_ns));
    let _ = options.set_between_bytes_timeout(Some(timeout_ns));
    let pending = outgoing_handler::handle(request, Some(options)).map_err(|e| format!("{e:?}"))?;
    if let Some(text) = &call.body {
        let stream = body.write().map_err(|()| "request body stream")?;
        for chunk in text.as_bytes().chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("sending the body: {e:?}"))?;
        }
        drop(stream);
    }
    wasi_http::OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"))?;
    let response = loop {
        if let Some(result) = pending.get() {
            break result
                .map_err(|()| "response taken twice")?
                .map_err(|e| format!("{e:?}"))?;
        }
        pending.subscribe().block();
    };
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let incoming = response.consume().map_err(|()| "response body")?;
    let stream = incoming.stream().map_err(|()| "response body stream")?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => bytes.extend(chunk),
            Err(_) => break,
        }
        if bytes.len() > 4 * 1024 * 1024 {
            return Err("the partner answered more than 4 MiB".into());
        }
    }
    drop(stream);
    Ok(PartnerAnswer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

fn perform(call: &HttpCall) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    let mut last = String::new();
    for attempt in 1..=call.max_attempts {
        if attempt > 1 {
            std::thread::sleep(std::time::Duration::from_millis(backoff_ms(attempt)));
        }
        match send_with_timeout(call) {
            Ok(PartnerAnswer {
                status,
                headers,
                body,
            }) => {
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
