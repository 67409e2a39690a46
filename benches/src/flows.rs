//! `careflow-bench flows`: runs/s of a 5-node flow (API trigger → condition
//! → action → random → action) end to end through the runner, next to the
//! same engine and node library in-process with a native SQLite (the cost of
//! components, in the same run); per-node hop cost from a 1-node flow.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use careflow_engine::advance::{InProcess, advance};
use careflow_engine::{Clock, flows, runs};
use careflow_store::{Db, NativeDb};
use http_body_util::Full;
use serde_json::{Value, json};

use crate::{RequestMaker, free_port, load_with, ms, root, sibling, start};

fn five_nodes() -> Value {
    json!({
        "name": "bench five",
        "variables": [{"name": "order", "type": "object"}, {"name": "so_dien_thoai", "type": "phone"}],
        "trigger": {"type": "api"},
        "nodes": [
            {"id": "c", "type": "condition", "settings": {"condition": {"field": "order.total", "op": "gt", "value": 10}}},
            {"id": "a1", "type": "action", "settings": {"action": "set_variables", "values": {"chao": "Chào {{so_dien_thoai}}"}}},
            {"id": "r", "type": "random", "settings": {"branches": [{"port": "x", "percent": 50}, {"port": "y", "percent": 50}]}},
            {"id": "a2", "type": "action", "settings": {"action": "set_variables", "values": {"xong": "{{order.id}}"}}}
        ],
        "edges": [
            {"from": "trigger", "to": "c"}, {"from": "c", "port": "yes", "to": "a1"}, {"from": "c", "port": "no", "to": "a1"},
            {"from": "a1", "to": "r"}, {"from": "r", "port": "x", "to": "a2"}, {"from": "r", "port": "y", "to": "a2"}
        ]
    })
}

fn one_node() -> Value {
    json!({
        "name": "bench one",
        "variables": [{"name": "order", "type": "object"}, {"name": "so_dien_thoai", "type": "phone"}],
        "trigger": {"type": "api"},
        "nodes": [{"id": "a2", "type": "action", "settings": {"action": "set_variables", "values": {"xong": "{{order.id}}"}}}],
        "edges": [{"from": "trigger", "to": "a2"}]
    })
}

const BODY: &str = r#"{"order":{"id":"DH1","total":500},"so_dien_thoai":"0912345678"}"#;

struct BenchClock(u64);

impl Clock for BenchClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
    fn new_id(&mut self) -> String {
        self.0 += 1;
        format!("b{}", self.0)
    }
}

