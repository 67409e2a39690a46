//! A-N8 Actions: `http_request` (call a partner's HTTP API with templated
//! method, URL, headers and body; map the answer to variables),
//! `set_variables`, and the CRM actions on the run's customer (`add_tag`,
//! `remove_tag`, `update_customer`, `add_to_list`, `add_to_group`,
//! `assign_agent`), tickets (`create_ticket`, `update_ticket`), and
//! `add_to_campaign` (the customer joins an outbound call campaign, once).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{
    Effect, NodeError, NodeKind, Outcome, RunInput, ValidationContext, check_template,
    parse_settings, render,
};

pub const MAX_TIMEOUT_MS: u64 = 30_000;
pub const MAX_ATTEMPTS: u32 = 5;

/// The customer a CRM action acts on unless it names one.
const RUN_CUSTOMER: &str = "{{customer.id}}";

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Settings {
    HttpRequest(HttpSettings),
    SetVariables {
        values: BTreeMap<String, String>,
    },
    AddTag {
        tag: String,
        #[serde(default)]
        customer: Option<String>,
    },
    RemoveTag {
        tag: String,
        #[serde(default)]
        customer: Option<String>,
    },
    AddToList {
        list: String,
        #[serde(default)]
        customer: Option<String>,
    },
    AddToGroup {
        group: String,
        #[serde(default)]
        customer: Option<String>,
    },
    AssignAgent {
        agent: String,
        #[serde(default)]
        customer: Option<String>,
    },
    UpdateCustomer {
        values: BTreeMap<String, String>,
        #[serde(default)]
        customer: Option<String>,
    },
    CreateTicket {
        title: String,
        #[serde(default)]
        note: Option<String>,
        #[serde(default)]
        priority: Option<String>,
        #[serde(default)]
        customer: Option<String>,
    },
    UpdateTicket {
        ticket: String,
        values: BTreeMap<String, String>,
    },
    /// The customer joins a call campaign (B-2); a customer already in it
    /// is not added twice.
    AddToCampaign {
        campaign: String,
        #[serde(default)]
        customer: Option<String>,
    },
}

/// A change to a business object, carried out by `node-action` in the
/// workspace's store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrmChange {
    pub op: CrmOp,
    /// The customer or ticket acted on (none for a new ticket).
    pub target: Option<String>,
    /// Rendered fields: the tag, list, values, ticket fields.
    pub fields: Map<String, Value>,
    /// New tickets take their id from it, so a replayed step creates one.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrmOp {
    AddTag,
    RemoveTag,
    AddToList,
    AddToGroup,
    SetCustomer,
    CreateTicket,
    UpdateTicket,
    AddToCampaign,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    #[serde(default = "default_method")]
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Attempts in all, retrying 5xx answers and timeouts with backoff.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Variable → where to read it in the answer: `status`,
    /// `body.<path>`, `headers.<name>`.
    #[serde(default)]
    pub response: BTreeMap<String, String>,
}

fn default_method() -> String {
    "POST".into()
}
fn default_timeout() -> u64 {
    10_000
}
fn default_attempts() -> u32 {
    3
}

/// A partner call, rendered for one run, carried out by `node-action`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpCall {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout_ms: u64,
    pub max_attempts: u32,
    /// Sent as `Idempotency-Key`, so a retried step is not applied twice.
    pub idempotency_key: String,
    pub response: BTreeMap<String, String>,
}

