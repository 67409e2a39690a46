//! Connected partner accounts (A-T5a): which workspace an incoming
//! partner event belongs to, the secret that signs it, and the flows it
//! starts.

use careflow_api::ApiError;
use careflow_flow::TriggerKind;
use careflow_flow::partner::PartnerKind;
use careflow_store::Db;
use serde::{Deserialize, Serialize};

use crate::Clock;
use crate::flows::{self, Live};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connect {
    pub kind: String,
    /// The OA id (Zalo) or the shop's org id (Haravan).
    pub account_id: String,
    /// Zalo's app id (part of the signature); empty for Haravan.
    #[serde(default)]
    pub app_id: String,
    /// The OA secret key / the shop's webhook secret. Never shown again.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub id: String,
    pub kind: String,
    pub account_id: String,
    pub app_id: String,
    pub created_at: String,
    /// The URL to give the partner for its events.
    pub events_url: String,
}

pub fn connect(
    db: &impl Db,
    clock: &mut impl Clock,
    workspace: &str,
    input: Connect,
) -> Result<Connection, ApiError> {
    let kind = PartnerKind::parse(&input.kind).ok_or_else(|| {
        ApiError::validation(
            "kind",
            "a partner careflow connects: \"zalo\" or \"haravan\"",
        )
    })?;
    let account = input.account_id.trim();
    if account.is_empty() || account.len() > 100 {
        return Err(ApiError::validation(
            "account_id",
            "give the partner account's id",
        ));
    }
    if input.secret.trim().len() < 8 {
        return Err(ApiError::validation(
            "secret",
            "the partner's secret key (8 characters or more)",
        ));
    }
    if kind == PartnerKind::Zalo && input.app_id.trim().is_empty() {
        return Err(ApiError::validation(
            "app_id",
            "Zalo events are signed with the app id; give it",
        ));
    }
    let taken = db.execute(
        "SELECT workspace_id FROM partner_connections WHERE kind = ? AND account_id = ?",
        &[kind.as_str().into(), account.into()],
    )?;
    if taken.first().is_some() {
        return Err(
            ApiError::conflict("this partner account is already connected")
                .with_field("account_id"),
        );
    }
    let id = clock.new_id();
    let now = clock.now_text();
    db.execute(
        "INSERT INTO partner_connections (id, workspace_id, kind, account_id, app_id, secret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        &[id.as_str().into(), workspace.into(), kind.as_str().into(), account.into(), input.app_id.trim().into(), input.secret.trim().into(), now.as_str().into()],
    )?;
    Ok(Connection {
        id,
        kind: kind.as_str().into(),
        account_id: account.into(),
        app_id: input.app_id.trim().into(),
        created_at: now,
        events_url: format!("/partners/{}/events", kind.as_str()),
    })
}

pub fn list(db: &impl Db, workspace: &str) -> Result<Vec<Connection>, ApiError> {
    let rows = db.execute("SELECT id, kind, account_id, app_id, created_at FROM partner_connections WHERE workspace_id = ? ORDER BY created_at", &[workspace.into()])?;
    Ok(rows
        .iter()
        .map(|r| {
            let kind = r.text("kind").unwrap_or_default();
            Connection {
                id: r.text("id").unwrap_or_default(),
                events_url: format!("/partners/{kind}/events"),
                kind,
                account_id: r.text("account_id").unwrap_or_default(),
                app_id: r.text("app_id").unwrap_or_default(),
                created_at: r.text("created_at").unwrap_or_default(),
            }
        })
        .collect())
}

/// The connection an event is for: (workspace, app id, secret).
pub fn find(
    db: &impl Db,
    kind: PartnerKind,
    account_id: &str,
) -> Result<(String, String, String), ApiError> {
    let rows = db.execute("SELECT workspace_id, app_id, secret FROM partner_connections WHERE kind = ? AND account_id = ?", &[kind.as_str().into(), account_id.into()])?;
    let row = rows.first().ok_or_else(|| {
        ApiError::not_found(format!(
            "no workspace has connected {} account {account_id}",
            kind.as_str()
        ))
    })?;
    Ok((
        row.text("workspace_id").unwrap_or_default(),
        row.text("app_id").unwrap_or_default(),
        row.text("secret").unwrap_or_default(),
    ))
}

/// The enabled flows of `workspace` that start from this partner event.
pub fn flows_for(
    db: &impl Db,
    workspace: &str,
    kind: PartnerKind,
    event_type: &str,
) -> Result<Vec<Live>, ApiError> {
    Ok(
        flows::live_with_trigger(db, workspace, TriggerKind::Partner)?
            .into_iter()
            .filter(|flow| {
                let settings = &flow.flow.trigger.settings;
                settings.get("partner").and_then(|p| p.as_str()) == Some(kind.as_str())
                    && settings
                        .get("events")
                        .and_then(|e| e.as_array())
                        .is_some_and(|e| e.iter().any(|x| x.as_str() == Some(event_type)))
            })
            .collect(),
    )
}

/// Most partner host patterns a workspace keeps.
pub const MAX_ALLOWED_HOSTS: usize = 100;

/// The hosts this workspace's flows may call (A-N8 `http_request`).
pub fn allowed_hosts(db: &impl Db, workspace: &str) -> Result<Vec<String>, ApiError> {
    let rows = db.execute(
        "SELECT pattern FROM workspace_allowed_hosts WHERE workspace_id = ? ORDER BY pattern",
        &[workspace.into()],
    )?;
    Ok(rows.iter().filter_map(|r| r.text("pattern")).collect())
}

/// Replaces the workspace's allowed partner hosts.
pub fn set_allowed_hosts(
    db: &impl Db,
    workspace: &str,
    hosts: &[String],
) -> Result<Vec<String>, ApiError> {
    if hosts.len() > MAX_ALLOWED_HOSTS {
        return Err(ApiError::validation(
            "hosts",
            format!("at most {MAX_ALLOWED_HOSTS} hosts"),
        ));
    }
    for (i, host) in hosts.iter().enumerate() {
        if !careflow_flow::nodes::action::valid_host_pattern(host.trim()) {
            return Err(ApiError::validation(
                format!("hosts[{i}]"),
                format!(
                    "{host:?} is not a host such as api.shop.vn, *.haravan.com or 10.0.0.5:8080"
                ),
            ));
        }
    }
    db.transaction(|db| {
        db.execute("DELETE FROM workspace_allowed_hosts WHERE workspace_id = ?", &[workspace.into()])?;
        for host in hosts {
            db.execute(
                "INSERT OR IGNORE INTO workspace_allowed_hosts (workspace_id, pattern) VALUES (?, ?)",
                &[workspace.into(), host.trim().to_ascii_lowercase().into()],
            )?;
        }
        allowed_hosts(db, workspace)
    })
}
