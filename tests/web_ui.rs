//! The web UI in a real headless Chromium against the runner and
//! `careflow-sim`: the campaign dashboard (`static/campaigns.html`) must
//! render the live call, the agent on it and the report from the API; the
//! agent console (`static/agent.html`) is driven over WebDriver
//! (chromedriver) the way an agent clicks through a preview call.

use std::process::Command;
use std::time::{Duration, Instant};

use careflow_e2e::{ADMIN_TOKEN, Launch, Runner, Sim, free_port, send, temp_dir};
use serde_json::{Value, json};

fn chromium() -> Option<String> {
    let candidates = [
        std::env::var("CHROMIUM").unwrap_or_default(),
        "/usr/bin/chromium".into(),
        "/usr/bin/chromium-browser".into(),
        "/usr/bin/google-chrome".into(),
    ];
    candidates
        .into_iter()
        .find(|c| !c.is_empty() && std::path::Path::new(c).exists())
}

/// The flags a root, offline, headless Chromium needs here.
const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// The page's DOM after its scripts ran (fetches included) in headless
/// Chromium.
fn rendered(browser: &str, url: &str) -> String {
    let profile = temp_dir("chromium-profile");
    let out = Command::new(browser)
        .args(CHROMIUM_FLAGS)
        .args([
            &format!("--user-data-dir={}", profile.display()),
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ])
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn call(app: &Runner, method: &str, path: &str, key: &str, body: Value) -> Value {
    let auth = format!("Bearer {key}");
    let text = body.to_string();
    let a = app.request(
        method,
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(text.as_bytes()),
    );
    assert!(a.status < 300, "{method} {path}: {} {}", a.status, a.body);
    a.json()
}

/// The app wired to a carrier that answers every call within a second and
/// keeps it up for ten minutes, and a workspace with one hotline and one
/// agent.
struct Floor {
    sim: Sim,
    app: Runner,
    public: String,
    key: String,
    agent: String,
}

fn floor(workspace: &str, agent_name: &str) -> Floor {
    let sim = Sim::start(1.0);
    sim.carrier(
        json!({"answer_rate": 1.0, "busy_rate": 0.0, "voicemail_rate": 0.0, "failed_rate": 0.0,
        "ring_mean_s": 1, "no_answer_after_s": 10, "talk_mean_s": 600, "talk_sigma": 0.1}),
    );
    let launch = Launch::careflow().env("SPIN_VARIABLE_TELEPHONY_BASE_URL", &sim.base);
    let public = format!("http://127.0.0.1:{}", launch.port);
    let app = launch.env("SPIN_VARIABLE_PUBLIC_BASE_URL", &public).start();
    let created = call(
        &app,
        "POST",
        "/api/v1/workspaces",
        ADMIN_TOKEN,
        json!({"name": workspace, "owner_email": "o@ui.vn", "owner_name": "Chủ"}),
    );
    let key = created["api_key"]["key"].as_str().unwrap().to_string();
    call(
        &app,
        "POST",
        "/api/v1/telephony/hotlines",
        &key,
        json!({"number": "02873001234"}),
    );
    let agent = call(
        &app,
        "POST",
        "/api/v1/users",
        &key,
        json!({"email": "lan@ui.vn", "name": agent_name, "role": "agent"}),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    Floor {
        sim,
        app,
        public,
        key,
        agent,
    }
}

/// Creates a campaign for the floor's agent with `settings`, adds `rows`,
/// and submits, approves and starts it.
fn running_campaign(f: &Floor, settings: Value, rows: Value) -> String {
    let mut body = json!({"hotline": "02873001234", "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2099-01-01T00:00:00Z", "agents": [f.agent]});
    for (k, v) in settings.as_object().unwrap() {
        body[k] = v.clone();
    }
    let campaign = call(&f.app, "POST", "/api/v1/campaigns", &f.key, body)["id"]
        .as_str()
        .unwrap()
        .to_string();
    call(
        &f.app,
        "POST",
        &format!("/api/v1/campaigns/{campaign}/customers"),
        &f.key,
        json!({"source": "rows", "rows": rows}),
    );
    for verb in ["submit", "approve", "start"] {
        call(
            &f.app,
            "POST",
            &format!("/api/v1/campaigns/{campaign}/{verb}"),
            &f.key,
            json!({}),
        );
    }
    campaign
}

#[test]
fn the_campaign_dashboard_shows_live_calls_agents_and_abandon_rate_in_a_browser() {
    // SPEC B-4 B-G: an operator watches a running campaign.
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED: Chromium is not installed (.ci/run installs it)");
        return;
    };
    let f = floor("Bảng", "Nguyễn Thị Lan");
    let (app, key, agent, public) = (&f.app, &f.key, &f.agent, &f.public);
    let campaign = running_campaign(
        &f,
        json!({"name": "Chăm sóc tháng 12", "mode": "progressive"}),
        json!([{"phone": "0912345678", "name": "Bình"}, {"phone": "0912345679"}]),
    );
    call(
        app,
        "PUT",
        &format!("/api/v1/agents/{agent}/state"),
        key,
        json!({"state": "available"}),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let live = call(
            app,
            "GET",
            &format!("/api/v1/telephony/calls?campaign_id={campaign}&state=bridged"),
            key,
            json!(null),
        );
        if live["data"].as_array().is_some_and(|d| !d.is_empty()) {
            break;
        }
        assert!(Instant::now() < deadline, "no call was bridged");
        std::thread::sleep(Duration::from_millis(200));
    }

    let dom = rendered(
        &browser,
        &format!("{public}/campaigns.html#key={key}&campaign={campaign}"),
    );
    let text_of = |id: &str| -> String {
        let start = dom
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("no #{id} in {dom}"));
        let rest = &dom[start..];
        let open = rest.find('>').unwrap() + 1;
        let close = rest.find("</").unwrap();
        rest[open..close].to_string()
    };
    assert!(dom.contains("Chăm sóc tháng 12 (progressive)"), "{dom}");
    assert_eq!(text_of("campaign-status"), "running");
    assert_eq!(text_of("live"), "1", "one live call: the agent is on it");
    assert_eq!(text_of("attempts"), "1");
    assert_eq!(text_of("abandon-24h"), "0.00 %");
    assert!(
        dom.contains("<td>84912345678</td><td>bridged</td><td>Nguyễn Thị Lan</td>"),
        "the live call with its agent: {dom}"
    );
    assert!(
        dom.contains("<td>Nguyễn Thị Lan</td><td>on_call</td>"),
        "the agent on the call: {dom}"
    );
    assert!(
        dom.contains(">pause</button>"),
        "a running campaign can be paused"
    );

    // A wrong key shows the API's error instead of a board.
    let refused = rendered(&browser, &format!("{public}/campaigns.html#key=cf_wrong"));
    assert!(refused.contains("unknown or revoked"), "{refused}");
}

