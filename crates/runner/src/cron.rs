//! The cron trigger: calls each `[[trigger.cron]]` component's
//! `handle-cron-event` on its six-field schedule. The next tick is always
//! computed from the current time, so ticks missed while the process was
//! busy or a previous run was still going are skipped, not replayed.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;

use crate::app::{App, LoadedComponent};
use crate::spin_bindings::cron::fermyon::spin_cron::cron_types::Metadata;

/// Runs every cron trigger until the returned handles are aborted.
pub fn start(app: &Arc<App>) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut handles = Vec::new();
    for trigger in &app.manifest.cron {
        let schedule =
            careflow_manifest::cron::parse(&trigger.cron_expression).map_err(anyhow::Error::msg)?;
        let component = app.components[&trigger.component].clone();
        let app = app.clone();
        handles.push(tokio::spawn(async move {
            let running = Arc::new(tokio::sync::Mutex::new(()));
            loop {
                let now = Utc::now();
                let Some(next) = careflow_manifest::cron::next_after(&schedule, now) else {
                    return;
                };
                let wait = (next - now).to_std().unwrap_or_default();
                tokio::time::sleep(wait).await;
                let Ok(guard) = running.clone().try_lock_owned() else {
                    component.stderr_line("cron tick skipped: the previous tick is still running");
                    continue;
                };
                let app = app.clone();
                let component = component.clone();
                tokio::spawn(async move {
                    if let Err(e) = invoke_cron(&app, &component, next.timestamp() as u64).await {
                        component.stderr_line(&format!("cron tick failed: {e:#}"));
                    }
                    drop(guard);
                });
            }
        }));
    }
    Ok(handles)
}

/// Runs one tick of `component` in a fresh instance.
pub async fn invoke_cron(
    app: &Arc<App>,
    component: &Arc<LoadedComponent>,
    timestamp: u64,
) -> anyhow::Result<()> {
    let pre = component
        .cron
        .clone()
        .context("component has no cron handler")?;
    let mut store = app.new_store(component);
    let run = async {
        let instance = pre.instantiate_async(&mut store).await?;
        instance
            .call_handle_cron_event(&mut store, Metadata { timestamp })
            .await
    };
    match tokio::time::timeout(app.options.request_timeout, run).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(anyhow::anyhow!("component returned an error: {e:?}")),
        Ok(Err(trap)) => Err(anyhow::anyhow!("{trap:?}")),
        Err(_) => Err(anyhow::anyhow!(
            "timed out after {:?}",
            app.options.request_timeout
        )),
    }
}
