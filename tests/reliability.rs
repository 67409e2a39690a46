//! Durable runs survive crashes (issue 4): hundreds of runs with a delay
//! and a partner HTTP call are in flight while the runner is killed with
//! SIGKILL again and again; after the last restart every run finishes
//! exactly once, each step is recorded once, and the partner saw every
//! run's call (retries after a crash carry the same idempotency key).

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use careflow_e2e::{ADMIN_TOKEN, Launch, Runner};
use serde_json::{Value, json};

const RUNS: usize = 1_000;
const KILLS: usize = 5;

fn post(app: &Runner, path: &str, key: &str, body: &Value) -> Value {
    let auth = format!("Bearer {key}");
    let a = app.request(
        "POST",
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(body.to_string().as_bytes()),
    );
    assert!(a.status < 300, "{path}: {} {}", a.status, a.body);
    a.json()
}

/// Partner sink: counts calls per `Idempotency-Key`.
fn sink() -> (String, Arc<Mutex<HashMap<String, u32>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                while !String::from_utf8_lossy(&data).contains("\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => data.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&data).to_lowercase();
                if let Some(key) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("idempotency-key:"))
                {
                    *log.lock()
                        .unwrap()
                        .entry(key.trim().to_string())
                        .or_insert(0) += 1;
                }
                let body = r#"{"ok":true}"#;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    (url, seen)
}

#[test]
fn runs_finish_exactly_once_through_repeated_sigkills() {
    // SPEC A-N2 A-N8 A-T3
    let (sink_url, seen) = sink();
    let app = Launch::careflow().start();
    let created = post(
        &app,
        "/api/v1/workspaces",
        ADMIN_TOKEN,
        &json!({"name": "Bền", "owner_email": "o@ben.vn", "owner_name": "O"}),
    );
    let key = created["api_key"]["key"].as_str().unwrap().to_string();
    let auth = format!("Bearer {key}");
    let allowed = app.request(
        "PUT",
        "/api/v1/workspaces/current/allowed-hosts",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(br#"{"hosts":["127.0.0.1"]}"#),
    );
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    let flow = json!({
        "name": "Sống sót",
        "variables": [{"name": "ma", "type": "text", "required": true}, {"name": "hen", "type": "date_time", "required": true}],
        "trigger": {"type": "api"},
        "nodes": [
            {"id": "wait", "type": "delay", "settings": {"until": "{{hen}}"}},
            {"id": "call", "type": "action", "settings": {"action": "http_request", "url": format!("{sink_url}/hook/{{{{ma}}}}")}},
            {"id": "done", "type": "action", "settings": {"action": "set_variables", "values": {"xong": "{{ma}}"}}}
        ],
        "edges": [{"from": "trigger", "to": "wait"}, {"from": "wait", "to": "call"}, {"from": "call", "to": "done"}]
    });
    let flow_id = post(&app, "/api/v1/flows", &key, &flow)["id"]
        .as_str()
        .unwrap()
        .to_string();
    post(
        &app,
        &format!("/api/v1/flows/{flow_id}/publish"),
        &key,
        &json!({}),
    );
    // Wake-ups spread over the next ~8 s, so the kills land among them.
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let mut run_ids = Vec::new();
    for i in 0..RUNS {
        let due = base + 2 + (i as u64 % 8);
        let hen = chrono_free_rfc3339(due);
        let started = post(
            &app,
            &format!("/api/v1/flows/{flow_id}/trigger"),
            &key,
            &json!({"ma": format!("M{i}"), "hen": hen}),
        );
        run_ids.push(started["run_id"].as_str().unwrap().to_string());
    }

    // Runs in a status (at most 500 are listed, enough to tell "none").
    let count = |app: &Runner, status: &str| {
        app.request(
            "GET",
            &format!("/api/v1/runs?flow_id={flow_id}&status={status}&limit=500"),
            &[("authorization", &auth)],
            None,
        )
        .json()["data"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert!(
        count(&app, "waiting") > 0,
        "the runs must still be waiting when the kills start"
    );
    // Kill hard at uneven moments while runs wake up and call the partner.
    let mut launch = app.kill();
    for round in 0..KILLS {
        let app = launch.start();
        std::thread::sleep(Duration::from_millis(1_300 + 450 * (round as u64 % 3)));
        launch = app.kill();
    }
    let app = launch.start();

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let unfinished = count(&app, "waiting") + count(&app, "running");
        if unfinished == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{unfinished} runs still unfinished after the crashes"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    for run in &run_ids {
        let v = app
            .request(
                "GET",
                &format!("/api/v1/runs/{run}"),
                &[("authorization", &auth)],
                None,
            )
            .json();
        let steps: Vec<u64> = v["step_log"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step_no"].as_u64().unwrap())
            .collect();
        assert_eq!(steps, [1, 2, 3], "run {run}: each step once");
        assert!(v["variables"]["xong"].as_str().unwrap().starts_with('M'));
    }
    let seen = seen.lock().unwrap();
    let expected: HashSet<String> = run_ids.iter().map(|r| format!("{r}:2")).collect();
    let keys: HashSet<String> = seen.keys().cloned().collect();
    assert_eq!(
        keys, expected,
        "the partner saw exactly one idempotency key per run"
    );
    let repeats: u32 = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "{RUNS} runs through {KILLS} SIGKILLs: {repeats} partner calls were retried after a crash (same key)"
    );
}

/// RFC 3339 UTC for unix seconds, without a date library.
fn chrono_free_rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