/// Renders a CRM action into its change.
fn crm(
    op: CrmOp,
    target: Option<String>,
    fields: &[(&str, &String)],
    input: &RunInput<'_>,
    settings: &Value,
) -> Result<Outcome, NodeError> {
    let target = match op {
        CrmOp::CreateTicket => None,
        _ => {
            let template = target.as_deref().unwrap_or(RUN_CUSTOMER);
            let id = render("settings.customer", template, input.context)?;
            if id.trim().is_empty() {
                return Err(NodeError::new("this run has no customer to act on"));
            }
            Some(id)
        }
    };
    let mut rendered = Map::new();
    for (name, template) in fields {
        rendered.insert(
            (*name).to_string(),
            Value::String(render(
                &format!("settings.{name}"),
                template,
                input.context,
            )?),
        );
    }
    let change = CrmChange {
        op,
        target,
        fields: rendered,
        idempotency_key: input.idempotency_key.to_string(),
    };
    let _ = settings;
    Ok(Outcome {
        port: "next".into(),
        rendered: serde_json::to_value(&change).unwrap_or_default(),
        effects: vec![Effect::Crm(change)],
        ..Default::default()
    })
}

/// Reads the mapped variables out of a partner's final answer.
pub fn map_response(
    call: &HttpCall,
    status: u16,
    headers: &[(String, String)],
    body: &str,
) -> Result<Map<String, Value>, NodeError> {
    if !(200..300).contains(&status) {
        return Err(NodeError::new(format!(
            "{} {} answered {status}: {}",
            call.method,
            call.url,
            body.chars().take(200).collect::<String>()
        )));
    }
    let body_json: Value = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
    let mut patch = Map::new();
    for (variable, source) in &call.response {
        let value = if source == "status" {
            json!(status)
        } else if let Some(path) = source.strip_prefix("body") {
            path.split('.')
                .filter(|p| !p.is_empty())
                .try_fold(&body_json, |v, key| match v {
                    Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                    other => other.get(key),
                })
                .cloned()
                .unwrap_or(Value::Null)
        } else if let Some(name) = source.strip_prefix("headers.") {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| json!(v))
                .unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        patch.insert(variable.clone(), value);
    }
    Ok(patch)
}

/// Checks a partner host pattern: `api.shop.vn`, `*.haravan.com`, or
/// `127.0.0.1` (any port), with an optional `:port`.
pub fn valid_host_pattern(pattern: &str) -> bool {
    let (host, port) = pattern
        .rsplit_once(':')
        .map_or((pattern, None), |(h, p)| (h, Some(p)));
    let host = host.strip_prefix("*.").unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && port.is_none_or(|p| p.parse::<u16>().is_ok())
}

/// Whether `url`'s host is one the workspace allowed for partner calls.
pub fn host_allowed(patterns: &[String], url: &str) -> bool {
    let Some(rest) = url.split_once("://").map(|(_, r)| r) else {
        return false;
    };
    let authority = rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .rsplit('@')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => {
            (h.to_string(), Some(p.to_string()))
        }
        _ => (authority.clone(), None),
    };
    patterns.iter().any(|pattern| {
        let pattern = pattern.to_ascii_lowercase();
        let (p_host, p_port) = pattern
            .rsplit_once(':')
            .map_or((pattern.as_str(), None), |(h, p)| (h, Some(p)));
        let host_ok = match p_host.strip_prefix("*.") {
            Some(suffix) => host.ends_with(&format!(".{suffix}")),
            None => host == p_host,
        };
        host_ok && p_port.is_none_or(|p| port.as_deref() == Some(p))
    })
}

/// Whether an answer is worth another attempt.
pub fn retryable(status: Option<u16>) -> bool {
    status.is_none_or(|s| s >= 500 || s == 429)
}

/// Backoff before attempt `n` (1-based, n ≥ 2): 0.5 s, 1 s, 2 s, …
pub fn backoff_ms(attempt: u32) -> u64 {
    500u64.saturating_mul(1 << attempt.saturating_sub(2).min(6))
}

pub struct ActionNode;

