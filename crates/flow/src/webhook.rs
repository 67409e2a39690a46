//! A-T5b plain webhooks: any partner's JSON payload, with the business
//! objects careflow knows (order, customer, invoice, product, ticket) found
//! and bound under their names without any declaration. Common e-commerce
//! shapes are recognised (Shopify/Haravan/Sapo-style orders with `line_items`
//! and `total_price`, WooCommerce-style `billing`, wrapped `{"data": …}` or
//! `{"order": …}` payloads).

use serde_json::{Map, Value, json};

use crate::binding::normalize_phone;

/// The known objects found in `payload`, plus the whole payload as
/// `payload` so any attribute stays reachable.
pub fn bind_known_objects(payload: &Value) -> Map<String, Value> {
    let mut bound = Map::new();
    let body = unwrap(payload);
    for (name, keys) in [
        ("order", &["order"][..]),
        ("customer", &["customer", "buyer", "contact"][..]),
        ("invoice", &["invoice"][..]),
        ("product", &["product"][..]),
        ("ticket", &["ticket"][..]),
    ] {
        if let Some(found) = keys
            .iter()
            .find_map(|k| body.get(*k).filter(|v| v.is_object()))
        {
            bound.insert(name.into(), normalise(name, found));
        }
    }
    if !bound.contains_key("order") && looks_like_order(body) {
        bound.insert("order".into(), normalise("order", body));
    }
    if !bound.contains_key("customer") {
        let nested = bound.get("order").and_then(|o| o.get("customer")).cloned();
        if let Some(customer) = nested.filter(Value::is_object) {
            bound.insert("customer".into(), normalise("customer", &customer));
        } else if let Some(billing) = body.get("billing").filter(|b| b.is_object()) {
            bound.insert("customer".into(), normalise("customer", billing));
        }
    }
    bound.insert("payload".into(), payload.clone());
    bound
}

fn unwrap(payload: &Value) -> &Value {
    match payload.get("data") {
        Some(inner) if inner.is_object() => inner,
        _ => payload,
    }
}

fn looks_like_order(v: &Value) -> bool {
    v.get("line_items").is_some()
        || v.get("total_price").is_some()
        || v.get("order_number").is_some()
        || (v.get("total").is_some() && v.get("billing").is_some())
}

fn number(v: Option<&Value>) -> Option<Value> {
    match v? {
        Value::Number(n) => Some(Value::Number(n.clone())),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        _ => None,
    }
}

/// A partner's customer object with careflow's attribute names filled in.
pub fn as_customer(object: &Value) -> Value {
    normalise("customer", object)
}

/// Copies the object and fills careflow's attribute names from the usual
/// aliases, so `{{order.total}}` and `{{customer.phone}}` work whatever
/// the partner calls them.
fn normalise(kind: &str, object: &Value) -> Value {
    let mut out = object.as_object().cloned().unwrap_or_default();
    let first = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| object.get(*k).filter(|v| !v.is_null()).cloned())
    };
    match kind {
        "order" => {
            if let Some(total) =
                number(first(&["total", "total_price", "grand_total", "amount"]).as_ref())
            {
                out.insert("total".into(), total);
            }
            if let Some(code) = first(&["code", "order_number", "name", "number"]) {
                out.entry("code").or_insert(code);
            }
            if let Some(items) = first(&["items", "line_items"]) {
                out.entry("items").or_insert(items);
            }
            if let Some(status) = first(&["status", "financial_status"]) {
                out.entry("status").or_insert(status);
            }
        }
        "customer" => {
            if !out.contains_key("name") {
                let full = [first(&["first_name"]), first(&["last_name"])]
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect::<Vec<_>>()
                    .join(" ");
                if let Some(name) = first(&["full_name", "fullname"])
                    .or_else(|| (!full.is_empty()).then(|| json!(full)))
                {
                    out.insert("name".into(), name);
                }
            }
            if let Some(phone) = first(&["phone", "phone_number", "mobile"])
                .and_then(|p| p.as_str().and_then(normalize_phone))
            {
                out.insert("phone".into(), Value::String(phone));
            }
        }
        _ => {}
    }
    Value::Object(out)
}

/// The partner's id for this delivery, which deduplicates retries: a
/// delivery header, else the payload's own event id.
pub fn event_id(header: impl Fn(&str) -> Option<String>, payload: &Value) -> Option<String> {
    [
        "x-event-id",
        "x-webhook-id",
        "x-shopify-webhook-id",
        "x-haravan-webhook-id",
        "x-request-id",
    ]
    .iter()
    .find_map(|h| header(h))
    .or_else(|| {
        ["event_id", "webhook_id"].iter().find_map(|k| {
            payload.get(*k).and_then(|v| {
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| v.as_i64().map(|n| n.to_string()))
            })
        })
    })
    .filter(|id| !id.trim().is_empty() && id.len() <= 255)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_an_order_webhook_and_its_customer() {
        // SPEC A-T5
        let payload = json!({
            "id": 820982911946154508u64, "order_number": 1001, "total_price": "1250000.00",
            "line_items": [{"title": "Áo dài", "quantity": 1}],
            "customer": {"first_name": "Lan", "last_name": "Nguyễn", "phone": "0912 345 678"}
        });
        let bound = bind_known_objects(&payload);
        assert_eq!(bound["order"]["total"], 1250000.0);
        assert_eq!(bound["order"]["code"], 1001);
        assert_eq!(bound["customer"]["name"], "Lan Nguyễn");
        assert_eq!(bound["customer"]["phone"], "84912345678");
        assert_eq!(bound["payload"], payload);
    }

    #[test]
    fn recognises_wrapped_and_woocommerce_shapes() {
        // SPEC A-T5
        let wrapped = bind_known_objects(
            &json!({"event": "invoice.paid", "data": {"invoice": {"id": "HD1", "total": 5}}}),
        );
        assert_eq!(wrapped["invoice"]["id"], "HD1");
        assert!(!wrapped.contains_key("order"));
        let woo = bind_known_objects(
            &json!({"id": 7, "total": "99000", "billing": {"first_name": "An", "phone": "+84 912345678"}}),
        );
        assert_eq!(woo["order"]["total"], 99000.0);
        assert_eq!(woo["customer"]["phone"], "84912345678");
    }

    #[test]
    fn event_ids_come_from_delivery_headers_or_the_payload() {
        // SPEC A-T5
        let h = |name: &str| (name == "x-shopify-webhook-id").then(|| "abc".to_string());
        assert_eq!(event_id(h, &json!({})).as_deref(), Some("abc"));
        assert_eq!(
            event_id(|_| None, &json!({"event_id": 42})).as_deref(),
            Some("42")
        );
        assert_eq!(event_id(|_| None, &json!({"id": 1})), None);
    }
}
