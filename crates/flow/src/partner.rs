//! A-T5a connected partners: events from a partner account the workspace
//! connected, each with the partner's predefined event types and
//! attributes, signatures verified, retries deduplicated.
//!
//! - Zalo OA: `X-ZEvent-Signature: mac=<sha256(app_id + body + timestamp +
//!   OA secret key)>`; events `follow`, `unfollow`, `user_send_text`,
//!   `user_send_image`, `user_send_sticker`, `user_submit_info`,
//!   `user_click_button`, …
//! - Haravan (e-commerce): `X-Haravan-Hmacsha256: base64(HMAC-SHA256(secret,
//!   body))`, the shop in `X-Haravan-Org-Id`, the event in
//!   `X-Haravan-Topic` (`orders/create`, `orders/paid`, `customers/create`, …).

use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::webhook::bind_known_objects;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerKind {
    Zalo,
    Haravan,
}

impl PartnerKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "zalo" => Some(Self::Zalo),
            "haravan" => Some(Self::Haravan),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zalo => "zalo",
            Self::Haravan => "haravan",
        }
    }

    /// The event types a flow may start from, with the attributes each binds.
    pub fn events(self) -> &'static [(&'static str, &'static [&'static str])] {
        match self {
            Self::Zalo => &[
                ("follow", &["zalo.user_id", "zalo.oa_id", "zalo.source"]),
                ("unfollow", &["zalo.user_id", "zalo.oa_id"]),
                (
                    "user_send_text",
                    &["zalo.user_id", "zalo.text", "zalo.msg_id"],
                ),
                (
                    "user_send_image",
                    &["zalo.user_id", "zalo.attachments", "zalo.msg_id"],
                ),
                ("user_send_sticker", &["zalo.user_id", "zalo.msg_id"]),
                (
                    "user_send_location",
                    &["zalo.user_id", "zalo.attachments", "zalo.msg_id"],
                ),
                (
                    "user_click_button",
                    &["zalo.user_id", "zalo.text", "zalo.msg_id"],
                ),
                (
                    "user_submit_info",
                    &[
                        "zalo.user_id",
                        "customer.name",
                        "customer.phone",
                        "customer.address",
                        "customer.city",
                    ],
                ),
            ],
            Self::Haravan => &[
                (
                    "orders/create",
                    &[
                        "order.id",
                        "order.total",
                        "order.code",
                        "order.items",
                        "customer.name",
                        "customer.phone",
                    ],
                ),
                (
                    "orders/paid",
                    &[
                        "order.id",
                        "order.total",
                        "order.code",
                        "customer.name",
                        "customer.phone",
                    ],
                ),
                (
                    "orders/cancelled",
                    &[
                        "order.id",
                        "order.total",
                        "order.code",
                        "customer.name",
                        "customer.phone",
                    ],
                ),
                (
                    "customers/create",
                    &[
                        "customer.id",
                        "customer.name",
                        "customer.phone",
                        "customer.email",
                    ],
                ),
            ],
        }
    }
}

/// A received event, verified and normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerEvent {
    /// The partner account it belongs to (OA id, shop id).
    pub account_id: String,
    pub event_type: String,
    /// Bound variables: `zalo.*` / `order` / `customer`, plus `event`.
    pub data: Map<String, Value>,
    /// Identical deliveries share it, so retries start one run.
    pub dedupe_key: String,
}

