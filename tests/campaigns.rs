//! Outbound call campaigns end to end (issue 5): the runner serves the
//! app, `careflow-sim` plays the carrier over HTTP and posts signed call
//! events back; each dial mode runs a real campaign to its results.

use std::time::{Duration, Instant};

use careflow_e2e::{ADMIN_TOKEN, Answer, Launch, Runner, Sim};
use serde_json::{Value, json};

fn call(app: &Runner, method: &str, path: &str, key: &str, body: Option<&Value>) -> Answer {
    let auth = format!("Bearer {key}");
    let text = body.map(Value::to_string);
    app.request(
        method,
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        text.as_deref().map(str::as_bytes),
    )
}

/// The app wired to a fresh simulator: (app, sim).
fn start(scale: f64, carrier: Value) -> (Runner, Sim) {
    let sim = Sim::start(scale);
    sim.carrier(carrier);
    let launch = Launch::careflow().env("SPIN_VARIABLE_TELEPHONY_BASE_URL", &sim.base);
    let public = format!("http://127.0.0.1:{}", launch.port);
    let app = launch.env("SPIN_VARIABLE_PUBLIC_BASE_URL", &public).start();
    (app, sim)
}

struct Floor {
    key: String,
    agents: Vec<String>,
}

/// A workspace with `n` agents and its owner key.
fn floor(app: &Runner, name: &str, n: usize) -> Floor {
    let body =
        json!({"name": name, "owner_email": format!("owner@{name}.vn"), "owner_name": "Chủ"});
    let a = call(app, "POST", "/api/v1/workspaces", ADMIN_TOKEN, Some(&body));
    assert_eq!(a.status, 201, "{}", a.body);
    let key = a.json()["api_key"]["key"].as_str().unwrap().to_string();
    // The workspace's carrier numbers: campaigns dial only from these.
    for number in ["02873001234", "02873009999", "02873001111"] {
        let a = call(
            app,
            "POST",
            "/api/v1/telephony/hotlines",
            &key,
            Some(&json!({"number": number})),
        );
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let agents = (0..n)
        .map(|i| {
            let a = call(
                app,
                "POST",
                "/api/v1/users",
                &key,
                Some(&json!({"email": format!("agent{i}@{name}.vn"), "name": format!("Agent {i}"), "role": "agent"})),
            );
            assert_eq!(a.status, 201, "{}", a.body);
            a.json()["id"].as_str().unwrap().to_string()
        })
        .collect();
    Floor { key, agents }
}

/// Creates, fills, approves and starts a campaign; returns its id.
fn running_campaign(app: &Runner, f: &Floor, settings: Value, phones: &[String]) -> String {
    let mut body = json!({
        "name": "Chiến dịch thử", "hotline": "02873001234",
        "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z",
        "wrap_up_seconds": 0, "retry_minutes": 60, "max_attempts": 1,
        "agents": f.agents,
    });
    for (k, v) in settings.as_object().unwrap() {
        body[k] = v.clone();
    }
    let a = call(app, "POST", "/api/v1/campaigns", &f.key, Some(&body));
    assert_eq!(a.status, 201, "{}", a.body);
    let id = a.json()["id"].as_str().unwrap().to_string();
    let rows: Vec<Value> = phones
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"phone": p, "name": format!("Khách {i}")}))
        .collect();
    let a = call(
        app,
        "POST",
        &format!("/api/v1/campaigns/{id}/customers"),
        &f.key,
        Some(&json!({"source": "rows", "rows": rows})),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["added"], phones.len());
    for verb in ["submit", "approve", "start"] {
        let a = call(
            app,
            "POST",
            &format!("/api/v1/campaigns/{id}/{verb}"),
            &f.key,
            None,
        );
        assert_eq!(a.status, 200, "{verb}: {}", a.body);
    }
    id
}

fn available(app: &Runner, f: &Floor, agent: &str, auto_answer: bool) {
    let a = call(
        app,
        "PUT",
        &format!("/api/v1/agents/{agent}/state"),
        &f.key,
        Some(
            &json!({"state": "available", "extension": format!("ext-{agent}"), "auto_answer": auto_answer}),
        ),
    );
    assert_eq!(a.status, 200, "{}", a.body);
}

fn phones(n: usize, prefix: &str) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:04}")).collect()
}

fn report(app: &Runner, f: &Floor, id: &str) -> Value {
    call(
        app,
        "GET",
        &format!("/api/v1/campaigns/{id}/report"),
        &f.key,
        None,
    )
    .json()
}

