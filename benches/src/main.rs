//! `careflow-bench`: measures the runner the way the foundation issue asks.
//!
//! `http` starts each server as its own process (a native hyper hello, the
//! careflow runner serving the `hello` component, and the Spin CLI when
//! `--spin` names its binary), drives each with a closed-loop load generator
//! of 1, 16 and 64 keep-alive connections, and prints requests/s and p50/p99
//! latency, the ratio to native, the added latency of one service-chaining
//! hop, and the runner's memory.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

mod campaign;
mod flows;
use bytes::Bytes;
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Full};

#[derive(Parser)]
#[command(about = "careflow benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Throughput and latency of the runner vs native (and Spin).
    Http {
        /// Seconds of measurement per point (after 1 s of warm-up).
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Concurrent connections to try.
        #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
        clients: Vec<usize>,
        /// A Spin CLI binary to measure in the same run.
        #[arg(long)]
        spin: Option<PathBuf>,
    },
    /// Flow runs end to end through the runner vs the same engine in-process.
    Flows {
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Delay wake-up lateness: many runs waiting, all due within a window.
    Delays {
        #[arg(long, default_value_t = 10_000)]
        runs: usize,
        /// Seconds over which the waits fall due.
        #[arg(long, default_value_t = 60)]
        window: u64,
        /// Create the waiting runs directly in the store (the engine crate,
        /// natively) instead of through the API trigger: for 100,000+.
        #[arg(long)]
        bulk: bool,
    },
    /// A large .xlsx upload: time until every row's run is enqueued.
    Excel {
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
    },
    /// Dialer pacing in the shift simulator (B-G, B-D): progressive,
    /// adaptive dial level, careflow predictive and the oracle.
    Dialer,
    /// A predictive campaign end to end (runner + careflow-sim, real
    /// time) next to the shift simulator on the same scenario (B-D).
    CampaignVsSim {
        #[arg(long, default_value_t = 10)]
        agents: usize,
        #[arg(long, default_value_t = 0.3)]
        answer_rate: f64,
        /// Mean talk time, seconds.
        #[arg(long, default_value_t = 60.0)]
        handle: f64,
        #[arg(long, default_value_t = 10)]
        minutes: u32,
    },
    /// Drive an already running server (for profiling it).
    Load {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value = "/hello")]
        path: String,
        #[arg(long, default_value_t = 16)]
        clients: usize,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Internal: a native hyper server answering `hello`.
    NativeHello {
        #[arg(long)]
        listen: SocketAddr,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::NativeHello { listen } => native_hello(listen),
        Cmd::Flows { seconds } => flows::bench(Duration::from_secs(seconds)),
        Cmd::Delays {
            runs,
            window,
            bulk: false,
        } => flows::delays(runs, Duration::from_secs(window)),
        Cmd::Delays {
            runs,
            window,
            bulk: true,
        } => flows::delays_bulk(runs, Duration::from_secs(window)),
        Cmd::Excel { rows } => flows::excel(rows),
        Cmd::Dialer => {
            dialer_table();
            Ok(())
        }
        Cmd::CampaignVsSim {
            agents,
            answer_rate,
            handle,
            minutes,
        } => campaign::versus_sim(agents, answer_rate, handle, minutes),
        Cmd::Load {
            addr,
            path,
            clients,
            seconds,
        } => {
            let p = load(
                addr,
                &path,
                clients,
                Duration::ZERO,
                Duration::from_secs(seconds),
            )?;
            println!(
                "{path} at {clients} clients: {:.0} req/s, p50 {}, p99 {}, {} errors",
                p.rps,
                ms(p.p50),
                ms(p.p99),
                p.errors
            );
            Ok(())
        }
        Cmd::Http {
            seconds,
            clients,
            spin,
        } => http_bench(Duration::from_secs(seconds), &clients, spin.as_deref()),
    }
}