/// Reads the account an event is for, before its signature can be checked.
pub fn account_of(
    kind: PartnerKind,
    header: &dyn Fn(&str) -> Option<String>,
    body: &Value,
) -> Option<String> {
    match kind {
        PartnerKind::Zalo => body
            .pointer("/recipient/id")
            .or_else(|| body.get("oa_id"))
            .and_then(|v| {
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| v.as_u64().map(|n| n.to_string()))
            }),
        PartnerKind::Haravan => header("x-haravan-org-id"),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the delivery's signature with the connection's secret.
pub fn verify(
    kind: PartnerKind,
    header: &dyn Fn(&str) -> Option<String>,
    raw: &[u8],
    body: &Value,
    app_id: &str,
    secret: &str,
) -> Result<(), String> {
    match kind {
        PartnerKind::Zalo => {
            let given = header("x-zevent-signature").ok_or("missing X-ZEvent-Signature")?;
            let given = given
                .trim()
                .strip_prefix("mac=")
                .unwrap_or(given.trim())
                .to_ascii_lowercase();
            let timestamp = body
                .get("timestamp")
                .map(|t| {
                    t.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| t.to_string())
                })
                .unwrap_or_default();
            let mut hasher = Sha256::new();
            hasher.update(app_id.as_bytes());
            hasher.update(raw);
            hasher.update(timestamp.as_bytes());
            hasher.update(secret.as_bytes());
            let expected = hex::encode(hasher.finalize());
            if constant_time_eq(expected.as_bytes(), given.as_bytes()) {
                Ok(())
            } else {
                Err("X-ZEvent-Signature does not match".into())
            }
        }
        PartnerKind::Haravan => {
            let given = header("x-haravan-hmacsha256").ok_or("missing X-Haravan-Hmacsha256")?;
            let mut mac =
                Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|e| e.to_string())?;
            mac.update(raw);
            use base64::Engine as _;
            let expected =
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
            if constant_time_eq(expected.as_bytes(), given.trim().as_bytes()) {
                Ok(())
            } else {
                Err("X-Haravan-Hmacsha256 does not match".into())
            }
        }
    }
}

fn text(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(Value::Number(n)) => Value::String(n.to_string()),
        _ => Value::Null,
    }
}