impl NodeKind for ActionNode {
    fn kind(&self) -> &'static str {
        "action"
    }

    fn describe(&self) -> Value {
        json!({
            "type": "action",
            "spec": "A-N8",
            "ports": ["next"],
            "actions": {
                "http_request": { "method": "GET|POST|PUT|PATCH|DELETE", "url": "template", "headers": {"name": "template"}, "body": "template", "timeout_ms": format!("1..{MAX_TIMEOUT_MS}"), "max_attempts": format!("1..{MAX_ATTEMPTS}"), "response": {"variable": "status | body.<path> | headers.<name>"} },
                "set_variables": { "values": {"variable": "template"} }
            },
        })
    }

    fn ports(&self, _settings: &Value) -> Vec<String> {
        vec!["next".into()]
    }

    fn validate(&self, settings: &Value, ctx: &ValidationContext<'_>) -> Vec<(String, String)> {
        let s: Settings = match parse_settings(settings) {
            Ok(s) => s,
            Err(problem) => return vec![problem],
        };
        let mut problems = Vec::new();
        match &s {
            Settings::HttpRequest(h) => {
                if !["GET", "POST", "PUT", "PATCH", "DELETE"]
                    .contains(&h.method.to_ascii_uppercase().as_str())
                {
                    problems.push((
                        "settings.method".into(),
                        format!("{:?} is not GET, POST, PUT, PATCH or DELETE", h.method),
                    ));
                }
                if !(h.url.starts_with("https://") || h.url.starts_with("http://")) {
                    problems.push((
                        "settings.url".into(),
                        "must start with https:// or http://".into(),
                    ));
                }
                problems.extend(check_template("settings.url", &h.url, ctx.types));
                for (name, value) in &h.headers {
                    problems.extend(check_template(
                        &format!("settings.headers.{name}"),
                        value,
                        ctx.types,
                    ));
                }
                if let Some(body) = &h.body {
                    problems.extend(check_template("settings.body", body, ctx.types));
                }
                if h.timeout_ms == 0 || h.timeout_ms > MAX_TIMEOUT_MS {
                    problems.push((
                        "settings.timeout_ms".into(),
                        format!("must be 1 to {MAX_TIMEOUT_MS}"),
                    ));
                }
                if h.max_attempts == 0 || h.max_attempts > MAX_ATTEMPTS {
                    problems.push((
                        "settings.max_attempts".into(),
                        format!("must be 1 to {MAX_ATTEMPTS}"),
                    ));
                }
                for (variable, source) in &h.response {
                    if !(source == "status"
                        || source == "body"
                        || source.starts_with("body.")
                        || source.starts_with("headers."))
                    {
                        problems.push((
                            format!("settings.response.{variable}"),
                            format!("{source:?}: read `status`, `body.<path>` or `headers.<name>`"),
                        ));
                    }
                }
            }
            Settings::SetVariables { values } => {
                if values.is_empty() {
                    problems.push(("settings.values".into(), "set at least one variable".into()));
                }
                for (name, value) in values {
                    problems.extend(check_template(
                        &format!("settings.values.{name}"),
                        value,
                        ctx.types,
                    ));
                }
            }
            Settings::AddTag {
                tag: name,
                customer,
            }
            | Settings::RemoveTag {
                tag: name,
                customer,
            }
            | Settings::AddToList {
                list: name,
                customer,
            }
            | Settings::AddToGroup {
                group: name,
                customer,
            }
            | Settings::AssignAgent {
                agent: name,
                customer,
            } => {
                let field = ["tag", "list", "group", "agent"]
                    .into_iter()
                    .find(|f| settings.get(*f).is_some())
                    .unwrap_or("tag");
                if name.trim().is_empty() {
                    problems.push((format!("settings.{field}"), "must not be empty".into()));
                }
                problems.extend(check_template(
                    &format!("settings.{field}"),
                    name,
                    ctx.types,
                ));
                problems.extend(check_template(
                    "settings.customer",
                    customer.as_deref().unwrap_or(RUN_CUSTOMER),
                    ctx.types,
                ));
            }
            Settings::UpdateCustomer { values, customer } => {
                if values.is_empty() {
                    problems.push((
                        "settings.values".into(),
                        "change at least one attribute".into(),
                    ));
                }
                for (name, value) in values {
                    problems.extend(check_template(
                        &format!("settings.values.{name}"),
                        value,
                        ctx.types,
                    ));
                }
                problems.extend(check_template(
                    "settings.customer",
                    customer.as_deref().unwrap_or(RUN_CUSTOMER),
                    ctx.types,
                ));
            }
            Settings::CreateTicket {
                title,
                note,
                priority,
                customer,
            } => {
                problems.extend(check_template("settings.title", title, ctx.types));
                for (field, text) in [
                    ("note", note),
                    ("priority", priority),
                    ("customer", customer),
                ] {
                    if let Some(t) = text {
                        problems.extend(check_template(&format!("settings.{field}"), t, ctx.types));
                    }
                }
            }
            Settings::AddToCampaign { campaign, customer } => {
                if campaign.trim().is_empty() {
                    problems.push(("settings.campaign".into(), "name the campaign".into()));
                }
                problems.extend(check_template("settings.campaign", campaign, ctx.types));
                problems.extend(check_template(
                    "settings.customer",
                    customer.as_deref().unwrap_or(RUN_CUSTOMER),
                    ctx.types,
                ));
            }
            Settings::UpdateTicket { ticket, values } => {
                problems.extend(check_template("settings.ticket", ticket, ctx.types));
                for (name, value) in values {
                    problems.extend(check_template(
                        &format!("settings.values.{name}"),
                        value,
                        ctx.types,
                    ));
                }
            }
        }
        problems
    }

    fn execute(&self, settings: &Value, input: &RunInput<'_>) -> Result<Outcome, NodeError> {
        let s: Settings =
            parse_settings(settings).map_err(|(f, m)| NodeError::new(format!("{f}: {m}")))?;
        match s {
            Settings::SetVariables { values } => {
                let mut patch = Map::new();
                for (name, template) in &values {
                    patch.insert(
                        name.clone(),
                        Value::String(render(
                            &format!("settings.values.{name}"),
                            template,
                            input.context,
                        )?),
                    );
                }
                Ok(Outcome {
                    port: "next".into(),
                    rendered: json!({ "action": "set_variables", "values": patch }),
                    patch,
                    ..Default::default()
                })
            }
            Settings::AddTag { tag, customer } => {
                crm(CrmOp::AddTag, customer, &[("tag", &tag)], input, settings)
            }
            Settings::RemoveTag { tag, customer } => crm(
                CrmOp::RemoveTag,
                customer,
                &[("tag", &tag)],
                input,
                settings,
            ),
            Settings::AddToList { list, customer } => crm(
                CrmOp::AddToList,
                customer,
                &[("list", &list)],
                input,
                settings,
            ),
            Settings::AddToGroup { group, customer } => crm(
                CrmOp::AddToGroup,
                customer,
                &[("group", &group)],
                input,
                settings,
            ),
            Settings::AssignAgent { agent, customer } => crm(
                CrmOp::SetCustomer,
                customer,
                &[("responsible_agent", &agent)],
                input,
                settings,
            ),
            Settings::UpdateCustomer { values, customer } => {
                let pairs: Vec<(&str, &String)> =
                    values.iter().map(|(k, v)| (k.as_str(), v)).collect();
                crm(CrmOp::SetCustomer, customer, &pairs, input, settings)
            }
            Settings::CreateTicket {
                title,
                note,
                priority,
                customer,
            } => {
                let mut pairs: Vec<(&str, &String)> = vec![("title", &title)];
                pairs.extend(note.as_ref().map(|n| ("note", n)));
                pairs.extend(priority.as_ref().map(|p| ("priority", p)));
                let mut outcome = crm(CrmOp::CreateTicket, None, &pairs, input, settings)?;
                if let Some(Effect::Crm(change)) = outcome.effects.first_mut() {
                    change.target = None;
                    let who = render(
                        "settings.customer",
                        customer.as_deref().unwrap_or(RUN_CUSTOMER),
                        input.context,
                    )
                    .ok()
                    .filter(|c| !c.is_empty());
                    if let Some(who) = who {
                        change
                            .fields
                            .insert("customer_id".into(), Value::String(who));
                    }
                }
                Ok(outcome)
            }
            Settings::AddToCampaign { campaign, customer } => crm(
                CrmOp::AddToCampaign,
                customer,
                &[("campaign", &campaign)],
                input,
                settings,
            ),
            Settings::UpdateTicket { ticket, values } => {
                let pairs: Vec<(&str, &String)> =
                    values.iter().map(|(k, v)| (k.as_str(), v)).collect();
                crm(CrmOp::UpdateTicket, Some(ticket), &pairs, input, settings)
            }
            Settings::HttpRequest(h) => {
                let url = render("settings.url", &h.url, input.context)?;
                let headers = h
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            render(&format!("settings.headers.{k}"), v, input.context)?,
                        ))
                    })
                    .collect::<Result<Vec<_>, NodeError>>()?;
                let body = h
                    .body
                    .as_deref()
                    .map(|b| render("settings.body", b, input.context))
                    .transpose()?;
                let call = HttpCall {
                    method: h.method.to_ascii_uppercase(),
                    url,
                    headers,
                    body,
                    timeout_ms: h.timeout_ms,
                    max_attempts: h.max_attempts,
                    idempotency_key: input.idempotency_key.to_string(),
                    response: h.response,
                };
                Ok(Outcome {
                    port: "next".into(),
                    rendered: serde_json::to_value(&call).unwrap_or_default(),
                    effects: vec![Effect::Http(call)],
                    ..Default::default()
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn input(context: &Value) -> RunInput<'_> {
        RunInput {
            context,
            now: Utc::now(),
            random: 0.5,
            idempotency_key: "run-1:3",
        }
    }

    #[test]
    fn http_request_renders_templates_and_carries_the_step_key() {
        // SPEC A-N8
        let ctx = json!({"order": {"id": "DH01"}, "customer": {"phone": "84912345678"}});
        let o = ActionNode
            .execute(
                &json!({"action": "http_request", "url": "https://shop.vn/orders/{{order.id}}", "body": "{\"phone\":\"{{customer.phone}}\"}", "response": {"ma": "body.data.code"}}),
                &input(&ctx),
            )
            .unwrap();
        let Effect::Http(call) = &o.effects[0] else {
            panic!("an HTTP call")
        };
        assert_eq!(call.url, "https://shop.vn/orders/DH01");
        assert_eq!(call.body.as_deref(), Some("{\"phone\":\"84912345678\"}"));
        assert_eq!(call.idempotency_key, "run-1:3");
        let patch = map_response(call, 200, &[], r#"{"data":{"code":"X9"}}"#).unwrap();
        assert_eq!(patch["ma"], "X9");
        assert!(map_response(call, 404, &[], "nope").is_err());
    }

    #[test]
    fn a_missing_variable_fails_the_step_with_its_name() {
        // SPEC A-V
        let err = ActionNode
            .execute(
                &json!({"action": "set_variables", "values": {"x": "{{customer.name}}"}}),
                &input(&json!({})),
            )
            .unwrap_err();
        assert!(err.message.contains("customer.name"), "{}", err.message);
    }

    #[test]
    fn retries_only_server_errors_timeouts_and_throttling_with_growing_backoff() {
        // SPEC A-N8
        assert!(retryable(None) && retryable(Some(503)) && retryable(Some(429)));
        assert!(!retryable(Some(400)) && !retryable(Some(200)));
        assert_eq!(
            (backoff_ms(2), backoff_ms(3), backoff_ms(4)),
            (500, 1000, 2000)
        );
    }

    #[test]
    fn partner_calls_go_only_to_hosts_the_workspace_allowed() {
        // SPEC A-N8
        let allowed = vec![
            "api.shop.vn".to_string(),
            "*.haravan.com".to_string(),
            "127.0.0.1:8080".to_string(),
        ];
        assert!(host_allowed(&allowed, "https://api.shop.vn/orders/1"));
        assert!(
            host_allowed(&allowed, "https://api.shop.vn:8443/x"),
            "no port in the pattern: any port"
        );
        assert!(host_allowed(&allowed, "https://apis.haravan.com/x"));
        assert!(!host_allowed(&allowed, "https://haravan.com/x"));
        assert!(!host_allowed(&allowed, "https://evil.vn/?next=api.shop.vn"));
        assert!(!host_allowed(&allowed, "https://api.shop.vn.evil.vn/"));
        assert!(!host_allowed(&allowed, "http://user@evil.vn/"));
        assert!(host_allowed(&allowed, "http://127.0.0.1:8080/hook"));
        assert!(!host_allowed(&allowed, "http://127.0.0.1:9090/hook"));
        assert!(valid_host_pattern("*.haravan.com") && valid_host_pattern("127.0.0.1:8080"));
        assert!(
            !valid_host_pattern("https://x.vn")
                && !valid_host_pattern("a..b")
                && !valid_host_pattern("x:port")
        );
    }

    #[test]
    fn add_to_campaign_renders_the_campaign_for_the_runs_customer() {
        // SPEC A-N8, SPEC B-2
        let types = crate::schema::VariableTypes::default();
        let ctx = ValidationContext {
            types: &types,
            now: Utc::now(),
        };
        let blank =
            ActionNode.validate(&json!({"action": "add_to_campaign", "campaign": " "}), &ctx);
        assert_eq!(blank[0].0, "settings.campaign");
        let context = json!({"customer": {"id": "cu-1"}, "camp": "c-9"});
        let out = ActionNode
            .execute(
                &json!({"action": "add_to_campaign", "campaign": "{{camp}}"}),
                &input(&context),
            )
            .unwrap();
        let Some(Effect::Crm(change)) = out.effects.first() else {
            panic!("{out:?}")
        };
        assert_eq!(change.op, CrmOp::AddToCampaign);
        assert_eq!(change.target.as_deref(), Some("cu-1"));
        assert_eq!(change.fields["campaign"], "c-9");
    }

    #[test]
    fn crm_actions_render_into_changes_on_the_runs_customer() {
        // SPEC A-N8
        let ctx = json!({"customer": {"id": "c-1", "name": "Lan"}, "order": {"total": 5}});
        let o = ActionNode
            .execute(
                &json!({"action": "add_tag", "tag": "VIP-{{order.total}}"}),
                &input(&ctx),
            )
            .unwrap();
        let Effect::Crm(change) = &o.effects[0] else {
            panic!("a CRM change")
        };
        assert_eq!(
            (
                change.op,
                change.target.as_deref(),
                change.fields["tag"].as_str()
            ),
            (CrmOp::AddTag, Some("c-1"), Some("VIP-5"))
        );
        let t = ActionNode
            .execute(
                &json!({"action": "create_ticket", "title": "Gọi lại {{customer.name}}"}),
                &input(&ctx),
            )
            .unwrap();
        let Effect::Crm(ticket) = &t.effects[0] else {
            panic!("a CRM change")
        };
        assert_eq!(
            (ticket.op, ticket.target.as_deref()),
            (CrmOp::CreateTicket, None)
        );
        assert_eq!(ticket.fields["customer_id"], "c-1");
        assert_eq!(ticket.idempotency_key, "run-1:3");
        assert!(
            ActionNode
                .execute(
                    &json!({"action": "add_tag", "tag": "x"}),
                    &input(&json!({}))
                )
                .is_err(),
            "no customer in the run"
        );
        let types = crate::schema::VariableTypes::default();
        let vctx = ValidationContext {
            types: &types,
            now: Utc::now(),
        };
        let p = ActionNode.validate(&json!({"action": "add_tag", "tag": "VIP"}), &vctx);
        assert_eq!(
            p[0].0, "settings.customer",
            "a flow without a customer cannot tag one"
        );
    }
}
