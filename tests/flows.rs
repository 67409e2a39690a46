//! Flows over HTTP (issue 4): save with validation (A-V), publish, trigger
//! over the API (A-T3) with binding, idempotency and the token URL; runs
//! walk condition (A-N1), delay (A-N2), random (A-N3) and action (A-N8)
//! nodes; delays survive a restart; partner calls carry the step's key.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use careflow_e2e::{ADMIN_TOKEN, Answer, Launch, Runner};
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

fn workspace(app: &Runner, name: &str) -> String {
    let body =
        json!({"name": name, "owner_email": format!("owner@{name}.vn"), "owner_name": "Chủ"});
    let a = call(app, "POST", "/api/v1/workspaces", ADMIN_TOKEN, Some(&body));
    assert_eq!(a.status, 201, "{}", a.body);
    a.json()["api_key"]["key"].as_str().unwrap().to_string()
}

fn care_flow(sink: &str) -> Value {
    json!({
        "name": "Chăm sóc đơn hàng",
        "variables": [
            {"name": "order", "type": "object", "required": true},
            {"name": "so_dien_thoai", "type": "phone", "required": true, "label": "Số điện thoại"}
        ],
        "trigger": {"type": "api"},
        "nodes": [
            {"id": "big", "type": "condition", "settings": {"condition": {"all": [{"field": "order.total", "op": "gte", "value": 1000000}]}}},
            {"id": "wait", "type": "delay", "settings": {"duration": {"amount": 2, "unit": "seconds"}}},
            {"id": "split", "type": "random", "settings": {"branches": [{"port": "a", "percent": 50}, {"port": "b", "percent": 50}]}},
            {"id": "notify", "type": "action", "settings": {
                "action": "http_request", "url": format!("{sink}/orders/{{{{order.id}}}}"),
                "body": "{\"phone\":\"{{so_dien_thoai}}\"}", "response": {"ma_ho_so": "body.code"}}},
            {"id": "thanks", "type": "action", "settings": {"action": "set_variables", "values": {"loi_chao": "Cảm ơn {{so_dien_thoai}}"}}}
        ],
        "edges": [
            {"from": "trigger", "to": "big"},
            {"from": "big", "port": "yes", "to": "wait"},
            {"from": "big", "port": "no", "to": "thanks"},
            {"from": "wait", "to": "split"},
            {"from": "split", "port": "a", "to": "notify"},
            {"from": "split", "port": "b", "to": "notify"},
            {"from": "notify", "to": "thanks"}
        ]
    })
}

/// A partner API that records what it receives and answers a code.
fn partner() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            log.lock().unwrap().push(read_request(&mut stream));
            let body = r#"{"code":"HS-42"}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

/// Reads one HTTP/1.1 request: the head, then `content-length` bytes.
fn read_request(stream: &mut std::net::TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&data).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return text;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&data).into_owned(),
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