/// Polls until `done` holds for the campaign's report, or panics with it.
fn wait_report(
    app: &Runner,
    f: &Floor,
    id: &str,
    secs: u64,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = report(app, f, id);
        if done(&r) {
            return r;
        }
        if Instant::now() > deadline {
            let calls = call(
                app,
                "GET",
                &format!("/api/v1/campaigns/{id}/calls?limit=50"),
                &f.key,
                None,
            );
            panic!(
                "campaign {id} did not get there in {secs} s: {r}\ncalls: {}\n{:?}",
                calls.body,
                app.output().1
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn calls_of(app: &Runner, f: &Floor, id: &str) -> Vec<Value> {
    call(
        app,
        "GET",
        &format!("/api/v1/campaigns/{id}/calls?limit=500"),
        &f.key,
        None,
    )
    .json()["data"]
        .as_array()
        .unwrap()
        .clone()
}

fn ms(v: &Value) -> i64 {
    v.as_str().map(chrono_millis).unwrap_or(i64::MAX)
}

fn chrono_millis(text: &str) -> i64 {
    // RFC 3339 with milliseconds and Z, as the API writes times.
    let (date, time) = text.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let days = d[0] * 372 + d[1] * 31 + d[2]; // monotone, enough to order
    ((days * 24 + t[0]) * 60 + t[1]) * 60_000 + t[2] * 1000 + frac.parse::<i64>().unwrap_or(0)
}

const QUICK: f64 = 20.0;

fn quick_carrier(answer_rate: f64) -> Value {
    json!({"answer_rate": answer_rate, "busy_rate": 0.0, "voicemail_rate": 0.0, "failed_rate": 0.0,
           "ring_mean_s": 4, "no_answer_after_s": 10, "talk_mean_s": 20, "talk_sigma": 0.3, "ivr_seconds": 20})
}

#[test]
fn progressive_gives_each_available_agent_one_call_at_a_time() {
    // SPEC B-G, SPEC B-4 (results per customer, report)
    let (app, sim) = start(QUICK, quick_carrier(1.0));
    let f = floor(&app, "prog", 2);
    let customers = phones(6, "8491100");
    let id = running_campaign(&app, &f, json!({"mode": "progressive"}), &customers);
    available(&app, &f, &f.agents[0], false);
    available(&app, &f, &f.agents[1], false);
    let r = wait_report(&app, &f, &id, 90, |r| r["contacts"] == 6);
    assert_eq!(r["results"]["answered"], 6);
    assert!(r["talk_seconds"].as_i64().unwrap() > 0);
    // Never two calls for one agent at once.
    let calls = calls_of(&app, &f, &id);
    for agent in &f.agents {
        let mut mine: Vec<(i64, i64)> = calls
            .iter()
            .filter(|c| c["agent_id"] == agent.as_str())
            .map(|c| (ms(&c["placed_at"]), ms(&c["ended_at"])))
            .collect();
        mine.sort();
        assert!(!mine.is_empty(), "agent {agent} got no call");
        for w in mine.windows(2) {
            assert!(
                w[0].1 <= w[1].0,
                "agent {agent} had overlapping calls: {w:?}"
            );
        }
    }
    assert_eq!(sim.calls().len(), 6, "each customer dialled once");
}

#[test]
fn predictive_dials_ahead_and_counts_customers_dropped_on_hold_as_abandoned() {
    // SPEC B-D
    let (app, sim) = start(QUICK, quick_carrier(0.6));
    let f = floor(&app, "pred", 2);
    let a = call(
        &app,
        "PUT",
        "/api/v1/telephony/lines",
        &f.key,
        Some(&json!({"max_concurrent_calls": 6})),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let customers = phones(30, "8491200");
    let id = running_campaign(
        &app,
        &f,
        json!({"mode": "predictive", "predictive": {"max_abandon_rate": 0.05, "max_wait_seconds": 2}}),
        &customers,
    );
    available(&app, &f, &f.agents[0], true);
    available(&app, &f, &f.agents[1], true);
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut peak = 0;
    loop {
        let lines = call(&app, "GET", "/api/v1/telephony/lines", &f.key, None).json();
        peak = peak.max(lines["live_calls"].as_i64().unwrap());
        let r = report(&app, &f, &id);
        if r["customers"]["done"] == 30 {
            break;
        }
        assert!(Instant::now() < deadline, "not done: {r}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(peak <= 6, "the workspace cap of 6 lines held (peak {peak})");
    let r = report(&app, &f, &id);
    let results = &r["results"];
    let answered = results["answered"].as_i64().unwrap_or(0);
    let abandoned = results["abandoned"].as_i64().unwrap_or(0);
    assert!(answered > 0, "{r}");
    let rate = r["abandon_rate"]["last_24h"].as_f64().unwrap();
    assert!(
        (rate - abandoned as f64 / (answered + abandoned) as f64).abs() < 1e-9,
        "{r}"
    );
    // Every abandoned call was hung up by careflow after the wait.
    for c in calls_of(&app, &f, &id)
        .iter()
        .filter(|c| c["result"] == "abandoned")
    {
        assert!(
            c["agent_id"].is_null(),
            "an abandoned call never reached an agent: {c}"
        );
    }
    assert_eq!(sim.calls().len(), 30);
}

#[test]
fn preview_shows_the_customer_then_dials_or_skips() {
    // SPEC B-P
    let (app, _sim) = start(QUICK, quick_carrier(1.0));
    let f = floor(&app, "prev", 1);
    let customers = phones(3, "8491300");
    let id = running_campaign(
        &app,
        &f,
        json!({"mode": "preview", "preview": {"seconds": 600}}),
        &customers,
    );
    let agent = f.agents[0].clone();
    available(&app, &f, &agent, false);
    let preview = |app: &Runner| -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let calls = call(
                app,
                "GET",
                &format!("/api/v1/campaigns/{id}/calls?state=previewing"),
                &f.key,
                None,
            )
            .json();
            if let Some(c) = calls["data"].as_array().and_then(|d| d.first().cloned()) {
                return c;
            }
            assert!(Instant::now() < deadline, "no preview came");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let first = preview(&app);
    assert_eq!(first["agent_id"], agent.as_str());
    let first_id = first["id"].as_str().unwrap();
    let a = call(
        &app,
        "POST",
        &format!("/api/v1/agents/{agent}/calls/{first_id}/skip"),
        &f.key,
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["result"], "skipped");
    let second = preview(&app);
    assert_ne!(second["id"], first["id"]);
    let second_id = second["id"].as_str().unwrap();
    let a = call(
        &app,
        "POST",
        &format!("/api/v1/agents/{agent}/calls/{second_id}/dial"),
        &f.key,
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c = call(
            &app,
            "GET",
            &format!("/api/v1/telephony/calls/{second_id}"),
            &f.key,
            None,
        )
        .json();
        if c["result"] == "answered" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dialled preview did not end: {c}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Dialling a call that is no longer in preview is a conflict.
    let a = call(
        &app,
        "POST",
        &format!("/api/v1/agents/{agent}/calls/{second_id}/dial"),
        &f.key,
        None,
    );
    assert_eq!(a.status, 409);
    assert_eq!(a.error_code(), "conflict");
}

#[test]
fn manual_agents_pick_their_customers_under_a_daily_quota() {
    // SPEC B-M
    let (app, sim) = start(QUICK, quick_carrier(1.0));
    let f = floor(&app, "manual", 2);
    let customers = phones(4, "8491400");
    let id = running_campaign(
        &app,
        &f,
        json!({"mode": "manual", "manual": {"daily_quota": 1}}),
        &customers,
    );
    let pick = |agent: &str| {
        call(
            &app,
            "POST",
            &format!("/api/v1/campaigns/{id}/customers/pick"),
            &f.key,
            Some(&json!({"agent_id": agent})),
        )
    };
    let keyed_pick = || {
        let auth = format!("Bearer {}", f.key);
        let body = json!({"agent_id": f.agents[0]}).to_string();
        app.request(
            "POST",
            &format!("/api/v1/campaigns/{id}/customers/pick"),
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
                ("idempotency-key", "pick-1"),
            ],
            Some(body.as_bytes()),
        )
    };
    let a = keyed_pick();
    assert_eq!(a.status, 200, "{}", a.body);
    let retried = keyed_pick();
    assert_eq!(
        (retried.status, retried.json()["id"].clone()),
        (200, a.json()["id"].clone()),
        "a retried pick answers the same customer and spends no quota"
    );
    let b = pick(&f.agents[1]);
    assert_eq!(b.status, 200, "{}", b.body);
    assert_ne!(
        a.json()["id"],
        b.json()["id"],
        "two agents never get the same customer"
    );
    let over = pick(&f.agents[0]);
    assert_eq!(over.status, 429, "{}", over.body);
    // The agent calls the customer they picked; the other's is refused.
    available(&app, &f, &f.agents[0], false);
    let mine = a.json()["id"].as_str().unwrap().to_string();
    let theirs = b.json()["id"].as_str().unwrap().to_string();
    let refused = call(
        &app,
        "POST",
        &format!("/api/v1/agents/{}/calls", f.agents[0]),
        &f.key,
        Some(&json!({"campaign_customer_id": theirs})),
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    let placed = call(
        &app,
        "POST",
        &format!("/api/v1/agents/{}/calls", f.agents[0]),
        &f.key,
        Some(&json!({"campaign_customer_id": mine})),
    );
    assert_eq!(placed.status, 201, "{}", placed.body);
    let call_id = placed.json()["id"].as_str().unwrap().to_string();
    wait_report(&app, &f, &id, 30, |r| r["contacts"] == 1);
    // The script's answers are saved with the call.
    let saved = call(
        &app,
        "POST",
        &format!("/api/v1/telephony/calls/{call_id}/result"),
        &f.key,
        Some(&json!({"answers": {"outcome": "Quan tâm", "note": "gọi lại tuần sau"}})),
    );
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(saved.json()["answers"]["outcome"], "Quan tâm");
    let wrong = call(
        &app,
        "POST",
        &format!("/api/v1/telephony/calls/{call_id}/result"),
        &f.key,
        Some(&json!({"answers": {"outcome": "Maybe"}})),
    );
    assert_eq!(wrong.status, 422);
    assert_eq!(wrong.json()["error"]["field"], "answers.outcome");
    assert_eq!(sim.calls().len(), 1);
}

#[test]
fn an_agents_softphone_key_acts_only_for_that_agent() {
    // SPEC B-3 B-M: the agent state API called with the agent's own key.
    let (app, _sim) = start(QUICK, quick_carrier(1.0));
    let f = floor(&app, "softphone", 2);
    let id = running_campaign(
        &app,
        &f,
        json!({"mode": "manual", "manual": {"daily_quota": 2}}),
        &phones(2, "8491500"),
    );
    let softphone = |user: &str| {
        let a = call(
            &app,
            "POST",
            "/api/v1/api-keys",
            &f.key,
            Some(&json!({"name": "softphone", "user_id": user})),
        );
        assert_eq!(a.status, 201, "{}", a.body);
        assert_eq!(
            a.json()["role"],
            "agent",
            "a bound key takes its member's role"
        );
        assert_eq!(a.json()["user_id"], user);
        a.json()["key"].as_str().unwrap().to_string()
    };
    let (lan, minh) = (softphone(&f.agents[0]), softphone(&f.agents[1]));
    let stranger = call(
        &app,
        "POST",
        "/api/v1/api-keys",
        &f.key,
        Some(&json!({"name": "x", "user_id": "nobody"})),
    );
    assert_eq!(stranger.status, 422, "{}", stranger.body);
    assert_eq!(stranger.json()["error"]["field"], "user_id");

    let me = call(
        &app,
        "PUT",
        "/api/v1/agents/me/state",
        &lan,
        Some(&json!({"state": "available"})),
    );
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["user_id"], f.agents[0].as_str());
    let other = call(
        &app,
        "PUT",
        &format!("/api/v1/agents/{}/state", f.agents[1]),
        &lan,
        Some(&json!({"state": "paused"})),
    );
    assert_eq!(other.status, 403, "{}", other.body);
    assert_eq!(other.json()["error"]["code"], "forbidden");
    let untouched = call(
        &app,
        "GET",
        &format!("/api/v1/agents/{}", f.agents[1]),
        &lan,
        None,
    );
    assert_ne!(
        untouched.json()["state"],
        "paused",
        "the refused change wrote nothing"
    );

    let pick = |key: &str, body: Value| {
        call(
            &app,
            "POST",
            &format!("/api/v1/campaigns/{id}/customers/pick"),
            key,
            Some(&body),
        )
    };
    let picked = pick(&lan, json!({}));
    assert_eq!(picked.status, 200, "{}", picked.body);
    let for_minh = pick(&lan, json!({"agent_id": f.agents[1]}));
    assert_eq!(for_minh.status, 403, "{}", for_minh.body);
    let placed = call(
        &app,
        "POST",
        "/api/v1/agents/me/calls",
        &lan,
        Some(&json!({"campaign_customer_id": picked.json()["id"]})),
    );
    assert_eq!(placed.status, 201, "{}", placed.body);
    let call_id = placed.json()["id"].as_str().unwrap().to_string();
    wait_report(&app, &f, &id, 30, |r| r["contacts"] == 1);
    let result = |key: &str| {
        call(
            &app,
            "POST",
            &format!("/api/v1/telephony/calls/{call_id}/result"),
            key,
            Some(&json!({"disposition": "interested"})),
        )
    };
    assert_eq!(result(&minh).status, 403, "not Minh's call");
    let saved = result(&lan);
    assert_eq!(saved.status, 200, "{}", saved.body);
    let manage = call(
        &app,
        "POST",
        &format!("/api/v1/campaigns/{id}/pause"),
        &lan,
        None,
    );
    assert_eq!(
        manage.status, 403,
        "agents work campaigns, they do not run them"
    );
}

#[test]
fn auto_call_rotates_hotlines_skips_a_failing_one_and_stays_under_its_concurrency() {
    // SPEC B-A
    let (app, sim) = start(
        QUICK,
        json!({
            "answer_rate": 0.7, "voicemail_rate": 0.3, "busy_rate": 0.0, "failed_rate": 0.0,
            "ring_mean_s": 4, "no_answer_after_s": 10, "talk_mean_s": 20, "ivr_seconds": 20,
            "failing_hotlines": ["842873009999"]
        }),
    );
    let f = floor(&app, "auto", 0);
    let customers = phones(12, "8491500");
    let id = running_campaign(
        &app,
        &f,
        json!({"mode": "auto_call", "create_ticket": true, "auto_call": {
            "hotline_rotation": "random", "hotlines": ["02873009999", "02873001111"],
            "concurrent_calls": 3, "ivr": "khuyen-mai-thang-12"}}),
        &customers,
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut peak = 0;
    loop {
        let live = calls_of(&app, &f, &id)
            .iter()
            .filter(|c| c["state"] != "ended")
            .count();
        peak = peak.max(live);
        let r = report(&app, &f, &id);
        if r["customers"]["done"] == 12 {
            break;
        }
        assert!(Instant::now() < deadline, "not done: {r}");
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(peak <= 3, "at most 3 concurrent auto-calls (peak {peak})");
    let carried: Vec<Value> = sim.calls();
    assert!(
        carried.iter().all(|c| c["from"] == "842873001111"
            || c["outcome"] == "refused"
            || c["state"] == "refused"),
        "only the working hotline carried calls: {carried:?}"
    );
    let r = report(&app, &f, &id);
    assert_eq!(
        r["customer_results"]["answered"].as_i64().unwrap_or(0)
            + r["customer_results"]["voicemail"].as_i64().unwrap_or(0),
        12,
        "{r}"
    );
    // B-A: a ticket for every call that reached a person or voicemail.
    let tickets = call(&app, "GET", "/api/v1/tickets", &f.key, None).json();
    assert_eq!(tickets["data"].as_array().unwrap().len(), 12, "{tickets}");
}

#[test]
fn auto_callback_rings_the_agent_first_then_the_customer_once_per_request() {
    // SPEC B-C
    let (app, sim) = start(QUICK, quick_carrier(1.0));
    let f = floor(&app, "callback", 1);
    let id = running_campaign(
        &app,
        &f,
        json!({"mode": "auto_callback", "callback": {"key": "#", "min_wait_seconds": 20}}),
        &[],
    );
    let early = call(
        &app,
        "POST",
        &format!("/api/v1/campaigns/{id}/callbacks"),
        &f.key,
        Some(&json!({"phone": "0916000001", "key": "#", "waited_seconds": 5})),
    );
    assert_eq!(early.status, 422);
    assert_eq!(early.json()["error"]["field"], "waited_seconds");
    for _ in 0..2 {
        let a = call(
            &app,
            "POST",
            &format!("/api/v1/campaigns/{id}/callbacks"),
            &f.key,
            Some(
                &json!({"phone": "0916000001", "key": "#", "waited_seconds": 25, "queue": "cskh"}),
            ),
        );
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let customers = call(
        &app,
        "GET",
        &format!("/api/v1/campaigns/{id}/customers"),
        &f.key,
        None,
    )
    .json();
    assert_eq!(
        customers["data"].as_array().unwrap().len(),
        1,
        "once per customer"
    );
    available(&app, &f, &f.agents[0], false);
    wait_report(&app, &f, &id, 60, |r| r["contacts"] == 1);
    let carried = sim.calls();
    let agent_leg = carried
        .iter()
        .position(|c| c["to"].as_str().unwrap_or("").starts_with("agent:"))
        .expect("the agent was rung");
    let customer_leg = carried
        .iter()
        .position(|c| c["to"] == "84916000001")
        .expect("the customer was rung");
    assert!(
        agent_leg < customer_leg,
        "agent first, then the customer: {carried:?}"
    );
}

#[test]
fn campaign_endpoints_answer_bad_input_with_the_error_shape_and_keep_tenants_apart() {
    // SPEC B-1, SPEC B-2, SPEC B-4
    let (app, _sim) = start(QUICK, quick_carrier(1.0));
    let f = floor(&app, "bad", 1);
    let other = floor(&app, "other", 0);
    let bad = call(
        &app,
        "POST",
        "/api/v1/campaigns",
        &f.key,
        Some(
            &json!({"name": "x", "mode": "predictive", "hotline": "02873001234", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z", "predictive": {"max_abandon_rate": 0.2}}),
        ),
    );
    assert_eq!(bad.status, 422);
    assert_eq!(bad.json()["error"]["field"], "predictive.max_abandon_rate");
    let unknown = call(
        &app,
        "POST",
        "/api/v1/campaigns",
        &f.key,
        Some(&json!({"name": "x", "mode": "warp"})),
    );
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    let foreign = call(
        &app,
        "POST",
        "/api/v1/campaigns",
        &f.key,
        Some(
            &json!({"name": "x", "mode": "progressive", "hotline": "02899990000", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z"}),
        ),
    );
    assert_eq!(
        (foreign.status, foreign.json()["error"]["field"].as_str()),
        (422, Some("hotline")),
        "not one of the workspace's hotlines: {}",
        foreign.body
    );
    let id = {
        let a = call(
            &app,
            "POST",
            "/api/v1/campaigns",
            &f.key,
            Some(
                &json!({"name": "Ok", "mode": "progressive", "hotline": "02873001234", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z"}),
            ),
        );
        assert_eq!(a.status, 201, "{}", a.body);
        a.json()["id"].as_str().unwrap().to_string()
    };
    // Rows with bad phones are listed with the reason; duplicates reported.
    let import = call(
        &app,
        "POST",
        &format!("/api/v1/campaigns/{id}/customers"),
        &f.key,
        Some(&json!({"source": "rows", "rows": [
            {"phone": "0912 345 678"}, {"phone": "84912345678"}, {"phone": "abc"}, {"name": "no phone"}
        ]})),
    );
    assert_eq!(import.status, 200, "{}", import.body);
    let r = import.json();
    assert_eq!(r["added"], 1);
    assert_eq!(r["duplicates"].as_array().unwrap().len(), 1);
    assert_eq!(r["errors"].as_array().unwrap().len(), 2);
    assert_eq!(r["errors"][0]["row"], 3);
    // Lifecycle: starting before approval is a conflict.
    let early = call(
        &app,
        "POST",
        &format!("/api/v1/campaigns/{id}/start"),
        &f.key,
        None,
    );
    assert_eq!(early.status, 409);
    assert_eq!(early.error_code(), "conflict");
    // Another workspace sees nothing.
    assert_eq!(
        call(
            &app,
            "GET",
            &format!("/api/v1/campaigns/{id}"),
            &other.key,
            None
        )
        .status,
        404
    );
    assert_eq!(
        call(&app, "GET", "/api/v1/campaigns", &other.key, None).json()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // A carrier event with a wrong signature is refused.
    let forged = app.request(
        "POST",
        "/telephony/events/generic",
        &[
            ("content-type", "application/json"),
            ("x-careflow-signature", "t=1,v1=00"),
        ],
        Some(br#"{"event_id":"e","call_id":"c","type":"answered","at_ms":1}"#),
    );
    assert_eq!(forged.status, 401, "{}", forged.body);
    // Unknown agent states are refused with the field named.
    let state = call(
        &app,
        "PUT",
        &format!("/api/v1/agents/{}/state", f.agents[0]),
        &f.key,
        Some(&json!({"state": "on_call"})),
    );
    assert_eq!(state.status, 422);
    assert_eq!(state.json()["error"]["field"], "state");
}

#[test]
fn customers_upload_from_the_xlsx_template_with_row_errors_listed() {
    // SPEC B-2
    let (app, _sim) = start(QUICK, quick_carrier(1.0));
    let f = floor(&app, "xlsx", 0);
    let template = app.get("/templates/campaign-customers.xlsx");
    assert_eq!(template.status, 200);
    assert_eq!(
        template.header("content-type"),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    let a = call(
        &app,
        "POST",
        "/api/v1/campaigns",
        &f.key,
        Some(
            &json!({"name": "Excel", "mode": "auto_call", "hotline": "02873001234", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z", "auto_call": {"concurrent_calls": 2, "ivr": "chao-mung"}}),
        ),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let id = a.json()["id"].as_str().unwrap().to_string();
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["Số điện thoại", "Họ tên", "Ghi chú"].iter().enumerate() {
        sheet.write(0, c as u16, *h).unwrap();
    }
    let rows = [
        ("0912 000 001", "An"),
        ("84912000001", "An lặp"),
        ("12ab", "Sai số"),
        ("", "Không số"),
        ("0912000002", "Bình"),
    ];
    for (r, (phone, name)) in rows.iter().enumerate() {
        sheet.write(r as u32 + 1, 0, *phone).unwrap();
        sheet.write(r as u32 + 1, 1, *name).unwrap();
    }
    sheet.write(6, 0, 912000003.0).unwrap(); // a number whose leading 0 Excel dropped
    let bytes = book.save_to_buffer().unwrap();
    let auth = format!("Bearer {}", f.key);
    let upload = app.request(
        "POST",
        &format!("/api/v1/campaigns/{id}/customers/import"),
        &[
            ("authorization", &auth),
            (
                "content-type",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
        ],
        Some(&bytes),
    );
    assert_eq!(upload.status, 200, "{}", upload.body);
    let r = upload.json();
    assert_eq!(r["added"], 3, "{r}");
    assert_eq!(r["duplicates"][0]["row"], 3);
    let errors: Vec<i64> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["row"].as_i64().unwrap())
        .collect();
    assert_eq!(errors, [4, 5], "{r}");
    let listed = call(
        &app,
        "GET",
        &format!("/api/v1/campaigns/{id}/customers"),
        &f.key,
        None,
    )
    .json();
    let phones: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["phone"].as_str().unwrap())
        .collect();
    assert_eq!(phones, ["84912000001", "84912000002", "84912000003"]);
    // Not a spreadsheet: the error names the file.
    let junk = app.request(
        "POST",
        &format!("/api/v1/campaigns/{id}/customers/import"),
        &[
            ("authorization", &auth),
            ("content-type", "application/octet-stream"),
        ],
        Some(b"not a zip"),
    );
    assert_eq!(junk.status, 422, "{}", junk.body);
    assert_eq!(junk.json()["error"]["field"], "file");
}

#[test]
fn the_stringee_shaped_adapter_runs_a_campaign_too() {
    // SPEC B-G over the Stringee-shaped adapter (REST JWT, tokened event URL).
    let sim = Sim::start(QUICK);
    sim.carrier(quick_carrier(1.0));
    let launch = Launch::careflow()
        .env("SPIN_VARIABLE_TELEPHONY_BASE_URL", &sim.base)
        .env("SPIN_VARIABLE_TELEPHONY_PROVIDER", "stringee");
    let public = format!("http://127.0.0.1:{}", launch.port);
    let app = launch.env("SPIN_VARIABLE_PUBLIC_BASE_URL", &public).start();
    let f = floor(&app, "stringee", 1);
    let id = running_campaign(
        &app,
        &f,
        json!({"mode": "progressive"}),
        &phones(2, "8491600"),
    );
    available(&app, &f, &f.agents[0], false);
    wait_report(&app, &f, &id, 60, |r| r["contacts"] == 2);
    assert!(sim.calls().iter().all(|c| c["shape"] == "stringee"));
    // Without the token in the URL, an event is refused.
    let forged = app.request(
        "POST",
        "/telephony/events/stringee",
        &[("content-type", "application/json")],
        Some(br#"{"call_id":"x","call_status":"answered"}"#),
    );
    assert_eq!(forged.status, 401);
}

#[test]
fn a_restart_mid_campaign_loses_no_call_and_dials_nobody_twice() {
    // SPEC B-G: all state in the store; retry interval honoured across a restart.
    let sim = Sim::start(QUICK);
    sim.carrier(json!({"answer_rate": 0.0, "busy_rate": 0.0, "voicemail_rate": 0.0, "ring_mean_s": 2, "no_answer_after_s": 6}));
    let launch = Launch::careflow().env("SPIN_VARIABLE_TELEPHONY_BASE_URL", &sim.base);
    let public = format!("http://127.0.0.1:{}", launch.port);
    let app = launch.env("SPIN_VARIABLE_PUBLIC_BASE_URL", &public).start();
    let f = floor(&app, "restart", 2);
    let customers = phones(8, "8491700");
    let id = running_campaign(
        &app,
        &f,
        json!({"mode": "progressive", "max_attempts": 3, "retry_minutes": 60}),
        &customers,
    );
    available(&app, &f, &f.agents[0], false);
    available(&app, &f, &f.agents[1], false);
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.calls().len() < 3 {
        assert!(Instant::now() < deadline, "no calls placed");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Killed hard and back on the same address: the carrier retries the
    // events it could not deliver meanwhile, as carriers do.
    let port = app.launch.port;
    let mut launch = app.kill();
    launch.port = port;
    let app = launch.start();
    // The rest of the customers are dialled after the restart.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let dialled: std::collections::HashSet<String> = sim
            .calls()
            .iter()
            .filter_map(|c| c["to"].as_str().map(str::to_string))
            .collect();
        if dialled.len() == customers.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {} customers dialled after the restart",
            dialled.len(),
            customers.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    let carried = sim.calls();
    for phone in &customers {
        let n = carried.iter().filter(|c| c["to"] == phone.as_str()).count();
        assert_eq!(
            n, 1,
            "{phone} dialled {n} times within the 60-minute retry interval"
        );
    }
    // Every call the carrier saw has its record in careflow.
    let records = calls_of(&app, &f, &id);
    for c in &carried {
        assert!(
            records.iter().any(|r| r["id"] == c["reference"]),
            "no record for carrier call {c}"
        );
    }
}

#[test]
fn a_flow_adds_its_customer_to_a_campaign_once() {
    // SPEC A-N8 add_to_campaign, SPEC B-2
    let (app, _sim) = start(QUICK, quick_carrier(1.0));
    let f = floor(&app, "flowcamp", 0);
    let a = call(
        &app,
        "POST",
        "/api/v1/campaigns",
        &f.key,
        Some(
            &json!({"name": "Từ flow", "mode": "auto_call", "hotline": "02873001234", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z", "auto_call": {"concurrent_calls": 1, "ivr": "cam-on"}}),
        ),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let campaign = a.json()["id"].as_str().unwrap().to_string();
    let customer = call(
        &app,
        "POST",
        "/api/v1/customers",
        &f.key,
        Some(&json!({"name": "Lan", "phone": "0912555000"})),
    );
    assert_eq!(customer.status, 201, "{}", customer.body);
    let customer_id = customer.json()["id"].as_str().unwrap().to_string();
    let flow = json!({
        "name": "Gọi lại khách",
        "variables": [{"name": "customer", "type": "object", "required": true}],
        "trigger": {"type": "api"},
        "nodes": [{"id": "join", "type": "action", "settings": {"action": "add_to_campaign", "campaign": campaign}}],
        "edges": [{"from": "trigger", "to": "join"}]
    });
    let created = call(&app, "POST", "/api/v1/flows", &f.key, Some(&flow));
    assert_eq!(created.status, 201, "{}", created.body);
    let flow_id = created.json()["id"].as_str().unwrap().to_string();
    let published = call(
        &app,
        "POST",
        &format!("/api/v1/flows/{flow_id}/publish"),
        &f.key,
        None,
    );
    assert_eq!(published.status, 200, "{}", published.body);
    for _ in 0..2 {
        let run = call(
            &app,
            "POST",
            &format!("/api/v1/flows/{flow_id}/trigger"),
            &f.key,
            Some(&json!({"customer": {"id": customer_id}})),
        );
        assert!(run.status < 300, "{}", run.body);
        let run_id = run.json()["run_id"].as_str().unwrap().to_string();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = call(&app, "GET", &format!("/api/v1/runs/{run_id}"), &f.key, None).json();
            if v["status"] == "completed" {
                break;
            }
            assert!(Instant::now() < deadline && v["status"] != "failed", "{v}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let listed = call(
        &app,
        "GET",
        &format!("/api/v1/campaigns/{campaign}/customers"),
        &f.key,
        None,
    )
    .json();
    let rows = listed["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "added once: {listed}");
    assert_eq!(rows[0]["phone"], "84912555000");
    assert_eq!(rows[0]["customer_id"], customer_id.as_str());
}