fn native_hello(listen: SocketAddr) -> anyhow::Result<()> {
    // Same shape as the runner: a multi-threaded tokio runtime, HTTP/1.1.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(
                        http::Response::builder()
                            .header("content-type", "text/plain")
                            .body(Full::new(Bytes::from_static(b"hello")))
                            .expect("static response"),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

pub struct Server {
    pub name: String,
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_listening(addr: SocketAddr, child: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("server exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("server did not listen on {addr}")
}

pub fn start(name: &str, mut cmd: Command, addr: SocketAddr) -> anyhow::Result<Server> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    wait_listening(addr, &mut child)?;
    Ok(Server {
        name: name.to_string(),
        child,
        addr,
    })
}

pub fn sibling(bin: &str) -> PathBuf {
    std::env::current_exe()
        .expect("bench path")
        .with_file_name(bin)
}

/// One measured point.
pub struct Point {
    pub rps: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub errors: usize,
}

/// Closed loop: each connection sends the next request as soon as the
/// previous answer is read.
fn load(
    addr: SocketAddr,
    path: &str,
    clients: usize,
    warmup: Duration,
    measure: Duration,
) -> anyhow::Result<Point> {
    let path = path.to_string();
    let make: RequestMaker = std::sync::Arc::new(move || {
        http::Request::builder()
            .uri(path.as_str())
            .header("host", "bench")
            .body(Full::new(Bytes::new()))
            .expect("static request")
    });
    load_with(addr, make, clients, warmup, measure)
}

/// Builds the next request of a load run.
pub type RequestMaker = std::sync::Arc<dyn Fn() -> http::Request<Full<Bytes>> + Send + Sync>;

/// Closed loop over requests made by `make`; non-2xx answers count as errors.
pub fn load_with(
    addr: SocketAddr,
    make: RequestMaker,
    clients: usize,
    warmup: Duration,
    measure: Duration,
) -> anyhow::Result<Point> {
    // The load generator gets its own two threads, like autocannon would.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let start = Instant::now();
        let measure_from = start + warmup;
        let end = measure_from + measure;
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let make = make.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies: Vec<u32> = Vec::new();
                let mut errors = 0usize;
                let stream = tokio::net::TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                        .await?;
                tokio::spawn(conn);
                loop {
                    let sent = Instant::now();
                    if sent >= end {
                        break;
                    }
                    let req = make();
                    let ok = match sender.send_request(req).await {
                        Ok(res) => {
                            let status = res.status();
                            res.into_body().collect().await.is_ok() && status.is_success()
                        }
                        Err(_) => false,
                    };
                    if sent >= measure_from {
                        if ok {
                            latencies.push(sent.elapsed().as_micros() as u32);
                        } else {
                            errors += 1;
                        }
                    }
                }
                Ok::<_, anyhow::Error>((latencies, errors))
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (l, e) = t.await??;
            all.extend(l);
            errors += e;
        }
        all.sort_unstable();
        let pick = |q: f64| {
            Duration::from_micros(
                all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
                    .copied()
                    .unwrap_or(0) as u64,
            )
        };
        Ok(Point {
            rps: all.len() as f64 / measure.as_secs_f64(),
            p50: pick(0.50),
            p99: pick(0.99),
            errors,
        })
    })
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn http_bench(measure: Duration, clients: &[usize], spin: Option<&Path>) -> anyhow::Result<()> {
    let warmup = Duration::from_secs(1);
    let careflow = sibling("careflow");
    if !careflow.exists() {
        bail!(
            "{} is missing: cargo build --release -p careflow-runner",
            careflow.display()
        );
    }
    let hello_manifest = root().join("benches/hello/spin.toml");
    let state = std::env::temp_dir().join(format!("careflow-bench-{}", std::process::id()));

    let mut servers = Vec::new();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["native-hello", "--listen", &addr.to_string()]);
    servers.push(start("native hyper", cmd, addr)?);

    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
    let mut cmd = Command::new(&careflow);
    cmd.arg("up")
        .arg("-f")
        .arg(&hello_manifest)
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--state-dir")
        .arg(&state)
        .arg("--quiet");
    servers.push(start("careflow runner", cmd, addr)?);

    if let Some(spin) = spin {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
        let mut cmd = Command::new(spin);
        cmd.arg("up")
            .arg("-f")
            .arg(&hello_manifest)
            .arg("--listen")
            .arg(addr.to_string());
        servers.push(start("Spin CLI", cmd, addr)?);
    }

    println!(
        "## HTTP hello: requests/s and latency (closed loop, {}s per point)\n",
        measure.as_secs()
    );
    println!("| server | clients | req/s | p50 | p99 | errors | vs native |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut native_rps = std::collections::HashMap::new();
    for server in &servers {
        for &c in clients {
            let p = load(server.addr, "/hello", c, warmup, measure)?;
            if server.name == "native hyper" {
                native_rps.insert(c, p.rps);
            }
            let ratio = native_rps
                .get(&c)
                .map(|n| format!("{:.0} %", 100.0 * p.rps / n))
                .unwrap_or_default();
            println!(
                "| {} | {c} | {:.0} | {} | {} | {} | {ratio} |",
                server.name,
                p.rps,
                ms(p.p50),
                ms(p.p99),
                p.errors
            );
        }
    }

    println!("\n## One service-chaining hop (component → private component), 1 client\n");
    println!(
        "| server | direct p50 | chained p50 | added p50 | direct p99 | chained p99 | added p99 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for server in servers.iter().filter(|s| s.name != "native hyper") {
        let direct = load(server.addr, "/hello", 1, warmup, measure)?;
        let chained = load(server.addr, "/hello/chain", 1, warmup, measure)?;
        let added = |a: Duration, b: Duration| {
            format!("{:.0} µs", (b.as_secs_f64() - a.as_secs_f64()) * 1e6)
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            server.name,
            ms(direct.p50),
            ms(chained.p50),
            added(direct.p50, chained.p50),
            ms(direct.p99),
            ms(chained.p99),
            added(direct.p99, chained.p99)
        );
    }
    let runner = &servers[1];
    let (rss, hwm) = rss_kib(runner.child.id());
    println!(
        "\n## Memory\n\ncareflow runner serving the bench app after the load: RSS {:.1} MiB, peak {:.1} MiB",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    drop(servers);

    // The whole careflow app, every component loaded.
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
    let app = flows::careflow_up(&state.join("app"), addr, &[], &[])?;
    let _ = load(
        app.addr,
        "/api/v1/health",
        16,
        Duration::ZERO,
        Duration::from_secs(2),
    )?;
    let (rss, hwm) = rss_kib(app.child.id());
    println!(
        "careflow runner with all of careflow's components loaded, after 2 s of /api/v1/health at 16 clients: RSS {:.1} MiB, peak {:.1} MiB",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    let health = load(app.addr, "/api/v1/health", 16, warmup, measure)?;
    println!(
        "(`/api/v1/health`, a SQLite read + KV read per request, 16 clients: {:.0} req/s, p50 {}, p99 {})",
        health.rps,
        ms(health.p50),
        ms(health.p99)
    );
    drop(app);
    let _ = std::fs::remove_dir_all(&state);
    Ok(())
}

fn dialer_table() {
    use careflow_dialer::{Adaptive, Oracle, Pacer, Predictive, Progressive, Scenario, run};
    println!(
        "## Dialer pacing: 8-hour shift, handle time log-normal mean 180 s, max wait 3 s, abandon cap 3 %\n"
    );
    println!(
        "| agents | answer rate | pacer | occupancy | vs oracle | vs progressive | abandon (shift) | abandon (worst hour) | wait p95 | contacts / agent-hour |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for agents in [5, 20, 100] {
        for rate in [0.15, 0.30, 0.60] {
            let scenario = Scenario::standard(agents, rate, 42);
            let pacers: Vec<Box<dyn Pacer>> = vec![
                Box::new(Progressive),
                Box::new(Adaptive::default()),
                Box::new(Predictive::default()),
                Box::new(Oracle),
            ];
            let outcomes: Vec<(&str, careflow_dialer::Outcome)> = pacers
                .into_iter()
                .map(|mut p| (p.name(), run(&scenario, p.as_mut())))
                .collect();
            let oracle = outcomes[3].1.occupancy;
            let progressive = outcomes[0].1.occupancy;
            for (name, o) in &outcomes {
                println!(
                    "| {agents} | {:.0} % | {name} | {:.1} % | {:.0} % | {:.2}× | {:.2} % | {:.2} % | {:.0} s | {:.1} |",
                    rate * 100.0,
                    o.occupancy * 100.0,
                    100.0 * o.occupancy / oracle,
                    o.occupancy / progressive,
                    o.abandon_rate * 100.0,
                    o.worst_hour_abandon * 100.0,
                    o.wait_p95,
                    o.contacts_per_agent_hour
                );
            }
        }
    }
}