/// Starts `careflow up` on the careflow app with the bench admin token.
pub fn careflow_up(
    state: &std::path::Path,
    addr: SocketAddr,
    extra: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<crate::Server> {
    let mut cmd = Command::new(sibling("careflow"));
    cmd.arg("up")
        .arg("-f")
        .arg(root().join("spin.toml"))
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--state-dir")
        .arg(state)
        .arg("--quiet")
        .args(extra);
    cmd.env("SPIN_VARIABLE_ADMIN_TOKEN", "bench");
    cmd.envs(env.iter().copied());
    start("careflow app", cmd, addr)
}

/// The careflow app under the runner with a fresh workspace: where every
/// flows benchmark starts.
struct BenchApp {
    server: crate::Server,
    addr: SocketAddr,
    key: String,
}

fn bench_app(state: &std::path::Path, extra: &[&str]) -> anyhow::Result<BenchApp> {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
    let server = careflow_up(state, addr, extra, &[])?;
    let (status, created) = http_once(
        addr,
        "POST",
        "/api/v1/workspaces",
        "bench",
        r#"{"name":"Bench","owner_email":"b@b.vn","owner_name":"B"}"#,
    )?;
    if status != 201 {
        bail!("creating the bench workspace: {status} {created}");
    }
    let key = created["api_key"]["key"]
        .as_str()
        .context("api key")?
        .to_string();
    Ok(BenchApp { server, addr, key })
}

/// Runs per second and mean latency of one flow, in-process.
fn native(
    flow: &Value,
    measure: Duration,
    dir: &std::path::Path,
    name: &str,
) -> anyhow::Result<(f64, Duration)> {
    let conn = rusqlite::Connection::open(dir.join(format!("{name}.db")))?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
    let db = NativeDb(conn);
    careflow_store::migrate(&db)?;
    db.execute(
        "INSERT INTO workspaces (id, name, created_at) VALUES ('w', 'W', 'now')",
        &[],
    )?;
    let mut clock = BenchClock(0);
    let parsed = flows::parse_document(flow).map_err(|e| anyhow::anyhow!(e.message))?;
    let created =
        flows::create(&db, &mut clock, "w", &parsed).map_err(|e| anyhow::anyhow!(e.message))?;
    flows::publish(&db, &mut clock, "w", &created.id).map_err(|e| anyhow::anyhow!(e.message))?;
    let live =
        flows::live(&db, Some("w"), &created.id, None).map_err(|e| anyhow::anyhow!(e.message))?;
    let data = serde_json::from_str::<serde_json::Map<String, Value>>(BODY)?;
    let data = careflow_flow::binding::bind(&live.flow.variables, &data)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut exec = InProcess {
        perform: |_: &careflow_flow::nodes::Effect| Ok(serde_json::Map::new()),
    };
    let started = Instant::now();
    let mut count = 0u64;
    while started.elapsed() < measure {
        let run = runs::start(&db, &mut clock, &live, "api", &data, None)
            .map_err(|e| anyhow::anyhow!(e.message))?;
        runs::claim(&db, &run.run_id, clock.now_ms(), "bench")
            .map_err(|e| anyhow::anyhow!(e.message))?;
        let done = advance(&db, &mut clock, &mut exec, &run.run_id, "bench", 50, 1000)
            .map_err(|e| anyhow::anyhow!(e.message))?;
        if done.status != "completed" {
            bail!("native run ended {}", done.status);
        }
        count += 1;
    }
    let elapsed = started.elapsed();
    Ok((
        count as f64 / elapsed.as_secs_f64(),
        elapsed / count.max(1) as u32,
    ))
}

/// One blocking HTTP/1.1 request (setup only, not measured).
pub fn http_once(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> anyhow::Result<(u16, Value)> {
    let mut stream = TcpStream::connect(addr)?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: bench\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
}

/// Joins an HTTP/1.1 chunked body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn publish(addr: SocketAddr, key: &str, flow: &Value) -> anyhow::Result<String> {
    let (status, created) = http_once(addr, "POST", "/api/v1/flows", key, &flow.to_string())?;
    if status != 201 {
        bail!("creating the bench flow: {status} {created}");
    }
    let id = created["id"].as_str().context("flow id")?.to_string();
    let (status, published) = http_once(
        addr,
        "POST",
        &format!("/api/v1/flows/{id}/publish"),
        key,
        "",
    )?;
    if status != 200 {
        bail!("publishing the bench flow: {status} {published}");
    }
    Ok(id)
}

fn trigger_maker(flow_id: &str, key: &str) -> RequestMaker {
    let path = format!("/api/v1/flows/{flow_id}/trigger");
    let auth = format!("Bearer {key}");
    Arc::new(move || {
        http::Request::builder()
            .method("POST")
            .uri(path.as_str())
            .header("host", "bench")
            .header("authorization", auth.as_str())
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(BODY.as_bytes())))
            .expect("static request")
    })
}