/// A WebDriver session on chromedriver (W3C protocol over HTTP), closed
/// and killed when dropped.
struct Driver {
    child: std::process::Child,
    base: String,
    session: String,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Driver {
    fn start(chromedriver: &str, browser: &str) -> Driver {
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = temp_dir("chromedriver-profile");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push("--window-size=1200,900".into());
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": browser, "args": args}}}});
        let mut driver = Driver {
            child,
            base,
            session: String::new(),
        };
        let v = driver.raw("POST", "/session", Some(caps));
        driver.session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_string();
        driver
    }

    fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let text = body.map(|b| b.to_string());
        let a = send(
            &self.base,
            method,
            path,
            &[("content-type", "application/json")],
            text.as_deref().map(str::as_bytes),
        );
        serde_json::from_str(&a.body).unwrap_or(Value::Null)
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.raw(method, &format!("/session/{}{path}", self.session), body)
    }

    fn open(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url})));
    }

    /// The element matching `css`, waiting up to 20 s for it to appear.
    fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            );
            if let Some(id) = v["value"][ELEMENT].as_str() {
                return id.to_string();
            }
            assert!(Instant::now() < deadline, "no element {css}: {v}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        );
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        let v = self.cmd("POST", &format!("/element/{id}/click"), Some(json!({})));
        assert!(v["value"].is_null(), "clicking {css}: {v}");
    }

    fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.cmd("GET", &format!("/element/{id}/text"), None)["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits up to 30 s for the text of `css` to satisfy `ok`.
    fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let t = self.text(css);
            if ok(&t) {
                return t;
            }
            assert!(Instant::now() < deadline, "{css} stayed {t:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            self.raw("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Option<String> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|c| std::path::Path::new(c).exists())
        .map(str::to_string)
}

#[test]
fn an_agent_dials_a_preview_and_records_the_script_in_the_agent_console() {
    // SPEC B-P B-3 B-1: the agent console, clicked through in Chromium.
    let (Some(browser), Some(driver_bin)) = (chromium(), chromedriver()) else {
        eprintln!("SKIPPED: Chromium or chromedriver is not installed (.ci/run installs them)");
        return;
    };
    let f = floor("Gọi", "Lan");
    let (app, key, public) = (&f.app, &f.key, &f.public);
    let phone = call(
        app,
        "POST",
        "/api/v1/api-keys",
        key,
        json!({"name": "Lan softphone", "user_id": f.agent}),
    )["key"]
        .as_str()
        .unwrap()
        .to_string();
    let campaign = running_campaign(
        &f,
        json!({"name": "Xem trước", "mode": "preview", "preview": {"seconds": 600}}),
        json!([{"phone": "0912345678", "name": "Bình"}]),
    );

    let d = Driver::start(&driver_bin, &browser);
    d.open(&format!("{public}/agent.html"));
    // Sign in the way an agent does: paste the key, press the button.
    d.type_into("#key", &phone);
    d.click("#login button");
    assert_eq!(d.wait_text("#me", |t| !t.is_empty()), "Lan");
    d.click("button[data-state=available]");
    // The preview: the customer is shown; the agent dials.
    d.wait_text("#call-state", |t| t == "previewing");
    assert_eq!(d.text("#call-to"), "84912345678");
    d.click("#call-actions button:first-child");
    d.wait_text("#call-state", |t| t == "bridged");
    assert_eq!(d.text("#state"), "on_call");
    // The default script: choose the outcome, write a note, disposition.
    d.click("select[name=outcome] option[value='Quan tâm']");
    d.type_into("input[name=note]", "gọi lại tuần sau");
    d.click("#disposition option[value=interested]");
    d.click("#save");
    d.wait_text("#saved", |t| t == "saved");
    let calls = call(
        app,
        "GET",
        &format!("/api/v1/campaigns/{campaign}/calls"),
        key,
        json!(null),
    );
    let c = &calls["data"][0];
    assert_eq!(
        c["answers"],
        json!({"outcome": "Quan tâm", "note": "gọi lại tuần sau"})
    );
    assert_eq!(c["disposition"], "interested");
    // Hanging up ends the call at the carrier and in the record.
    d.click("#call-actions button");
    d.wait_text("#call-state", |t| t == "ended");
    assert_eq!(f.sim.calls().len(), 1, "one customer, one call");
}
