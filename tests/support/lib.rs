//! The end-to-end harness: builds nothing, starts the `careflow` runner
//! (built by the test command) on a free loopback port with its own state
//! directory, waits until it answers, and speaks HTTP to it.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `careflow` binary next to this test executable (same profile), or
/// `CAREFLOW_BIN`.
pub fn careflow_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("CAREFLOW_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let bin = profile_dir.join("careflow");
    assert!(
        bin.exists(),
        "{} is missing: run the README test command (it builds the runner first)",
        bin.display()
    );
    bin
}

/// A fresh, empty directory under the target dir.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let exe = std::env::current_exe().expect("test executable path");
    let base = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .join("e2e");
    let dir = base.join(format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Shared compilation cache, so each test does not recompile components.
fn cache_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .join("e2e-wasm-cache")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// How to start the runner.
pub struct Launch {
    pub manifest: PathBuf,
    pub state_dir: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub port: u16,
}

impl Launch {
    pub fn new(manifest: impl Into<PathBuf>) -> Self {
        Self {
            manifest: manifest.into(),
            state_dir: temp_dir("state"),
            args: Vec::new(),
            env: Vec::new(),
            port: free_port(),
        }
    }

    /// The probe test app in tests/fixtures.
    pub fn probe() -> Self {
        Self::new(root().join("tests/fixtures/spin.toml"))
            .env("SPIN_VARIABLE_SECRET_TOKEN", "s3cret")
    }

    /// The careflow application itself, with a known admin token.
    pub fn careflow() -> Self {
        Self::new(root().join("spin.toml"))
            .env("SPIN_VARIABLE_ADMIN_TOKEN", ADMIN_TOKEN)
            .arg("--runtime-config-file")
            .arg(root().join("runtime-config.toml").to_string_lossy())
            .state_in_runtime_config_dir()
    }

    /// careflow's runtime-config.toml puts files under `.spin/` next to it;
    /// copy it so each test gets its own files.
    fn state_in_runtime_config_dir(mut self) -> Self {
        let config = self.state_dir.join("runtime-config.toml");
        std::fs::copy(root().join("runtime-config.toml"), &config).expect("copy runtime config");
        let i = self
            .args
            .iter()
            .position(|a| a == "--runtime-config-file")
            .expect("flag set above");
        self.args[i + 1] = config.to_string_lossy().into_owned();
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(careflow_bin());
        cmd.arg("up")
            .arg("-f")
            .arg(&self.manifest)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--cache-dir")
            .arg(cache_dir())
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(self.state_dir.join("runner.out")).expect("runner.out"))
            .stderr(std::fs::File::create(self.state_dir.join("runner.err")).expect("runner.err"));
        cmd
    }

    /// Starts the runner and waits until it accepts connections.
    pub fn start(self) -> Runner {
        let child = self.command().spawn().expect("spawn careflow");
        let mut runner = Runner {
            child: Some(child),
            base: format!("http://127.0.0.1:{}", self.port),
            launch: self,
        };
        runner.wait_ready();
        runner
    }
}

pub const ADMIN_TOKEN: &str = "test-admin-token";

/// A running `careflow up`; killed when dropped.
pub struct Runner {
    child: Option<Child>,
    pub base: String,
    pub launch: Launch,
}

/// An HTTP answer: status, headers we care about, and the body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts the shared error shape and returns its code.
    pub fn error_code(&self) -> String {
        let v = self.json();
        assert!(
            v["error"]["message"].is_string(),
            "no error message in {}",
            self.body
        );
        v["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {}", self.body))
            .to_string()
    }
}

impl Runner {
    fn wait_ready(&mut self) {
        let addr: SocketAddr = format!("127.0.0.1:{}", self.launch.port)
            .parse()
            .expect("addr");
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let (out, err) = self.output();
                panic!("careflow exited early ({status}):\n{out}\n{err}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("careflow did not start listening within 120 s");
    }

    /// What the runner printed so far: (stdout, stderr).
    pub fn output(&self) -> (String, String) {
        let read = |name: &str| {
            std::fs::read_to_string(self.launch.state_dir.join(name)).unwrap_or_default()
        };
        (read("runner.out"), read("runner.err"))
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Answer {
        send(&self.base, method, path, headers, body)
    }

    pub fn get(&self, path: &str) -> Answer {
        self.request("GET", path, &[], None)
    }

    /// Sends SIGTERM and waits for a graceful exit.
    pub fn stop(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let status = child.wait().expect("wait for careflow");
        let (_, err) = self.output();
        (status, err)
    }

    /// Kills the runner hard (no cleanup), keeping its state directory.
    pub fn kill(mut self) -> Launch {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let port = free_port();
        let mut launch = std::mem::replace(
            &mut self.launch,
            Launch {
                manifest: PathBuf::new(),
                state_dir: PathBuf::new(),
                args: vec![],
                env: vec![],
                port: 0,
            },
        );
        launch.port = port;
        launch
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One HTTP request to `base`; any status is an answer.
pub fn send(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Answer {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build();
    let mut req = agent.request(method, &format!("{base}{path}"));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let result = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    let res = match result {
        Ok(res) => res,
        Err(ureq::Error::Status(_, res)) => res,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = res.status();
    let headers = res
        .headers_names()
        .into_iter()
        .filter_map(|n| res.header(&n).map(|v| (n.clone(), v.to_string())))
        .collect();
    let mut bytes = Vec::new();
    res.into_reader()
        .read_to_end(&mut bytes)
        .expect("read body");
    Answer {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        headers,
    }
}

/// `careflow-sim` playing the carrier (docs/telephony.md) on a free port;
/// killed when dropped.
pub struct Sim {
    child: Child,
    pub port: u16,
    pub base: String,
}

impl Sim {
    /// Starts the simulator with `--time-scale scale` and waits for
    /// `/health`.
    pub fn start(scale: f64) -> Sim {
        let port = free_port();
        let bin = careflow_bin().with_file_name("careflow-sim");
        assert!(
            bin.exists(),
            "{} is missing: run the README test command (it builds the simulator first)",
            bin.display()
        );
        let log = temp_dir("sim").join("sim.log");
        let child = Command::new(bin)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--time-scale")
            .arg(scale.to_string())
            .arg("--seed")
            .arg("7")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("sim log"))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn careflow-sim");
        let sim = Sim {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
        };
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return sim;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("careflow-sim did not start listening within 30 s");
    }

    /// Sets the carrier's outcome mix and timings (`PUT /sim/carrier`).
    pub fn carrier(&self, config: serde_json::Value) {
        let body = config.to_string();
        let a = send(
            &self.base,
            "PUT",
            "/sim/carrier",
            &[("content-type", "application/json")],
            Some(body.as_bytes()),
        );
        assert!(a.status < 300, "PUT /sim/carrier: {} {}", a.status, a.body);
    }

    /// Every call the carrier saw.
    pub fn calls(&self) -> Vec<serde_json::Value> {
        let v = send(&self.base, "GET", "/sim/calls", &[], None).json();
        v.get("data")
            .or(Some(&v))
            .and_then(|d| d.as_array().cloned())
            .unwrap_or_default()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `careflow <args>` to completion: (success, stdout, stderr).
pub fn careflow(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(careflow_bin())
        .args(args)
        .output()
        .expect("run careflow");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