pub fn bench(measure: Duration) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("careflow-flows-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (native5, native5_lat) = native(&five_nodes(), measure, &dir, "five")?;
    let (native1, native1_lat) = native(&one_node(), measure, &dir, "one")?;

    let BenchApp {
        server: app,
        addr,
        key,
    } = bench_app(&dir.join("app"), &[])?;
    let five = publish(addr, &key, &five_nodes())?;
    let one = publish(addr, &key, &one_node())?;

    println!("## Flow runs end to end: API trigger → condition → action → random → action\n");
    println!("| where | clients | runs/s | p50 per run | p99 per run | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| in-process engine, native SQLite | 1 | {native5:.0} | {} (mean) | | 0 |",
        ms(native5_lat)
    );
    let mut runner5 = Vec::new();
    for clients in [1, 16] {
        let p = load_with(
            addr,
            trigger_maker(&five, &key),
            clients,
            Duration::from_secs(1),
            measure,
        )?;
        println!(
            "| careflow runner (HTTP trigger, engine and 4 node components) | {clients} | {:.0} | {} | {} | {} |",
            p.rps,
            ms(p.p50),
            ms(p.p99),
            p.errors
        );
        runner5.push(p);
    }
    let one_point = load_with(
        addr,
        trigger_maker(&one, &key),
        1,
        Duration::from_secs(1),
        measure,
    )?;
    let (_, runs) = http_once(
        addr,
        "GET",
        &format!("/api/v1/runs?flow_id={five}&status=completed&limit=500"),
        &key,
        "",
    )?;
    let listed = runs["data"].as_array().map_or(0, Vec::len);
    println!(
        "\nRatio, runner vs in-process at 1 client: {:.0} % (16 clients: {:.0} %).",
        100.0 * runner5[0].rps / native5,
        100.0 * runner5[1].rps / native5
    );
    let hop = (runner5[0].p50.as_secs_f64() - one_point.p50.as_secs_f64()) / 4.0;
    let native_hop = (native5_lat.as_secs_f64() - native1_lat.as_secs_f64()) / 4.0;
    println!(
        "Per-node hop (5-node p50 − 1-node p50) / 4: runner {:.0} µs (1-node run p50 {}, p99 {}); in-process {:.0} µs (1-node mean {}, {native1:.0} runs/s).",
        hop * 1e6,
        ms(one_point.p50),
        ms(one_point.p99),
        native_hop * 1e6,
        ms(native1_lat)
    );
    println!("(check: the last 500 completed 5-node runs are listed: {listed} found)");
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn delay_flow() -> Value {
    json!({
        "name": "bench delays",
        "variables": [{"name": "due", "type": "date_time", "required": true}],
        "trigger": {"type": "api"},
        "nodes": [
            {"id": "wait", "type": "delay", "settings": {"until": "{{due}}"}},
            {"id": "done", "type": "action", "settings": {"action": "set_variables", "values": {"xong": "1"}}}
        ],
        "edges": [{"from": "trigger", "to": "wait"}, {"from": "wait", "to": "done"}]
    })
}

/// Starts `count` runs whose delays fall due evenly over `window`, starting
/// after all are created, then measures how late each resumed.
pub fn delays(count: usize, window: Duration) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("careflow-delays-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let BenchApp {
        server: app,
        addr,
        key,
    } = bench_app(&dir.join("app"), &[])?;
    let flow = publish(addr, &key, &delay_flow())?;

    // Creation at ~300 runs/s: leave room before the first due time.
    let lead = Duration::from_secs_f64(count as f64 / 250.0 + 5.0);
    let first_due = chrono::Utc::now() + chrono::Duration::from_std(lead)?;
    let step = window.as_secs_f64() / count as f64;
    let created_at = Instant::now();
    let path = format!("/api/v1/flows/{flow}/trigger");
    let auth = format!("Bearer {key}");
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (path, auth, next) = (path.clone(), auth.clone(), next.clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= count {
                        return Ok(());
                    }
                    let due = first_due
                        + chrono::Duration::milliseconds((i as f64 * step * 1000.0) as i64);
                    let body = json!({ "due": due.to_rfc3339() }).to_string();
                    let (status, answer) = http_once(
                        addr,
                        "POST",
                        &path,
                        auth.trim_start_matches("Bearer "),
                        &body,
                    )?;
                    if status != 202 {
                        bail!("trigger answered {status}: {answer}");
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
    }
    let creation = created_at.elapsed();
    if chrono::Utc::now() > first_due {
        bail!("creating {count} runs took {creation:?}, past the first due time; lower --runs");
    }
    // Wait for the window to pass and the queue to drain.
    let db = rusqlite::Connection::open(dir.join("app").join("sqlite_db.db"))?;
    let deadline = Instant::now() + lead + window + Duration::from_secs(120);
    loop {
        let waiting: i64 = db.query_row("SELECT count(*) FROM waits", [], |r| r.get(0))?;
        if waiting == 0 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let mut stmt = db.prepare(
        "SELECT json_extract(w.decision, '$.due_at'), d.started_at FROM run_steps w JOIN run_steps d ON d.run_id = w.run_id AND d.step_no = 2 WHERE w.step_no = 1",
    )?;
    let mut late: Vec<i64> = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .filter_map(Result::ok)
        .filter_map(|(due, started)| {
            let due = chrono::DateTime::parse_from_rfc3339(&due).ok()?;
            let started = chrono::DateTime::parse_from_rfc3339(&started).ok()?;
            Some((started - due).num_milliseconds())
        })
        .collect();
    late.sort_unstable();
    let pick = |q: f64| {
        late.get(((late.len() as f64 * q) as usize).min(late.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!("## Delay wake-up lateness\n");
    println!(
        "{count} runs waiting, due evenly over {}s (created in {:.1}s); resumed: {} of {count}. Lateness p50 {} ms, p99 {} ms, max {} ms.",
        window.as_secs(),
        creation.as_secs_f64(),
        late.len(),
        pick(0.5),
        pick(0.99),
        late.last().copied().unwrap_or(0)
    );
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Uploads an .xlsx of `rows` customers and measures the request and the
/// time until the engine's ticks have started every row's run.
pub fn excel(rows: usize) -> anyhow::Result<()> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["Họ tên", "Số điện thoại", "Tổng tiền"].iter().enumerate() {
        sheet.write(0, c as u16, *h)?;
    }
    for r in 1..=rows as u32 {
        sheet.write(r, 0, format!("Khách {r}"))?;
        sheet.write(r, 1, format!("09{:08}", r))?;
        sheet.write(r, 2, f64::from(r) * 1000.0)?;
    }
    let file = book.save_to_buffer()?;
    let dir = std::env::temp_dir().join(format!("careflow-excel-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let BenchApp {
        server: app,
        addr,
        key,
    } = bench_app(&dir.join("app"), &["--max-body-bytes", "33554432"])?;
    let flow = json!({
        "name": "bench excel",
        "variables": [{"name": "ho_ten", "type": "text", "required": true}, {"name": "so_dien_thoai", "type": "phone", "required": true}, {"name": "tong_tien", "type": "number"}],
        "trigger": {"type": "excel"},
        "nodes": [{"id": "hi", "type": "action", "settings": {"action": "set_variables", "values": {"chao": "{{ho_ten}}"}}}],
        "edges": [{"from": "trigger", "to": "hi"}]
    });
    let flow_id = publish(addr, &key, &flow)?;
    // The upload itself, with a raw socket (the file is large).
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr)?;
    write!(
        stream,
        "POST /api/v1/flows/{flow_id}/uploads?file_name=bench.xlsx HTTP/1.1\r\nhost: bench\r\nauthorization: Bearer {key}\r\ncontent-type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        file.len()
    )?;
    stream.write_all(&file)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let accepted = started.elapsed();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    let job: Value =
        serde_json::from_str(&body).with_context(|| format!("upload answer: {head}"))?;
    let id = job["id"]
        .as_str()
        .with_context(|| format!("upload answer: {body}"))?
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(1800);
    let enqueued = loop {
        let (_, progress) = http_once(
            addr,
            "GET",
            &format!("/api/v1/flows/{flow_id}/uploads/{id}"),
            &key,
            "",
        )?;
        if progress["status"] == "completed" {
            break started.elapsed();
        }
        if Instant::now() > deadline {
            bail!("upload not enqueued after 30 minutes: {progress}");
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    println!("## Excel upload (A-T4)\n");
    println!(
        "{rows} data rows ({:.1} MB .xlsx): upload answered (parsed, bound, stored) in {:.1} s; every row's run enqueued after {:.1} s ({:.0} rows/s).",
        file.len() as f64 / 1e6,
        accepted.as_secs_f64(),
        enqueued.as_secs_f64(),
        rows as f64 / enqueued.as_secs_f64()
    );
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Lateness percentiles from the store: step 2 start minus the delay's due.
fn lateness(db_path: &std::path::Path) -> anyhow::Result<Vec<i64>> {
    let db = rusqlite::Connection::open(db_path)?;
    let mut stmt = db.prepare(
        "SELECT json_extract(w.decision, '$.due_at'), d.started_at FROM run_steps w JOIN run_steps d ON d.run_id = w.run_id AND d.step_no = w.step_no + 1 WHERE w.node_id = 'wait'",
    )?;
    let mut late: Vec<i64> = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .filter_map(Result::ok)
        .filter_map(|(due, started)| {
            let due = chrono::DateTime::parse_from_rfc3339(&due).ok()?;
            let started = chrono::DateTime::parse_from_rfc3339(&started).ok()?;
            Some((started - due).num_milliseconds())
        })
        .collect();
    late.sort_unstable();
    Ok(late)
}

/// `count` runs put to sleep on their delay directly in the store (the
/// same engine crate, natively), due evenly over `window`; then the runner
/// wakes them and the lateness of each is measured.
pub fn delays_bulk(count: usize, window: Duration) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("careflow-delays-bulk-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let state = dir.join("app");
    let BenchApp {
        server: app,
        addr,
        key,
    } = bench_app(&state, &[])?;
    let flow_id = publish(addr, &key, &delay_flow())?;
    let workspace = http_once(addr, "GET", "/api/v1/workspaces/current", &key, "")?.1["id"]
        .as_str()
        .context("workspace")?
        .to_string();
    drop(app);

    let db_path = state.join("sqlite_db.db");
    let conn = rusqlite::Connection::open(&db_path)?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
    let db = NativeDb(conn);
    let mut clock = BenchClock(0);
    let live = flows::live(&db, Some(&workspace), &flow_id, None)
        .map_err(|e| anyhow::anyhow!(e.message))?;
    // Leave room for creating them and for the runner to start.
    let lead = Duration::from_secs_f64(count as f64 / 4_000.0 + 15.0);
    let first_due = chrono::Utc::now() + chrono::Duration::from_std(lead)?;
    let step = window.as_secs_f64() / count as f64;
    let mut exec = InProcess {
        perform: |_: &careflow_flow::nodes::Effect| Ok(serde_json::Map::new()),
    };
    let created_at = Instant::now();
    for chunk in (0..count).collect::<Vec<_>>().chunks(1_000) {
        db.transaction(|db| {
            for &i in chunk {
                let due =
                    first_due + chrono::Duration::milliseconds((i as f64 * step * 1000.0) as i64);
                let data =
                    serde_json::from_value(json!({ "due": due.to_rfc3339() })).expect("object");
                let run = runs::start(db, &mut clock, &live, "bench", &data, None)?;
                runs::claim(db, &run.run_id, clock.now_ms(), "bulk")?;
                advance(db, &mut clock, &mut exec, &run.run_id, "bulk", 1, 1000)?;
            }
            Ok::<_, careflow_api::ApiError>(())
        })
        .map_err(|e| anyhow::anyhow!(e.message))?;
    }
    let creation = created_at.elapsed();
    drop(db);
    if chrono::Utc::now() > first_due {
        bail!("creating {count} waiting runs took {creation:?}, past the first due time");
    }
    let app = careflow_up(&state, addr, &[], &[])?;
    let deadline = Instant::now() + lead + window + Duration::from_secs(1_800);
    loop {
        let waiting: i64 = rusqlite::Connection::open(&db_path)?.query_row(
            "SELECT count(*) FROM waits",
            [],
            |r| r.get(0),
        )?;
        if waiting == 0 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let finished = Instant::now();
    drop(app);
    let late = lateness(&db_path)?;
    let pick = |q: f64| {
        late.get(((late.len() as f64 * q) as usize).min(late.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!("## Delay wake-up lateness (bulk-loaded waits)\n");
    println!(
        "{count} runs waiting (put to sleep natively in {:.1}s), due evenly over {}s; resumed: {} of {count}; drained {:.0}s after the last due time. Lateness p50 {} ms, p99 {} ms, max {} ms.",
        creation.as_secs_f64(),
        window.as_secs(),
        late.len(),
        (finished.duration_since(created_at).as_secs_f64()
            - lead.as_secs_f64()
            - window.as_secs_f64())
        .max(0.0),
        pick(0.5),
        pick(0.99),
        late.last().copied().unwrap_or(0)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
