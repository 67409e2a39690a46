//! The carrier adapters of careflow's telephony bridge (docs/telephony.md).
//! Pure: an adapter turns a [`Command`] into the HTTP request the carrier
//! expects ([`request_for`]), reads the carrier's answer to an originate
//! ([`parse_originate_answer`]), and verifies and reads the call events the
//! carrier posts back ([`verify_event`]). The `telephony` component does the
//! I/O; `careflow-sim` plays the carrier with the same functions.

mod generic;
pub mod signature;
mod stringee;

use std::str::FromStr;

pub use signature::sign_generic;
pub use stringee::verify_rest_token;

/// Which carrier shape the bridge speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// careflow's generic REST + signed webhook shape.
    Generic,
    /// Stringee's outbound call API, answer URL and event posts.
    Stringee,
}

impl FromStr for Provider {
    type Err = TelephonyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "generic" => Ok(Provider::Generic),
            "stringee" => Ok(Provider::Stringee),
            other => Err(TelephonyError::UnknownProvider(other.to_string())),
        }
    }
}

/// The adapter's settings (Spin variables in the component).
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub provider: Provider,
    /// The carrier's API root, without a trailing slash.
    pub base_url: String,
    pub api_key: String,
    /// Stringee: the secret the REST JWT is signed with.
    pub api_secret: String,
    /// Signs (generic) or authenticates (Stringee token) event posts.
    pub webhook_secret: String,
    /// careflow's public URL for this provider's events.
    pub event_url: String,
}

/// Call control, provider-agnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Originate {
        /// careflow's call id, echoed back on every event.
        reference: String,
        from: String,
        /// A customer number, or `agent:<extension>` for an agent's phone.
        to: String,
        /// An IVR scenario to play once answered (B-A).
        ivr: Option<String>,
    },
    Bridge {
        provider_call_id: String,
        agent: String,
    },
    Play {
        provider_call_id: String,
        audio: String,
    },
    Hangup {
        provider_call_id: String,
    },
}

/// An HTTP request for the component to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the carrier says happened to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Stringee's `created`: nothing for careflow to do.
    Created,
    Ringing,
    Answered,
    Voicemail,
    Busy,
    NoAnswer,
    Failed,
    Completed,
}

/// A verified call event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    /// Unique per event; a replay carries the same id.
    pub event_id: String,
    pub provider_call_id: String,
    pub reference: Option<String>,
    pub signal: Signal,
    pub at_ms: i64,
    pub talk_seconds: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TelephonyError {
    #[error("unknown telephony provider `{0}` (use generic or stringee)")]
    UnknownProvider(String),
    #[error("the event's signature or token does not verify")]
    BadSignature,
    #[error("the event's signature is more than {max} s old or ahead", max = signature::MAX_SKEW_SECONDS)]
    StaleSignature,
    #[error("the event is not one careflow understands: {reason}")]
    MalformedEvent { reason: String },
    #[error("the carrier refused the request ({status}): {message}")]
    ProviderRefused { status: u16, message: String },
}

/// The carrier request for `command`.
pub fn request_for(config: &ProviderConfig, command: &Command, now_unix: i64) -> OutboundRequest {
    match config.provider {
        Provider::Generic => generic::request_for(config, command),
        Provider::Stringee => stringee::request_for(config, command, now_unix),
    }
}

