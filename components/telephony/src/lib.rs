//! The `telephony` component: the bridge between careflow and a carrier.
//!
//! - `POST /telephony/events/:provider` (public): a carrier's call events,
//!   verified by the provider adapter (`careflow-telephony`), applied to the
//!   call records through the call state machine, then the dispatcher runs
//!   for that workspace so a freed agent gets the next customer at once.
//! - `POST /tick` (private, from `cron` every second): the dispatcher for
//!   every running campaign.
//! - `POST /workspaces/:id/dispatch` (private): the dispatcher for one
//!   workspace (an agent became available, a campaign started).
//! - `POST /orders` (private): carrier orders another component decided.
//!
//! Every order's effect is stored before it is sent, so a crash between
//! the two leaves a call the watchdog ends rather than a customer dialled
//! twice.

use careflow_api::{ApiError, json_response};
use careflow_campaign::call::CallEvent;
use careflow_campaign::{CarrierEvent, Order, calls, dispatch};
use careflow_engine::{Clock, SystemClock};
use careflow_store::{Db, SpinDb};
use careflow_telephony::{Command, Provider, ProviderConfig, Signal};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    match route(&req) {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

fn variable(name: &str, default: &str) -> String {
    spin_sdk::variables::get(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// The adapter settings, all from Spin variables.
fn config() -> Result<(String, ProviderConfig), ApiError> {
    let name = variable("telephony_provider", "generic");
    let provider: Provider = name.parse().map_err(|_| {
        ApiError::unavailable(format!(
            "the variable telephony_provider is {name:?}; use generic or stringee"
        ))
    })?;
    let public = variable("public_base_url", "http://127.0.0.1:3000");
    Ok((
        name.clone(),
        ProviderConfig {
            provider,
            base_url: variable("telephony_base_url", "http://127.0.0.1:3100")
                .trim_end_matches('/')
                .to_string(),
            api_key: variable("telephony_api_key", ""),
            api_secret: variable("telephony_api_secret", ""),
            webhook_secret: variable("telephony_webhook_secret", ""),
            event_url: format!("{}/telephony/events/{name}", public.trim_end_matches('/')),
        },
    ))
}

fn ok(status: u16, value: serde_json::Value) -> Result<Response, ApiError> {
    Ok(json_response(status, value.to_string()))
}

fn route(req: &Request) -> Result<Response, ApiError> {
    let segments: Vec<&str> = req.path().split('/').filter(|s| !s.is_empty()).collect();
    match (req.method(), segments.as_slice()) {
        (Method::Post, ["telephony", "events", provider]) => event(req, provider),
        (Method::Post, ["tick"]) => {
            let (name, config) = config()?;
            let db = SpinDb::open_default()?;
            let orders = dispatch::tick(&db, &mut SystemClock, &name)?;
            let sent = execute(&db, &config, orders);
            ok(200, serde_json::json!({ "orders": sent }))
        }
        (Method::Post, ["workspaces", workspace, "dispatch"]) => {
            let (name, config) = config()?;
            let db = SpinDb::open_default()?;
            let orders = dispatch::tick_workspace(&db, &mut SystemClock, &name, workspace)?;
            let sent = execute(&db, &config, orders);
            ok(200, serde_json::json!({ "orders": sent }))
        }
        (Method::Post, ["orders"]) => {
            let (_, config) = config()?;
            let orders: Vec<Order> =
                careflow_api::parse_json(Some("application/json"), req.body())?;
            let db = SpinDb::open_default()?;
            let sent = execute(&db, &config, orders);
            ok(200, serde_json::json!({ "orders": sent }))
        }
        (_, ["telephony", "events", _]) => Err(ApiError::method_not_allowed("use POST")),
        _ => Err(ApiError::not_found(format!("no endpoint {}", req.path()))),
    }
}

fn signal_event(signal: Signal) -> Option<CallEvent> {
    Some(match signal {
        Signal::Ringing => CallEvent::Ringing,
        Signal::Answered => CallEvent::Answered,
        Signal::Voicemail => CallEvent::Voicemail,
        Signal::Busy => CallEvent::Busy,
        Signal::NoAnswer => CallEvent::NoAnswer,
        Signal::Failed => CallEvent::Failed,
        Signal::Completed => CallEvent::Completed,
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}

/// A carrier event: verified (401 when the signature or token is wrong or
/// stale), applied once per event id, then the workspace is dispatched.
fn event(req: &Request, provider: &str) -> Result<Response, ApiError> {
    let (name, config) = config()?;
    if provider != name {
        return Err(ApiError::not_found(format!(
            "this app speaks to the {name} provider, not {provider}"
        )));
    }
    if req.body().len() > 64 * 1024 {
        return Err(ApiError::payload_too_large(
            "a call event is at most 64 KiB",
        ));
    }
    let clock = SystemClock;
    let header = |n: &str| req.header(n).and_then(|v| v.as_str()).map(str::to_string);
    let parsed = careflow_telephony::verify_event(
        &config,
        header,
        req.query(),
        req.body(),
        clock.now_ms() / 1000,
    )
    .map_err(|e| match e {
        careflow_telephony::TelephonyError::BadSignature
        | careflow_telephony::TelephonyError::StaleSignature => {
            ApiError::unauthorized(e.to_string())
        }
        other => ApiError::validation("body", other.to_string()),
    })?;
    let Some(signal) = signal_event(parsed.signal) else {
        return ok(200, serde_json::json!({ "applied": false }));
    };
    let db = SpinDb::open_default()?;
    let event = CarrierEvent {
        event_id: parsed.event_id,
        provider_call_id: parsed.provider_call_id,
        reference: parsed.reference,
        signal,
        at_ms: parsed.at_ms,
        talk_seconds: parsed.talk_seconds,
    };
    let mut clock = SystemClock;
    let orders = calls::apply_event(&db, &mut clock, &name, &event)?;
    execute(&db, &config, orders);
    let workspace = db
        .execute(
            "SELECT workspace_id FROM calls WHERE provider = ? AND (id = ? OR provider_call_id = ?)",
            &[
                name.as_str().into(),
                event.reference.as_deref().unwrap_or_default().into(),
                event.provider_call_id.as_str().into(),
            ],
        )?
        .first()
        .and_then(|r| r.text("workspace_id"));
    if let Some(workspace) = workspace {
        let more = dispatch::tick_workspace(&db, &mut clock, &name, &workspace)?;
        execute(&db, &config, more);
    }
    ok(200, serde_json::json!({ "applied": true }))
}

/// Sends each order to the carrier; a refused originate ends that call
/// (and may mark its hotline failing). Returns how many went through.
fn execute(db: &SpinDb, config: &ProviderConfig, orders: Vec<Order>) -> usize {
    let mut sent = 0;
    let mut queue: std::collections::VecDeque<Order> = orders.into();
    while let Some(order) = queue.pop_front() {
        let (call_id, command) = match &order {
            Order::Originate {
                call_id,
                from,
                to,
                ivr,
            } => (
                call_id.clone(),
                Command::Originate {
                    reference: call_id.clone(),
                    from: from.clone(),
                    to: to.clone(),
                    ivr: ivr.clone(),
                },
            ),
            Order::Bridge {
                call_id,
                provider_call_id,
                extension,
            } => (
                call_id.clone(),
                Command::Bridge {
                    provider_call_id: provider_call_id.clone(),
                    agent: extension.clone(),
                },
            ),
            Order::Play {
                call_id,
                provider_call_id,
                audio,
            } => (
                call_id.clone(),
                Command::Play {
                    provider_call_id: provider_call_id.clone(),
                    audio: audio.clone(),
                },
            ),
            Order::Hangup {
                call_id,
                provider_call_id,
            } => (
                call_id.clone(),
                Command::Hangup {
                    provider_call_id: provider_call_id.clone(),
                },
            ),
        };
        let request =
            careflow_telephony::request_for(config, &command, SystemClock.now_ms() / 1000);
        let mut builder = Request::builder();
        builder.method(match request.method.as_str() {
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            _ => Method::Post,
        });
        builder.uri(request.url.as_str());
        for (k, v) in &request.headers {
            builder.header(k.as_str(), v.as_str());
        }
        let outgoing = builder.body(request.body.clone()).build();
        let answer: Result<Response, _> = spin_sdk::http::run(spin_sdk::http::send(outgoing));
        let is_originate = matches!(order, Order::Originate { .. });
        match answer {
            Ok(res) if is_originate => {
                match careflow_telephony::parse_originate_answer(config, *res.status(), res.body())
                {
                    Ok(provider_call_id) => {
                        let _ = calls::originated(db, &call_id, &provider_call_id);
                        sent += 1;
                    }
                    Err(e) => {
                        // 503 from the carrier: the hotline is the problem.
                        let hotline = *res.status() == 503;
                        if let Ok(more) = calls::originate_failed(
                            db,
                            &mut SystemClock,
                            &call_id,
                            &e.to_string(),
                            hotline,
                        ) {
                            queue.extend(more);
                        }
                    }
                }
            }
            Ok(res) if *res.status() < 300 => sent += 1,
            Ok(res) => {
                let _ = db.execute(
                    "UPDATE calls SET error = ? WHERE id = ?",
                    &[
                        format!("the carrier answered {}", res.status()).into(),
                        call_id.as_str().into(),
                    ],
                );
            }
            Err(e) if is_originate => {
                if let Ok(more) = calls::originate_failed(
                    db,
                    &mut SystemClock,
                    &call_id,
                    &format!("the carrier did not answer: {e}"),
                    false,
                ) {
                    queue.extend(more);
                }
            }
            Err(e) => {
                let _ = db.execute(
                    "UPDATE calls SET error = ? WHERE id = ?",
                    &[
                        format!("the carrier did not answer: {e}").into(),
                        call_id.as_str().into(),
                    ],
                );
            }
        }
    }
    sent
}
