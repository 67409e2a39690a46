//! The generic REST + webhook shape (docs/telephony.md).

use serde_json::json;

use crate::{Command, OutboundRequest, ProviderConfig, ProviderEvent, Signal, TelephonyError};

pub(crate) fn request_for(config: &ProviderConfig, command: &Command) -> OutboundRequest {
    let base = config.base_url.trim_end_matches('/');
    let (url, body) = match command {
        Command::Originate {
            reference,
            from,
            to,
            ivr,
        } => (
            format!("{base}/v1/calls"),
            json!({"from": from, "to": to, "reference": reference, "event_url": config.event_url, "ivr": ivr}),
        ),
        Command::Bridge {
            provider_call_id,
            agent,
        } => (
            format!("{base}/v1/calls/{provider_call_id}/bridge"),
            json!({"agent": agent}),
        ),
        Command::Play {
            provider_call_id,
            audio,
        } => (
            format!("{base}/v1/calls/{provider_call_id}/play"),
            json!({"audio": audio}),
        ),
        Command::Hangup { provider_call_id } => (
            format!("{base}/v1/calls/{provider_call_id}/hangup"),
            json!({}),
        ),
    };
    OutboundRequest {
        method: "POST".into(),
        url,
        headers: vec![
            ("authorization".into(), format!("Bearer {}", config.api_key)),
            ("content-type".into(), "application/json".into()),
        ],
        body: body.to_string().into_bytes(),
    }
}

#[derive(serde::Deserialize)]
struct Wire {
    event_id: String,
    call_id: String,
    #[serde(default)]
    reference: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    at_ms: i64,
    #[serde(default)]
    talk_seconds: Option<u32>,
}

pub(crate) fn parse_event(body: &[u8]) -> Result<ProviderEvent, TelephonyError> {
    let wire: Wire = serde_json::from_slice(body).map_err(|e| TelephonyError::MalformedEvent {
        reason: e.to_string(),
    })?;
    let signal = match wire.kind.as_str() {
        "ringing" => Signal::Ringing,
        "answered" => Signal::Answered,
        "voicemail" => Signal::Voicemail,
        "busy" => Signal::Busy,
        "no_answer" => Signal::NoAnswer,
        "failed" => Signal::Failed,
        "completed" => Signal::Completed,
        other => {
            return Err(TelephonyError::MalformedEvent {
                reason: format!("unknown event type `{other}`"),
            });
        }
    };
    if wire.event_id.is_empty() || wire.call_id.is_empty() {
        return Err(TelephonyError::MalformedEvent {
            reason: "event_id and call_id are required".into(),
        });
    }
    Ok(ProviderEvent {
        event_id: wire.event_id,
        provider_call_id: wire.call_id,
        reference: wire.reference.filter(|r| !r.is_empty()),
        signal,
        at_ms: wire.at_ms,
        talk_seconds: wire.talk_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Provider, test_config};

    #[test]
    fn originate_posts_the_reference_and_event_url_with_the_key() {
        let c = test_config(Provider::Generic);
        let r = request_for(
            &c,
            &Command::Originate {
                reference: "call-1".into(),
                from: "842873001234".into(),
                to: "84912345678".into(),
                ivr: Some("promo".into()),
            },
        );
        assert_eq!(
            (r.method.as_str(), r.url.as_str()),
            ("POST", "http://carrier.test/v1/calls")
        );
        assert!(
            r.headers
                .contains(&("authorization".into(), "Bearer key-1".into()))
        );
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["reference"], "call-1");
        assert_eq!(body["event_url"], "http://app.test/telephony/events/x");
        assert_eq!(body["ivr"], "promo");
    }

    #[test]
    fn each_control_command_has_its_own_path() {
        let c = test_config(Provider::Generic);
        let id = || "p-9".to_string();
        let urls: Vec<String> = [
            Command::Bridge {
                provider_call_id: id(),
                agent: "101".into(),
            },
            Command::Play {
                provider_call_id: id(),
                audio: "hold-music".into(),
            },
            Command::Hangup {
                provider_call_id: id(),
            },
        ]
        .iter()
        .map(|cmd| request_for(&c, cmd).url)
        .collect();
        assert_eq!(
            urls,
            [
                "http://carrier.test/v1/calls/p-9/bridge",
                "http://carrier.test/v1/calls/p-9/play",
                "http://carrier.test/v1/calls/p-9/hangup"
            ]
        );
    }

    #[test]
    fn refuses_an_unknown_event_type() {
        let e = parse_event(br#"{"event_id":"e","call_id":"c","type":"teleported","at_ms":1}"#)
            .unwrap_err();
        assert!(e.to_string().contains("teleported"));
    }
}