/// The provider's call id from its answer to an originate.
pub fn parse_originate_answer(
    config: &ProviderConfig,
    status: u16,
    body: &[u8],
) -> Result<String, TelephonyError> {
    let refused = |message: String| TelephonyError::ProviderRefused { status, message };
    if !(200..300).contains(&status) {
        return Err(refused(
            String::from_utf8_lossy(body).chars().take(300).collect(),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| refused(format!("the answer is not JSON: {e}")))?;
    if config.provider == Provider::Stringee && value["r"].as_i64().unwrap_or(0) != 0 {
        return Err(refused(
            value["message"].as_str().unwrap_or("refused").to_string(),
        ));
    }
    value["call_id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .ok_or_else(|| refused("the answer has no call_id".into()))
}

/// Verifies an event post (signature or token) and reads it.
pub fn verify_event(
    config: &ProviderConfig,
    header: impl Fn(&str) -> Option<String>,
    query: &str,
    body: &[u8],
    now_unix: i64,
) -> Result<ProviderEvent, TelephonyError> {
    match config.provider {
        Provider::Generic => {
            let given = header("x-careflow-signature").ok_or(TelephonyError::BadSignature)?;
            signature::verify_generic(&config.webhook_secret, body, &given, now_unix)?;
            generic::parse_event(body)
        }
        Provider::Stringee => {
            let token = query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| *k == "token")
                .map(|(_, v)| v)
                .ok_or(TelephonyError::BadSignature)?;
            if !signature::same(token.as_bytes(), config.webhook_secret.as_bytes())
                || config.webhook_secret.is_empty()
            {
                return Err(TelephonyError::BadSignature);
            }
            stringee::parse_event(body)
        }
    }
}

#[cfg(test)]
pub(crate) fn test_config(provider: Provider) -> ProviderConfig {
    ProviderConfig {
        provider,
        base_url: "http://carrier.test".into(),
        api_key: "key-1".into(),
        api_secret: "secret-1".into(),
        webhook_secret: "hook-secret".into(),
        event_url: "http://app.test/telephony/events/x".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_call_id_of_an_accepted_originate() {
        let c = test_config(Provider::Generic);
        assert_eq!(
            parse_originate_answer(&c, 201, br#"{"call_id":"c-1"}"#).unwrap(),
            "c-1"
        );
        let e = parse_originate_answer(&c, 503, b"hotline down").unwrap_err();
        assert!(matches!(
            e,
            TelephonyError::ProviderRefused { status: 503, .. }
        ));
    }

    #[test]
    fn a_stringee_answer_with_r_not_zero_is_a_refusal() {
        let c = test_config(Provider::Stringee);
        assert_eq!(
            parse_originate_answer(&c, 200, br#"{"r":0,"call_id":"s-1"}"#).unwrap(),
            "s-1"
        );
        let e = parse_originate_answer(&c, 200, br#"{"r":3,"message":"NOT_ENOUGH_MONEY"}"#)
            .unwrap_err();
        assert!(e.to_string().contains("NOT_ENOUGH_MONEY"));
    }

    #[test]
    fn a_generic_event_verifies_only_with_its_signature() {
        let c = test_config(Provider::Generic);
        let body =
            br#"{"event_id":"e1","call_id":"c1","reference":"r1","type":"answered","at_ms":5}"#;
        let sig = sign_generic("hook-secret", body, 1000);
        let header = |n: &str| (n == "x-careflow-signature").then(|| sig.clone());
        let ev = verify_event(&c, header, "", body, 1010).unwrap();
        assert_eq!(
            (ev.signal, ev.reference.as_deref()),
            (Signal::Answered, Some("r1"))
        );
        let tampered =
            br#"{"event_id":"e1","call_id":"c1","reference":"r1","type":"completed","at_ms":5}"#;
        assert_eq!(
            verify_event(&c, header, "", tampered, 1010).unwrap_err(),
            TelephonyError::BadSignature
        );
        assert_eq!(
            verify_event(&c, header, "", body, 2000).unwrap_err(),
            TelephonyError::StaleSignature
        );
        assert_eq!(
            verify_event(&c, |_| None, "", body, 1010).unwrap_err(),
            TelephonyError::BadSignature
        );
    }

    #[test]
    fn a_stringee_event_needs_the_token_in_its_url() {
        let c = test_config(Provider::Stringee);
        let body = br#"{"call_id":"s1","call_status":"ended","timestamp_ms":9,"custom_data":"r1","duration":42}"#;
        let ev = verify_event(&c, |_| None, "token=hook-secret", body, 0).unwrap();
        assert_eq!(ev.signal, Signal::Completed);
        assert_eq!(ev.talk_seconds, Some(42));
        assert_eq!(ev.event_id, "s1:ended");
        assert_eq!(
            verify_event(&c, |_| None, "token=nope", body, 0).unwrap_err(),
            TelephonyError::BadSignature
        );
        assert_eq!(
            verify_event(&c, |_| None, "", body, 0).unwrap_err(),
            TelephonyError::BadSignature
        );
    }
}