/// Normalises a verified event.
pub fn parse(
    kind: PartnerKind,
    header: &dyn Fn(&str) -> Option<String>,
    raw: &[u8],
    body: &Value,
) -> Result<PartnerEvent, String> {
    let account_id = account_of(kind, header, body).ok_or("the event names no partner account")?;
    let mut data = Map::new();
    let event_type = match kind {
        PartnerKind::Zalo => {
            let event = body
                .get("event_name")
                .and_then(Value::as_str)
                .ok_or("missing event_name")?
                .to_string();
            let user = body
                .pointer("/sender/id")
                .or_else(|| body.pointer("/follower/id"))
                .or_else(|| body.pointer("/user_id_by_app"));
            data.insert(
                "zalo".into(),
                json!({
                    "user_id": text(user),
                    "oa_id": account_id,
                    "text": text(body.pointer("/message/text")),
                    "msg_id": text(body.pointer("/message/msg_id")),
                    "attachments": body.pointer("/message/attachments").cloned().unwrap_or(Value::Null),
                    "source": text(body.get("source")),
                }),
            );
            if let Some(info) = body.get("info").filter(|i| i.is_object()) {
                let phone = info
                    .get("phone")
                    .and_then(Value::as_str)
                    .and_then(crate::binding::normalize_phone);
                data.insert(
                    "customer".into(),
                    json!({ "name": text(info.get("name")), "phone": phone, "address": text(info.get("address")), "city": text(info.get("city")) }),
                );
            }
            event
        }
        PartnerKind::Haravan => {
            let topic = header("x-haravan-topic").ok_or("missing X-Haravan-Topic")?;
            for (name, value) in bind_known_objects(body) {
                if name != "payload" {
                    data.insert(name, value);
                }
            }
            if topic.starts_with("customers/") && !data.contains_key("customer") {
                // A customer topic's body is the customer itself.
                data.insert("customer".into(), crate::webhook::as_customer(body));
            }
            topic
        }
    };
    if !kind.events().iter().any(|(e, _)| *e == event_type) {
        return Err(format!(
            "`{event_type}` is not a {} event careflow knows",
            kind.as_str()
        ));
    }
    data.insert("event".into(), json!({ "partner": kind.as_str(), "type": event_type, "account_id": account_id, "payload": body }));
    let dedupe_key = format!("{}:{}", kind.as_str(), hex::encode(Sha256::digest(raw)));
    Ok(PartnerEvent {
        account_id,
        event_type,
        data,
        dedupe_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zalo_body() -> (Vec<u8>, Value) {
        let raw = r#"{"app_id":"360846524940903967","sender":{"id":"246845883529197922"},"recipient":{"id":"388613280878808645"},"event_name":"user_send_text","message":{"text":"Tôi muốn đặt lịch","msg_id":"96d3cdf3af150460909"},"timestamp":"1732500000000"}"#.as_bytes().to_vec();
        let v = serde_json::from_slice(&raw).unwrap();
        (raw, v)
    }

    fn zalo_mac(raw: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(b"360846524940903967");
        h.update(raw);
        h.update(b"1732500000000");
        h.update(b"oa-secret");
        format!("mac={}", hex::encode(h.finalize()))
    }

    #[test]
    fn zalo_events_are_verified_and_bound() {
        // SPEC A-T5
        let (raw, body) = zalo_body();
        let mac = zalo_mac(&raw);
        let header = |name: &str| (name == "x-zevent-signature").then(|| mac.clone());
        verify(
            PartnerKind::Zalo,
            &header,
            &raw,
            &body,
            "360846524940903967",
            "oa-secret",
        )
        .unwrap();
        assert!(
            verify(
                PartnerKind::Zalo,
                &header,
                &raw,
                &body,
                "360846524940903967",
                "wrong"
            )
            .is_err()
        );
        let tampered = String::from_utf8(raw.clone())
            .unwrap()
            .replace("đặt lịch", "hủy")
            .into_bytes();
        assert!(
            verify(
                PartnerKind::Zalo,
                &header,
                &tampered,
                &body,
                "360846524940903967",
                "oa-secret"
            )
            .is_err()
        );
        let event = parse(PartnerKind::Zalo, &header, &raw, &body).unwrap();
        assert_eq!(event.account_id, "388613280878808645");
        assert_eq!(event.event_type, "user_send_text");
        assert_eq!(event.data["zalo"]["text"], "Tôi muốn đặt lịch");
        assert_eq!(event.data["zalo"]["user_id"], "246845883529197922");
        assert_eq!(
            parse(PartnerKind::Zalo, &header, &raw, &body)
                .unwrap()
                .dedupe_key,
            event.dedupe_key
        );
    }

    #[test]
    fn haravan_orders_are_verified_by_hmac_and_bound_as_objects() {
        // SPEC A-T5
        let raw = br##"{"id":1001,"order_number":"#1001","total_price":"450000","customer":{"first_name":"An","phone":"0912345678"}}"##;
        let body: Value = serde_json::from_slice(raw).unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(b"shop-secret").unwrap();
        mac.update(raw);
        use base64::Engine as _;
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let header = |name: &str| match name {
            "x-haravan-hmacsha256" => Some(sig.clone()),
            "x-haravan-org-id" => Some("200000123".to_string()),
            "x-haravan-topic" => Some("orders/create".to_string()),
            _ => None,
        };
        verify(PartnerKind::Haravan, &header, raw, &body, "", "shop-secret").unwrap();
        assert!(verify(PartnerKind::Haravan, &header, raw, &body, "", "other").is_err());
        let event = parse(PartnerKind::Haravan, &header, raw, &body).unwrap();
        assert_eq!(event.account_id, "200000123");
        assert_eq!(event.data["order"]["total"], 450000.0);
        assert_eq!(event.data["customer"]["phone"], "84912345678");
    }

    #[test]
    fn unknown_event_types_are_refused() {
        // SPEC A-T5
        let raw = br#"{"event_name":"oa_send_text","recipient":{"id":"1"},"timestamp":"1"}"#;
        let body: Value = serde_json::from_slice(raw).unwrap();
        assert!(parse(PartnerKind::Zalo, &|_: &str| None, raw, &body).is_err());
    }
}
