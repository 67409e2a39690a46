//! `careflow-bench campaign-vs-sim`: one predictive campaign end to end —
//! the runner serving the app, `careflow-sim` carrying the calls in real
//! time — next to the dialer's shift simulator on the same scenario
//! (agents, answer rate, talk time, wrap-up, maximum wait, length), so the
//! simulator's pacing numbers can be trusted for the live system (B-D).

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use careflow_dialer::{Predictive, Scenario, run};
use serde_json::{Value, json};

use crate::flows::{careflow_up, http_once};
use crate::{free_port, sibling, start};

fn api(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let (status, answer) = http_once(addr, method, path, key, &body.to_string())?;
    if status >= 300 {
        bail!("{method} {path}: {status} {answer}");
    }
    Ok(answer)
}

fn millis(v: &Value) -> Option<i64> {
    v.as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis())
}

/// Occupancy, abandon rate and contacts per agent-hour of the live run.
struct Live {
    occupancy: f64,
    abandon: f64,
    contacts_per_agent_hour: f64,
    placed: usize,
}

pub fn versus_sim(
    agents: usize,
    answer_rate: f64,
    handle: f64,
    minutes: u32,
) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("careflow-campaign-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let sim_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
    let mut sim_cmd = Command::new(sibling("careflow-sim"));
    sim_cmd.args(["--listen", &sim_addr.to_string(), "--seed", "11"]);
    let _sim = start("careflow-sim", sim_cmd, sim_addr)?;
    let carrier = json!({"answer_rate": answer_rate, "busy_rate": 0.0, "voicemail_rate": 0.0, "failed_rate": 0.0,
        "ring_mean_s": 12.0, "no_answer_after_s": 25.0, "talk_mean_s": handle, "talk_sigma": 0.47});
    let (status, _) = http_once(sim_addr, "PUT", "/sim/carrier", "", &carrier.to_string())?;
    if status != 200 {
        bail!("configuring careflow-sim: {status}");
    }
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
    let sim_base = format!("http://{sim_addr}");
    let public = format!("http://{addr}");
    let _app = careflow_up(
        &dir.join("app"),
        addr,
        &[],
        &[
            ("SPIN_VARIABLE_TELEPHONY_BASE_URL", &sim_base),
            ("SPIN_VARIABLE_PUBLIC_BASE_URL", &public),
        ],
    )?;
    let created = api(
        addr,
        "POST",
        "/api/v1/workspaces",
        "bench",
        json!({"name": "Bench", "owner_email": "b@b.vn", "owner_name": "B"}),
    )?;
    let key = created["api_key"]["key"]
        .as_str()
        .context("api key")?
        .to_string();
    api(
        addr,
        "POST",
        "/api/v1/telephony/hotlines",
        &key,
        json!({"number": "02873001234"}),
    )?;
    api(
        addr,
        "PUT",
        "/api/v1/telephony/lines",
        &key,
        json!({"max_concurrent_calls": 1000}),
    )?;
    let mut ids = Vec::new();
    for i in 0..agents {
        let u = api(
            addr,
            "POST",
            "/api/v1/users",
            &key,
            json!({"email": format!("a{i}@b.vn"), "name": format!("A{i}"), "role": "agent"}),
        )?;
        ids.push(u["id"].as_str().context("user id")?.to_string());
    }
    let campaign = api(
        addr,
        "POST",
        "/api/v1/campaigns",
        &key,
        json!({
        "name": "bench", "mode": "predictive", "hotline": "02873001234",
        "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z",
        "wrap_up_seconds": 10, "max_attempts": 1, "agents": ids,
        "predictive": {"max_abandon_rate": 0.03, "max_wait_seconds": 3}}),
    )?;
    let id = campaign["id"].as_str().context("campaign id")?.to_string();
    let needed = (agents as f64 * f64::from(minutes) * 60.0 / (handle + 10.0) / answer_rate * 3.0)
        as usize
        + 100;
    for chunk in (0..needed).collect::<Vec<_>>().chunks(5000) {
        let rows: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"phone": format!("8491{:07}", i)}))
            .collect();
        api(
            addr,
            "POST",
            &format!("/api/v1/campaigns/{id}/customers"),
            &key,
            json!({"source": "rows", "rows": rows}),
        )?;
    }
    for verb in ["submit", "approve", "start"] {
        api(
            addr,
            "POST",
            &format!("/api/v1/campaigns/{id}/{verb}"),
            &key,
            json!({}),
        )?;
    }
    let began = chrono::Utc::now().timestamp_millis();
    for u in &ids {
        api(
            addr,
            "PUT",
            &format!("/api/v1/agents/{u}/state"),
            &key,
            json!({"state": "available", "auto_answer": true}),
        )?;
    }
    eprintln!(
        "campaign-vs-sim: {agents} agents, answer rate {answer_rate}, talk {handle} s, {minutes} min in real time…"
    );
    std::thread::sleep(Duration::from_secs(u64::from(minutes) * 60));
    let window_end = chrono::Utc::now().timestamp_millis();
    api(
        addr,
        "POST",
        &format!("/api/v1/campaigns/{id}/pause"),
        &key,
        json!({}),
    )?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while Instant::now() < deadline {
        let lines = api(addr, "GET", "/api/v1/telephony/lines", &key, json!({}))?;
        if lines["live_calls"] == 0 {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    // Every call record, page by page.
    let mut calls: Vec<Value> = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = api(
            addr,
            "GET",
            &format!("/api/v1/campaigns/{id}/calls?limit=1000{cursor}"),
            &key,
            json!({}),
        )?;
        calls.extend(page["data"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let window = (window_end - began) as f64 / 1000.0;
    let mut talk = 0.0;
    let (mut connected, mut answered, mut abandoned) = (0usize, 0usize, 0usize);
    for c in &calls {
        if millis(&c["answered_at"]).is_some() {
            answered += 1;
        }
        if c["result"] == "abandoned" {
            abandoned += 1;
        }
        if let Some(bridged) = millis(&c["bridged_at"]).filter(|b| *b < window_end) {
            connected += 1;
            let end = millis(&c["ended_at"]).unwrap_or(window_end).min(window_end);
            talk += (end - bridged).max(0) as f64 / 1000.0;
        }
    }
    let live = Live {
        occupancy: talk / (agents as f64 * window),
        abandon: if answered == 0 {
            0.0
        } else {
            abandoned as f64 / answered as f64
        },
        contacts_per_agent_hour: connected as f64 / (agents as f64 * window / 3600.0),
        placed: calls.len(),
    };
    // The simulator on the same scenario, averaged over seeds.
    let seeds = 30;
    let (mut occ, mut ab, mut cph) = (0.0, 0.0, 0.0);
    for seed in 0..seeds {
        let scenario = Scenario {
            agents,
            answer_rate,
            mean_handle: handle,
            wrap_up: 10,
            shift: minutes * 60,
            max_wait: 3,
            cap: 0.03,
            seed,
        };
        let o = run(&scenario, &mut Predictive::default());
        occ += o.occupancy;
        ab += o.abandon_rate;
        cph += o.contacts_per_agent_hour;
    }
    let n = f64::from(seeds as u32);
    let (occ, ab, cph) = (occ / n, ab / n, cph / n);
    println!("## Predictive campaign end to end vs the shift simulator\n");
    println!(
        "{agents} agents, answer rate {:.0} %, talk time log-normal mean {handle:.0} s, wrap-up 10 s, max wait 3 s, {minutes} min; end to end placed {} calls over {window:.0} s\n",
        answer_rate * 100.0,
        live.placed
    );
    println!(
        "| measure | end to end (runner + careflow-sim) | simulator (mean of {seeds} seeds) | end to end / simulator |"
    );
    println!("|---|---:|---:|---:|");
    println!(
        "| agent occupancy | {:.1} % | {:.1} % | {:.2} |",
        live.occupancy * 100.0,
        occ * 100.0,
        live.occupancy / occ
    );
    println!(
        "| contacts / agent-hour | {:.1} | {:.1} | {:.2} |",
        live.contacts_per_agent_hour,
        cph,
        live.contacts_per_agent_hour / cph
    );
    println!(
        "| abandon rate | {:.2} % | {:.2} % | |",
        live.abandon * 100.0,
        ab * 100.0
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