fn wait_for_status(app: &Runner, key: &str, run: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = call(app, "GET", &format!("/api/v1/runs/{run}"), key, None).json();
        if v["status"] == status || Instant::now() > deadline {
            assert_eq!(v["status"], status, "{v}");
            return v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Lets the workspace's flows call the local partner stand-ins.
fn allow_local_partners(app: &Runner, key: &str) {
    let a = call(
        app,
        "PUT",
        "/api/v1/workspaces/current/allowed-hosts",
        key,
        Some(&json!({"hosts": ["127.0.0.1"]})),
    );
    assert_eq!(a.status, 200, "{}", a.body);
}

fn publish(app: &Runner, key: &str, flow: &Value) -> String {
    let created = call(app, "POST", "/api/v1/flows", key, Some(flow));
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_string();
    let published = call(
        app,
        "POST",
        &format!("/api/v1/flows/{id}/publish"),
        key,
        None,
    );
    assert_eq!(published.status, 200, "{}", published.body);
    id
}

#[test]
fn an_api_triggered_run_walks_every_node_type_and_calls_the_partner_once() {
    // SPEC A-T3 A-N1 A-N2 A-N3 A-N8 A-V
    let (sink, seen) = partner();
    let app = Launch::careflow().start();
    let key = workspace(&app, "alpha");
    let flow_id = publish(&app, &key, &care_flow(&sink));
    // Partner calls go only to hosts the workspace allowed.
    let body = json!({"order": {"id": "DH00", "total": 2500000}, "so_dien_thoai": "0912345678"});
    let refused = call(
        &app,
        "POST",
        &format!("/api/v1/flows/{flow_id}/trigger"),
        &key,
        Some(&body),
    )
    .json();
    let refused = wait_for_status(&app, &key, refused["run_id"].as_str().unwrap(), "failed");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("not a partner host this workspace allows"),
        "{refused}"
    );
    assert!(seen.lock().unwrap().is_empty());
    let bad = call(
        &app,
        "PUT",
        "/api/v1/workspaces/current/allowed-hosts",
        &key,
        Some(&json!({"hosts": ["https://x.vn"]})),
    );
    assert_eq!(
        (bad.status, bad.json()["error"]["field"].as_str()),
        (422, Some("hosts[0]"))
    );
    allow_local_partners(&app, &key);
    let listed = call(
        &app,
        "GET",
        "/api/v1/workspaces/current/allowed-hosts",
        &key,
        None,
    )
    .json();
    assert_eq!(listed["hosts"], json!(["127.0.0.1"]));
    let body = json!({"order": {"id": "DH01", "total": 2500000}, "so_dien_thoai": "0912 345 678"});
    let a = call(
        &app,
        "POST",
        &format!("/api/v1/flows/{flow_id}/trigger"),
        &key,
        Some(&body),
    );
    assert_eq!(a.status, 202, "{}", a.body);
    let run = a.json()["run_id"].as_str().unwrap().to_string();
    let waiting = call(&app, "GET", &format!("/api/v1/runs/{run}"), &key, None).json();
    assert_eq!(
        waiting["status"], "waiting",
        "the delay holds the run: {waiting}"
    );
    let done = wait_for_status(&app, &key, &run, "completed");
    let path: Vec<&str> = done["step_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["node_id"].as_str().unwrap())
        .collect();
    assert_eq!(path, ["big", "wait", "split", "notify", "thanks"]);
    assert_eq!(done["variables"]["ma_ho_so"], "HS-42");
    assert_eq!(done["variables"]["loi_chao"], "Cảm ơn 84912345678");
    assert_eq!(done["variables"]["trigger"]["so_dien_thoai"], "84912345678");
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].starts_with("POST /orders/DH01 "),
        "{}",
        requests[0]
    );
    assert!(
        requests[0]
            .to_lowercase()
            .contains(&format!("idempotency-key: {run}:4")),
        "{}",
        requests[0]
    );
    assert!(
        requests[0].ends_with(r#"{"phone":"84912345678"}"#),
        "{}",
        requests[0]
    );

    // The small order takes the `no` branch straight to the end.
    let small = json!({"order": {"id": "DH02", "total": 5}, "so_dien_thoai": "84912345678"});
    let run2 = call(
        &app,
        "POST",
        &format!("/api/v1/flows/{flow_id}/trigger"),
        &key,
        Some(&small),
    )
    .json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let done2 = wait_for_status(&app, &key, &run2, "completed");
    assert_eq!(done2["step_log"].as_array().unwrap().len(), 2);
    let listed = call(
        &app,
        "GET",
        &format!("/api/v1/runs?flow_id={flow_id}&status=completed"),
        &key,
        None,
    )
    .json();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
}

#[test]
fn trigger_binding_errors_list_every_field_and_start_nothing() {
    // SPEC A-T3
    let app = Launch::careflow().start();
    let key = workspace(&app, "beta");
    let flow_id = publish(&app, &key, &care_flow("http://127.0.0.1:9"));
    let bad = json!({"order": "not an object", "so_dien_thoai": "abc"});
    let a = call(
        &app,
        "POST",
        &format!("/api/v1/flows/{flow_id}/trigger"),
        &key,
        Some(&bad),
    );
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (422, "validation_failed")
    );
    let v = a.json();
    let fields: Vec<&str> = v["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["order", "so_dien_thoai"]);
    let missing = call(
        &app,
        "POST",
        &format!("/api/v1/flows/{flow_id}/trigger"),
        &key,
        Some(&json!({})),
    );
    assert_eq!(missing.status, 422);
    let not_json = app.request(
        "POST",
        &format!("/api/v1/flows/{flow_id}/trigger"),
        &[
            ("authorization", &format!("Bearer {key}")),
            ("content-type", "application/json"),
        ],
        Some(b"{oops"),
    );
    assert_eq!(not_json.status, 400);
    let runs = call(&app, "GET", "/api/v1/runs", &key, None).json();
    assert!(
        runs["data"].as_array().unwrap().is_empty(),
        "no run was started: {runs}"
    );
    assert_eq!(
        call(
            &app,
            "POST",
            "/api/v1/flows/nope/trigger",
            &key,
            Some(&json!({}))
        )
        .status,
        404
    );
    assert_eq!(
        app.request(
            "POST",
            &format!("/api/v1/flows/{flow_id}/trigger"),
            &[],
            Some(b"{}")
        )
        .status,
        401
    );
}

#[test]
fn the_same_idempotency_key_answers_the_same_run_and_the_token_url_needs_no_header() {
    // SPEC A-T3
    let app = Launch::careflow().start();
    let key = workspace(&app, "gamma");
    let flow_id = publish(&app, &key, &care_flow("http://127.0.0.1:9"));
    let flow = call(&app, "GET", &format!("/api/v1/flows/{flow_id}"), &key, None).json();
    let token = flow["trigger_token"].as_str().unwrap().to_string();
    let body = br#"{"order":{"id":"DH5","total":1},"so_dien_thoai":"0912345678"}"#;
    let headers = [
        ("authorization", format!("Bearer {key}")),
        ("content-type", "application/json".into()),
        ("idempotency-key", "evt-1".into()),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = app
        .request(
            "POST",
            &format!("/api/v1/flows/{flow_id}/trigger"),
            &headers,
            Some(body),
        )
        .json();
    let again = app
        .request(
            "POST",
            &format!("/api/v1/flows/{flow_id}/trigger"),
            &headers,
            Some(body),
        )
        .json();
    assert_eq!(first["run_id"], again["run_id"]);
    assert_eq!(again["replayed"], true);

    // GET with the token and query parameters, no headers at all.
    let a = app.get(&format!("/api/v1/flows/{flow_id}/trigger?token={token}&so_dien_thoai=0912345678&order=%7B%22id%22%3A%22Q1%22%2C%22total%22%3A3%7D"));
    assert_eq!(a.status, 202, "{}", a.body);
    let wrong = app.get(&format!(
        "/api/v1/flows/{flow_id}/trigger?token=ft_wrong&so_dien_thoai=0912345678"
    ));
    assert_eq!(wrong.status, 401);
    // A form post works too.
    let form = app.request(
        "PUT",
        &format!("/api/v1/flows/{flow_id}/trigger?token={token}"),
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(b"so_dien_thoai=%2B84912345678&order=%7B%22id%22%3A%22F1%22%2C%22total%22%3A2%7D"),
    );
    assert_eq!(form.status, 202, "{}", form.body);
    let runs = call(&app, "GET", "/api/v1/runs", &key, None).json();
    assert_eq!(runs["data"].as_array().unwrap().len(), 3);

    // Another workspace cannot see or trigger it.
    let other = workspace(&app, "delta");
    assert_eq!(
        call(
            &app,
            "GET",
            &format!("/api/v1/flows/{flow_id}"),
            &other,
            None
        )
        .status,
        404
    );
    assert_eq!(
        call(
            &app,
            "POST",
            &format!("/api/v1/flows/{flow_id}/trigger"),
            &other,
            Some(&json!({}))
        )
        .status,
        404
    );
    let run = first["run_id"].as_str().unwrap();
    assert_eq!(
        call(&app, "GET", &format!("/api/v1/runs/{run}"), &other, None).status,
        404
    );
}

#[test]
fn a_flow_with_problems_saves_as_a_draft_but_does_not_publish() {
    // SPEC A-V
    let app = Launch::careflow().start();
    let key = workspace(&app, "epsilon");
    let mut flow = care_flow("http://127.0.0.1:9");
    flow["nodes"][0]["settings"]["condition"]["all"][0]["field"] = json!("order.nope");
    flow["nodes"][1]["settings"] = json!({"until": "2020-01-01T00:00:00Z"});
    flow["nodes"][2]["settings"]["branches"][0]["percent"] = json!(10);
    flow["nodes"][4]["settings"]["values"]["loi_chao"] = json!("Cảm ơn {{khach_hang.ten}}");
    flow["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "x", "type": "teleport"}));
    let saved = call(&app, "POST", "/api/v1/flows", &key, Some(&flow));
    assert_eq!(saved.status, 201);
    let v = saved.json();
    let errors: Vec<(String, String)> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["severity"] == "error")
        .map(|p| {
            (
                p["node_id"].as_str().unwrap_or("").to_string(),
                p["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for node in ["big", "wait", "split", "thanks", "x"] {
        assert!(
            errors.iter().any(|(n, _)| n == node),
            "no problem for {node}: {errors:?}"
        );
    }
    let id = v["id"].as_str().unwrap();
    let refused = call(
        &app,
        "POST",
        &format!("/api/v1/flows/{id}/publish"),
        &key,
        None,
    );
    assert_eq!(refused.status, 422);
    assert!(refused.json()["error"]["details"].as_array().unwrap().len() >= 5);
    assert_eq!(
        call(
            &app,
            "POST",
            &format!("/api/v1/flows/{id}/trigger"),
            &key,
            Some(&json!({}))
        )
        .status,
        409
    );
    let not_a_flow = call(
        &app,
        "POST",
        "/api/v1/flows",
        &key,
        Some(&json!({"name": "x"})),
    );
    assert_eq!(not_a_flow.status, 422);
    let simulated = call(
        &app,
        "POST",
        &format!("/api/v1/flows/{id}/simulate"),
        &key,
        Some(&json!({"data": {"so_dien_thoai": "x"}})),
    );
    assert_eq!(simulated.status, 422, "{}", simulated.body);
}

#[test]
fn simulate_shows_the_path_and_rendered_settings_without_side_effects() {
    // SPEC A-V
    let (sink, seen) = partner();
    let app = Launch::careflow().start();
    let key = workspace(&app, "zeta");
    let created = call(&app, "POST", "/api/v1/flows", &key, Some(&care_flow(&sink))).json();
    let id = created["id"].as_str().unwrap();
    let body = json!({"data": {"order": {"id": "S1", "total": 3000000}, "so_dien_thoai": "0912345678"}, "draws": [0.5, 0.5, 0.9]});
    let sim = call(
        &app,
        "POST",
        &format!("/api/v1/flows/{id}/simulate"),
        &key,
        Some(&body),
    )
    .json();
    let steps = sim["simulation"]["steps"].as_array().unwrap();
    let path: Vec<(&str, &str)> = steps
        .iter()
        .map(|s| {
            (
                s["node_id"].as_str().unwrap(),
                s["port"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        path,
        [
            ("big", "yes"),
            ("wait", "next"),
            ("split", "b"),
            ("notify", "next"),
            ("thanks", "next")
        ]
    );
    assert_eq!(steps[3]["rendered"]["url"], format!("{sink}/orders/S1"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        seen.lock().unwrap().is_empty(),
        "a dry run calls no partner"
    );
    assert!(
        call(&app, "GET", "/api/v1/runs", &key, None).json()["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_waiting_run_resumes_after_the_runner_is_killed_and_can_be_cancelled() {
    // SPEC A-N2
    let app = Launch::careflow().start();
    let key = workspace(&app, "eta");
    let mut flow = care_flow("http://127.0.0.1:9");
    flow["nodes"][1]["settings"] = json!({"duration": {"amount": 3, "unit": "seconds"}});
    flow["nodes"][3]["settings"] = json!({"action": "set_variables", "values": {"da_gui": "co"}});
    let flow_id = publish(&app, &key, &flow);
    let body = json!({"order": {"id": "K1", "total": 9000000}, "so_dien_thoai": "0912345678"});
    let run = call(
        &app,
        "POST",
        &format!("/api/v1/flows/{flow_id}/trigger"),
        &key,
        Some(&body),
    )
    .json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let second = call(
        &app,
        "POST",
        &format!("/api/v1/flows/{flow_id}/trigger"),
        &key,
        Some(&body),
    )
    .json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let cancelled = call(
        &app,
        "POST",
        &format!("/api/v1/runs/{second}/cancel"),
        &key,
        None,
    )
    .json();
    assert_eq!(cancelled["status"], "cancelled");
    let launch = app.kill();
    std::thread::sleep(Duration::from_secs(3));
    let app = launch.start();
    let done = wait_for_status(&app, &key, &run, "completed");
    assert_eq!(done["variables"]["da_gui"], "co");
    let steps: Vec<u64> = done["step_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step_no"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [1, 2, 3, 4, 5], "each step exactly once");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        call(&app, "GET", &format!("/api/v1/runs/{second}"), &key, None).json()["status"],
        "cancelled",
        "a cancelled run never resumes"
    );
}

#[test]
fn a_plain_webhook_binds_known_objects_and_one_delivery_is_one_run() {
    // SPEC A-T5
    let app = Launch::careflow().start();
    let key = workspace(&app, "theta");
    let flow = json!({
        "name": "Đơn từ website",
        "trigger": {"type": "webhook"},
        "nodes": [
            {"id": "big", "type": "condition", "settings": {"condition": {"field": "order.total", "op": "gte", "value": 1000000}}},
            {"id": "thanks", "type": "action", "settings": {"action": "set_variables", "values": {"loi_chao": "Cảm ơn {{customer.name}} ({{customer.phone}})"}}}
        ],
        "edges": [{"from": "trigger", "to": "big"}, {"from": "big", "port": "yes", "to": "thanks"}]
    });
    let flow_id = publish(&app, &key, &flow);
    let token =
        call(&app, "GET", &format!("/api/v1/flows/{flow_id}"), &key, None).json()["trigger_token"]
            .as_str()
            .unwrap()
            .to_string();
    let payload = br#"{"id": 5501, "order_number": 1001, "total_price": "1250000.00",
        "line_items": [{"title": "Ao dai", "quantity": 1}],
        "customer": {"first_name": "Lan", "last_name": "Nguyen", "phone": "0912 345 678"}}"#;
    let headers = [
        ("content-type", "application/json"),
        ("x-shopify-webhook-id", "delivery-77"),
    ];
    let answers: Vec<Value> = (0..3)
        .map(|_| {
            app.request("POST", &format!("/hooks/{token}"), &headers, Some(payload))
                .json()
        })
        .collect();
    assert!(
        answers.iter().all(|a| a["run_id"] == answers[0]["run_id"]),
        "{answers:?}"
    );
    assert_eq!(answers[0]["bound"], json!(["customer", "order"]));
    let run = answers[0]["run_id"].as_str().unwrap();
    let done = wait_for_status(&app, &key, run, "completed");
    assert_eq!(
        done["variables"]["loi_chao"],
        "Cảm ơn Lan Nguyen (84912345678)"
    );
    assert_eq!(
        call(&app, "GET", "/api/v1/runs", &key, None).json()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    assert_eq!(
        app.request(
            "POST",
            &format!("/hooks/{token}"),
            &headers,
            Some(b"{not json")
        )
        .status,
        400
    );
    assert_eq!(
        app.request("POST", "/hooks/ft_unknown", &headers, Some(b"{}"))
            .status,
        404
    );
    assert_eq!(
        app.request("GET", &format!("/hooks/{token}"), &[], None)
            .status,
        405
    );
    let via_api = call(
        &app,
        "POST",
        &format!("/api/v1/flows/{flow_id}/trigger"),
        &key,
        Some(&json!({})),
    );
    assert_eq!(
        via_api.status, 409,
        "a webhook flow is not started by the API trigger"
    );
}

#[test]
fn a_hosted_form_starts_a_run_per_submission_with_field_errors_and_a_spam_guard() {
    // SPEC A-T1
    let app = Launch::careflow().start();
    let key = workspace(&app, "iota");
    let flow = json!({
        "name": "Đăng ký tư vấn",
        "variables": [
            {"name": "ho_ten", "type": "text", "required": true},
            {"name": "so_dien_thoai", "type": "phone", "required": true},
            {"name": "goi", "type": "text"}
        ],
        "trigger": {"type": "form", "settings": {
            "title": "Đăng ký tư vấn",
            "fields": [
                {"name": "ho_ten", "label": "Họ tên"},
                {"name": "so_dien_thoai", "label": "Số điện thoại", "input": "phone"},
                {"name": "goi", "label": "Gói", "input": "select", "options": ["Cơ bản", "Nâng cao"]}
            ]
        }},
        "nodes": [{"id": "hi", "type": "action", "settings": {"action": "set_variables", "values": {"chao": "Chào {{ho_ten}}"}}}],
        "edges": [{"from": "trigger", "to": "hi"}]
    });
    let flow_id = publish(&app, &key, &flow);
    let token =
        call(&app, "GET", &format!("/api/v1/flows/{flow_id}"), &key, None).json()["trigger_token"]
            .as_str()
            .unwrap()
            .to_string();
    let page = app.get(&format!("/forms/{token}"));
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.body.contains("name=\"so_dien_thoai\"")
            && page.body.contains("Nâng cao")
            && page.body.contains("name=\"website\"")
    );

    let form = [("content-type", "application/x-www-form-urlencoded")];
    let ok = app.request(
        "POST",
        &format!("/forms/{token}"),
        &form,
        Some(
            "ho_ten=Nguy%E1%BB%85n+Lan&so_dien_thoai=0912345678&goi=C%C6%A1+b%E1%BA%A3n".as_bytes(),
        ),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.contains("Cảm ơn"));
    let bad = app.request(
        "POST",
        &format!("/forms/{token}"),
        &form,
        Some(b"ho_ten=&so_dien_thoai=abc&goi=VIP"),
    );
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("role=\"alert\""),
        "errors are shown beside the fields"
    );
    let json_bad = app.request(
        "POST",
        &format!("/forms/{token}"),
        &[("content-type", "application/json")],
        Some(br#"{"so_dien_thoai":"0912345678"}"#),
    );
    assert_eq!(json_bad.status, 422);
    assert_eq!(json_bad.json()["error"]["details"][0]["field"], "ho_ten");
    let spam = app.request(
        "POST",
        &format!("/forms/{token}"),
        &form,
        Some(b"ho_ten=Bot&so_dien_thoai=0912345678&website=http%3A%2F%2Fspam"),
    );
    assert_eq!(spam.status, 200, "a bot sees success");

    let runs = call(&app, "GET", "/api/v1/runs", &key, None).json();
    let runs = runs["data"].as_array().unwrap();
    assert_eq!(
        runs.len(),
        1,
        "only the valid human submission started a run"
    );
    let run = runs[0]["id"].as_str().unwrap();
    let done = wait_for_status(&app, &key, run, "completed");
    assert_eq!(done["variables"]["chao"], "Chào Nguyễn Lan");
    assert_eq!(done["variables"]["so_dien_thoai"], "84912345678");

    // Ten submissions a minute from one address; the next is 429.
    let limited: Vec<u16> = (0..12)
        .map(|_| {
            app.request(
                "POST",
                &format!("/forms/{token}"),
                &form,
                Some(b"ho_ten=X&so_dien_thoai=abc"),
            )
            .status
        })
        .collect();
    assert!(limited.contains(&429), "{limited:?}");
    assert_eq!(
        app.request("DELETE", &format!("/forms/{token}"), &[], None)
            .status,
        405
    );
    assert_eq!(app.get("/forms/ft_unknown").status, 404);
}

fn xlsx(rows: &[&[&str]]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if cell.is_empty() {
                continue;
            }
            match cell.parse::<f64>() {
                Ok(n) if !cell.starts_with('0') => sheet.write(r as u32, c as u16, n).unwrap(),
                _ => sheet.write(r as u32, c as u16, *cell).unwrap(),
            };
        }
    }
    book.save_to_buffer().unwrap()
}

#[test]
fn an_excel_upload_starts_one_run_per_good_row_and_lists_row_errors() {
    // SPEC A-T4
    let app = Launch::careflow().start();
    let key = workspace(&app, "kappa");
    let auth = format!("Bearer {key}");
    let file = xlsx(&[
        &["Họ tên", "Số điện thoại", "Tổng tiền"],
        &["Nguyễn Lan", "912345678", "1250000"],
        &["", "", ""],
        &["Trần An", "0987654321", "nhiều"],
        &["Lê Bình", "0901234567", "300000"],
    ]);
    let xlsx_type = (
        "content-type",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    );
    // The sample file declares the variables.
    let columns = app
        .request(
            "POST",
            "/api/v1/flows/any/uploads/columns",
            &[("authorization", &auth), xlsx_type],
            Some(&file),
        )
        .json();
    assert_eq!(columns["variables"][1]["name"], "so_dien_thoai");
    assert_eq!(columns["variables"][1]["label"], "Số điện thoại");
    let flow = json!({
        "name": "Gọi lại khách từ file",
        "variables": [
            {"name": "ho_ten", "type": "text", "required": true, "label": "Họ tên"},
            {"name": "so_dien_thoai", "type": "phone", "required": true, "label": "Số điện thoại"},
            {"name": "tong_tien", "type": "number"}
        ],
        "trigger": {"type": "excel"},
        "nodes": [{"id": "hi", "type": "action", "settings": {"action": "set_variables", "values": {"chao": "Chào {{ho_ten}}"}}}],
        "edges": [{"from": "trigger", "to": "hi"}]
    });
    let flow_id = publish(&app, &key, &flow);
    let job = app.request(
        "POST",
        &format!("/api/v1/flows/{flow_id}/uploads?file_name=khach.xlsx"),
        &[("authorization", &auth), xlsx_type],
        Some(&file),
    );
    assert_eq!(job.status, 202, "{}", job.body);
    let job = job.json();
    assert_eq!(
        (job["rows_total"].as_i64(), job["rows_failed"].as_i64()),
        (Some(3), Some(1))
    );
    assert_eq!(job["errors"][0]["row"], 4);
    assert_eq!(job["errors"][0]["column"], "C");
    assert_eq!(job["errors"][0]["field"], "tong_tien");
    let id = job["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let progress = loop {
        let p = call(
            &app,
            "GET",
            &format!("/api/v1/flows/{flow_id}/uploads/{id}"),
            &key,
            None,
        )
        .json();
        if p["status"] == "completed" || Instant::now() > deadline {
            break p;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(
        (
            progress["status"].as_str(),
            progress["rows_started"].as_i64()
        ),
        (Some("completed"), Some(2)),
        "{progress}"
    );
    let runs = call(
        &app,
        "GET",
        &format!("/api/v1/runs?flow_id={flow_id}"),
        &key,
        None,
    )
    .json();
    let mut phones: Vec<String> = runs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["variables"]["so_dien_thoai"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    phones.sort();
    assert_eq!(
        phones,
        ["84901234567", "84912345678"],
        "Excel's lost leading zero is restored"
    );

    // Bad files answer 4xx and start nothing.
    let post = |body: &[u8], ct: (&'static str, &'static str)| {
        app.request(
            "POST",
            &format!("/api/v1/flows/{flow_id}/uploads"),
            &[("authorization", &auth), ct],
            Some(body),
        )
        .status
    };
    assert_eq!(
        post(b"ho_ten,so_dien_thoai\nAn,0912", xlsx_type),
        415,
        "a CSV is not an xlsx"
    );
    assert_eq!(post(&xlsx(&[]), xlsx_type), 422, "empty sheet");
    assert_eq!(
        post(&xlsx(&[&["Số ĐT", "so dt"], &["1", "2"]]), xlsx_type),
        422,
        "duplicate headers"
    );
    assert_eq!(post(&file, ("content-type", "text/csv")), 415);
    assert_eq!(
        post(&xlsx(&[&["Cột lạ"], &["x"]]), xlsx_type),
        422,
        "no header matches a variable"
    );
    assert_eq!(
        call(&app, "GET", "/api/v1/runs", &key, None).json()["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn signed_zalo_events_start_the_listening_flows_once() {
    // SPEC A-T5
    use sha2::{Digest, Sha256};
    let app = Launch::careflow().start();
    let key = workspace(&app, "lambda");
    let connect = json!({"kind": "zalo", "account_id": "388613280878808645", "app_id": "3608465249", "secret": "oa-secret-key"});
    let connected = call(&app, "POST", "/api/v1/partners", &key, Some(&connect));
    assert_eq!(connected.status, 201, "{}", connected.body);
    assert!(
        connected.json().get("secret").is_none(),
        "the secret is never shown again"
    );
    assert_eq!(
        call(&app, "POST", "/api/v1/partners", &key, Some(&connect)).status,
        409
    );
    let flow = json!({
        "name": "Trả lời Zalo",
        "trigger": {"type": "partner", "settings": {"partner": "zalo", "events": ["user_send_text"]}},
        "nodes": [{"id": "note", "type": "action", "settings": {"action": "set_variables", "values": {"hoi": "{{zalo.text}} từ {{zalo.user_id}}"}}}],
        "edges": [{"from": "trigger", "to": "note"}]
    });
    let flow_id = publish(&app, &key, &flow);
    let mut bad = flow.clone();
    bad["trigger"]["settings"]["events"] = json!(["user_dance"]);
    let saved = call(&app, "POST", "/api/v1/flows", &key, Some(&bad)).json();
    assert!(
        saved["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["field"] == "trigger.settings.events[0]")
    );

    let raw = r#"{"app_id":"3608465249","sender":{"id":"2468458835"},"recipient":{"id":"388613280878808645"},"event_name":"user_send_text","message":{"text":"Cho tôi đặt lịch","msg_id":"m1"},"timestamp":"1732500000000"}"#;
    let mut hasher = Sha256::new();
    hasher.update(b"3608465249");
    hasher.update(raw.as_bytes());
    hasher.update(b"1732500000000");
    hasher.update(b"oa-secret-key");
    let mac = format!("mac={}", hex::encode(hasher.finalize()));
    let deliver = |signature: &str, body: &str| {
        app.request(
            "POST",
            "/partners/zalo/events",
            &[
                ("content-type", "application/json"),
                ("x-zevent-signature", signature),
            ],
            Some(body.as_bytes()),
        )
    };
    let first = deliver(&mac, raw);
    assert_eq!(first.status, 200, "{}", first.body);
    let again = deliver(&mac, raw).json();
    assert_eq!(
        again["runs"][0]["replayed"], true,
        "Zalo's retry starts nothing new"
    );
    let run = first.json()["runs"][0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = wait_for_status(&app, &key, &run, "completed");
    assert_eq!(done["variables"]["hoi"], "Cho tôi đặt lịch từ 2468458835");
    assert_eq!(done["trigger_kind"], "partner");
    assert!(done["flow_id"] == flow_id.as_str());

    let forged = raw.replace("đặt lịch", "hủy đơn");
    assert_eq!(
        deliver(&mac, &forged).status,
        401,
        "a tampered event fails the signature"
    );
    assert_eq!(deliver("mac=00", raw).status, 401);
    let stranger = raw.replace("388613280878808645", "999");
    assert_eq!(
        deliver(&mac, &stranger).status,
        404,
        "no workspace connected that OA"
    );
    assert_eq!(
        app.request("POST", "/partners/tiki/events", &[], Some(b"{}"))
            .status,
        404
    );
    assert_eq!(
        call(&app, "GET", "/api/v1/runs", &key, None).json()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_condition_trigger_fires_once_per_transition_and_extended_events_fire_on_the_event() {
    // SPEC A-T2
    let app = Launch::careflow().start();
    let key = workspace(&app, "mu");
    let vip = json!({
        "name": "Chăm sóc VIP",
        "trigger": {"type": "condition", "settings": {"object": "customer", "condition": {"field": "customer.tags", "op": "has_tag", "value": "VIPCustomer"}}},
        "nodes": [{"id": "hi", "type": "action", "settings": {"action": "set_variables", "values": {"chao": "Chào VIP {{customer.name}}"}}}],
        "edges": [{"from": "trigger", "to": "hi"}]
    });
    let vip_flow = publish(&app, &key, &vip);
    let rated = json!({
        "name": "Cảm ơn đánh giá",
        "trigger": {"type": "condition", "settings": {"object": "customer", "event": "zns.rated", "condition": {"field": "customer.tags", "op": "has_tag", "value": "VIPCustomer"}}},
        "nodes": [{"id": "thanks", "type": "action", "settings": {"action": "set_variables", "values": {"sao": "{{event.data.stars}}"}}}],
        "edges": [{"from": "trigger", "to": "thanks"}]
    });
    let rated_flow = publish(&app, &key, &rated);
    let runs_of = |flow: &str| -> Vec<Value> {
        std::thread::sleep(Duration::from_millis(1500));
        call(
            &app,
            "GET",
            &format!("/api/v1/runs?flow_id={flow}"),
            &key,
            None,
        )
        .json()["data"]
            .as_array()
            .unwrap()
            .clone()
    };

    let created = call(
        &app,
        "POST",
        "/api/v1/customers",
        &key,
        Some(&json!({"name": "Lan", "phone": "0912345678", "tags": []})),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let customer = created.json();
    assert_eq!(customer["phone"], "84912345678");
    let id = customer["id"].as_str().unwrap().to_string();
    assert!(runs_of(&vip_flow).is_empty(), "not VIP yet");

    let became = call(
        &app,
        "PATCH",
        &format!("/api/v1/customers/{id}"),
        &key,
        Some(&json!({"tags": ["VIPCustomer"]})),
    );
    assert_eq!(became.status, 200, "{}", became.body);
    call(
        &app,
        "PATCH",
        &format!("/api/v1/customers/{id}"),
        &key,
        Some(&json!({"attributes": {"hang": "vang"}})),
    );
    let vip_runs = runs_of(&vip_flow);
    assert_eq!(
        vip_runs.len(),
        1,
        "one run for the transition, none for the later update: {vip_runs:?}"
    );
    let run = vip_runs[0]["id"].as_str().unwrap();
    assert_eq!(
        wait_for_status(&app, &key, run, "completed")["variables"]["chao"],
        "Chào VIP Lan"
    );
    assert!(
        runs_of(&rated_flow).is_empty(),
        "an update does not fire the extended condition"
    );

    let event = call(
        &app,
        "POST",
        &format!("/api/v1/customers/{id}/events"),
        &key,
        Some(&json!({"event": "zns.rated", "data": {"stars": 5}})),
    );
    assert_eq!(event.status, 202, "{}", event.body);
    let rated_runs = runs_of(&rated_flow);
    assert_eq!(rated_runs.len(), 1);
    let done = wait_for_status(
        &app,
        &key,
        rated_runs[0]["id"].as_str().unwrap(),
        "completed",
    );
    assert_eq!(done["variables"]["sao"], "5");

    // Bad input and tenancy.
    assert_eq!(
        call(
            &app,
            "POST",
            "/api/v1/customers",
            &key,
            Some(&json!({"phone": "abc"}))
        )
        .json()["error"]["field"],
        "phone"
    );
    assert_eq!(
        call(
            &app,
            "POST",
            "/api/v1/customers",
            &key,
            Some(&json!({"name": "Trùng", "phone": "+84912345678"}))
        )
        .status,
        409
    );
    assert_eq!(
        call(
            &app,
            "POST",
            "/api/v1/tickets",
            &key,
            Some(&json!({"note": "no title"}))
        )
        .status,
        422
    );
    let other = workspace(&app, "nu");
    assert_eq!(
        call(
            &app,
            "GET",
            &format!("/api/v1/customers/{id}"),
            &other,
            None
        )
        .status,
        404
    );
    assert_eq!(
        call(
            &app,
            "PATCH",
            &format!("/api/v1/customers/{id}"),
            &other,
            Some(&json!({"tags": []}))
        )
        .status,
        404
    );
}

#[test]
fn crm_actions_tag_the_customer_set_attributes_and_open_one_ticket() {
    // SPEC A-N8 A-T2
    let app = Launch::careflow().start();
    let key = workspace(&app, "xi");
    let flow = json!({
        "name": "VIP mới",
        "trigger": {"type": "condition", "settings": {"object": "customer", "condition": {"field": "customer.tags", "op": "has_tag", "value": "VIPCustomer"}}},
        "nodes": [
            {"id": "tag", "type": "action", "settings": {"action": "add_tag", "tag": "chăm-sóc-{{customer.city}}"}},
            {"id": "rank", "type": "action", "settings": {"action": "update_customer", "values": {"attributes.hang": "vàng"}}},
            {"id": "owner", "type": "action", "settings": {"action": "assign_agent", "agent": "mai@shop.vn"}},
            {"id": "ticket", "type": "action", "settings": {"action": "create_ticket", "title": "Gọi chúc mừng {{customer.name}}", "priority": "high"}}
        ],
        "edges": [{"from": "trigger", "to": "tag"}, {"from": "tag", "to": "rank"}, {"from": "rank", "to": "owner"}, {"from": "owner", "to": "ticket"}]
    });
    let flow_id = publish(&app, &key, &flow);
    let customer = call(
        &app,
        "POST",
        "/api/v1/customers",
        &key,
        Some(&json!({"name": "Hoa", "city": "Huế", "tags": ["VIPCustomer"]})),
    )
    .json();
    let id = customer["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let run = loop {
        let runs = call(
            &app,
            "GET",
            &format!("/api/v1/runs?flow_id={flow_id}"),
            &key,
            None,
        )
        .json();
        if let Some(r) = runs["data"].as_array().and_then(|a| a.first()).cloned() {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "the condition trigger never fired"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let done = wait_for_status(&app, &key, run["id"].as_str().unwrap(), "completed");
    let after = call(&app, "GET", &format!("/api/v1/customers/{id}"), &key, None).json();
    assert_eq!(after["tags"], json!(["VIPCustomer", "chăm-sóc-Huế"]));
    assert_eq!(after["attributes"]["hang"], "vàng");
    assert_eq!(after["responsible_agent"], "mai@shop.vn");
    let tickets = call(&app, "GET", "/api/v1/tickets", &key, None).json();
    let tickets = tickets["data"].as_array().unwrap();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0]["title"], "Gọi chúc mừng Hoa");
    assert_eq!(tickets[0]["customer_id"], id.as_str());
    assert_eq!(done["variables"]["ticket"]["id"], tickets[0]["id"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        call(
            &app,
            "GET",
            &format!("/api/v1/runs?flow_id={flow_id}"),
            &key,
            None
        )
        .json()["data"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "the flow's own updates do not re-fire it"
    );
}

#[test]
fn a_bad_input_corpus_gets_4xx_json_and_writes_nothing() {
    // SPEC A-T3 A-T5 A-V
    let app = Launch::careflow().start();
    let key = workspace(&app, "omicron");
    let flow_id = publish(&app, &key, &care_flow("http://127.0.0.1:9"));
    let auth = format!("Bearer {key}");
    let json_headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let trigger = format!("/api/v1/flows/{flow_id}/trigger");
    let ten_mb = vec![b'7'; 10 * 1024 * 1024];
    let cases: Vec<(&str, String, Vec<u8>, u16)> = vec![
        (
            "invalid JSON",
            trigger.clone(),
            b"{\"order\": ".to_vec(),
            400,
        ),
        ("a JSON array", trigger.clone(), b"[1,2,3]".to_vec(), 400),
        (
            "wrong types",
            trigger.clone(),
            br#"{"order": 5, "so_dien_thoai": true}"#.to_vec(),
            422,
        ),
        ("10 MB body", trigger.clone(), ten_mb.clone(), 413),
        ("10 MB webhook", "/hooks/ft_x".to_string(), ten_mb, 413),
    ];
    for (name, path, body, status) in cases {
        let a = app.request("POST", &path, &json_headers, Some(&body));
        assert_eq!(a.status, status, "{name}: {}", a.body);
        a.error_code();
    }
    // Injection attempts in templates are problems at save time, not code.
    for (i, attempt) in [
        "{% for x in range(999999) %}x{% endfor %}",
        "{{ ''.__class__ }}",
        "{{ range(10) }}",
        "{{ self }}",
        "{% include '/etc/passwd' %}",
        "{{ customer.name | attr('x') }}",
    ]
    .iter()
    .enumerate()
    {
        let mut flow = care_flow("http://127.0.0.1:9");
        flow["nodes"][4]["settings"]["values"]["loi_chao"] = json!(attempt);
        let saved = call(&app, "POST", "/api/v1/flows", &key, Some(&flow)).json();
        let problems = saved["problems"].as_array().unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p["field"] == "settings.values.loi_chao" && p["severity"] == "error"),
            "attempt {i} {attempt}: {problems:?}"
        );
        let id = saved["id"].as_str().unwrap();
        assert_eq!(
            call(
                &app,
                "POST",
                &format!("/api/v1/flows/{id}/publish"),
                &key,
                None
            )
            .status,
            422
        );
    }
    let runs = call(&app, "GET", "/api/v1/runs", &key, None).json();
    assert!(
        runs["data"].as_array().unwrap().is_empty(),
        "no run was started by bad input"
    );
}

#[test]
fn a_partner_that_does_not_answer_in_time_fails_the_step_after_its_attempts() {
    // SPEC A-N8
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let attempts = Arc::new(Mutex::new(0u32));
    let seen = attempts.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            *seen.lock().unwrap() += 1;
            // Read the request, then never answer within the timeout.
            std::thread::spawn(move || {
                let mut stream = stream;
                let _ = read_request(&mut stream);
                std::thread::sleep(Duration::from_secs(5));
            });
        }
    });
    let app = Launch::careflow().start();
    let key = workspace(&app, "pi");
    allow_local_partners(&app, &key);
    let flow = json!({
        "name": "Đối tác chậm",
        "trigger": {"type": "api"},
        "nodes": [{"id": "slow", "type": "action", "settings": {"action": "http_request", "url": format!("{url}/x"), "timeout_ms": 400, "max_attempts": 2}}],
        "edges": [{"from": "trigger", "to": "slow"}]
    });
    let flow_id = publish(&app, &key, &flow);
    let started = Instant::now();
    let run = call(
        &app,
        "POST",
        &format!("/api/v1/flows/{flow_id}/trigger"),
        &key,
        Some(&json!({})),
    )
    .json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let failed = wait_for_status(&app, &key, &run, "failed");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the timeout, not the partner, ended the attempts"
    );
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("after 2 attempt"),
        "{failed}"
    );
    assert_eq!(*attempts.lock().unwrap(), 2);
}
