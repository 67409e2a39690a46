//! `trigger-form` (A-T1): `GET /forms/:token` shows a flow's form; `POST`
//! takes a submission (an HTML form post, or JSON from a partner's own
//! page). Each completed submission starts one run with every field as a
//! variable. A captcha-free spam guard: a honeypot field, and at most
//! [`PER_MINUTE`] submissions a minute from one address to one form.

use careflow_api::{ApiError, json_response, parse_form};
use careflow_engine::{flows, runs};
use careflow_flow::form::{self, FormSettings};
use careflow_store::SpinDb;
use serde_json::{Map, Value, json};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

pub const PER_MINUTE: u64 = 10;

#[http_component]
fn handle(req: Request) -> Response {
    match serve(&req) {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

fn html(status: u16, body: String) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .header("x-frame-options", "SAMEORIGIN")
        .body(body)
        .build()
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.header(name).and_then(|v| v.as_str())
}

fn serve(req: &Request) -> Result<Response, ApiError> {
    let token = header(req, "spin-path-match-token")
        .unwrap_or_default()
        .to_string();
    let db = SpinDb::open_default()?;
    let live = flows::live_by_token(&db, &token)?;
    live.expect_trigger(careflow_flow::TriggerKind::Form)?;
    let settings = FormSettings::of(&live.flow).map_err(ApiError::internal)?;
    match req.method() {
        Method::Get => Ok(html(
            200,
            form::render_page(&live.flow, &settings, &Map::new(), &[]),
        )),
        Method::Post => submit(req, &db, &live, &settings, &token),
        _ => Err(ApiError::method_not_allowed(
            "use GET to show the form and POST to submit it",
        )),
    }
}

fn submit(
    req: &Request,
    db: &SpinDb,
    live: &flows::Live,
    settings: &FormSettings,
    token: &str,
) -> Result<Response, ApiError> {
    let content_type = header(req, "content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_json = content_type.starts_with("application/json");
    if req.body().len() > careflow_api::MAX_JSON_BODY {
        return Err(ApiError::payload_too_large("the submission is too large"));
    }
    let input: Map<String, Value> = if is_json {
        match serde_json::from_slice(req.body()) {
            Ok(Value::Object(fields)) => fields,
            _ => return Err(ApiError::bad_request("send a JSON object of field values")),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded")
        || content_type.is_empty()
    {
        parse_form(&String::from_utf8_lossy(req.body()))
    } else {
        return Err(ApiError::unsupported_media_type(
            "send the form (application/x-www-form-urlencoded) or JSON",
        ));
    };
    rate_limit(req, token)?;
    match form::check_submission(&live.flow, settings, &input) {
        // The honeypot was filled: look accepted, start nothing.
        Ok(None) => Ok(if is_json {
            json_response(202, json!({ "accepted": true }).to_string())
        } else {
            html(200, form::render_thanks(settings))
        }),
        Ok(Some(data)) => {
            let started = runs::start(
                db,
                &mut careflow_engine::SystemClock,
                live,
                "form",
                &data,
                header(req, "idempotency-key"),
            )?;
            if started.created {
                careflow_api::ask_engine_to_advance(&started.run_id);
            }
            Ok(if is_json {
                json_response(
                    202,
                    json!({ "accepted": true, "run_id": started.run_id }).to_string(),
                )
            } else {
                html(200, form::render_thanks(settings))
            })
        }
        Err(errors) if is_json => Err(ApiError::validation(
            errors[0].field.clone(),
            format!("{} field(s) need attention", errors.len()),
        )
        .with_details(serde_json::to_value(&errors).unwrap_or_default())),
        Err(errors) => Ok(html(
            422,
            form::render_page(&live.flow, settings, &input, &errors),
        )),
    }
}

/// At most `PER_MINUTE` submissions a minute per client address and form.
fn rate_limit(req: &Request, token: &str) -> Result<(), ApiError> {
    let client = header(req, "spin-client-addr")
        .and_then(|a| a.rsplit_once(':').map(|(ip, _)| ip.to_string()))
        .unwrap_or_default();
    let minute = chrono::Utc::now().timestamp() / 60;
    let key = format!("form-rate:{token}:{client}:{minute}");
    let Ok(kv) = spin_sdk::key_value::Store::open_default() else {
        return Ok(());
    };
    let count = kv
        .get(&key)
        .ok()
        .flatten()
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    if count >= PER_MINUTE {
        return Err(ApiError::too_many_requests(format!(
            "at most {PER_MINUTE} submissions a minute; try again shortly"
        )));
    }
    let _ = kv.set(&key, (count + 1).to_string().as_bytes());
    Ok(())
}
