//! The Stringee shape: `POST /v1/call2/callout` with an `X-STRINGEE-AUTH`
//! REST JWT (HS256), `PUT /v1/call2/:id` for hangup and transfer, and
//! unsigned event posts authenticated by a token in the event URL.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::{Command, OutboundRequest, ProviderConfig, ProviderEvent, Signal, TelephonyError};

/// The REST API token Stringee expects, valid for an hour.
pub(crate) fn rest_token(config: &ProviderConfig, now_unix: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"HS256","cty":"stringee-api;v=1"}"#);
    let claims = json!({"jti": format!("{}-{now_unix}", config.api_key), "iss": config.api_key, "exp": now_unix + 3600, "rest_api": true});
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac =
        Hmac::<Sha256>::new_from_slice(config.api_secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{header}.{claims}").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{header}.{claims}.{signature}")
}

fn number(n: &str) -> serde_json::Value {
    match n.strip_prefix("agent:") {
        Some(ext) => json!({"type": "internal", "number": ext, "alias": ext}),
        None => json!({"type": "external", "number": n, "alias": n}),
    }
}

pub(crate) fn request_for(
    config: &ProviderConfig,
    command: &Command,
    now_unix: i64,
) -> OutboundRequest {
    let base = config.base_url.trim_end_matches('/');
    let event_url = format!("{}?token={}", config.event_url, config.webhook_secret);
    let (method, url, body) = match command {
        Command::Originate {
            reference,
            from,
            to,
            ivr,
        } => (
            "POST",
            format!("{base}/v1/call2/callout"),
            json!({"from": number(from), "to": [number(to)], "answer_url": event_url, "event_url": event_url, "custom_data": reference, "actions": ivr.as_ref().map(|s| json!([{"action": "play", "scenario": s}]))}),
        ),
        Command::Bridge {
            provider_call_id,
            agent,
        } => (
            "PUT",
            format!("{base}/v1/call2/{provider_call_id}"),
            json!({"action": "transfer", "to": {"type": "internal", "number": agent}}),
        ),
        Command::Play {
            provider_call_id,
            audio,
        } => (
            "PUT",
            format!("{base}/v1/call2/{provider_call_id}"),
            json!({"action": "play", "audio": audio}),
        ),
        Command::Hangup { provider_call_id } => (
            "PUT",
            format!("{base}/v1/call2/{provider_call_id}"),
            json!({"action": "hangup"}),
        ),
    };
    OutboundRequest {
        method: method.into(),
        url,
        headers: vec![
            ("x-stringee-auth".into(), rest_token(config, now_unix)),
            ("content-type".into(), "application/json".into()),
        ],
        body: body.to_string().into_bytes(),
    }
}

#[derive(serde::Deserialize)]
struct Wire {
    call_id: String,
    call_status: String,
    #[serde(default)]
    timestamp_ms: i64,
    #[serde(default)]
    custom_data: Option<String>,
    #[serde(default)]
    duration: Option<u32>,
}

pub(crate) fn parse_event(body: &[u8]) -> Result<ProviderEvent, TelephonyError> {
    let wire: Wire = serde_json::from_slice(body).map_err(|e| TelephonyError::MalformedEvent {
        reason: e.to_string(),
    })?;
    let signal = match wire.call_status.as_str() {
        "created" | "started" => Signal::Created,
        "ringing" => Signal::Ringing,
        "answered" => Signal::Answered,
        "busy" => Signal::Busy,
        "no_answer" => Signal::NoAnswer,
        "voicemail" => Signal::Voicemail,
        "failed" => Signal::Failed,
        "ended" => Signal::Completed,
        other => {
            return Err(TelephonyError::MalformedEvent {
                reason: format!("unknown call_status `{other}`"),
            });
        }
    };
    Ok(ProviderEvent {
        event_id: format!("{}:{}", wire.call_id, wire.call_status),
        provider_call_id: wire.call_id,
        reference: wire.custom_data.filter(|r| !r.is_empty()),
        signal,
        at_ms: wire.timestamp_ms,
        talk_seconds: wire.duration,
    })
}

/// Checks a REST token: its HS256 signature and expiry (the simulator
/// plays Stringee with this).
pub fn verify_rest_token(token: &str, secret: &str, now_unix: i64) -> bool {
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{header}.{claims}").as_bytes());
    let Ok(given) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    if !crate::signature::same(&mac.finalize().into_bytes(), &given) {
        return false;
    }
    URL_SAFE_NO_PAD
        .decode(claims)
        .ok()
        .and_then(|c| serde_json::from_slice::<serde_json::Value>(&c).ok())
        .and_then(|c| c["exp"].as_i64())
        .is_some_and(|exp| exp > now_unix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Provider, test_config};

    #[test]
    fn the_rest_token_verifies_with_the_secret_until_it_expires() {
        let c = test_config(Provider::Stringee);
        let token = rest_token(&c, 1000);
        assert!(verify_rest_token(&token, "secret-1", 1000));
        assert!(!verify_rest_token(&token, "other", 1000));
        assert!(!verify_rest_token(&token, "secret-1", 1000 + 3601));
        let claims: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["iss"], "key-1");
        assert_eq!(claims["rest_api"], true);
    }

    #[test]
    fn callout_carries_the_reference_and_a_tokened_event_url() {
        let c = test_config(Provider::Stringee);
        let r = request_for(
            &c,
            &Command::Originate {
                reference: "call-7".into(),
                from: "842873001234".into(),
                to: "agent:101".into(),
                ivr: None,
            },
            5,
        );
        assert_eq!(r.url, "http://carrier.test/v1/call2/callout");
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["custom_data"], "call-7");
        assert_eq!(
            body["event_url"],
            "http://app.test/telephony/events/x?token=hook-secret"
        );
        assert_eq!(body["to"][0]["type"], "internal");
        let hangup = request_for(
            &c,
            &Command::Hangup {
                provider_call_id: "s-1".into(),
            },
            5,
        );
        assert_eq!(
            (hangup.method.as_str(), hangup.url.as_str()),
            ("PUT", "http://carrier.test/v1/call2/s-1")
        );
    }
}
