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

const RUNS: usize = 300;
const KILLS: usize = 5;

fn post(app: &Runner, path: &str, key: &str, body: &Value) -> Value {
    let auth = format!("Bearer {key}");
    let a = app.request("POST", path, &[("authorization", &auth), ("content-type", "application/json")], Some(body.to_string().as_bytes()));
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
                if let Some(key) = text.lines().find_map(|l| l.strip_prefix("idempotency-key:")) {
                    *log.lock().unwrap().entry(key.trim().to_string()).or_insert(0) += 1;
                }
                let body = r#"{"ok":true}"#;
                let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
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
    let created = post(&app, "/api/v1/workspaces", ADMIN_TOKEN, &json!({"name": "Bền", "owner_email": "o@ben.vn", "owner_name": "O"}));
    let key = created["api_key"]["key"].as_str().unwrap().to_string();
    let flow = json!({
        "name": "Sống sót",
        "variables": [{"name": "ma", "type": "text", "required": true}],
        "trigger": {"type": "api"},
        "nodes": [
            {"id": "wait", "type": "delay", "settings": {"duration": {"amount": 1, "unit": "seconds"}}},
            {"id": "call", "type": "action", "settings": {"action": "http_request", "url": format!("{sink_url}/hook/{{{{ma}}}}")}},
            {"id": "done", "type": "action", "settings": {"action": "set_variables", "values": {"xong": "{{ma}}"}}}
        ],
        "edges": [{"from": "trigger", "to": "wait"}, {"from": "wait", "to": "call"}, {"from": "call", "to": "done"}]
    });
    let flow_id = post(&app, "/api/v1/flows", &key, &flow)["id"].as_str().unwrap().to_string();
    post(&app, &format!("/api/v1/flows/{flow_id}/publish"), &key, &json!({}));
    let mut run_ids = Vec::new();
    for i in 0..RUNS {
        let started = post(&app, &format!("/api/v1/flows/{flow_id}/trigger"), &key, &json!({"ma": format!("M{i}")}));
        run_ids.push(started["run_id"].as_str().unwrap().to_string());
    }

    // Kill hard at uneven moments while runs wake up and call the partner.
    let mut launch = app.kill();
    for round in 0..KILLS {
        let app = launch.start();
        std::thread::sleep(Duration::from_millis(700 + 350 * (round as u64 % 3)));
        launch = app.kill();
    }
    let app = launch.start();

    let deadline = Instant::now() + Duration::from_secs(120);
    let auth = format!("Bearer {key}");
    loop {
        let done = app.request("GET", &format!("/api/v1/runs?flow_id={flow_id}&status=completed&limit=500"), &[("authorization", &auth)], None).json();
        let completed = done["data"].as_array().unwrap().len();
        if completed == RUNS {
            break;
        }
        assert!(Instant::now() < deadline, "only {completed} of {RUNS} runs completed after the crashes");
        std::thread::sleep(Duration::from_millis(500));
    }
    for run in &run_ids {
        let v = app.request("GET", &format!("/api/v1/runs/{run}"), &[("authorization", &auth)], None).json();
        let steps: Vec<u64> = v["step_log"].as_array().unwrap().iter().map(|s| s["step_no"].as_u64().unwrap()).collect();
        assert_eq!(steps, [1, 2, 3], "run {run}: each step once");
        assert!(v["variables"]["xong"].as_str().unwrap().starts_with('M'));
    }
    let seen = seen.lock().unwrap();
    let expected: HashSet<String> = run_ids.iter().map(|r| format!("{r}:2")).collect();
    let keys: HashSet<String> = seen.keys().cloned().collect();
    assert_eq!(keys, expected, "the partner saw exactly one idempotency key per run");
    let repeats: u32 = seen.values().map(|n| n - 1).sum();
    eprintln!("{RUNS} runs through {KILLS} SIGKILLs: {repeats} partner calls were retried after a crash (same key)");
}
