//! Campaign reports (SPEC B-4): attempts, contacts, talk time, dial
//! results per customer, and the abandon rate over the last 24 hours and
//! 30 days that B-D pacing keeps under the cap.

use careflow_api::ApiError;
use careflow_store::{Db, SqlValue};
use serde_json::{Map, Value, json};

use crate::campaigns;

/// Abandoned / (answered by the customer) for calls placed since
/// `since_ms`; `None` before any customer answered.
pub fn abandon_rate(db: &impl Db, campaign: &str, since_ms: i64) -> Result<Option<f64>, ApiError> {
    let rows = db.execute(
        "SELECT count(*) FILTER (WHERE result = 'abandoned') AS abandoned, count(*) FILTER (WHERE answered_ms IS NOT NULL AND leg = 'customer') AS answered FROM calls WHERE campaign_id = ? AND placed_ms >= ?",
        &[campaign.into(), SqlValue::Integer(since_ms)],
    )?;
    let row = rows.first();
    let answered = row.as_ref().and_then(|r| r.int("answered")).unwrap_or(0);
    let abandoned = row.as_ref().and_then(|r| r.int("abandoned")).unwrap_or(0);
    Ok((answered > 0).then(|| abandoned as f64 / answered as f64))
}

fn grouped(db: &impl Db, sql: &str, campaign: &str) -> Result<Map<String, Value>, ApiError> {
    let rows = db.execute(sql, &[campaign.into()])?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.text("k").unwrap_or_else(|| "none".into()),
                json!(r.int("n").unwrap_or(0)),
            )
        })
        .collect())
}

pub fn report(
    db: &impl Db,
    workspace: &str,
    campaign: &str,
    now_ms: i64,
) -> Result<Value, ApiError> {
    campaigns::load(db, workspace, campaign)?;
    let totals = db.execute(
        "SELECT count(*) FILTER (WHERE state <> 'previewing' AND leg = 'customer' AND COALESCE(result, '') <> 'skipped') AS attempts, count(DISTINCT campaign_customer_id) FILTER (WHERE result = 'answered' AND leg = 'customer') AS contacts, COALESCE(SUM(talk_seconds), 0) AS talk, count(*) FILTER (WHERE state NOT IN ('ended', 'previewing')) AS live FROM calls WHERE campaign_id = ?",
        &[campaign.into()],
    )?;
    let t = totals.first();
    let int = |k: &str| t.as_ref().and_then(|r| r.int(k)).unwrap_or(0);
    Ok(json!({
        "campaign_id": campaign,
        "attempts": int("attempts"),
        "contacts": int("contacts"),
        "talk_seconds": int("talk"),
        "live_calls": int("live"),
        "results": grouped(db, "SELECT result AS k, count(*) AS n FROM calls WHERE campaign_id = ? AND state = 'ended' AND leg = 'customer' GROUP BY result", campaign)?,
        "customers": grouped(db, "SELECT state AS k, count(*) AS n FROM campaign_customers WHERE campaign_id = ? GROUP BY state", campaign)?,
        "customer_results": grouped(db, "SELECT last_result AS k, count(*) AS n FROM campaign_customers WHERE campaign_id = ? AND last_result IS NOT NULL GROUP BY last_result", campaign)?,
        "abandon_rate": {
            "last_24h": abandon_rate(db, campaign, now_ms - 86_400_000)?,
            "last_30d": abandon_rate(db, campaign, now_ms - 30 * 86_400_000)?,
        },
    }))
}
