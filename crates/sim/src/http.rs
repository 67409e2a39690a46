//! The simulator's HTTP face: the generic carrier API (`/v1/calls…`), the
//! Stringee-shaped one (`/v1/call2/…`) and its own controls (`/sim/…`).

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::calls::{Carrier, Shape, now_ms};
use crate::carrier::CarrierConfig;

type Answer = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: Value) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

/// A refused request, small enough to pass around as an `Err`.
struct Fail(StatusCode, Value);

fn fail(status: StatusCode, code: &str, message: &str, field: Option<&str>) -> Fail {
    Fail(
        status,
        json!({"error": {"code": code, "message": message, "field": field}}),
    )
}

fn error(status: StatusCode, code: &str, message: &str, field: Option<&str>) -> Answer {
    let Fail(status, body) = fail(status, code, message, field);
    reply(status, body)
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn text(v: &Value, field: &str) -> Result<String, Fail> {
    v[field]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            fail(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                &format!("`{field}` is required"),
                Some(field),
            )
        })
}

pub async fn handle(carrier: Arc<Carrier>, req: Request<Incoming>) -> Answer {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let auth = header(&req, "authorization");
    let stringee_auth = header(&req, "x-stringee-auth");
    let bytes = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "unreadable body",
                None,
            );
        }
    };
    if bytes.len() > 1024 * 1024 {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "at most 1 MiB",
            None,
        );
    }
    let body: Value = if bytes.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    &format!("the body is not JSON: {e}"),
                    None,
                );
            }
        }
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let generic_ok = auth.as_deref() == Some(&format!("Bearer {}", carrier.options.api_key));
    let stringee_ok = stringee_auth.as_deref().is_some_and(|t| {
        careflow_telephony::verify_rest_token(t, &carrier.options.api_secret, now_ms() / 1000)
    });
    let result = match (&method, segments.as_slice()) {
        (&Method::GET, ["health"]) => Ok(reply(StatusCode::OK, json!({"status": "ok"}))),
        (&Method::GET, ["sim", "calls"]) => {
            Ok(reply(StatusCode::OK, json!({"data": carrier.list()})))
        }
        (&Method::POST, ["sim", "reset"]) => {
            carrier.reset();
            Ok(reply(StatusCode::OK, json!({})))
        }
        (&Method::GET, ["sim", "carrier"]) => {
            let config = carrier
                .inner
                .lock()
                .map(|i| i.config.clone())
                .unwrap_or_default();
            Ok(reply(
                StatusCode::OK,
                serde_json::to_value(config).unwrap_or_default(),
            ))
        }
        (&Method::PUT, ["sim", "carrier"]) => set_carrier(&carrier, body),
        (_, ["v1", "calls", ..]) if !generic_ok => Err(fail(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <api key>",
            None,
        )),
        (_, ["v1", "call2", ..]) if !stringee_ok => Err(fail(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send a valid X-STRINGEE-AUTH token",
            None,
        )),
        (&Method::POST, ["v1", "calls"]) => originate_generic(&carrier, &body),
        (&Method::POST, ["v1", "calls", id, verb]) => control(&carrier, id, verb, &body).await,
        (&Method::POST, ["v1", "call2", "callout"]) => originate_stringee(&carrier, &body),
        (&Method::PUT, ["v1", "call2", id]) => {
            let action = body["action"].as_str().unwrap_or_default().to_string();
            let verb = match action.as_str() {
                "transfer" => "bridge",
                other => other,
            };
            control(&carrier, id, verb, &body)
                .await
                .map(|_| reply(StatusCode::OK, json!({"r": 0})))
        }
        _ => Err(fail(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no endpoint {method} {path}"),
            None,
        )),
    };
    result.unwrap_or_else(|Fail(status, body)| reply(status, body))
}

fn set_carrier(carrier: &Carrier, body: Value) -> Result<Answer, Fail> {
    let config: CarrierConfig = serde_json::from_value(body).map_err(|e| {
        fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            &e.to_string(),
            None,
        )
    })?;
    config.validate().map_err(|(field, message)| {
        fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            &message,
            Some(&field),
        )
    })?;
    if let Ok(mut inner) = carrier.inner.lock() {
        inner.config = config.clone();
    }
    Ok(reply(
        StatusCode::OK,
        serde_json::to_value(config).unwrap_or_default(),
    ))
}

fn start(carrier: &Arc<Carrier>, placed: Result<String, String>, stringee: bool) -> Answer {
    match placed {
        Ok(id) => {
            tokio::spawn(carrier.clone().run(id.clone()));
            if stringee {
                reply(
                    StatusCode::OK,
                    json!({"r": 0, "call_id": id, "message": "OK"}),
                )
            } else {
                reply(StatusCode::CREATED, json!({"call_id": id}))
            }
        }
        Err(id) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "hotline_unavailable",
            &format!("the hotline refuses calls (call {id})"),
            Some("from"),
        ),
    }
}

fn originate_generic(carrier: &Arc<Carrier>, body: &Value) -> Result<Answer, Fail> {
    let from = text(body, "from")?;
    let to = text(body, "to")?;
    let event_url = text(body, "event_url")?;
    let reference = body["reference"].as_str().map(str::to_string);
    let ivr = body["ivr"].as_str().map(str::to_string);
    Ok(start(
        carrier,
        carrier.place(Shape::Generic, from, to, reference, event_url, ivr),
        false,
    ))
}

fn originate_stringee(carrier: &Arc<Carrier>, body: &Value) -> Result<Answer, Fail> {
    let number = |v: &Value| -> Option<String> {
        let n = v["number"].as_str()?;
        Some(if v["type"] == "internal" {
            format!("agent:{n}")
        } else {
            n.to_string()
        })
    };
    let from = number(&body["from"]).ok_or_else(|| {
        fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "`from.number` is required",
            Some("from"),
        )
    })?;
    let to = number(&body["to"][0]).ok_or_else(|| {
        fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "`to[0].number` is required",
            Some("to"),
        )
    })?;
    let event_url = text(body, "event_url")?;
    let reference = body["custom_data"].as_str().map(str::to_string);
    let ivr = body["actions"][0]["scenario"].as_str().map(str::to_string);
    Ok(start(
        carrier,
        carrier.place(Shape::Stringee, from, to, reference, event_url, ivr),
        true,
    ))
}

async fn control(
    carrier: &Arc<Carrier>,
    id: &str,
    verb: &str,
    body: &Value,
) -> Result<Answer, Fail> {
    if carrier.list().iter().all(|c| c.id != id) {
        return Err(fail(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no call {id}"),
            None,
        ));
    }
    match verb {
        "bridge" => {
            tokio::spawn(carrier.clone().bridge(id.to_string()));
        }
        "play" => {
            let audio = body["audio"].as_str().unwrap_or("hold-music").to_string();
            tokio::spawn(carrier.clone().play(id.to_string(), audio));
        }
        "hangup" => {
            tokio::spawn(carrier.clone().hang_up(id.to_string()));
        }
        other => {
            return Err(fail(
                StatusCode::NOT_FOUND,
                "not_found",
                &format!("no call action `{other}`"),
                None,
            ));
        }
    }
    Ok(reply(StatusCode::OK, json!({})))
}
