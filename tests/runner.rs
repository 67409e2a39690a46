//! The runner behaves as `spin up` does (issue 3): routing, private routes
//! and service chaining, stores that survive restarts, variables, the
//! outbound allow-list, the cron trigger, timeouts, limits, logs, clear
//! start-up errors and graceful shutdown.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use careflow_e2e::{Launch, careflow, root, temp_dir};

#[test]
fn routes_exact_parameters_and_wildcards_with_spin_headers() {
    let app = Launch::probe().start();
    let a = app.get("/items/7/parts/9");
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["headers"]["spin-path-match-id"], "7");
    assert_eq!(v["headers"]["spin-path-match-part"], "9");
    assert_eq!(v["headers"]["spin-matched-route"], "/items/:id/parts/:part");
    assert!(
        v["headers"]["spin-client-addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );

    let v = app.get("/probe/echo/deep/er?x=1").json();
    assert_eq!(v["path_info"], "/echo/deep/er");
    assert_eq!(v["headers"]["spin-component-route"], "/probe");
    assert!(
        v["headers"]["spin-full-url"]
            .as_str()
            .unwrap()
            .ends_with("/probe/echo/deep/er?x=1")
    );

    // The exact route wins over the parameter route's component.
    let v = app.get("/items/special").json();
    assert_eq!(v["headers"]["spin-matched-route"], "/items/special");
    assert_eq!(v["path_info"], "");

    let missing = app.get("/no/such/route");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error_code(), "not_found");
}

#[test]
fn private_route_is_404_from_outside_but_reachable_by_chaining() {
    let app = Launch::probe().start();
    // No public route leads to probe-private: the catch-all does not exist.
    assert_eq!(app.get("/inner").status, 404);
    let a = app.get("/probe/outbound?url=http%3A%2F%2Fprobe-private.spin.internal%2Fprobe%2Finner");
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(v["status"], 200);
    let inner: serde_json::Value = serde_json::from_str(v["body"].as_str().unwrap()).unwrap();
    assert_eq!(inner["path"], "/probe/inner");
    // Self requests are relative URLs, allowed by `http://self`, routed
    // through the public routes; a host literally named `self` is not the
    // app (Spin 3.6.3 denies it too).
    let v = app.get("/probe/outbound?url=%2Fhello%2Fx").json();
    assert_eq!(
        (v["status"].as_u64(), v["body"].as_str()),
        (Some(200), Some("hello")),
        "{v}"
    );
    let literal = app.get("/probe/outbound?url=http%3A%2F%2Fself%2Fhello");
    assert_eq!(literal.status, 502);
}

#[test]
fn outbound_request_outside_the_allow_list_is_denied_inside_the_guest() {
    let sink = TcpListener::bind("127.0.0.1:0").unwrap();
    let sink_port = sink.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in sink.incoming().flatten().take(1) {
            let mut stream = stream;
            let mut buf = [0u8; 2048];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\nsink",
            );
        }
    });
    let app = Launch::probe()
        .env(
            "SPIN_VARIABLE_SINK_URL",
            &format!("http://127.0.0.1:{sink_port}"),
        )
        .start();
    let denied = app.get("/probe/outbound?url=http%3A%2F%2Fexample.com%2F");
    assert_eq!(denied.status, 502);
    assert!(
        denied.json()["error"]
            .as_str()
            .unwrap()
            .contains("HttpRequestDenied"),
        "{}",
        denied.body
    );
    // A different port of an allowed host is still denied.
    let other_port = app.get(&format!(
        "/probe/outbound?url=http%3A%2F%2F127.0.0.1%3A{}%2F",
        sink_port + 1
    ));
    assert_eq!(other_port.status, 502);
    // The allowed host (from a variable template) is reached over real HTTP.
    let allowed = app.get(&format!(
        "/probe/outbound?url=http%3A%2F%2F127.0.0.1%3A{sink_port}%2Fhook"
    ));
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert_eq!(allowed.json()["body"], "sink");
    let (_, err) = app.output();
    assert!(
        err.contains("denied: add it to allowed_outbound_hosts"),
        "{err}"
    );
}

#[test]
fn key_value_and_sqlite_survive_a_restart() {
    let app = Launch::probe().start();
    assert_eq!(
        app.get("/probe/kv?key=greeting&value=chao").json()["value"],
        "chao"
    );
    assert_eq!(
        app.get("/probe/sql?add=first").json()["notes"],
        serde_json::json!(["first"])
    );
    let launch = app.kill();
    let app = launch.start();
    assert_eq!(app.get("/probe/kv?key=greeting").json()["value"], "chao");
    assert_eq!(
        app.get("/probe/sql?add=second").json()["notes"],
        serde_json::json!(["first", "second"])
    );
}

#[test]
fn concurrent_transactions_serialise_without_lost_updates_or_locks() {
    let app = std::sync::Arc::new(Launch::probe().start());
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let app = app.clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    let a = app.get("/probe/sql-tx");
                    assert_eq!(a.status, 200, "{}", a.body);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(app.get("/probe/sql-tx").json()["n"], 41);
}

#[test]
fn variables_come_from_defaults_templates_and_the_environment() {
    let app = Launch::probe().start();
    assert_eq!(app.get("/probe/var/message").json()["value"], "xin chào!");
    assert_eq!(app.get("/probe/var/token").json()["value"], "s3cret");
    let undefined = app.get("/probe/var/greeting");
    assert_eq!(
        undefined.status, 404,
        "only the component's own variables are visible"
    );
    assert_eq!(app.get("/probe/env").json()["probe_env"], "from-manifest");
    drop(app);
    let app = Launch::probe()
        .env("SPIN_VARIABLE_GREETING", "hello")
        .start();
    assert_eq!(app.get("/probe/var/message").json()["value"], "hello!");
}

#[test]
fn a_missing_required_variable_stops_start_up_with_its_name() {
    let launch = Launch::new(root().join("tests/fixtures/spin.toml"));
    let out = launch
        .command()
        .env_remove("SPIN_VARIABLE_SECRET_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = std::fs::read_to_string(launch.state_dir.join("runner.err")).unwrap();
    assert!(err.contains("SPIN_VARIABLE_SECRET_TOKEN"), "{err}");
}

#[test]
fn cron_trigger_ticks_every_second() {
    let app = Launch::probe().start();
    std::thread::sleep(Duration::from_millis(3300));
    let ticks: u64 = app.get("/probe/kv?key=cron-ticks").json()["value"]
        .as_str()
        .unwrap_or("0")
        .parse()
        .unwrap();
    assert!(ticks >= 2, "only {ticks} ticks in 3.3 s");
}

#[test]
fn a_guest_that_loops_forever_is_cut_off_and_the_next_request_works() {
    let app = Launch::probe().arg("--request-timeout").arg("1").start();
    let cut = app.get("/probe/loop");
    assert_eq!(cut.status, 500);
    assert_eq!(cut.error_code(), "component_failed");
    assert_eq!(app.get("/hello").body, "hello");
    let crashed = app.get("/probe/crash");
    assert_eq!(crashed.status, 500);
    assert_eq!(app.get("/hello").body, "hello");
}

#[test]
fn request_bodies_over_the_limit_are_413() {
    let app = Launch::probe().arg("--max-body-bytes").arg("1000").start();
    let small = app.request("POST", "/probe/echo", &[], Some(&[b'x'; 500]));
    assert_eq!(small.json()["body_len"], 500);
    let big = app.request("POST", "/probe/echo", &[], Some(&[b'x'; 5000]));
    assert_eq!(big.status, 413);
    assert_eq!(big.error_code(), "payload_too_large");
}

#[test]
fn component_output_is_prefixed_on_the_console_and_logged_to_files() {
    let app = Launch::probe().start();
    app.get("/probe/log");
    std::thread::sleep(Duration::from_millis(200));
    let (out, err) = app.output();
    assert!(out.contains("[probe] probe says hello on stdout"), "{out}");
    assert!(err.contains("[probe] probe says hello on stderr"), "{err}");
    let logged =
        std::fs::read_to_string(app.launch.state_dir.join("logs/probe_stdout.txt")).unwrap();
    assert!(logged.contains("probe says hello on stdout\n"));
}

#[test]
fn sigterm_finishes_gracefully_with_exit_0() {
    let app = Launch::probe().start();
    assert_eq!(app.get("/hello").status, 200);
    let (status, err) = app.stop();
    assert!(status.success(), "{status}: {err}");
    assert!(err.contains("shutting down"), "{err}");
}

#[test]
fn check_names_the_file_and_key_of_a_broken_manifest() {
    let dir = temp_dir("badmanifest");
    let manifest = dir.join("spin.toml");
    let good = std::fs::read_to_string(root().join("spin.toml")).unwrap();
    let web_trigger = good[..good.find("component = \"web\"").unwrap()]
        .matches("[[trigger.http]]")
        .count()
        - 1;
    std::fs::write(
        &manifest,
        good.replace("key_value_stores", "key_value_storez"),
    )
    .unwrap();
    let (ok, _, err) = careflow(&["check", "-f", manifest.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains(manifest.to_str().unwrap()), "{err}");
    assert!(err.contains("component.admin.key_value_storez"), "{err}");

    std::fs::write(
        &manifest,
        good.replace("component = \"web\"", "component = \"webz\""),
    )
    .unwrap();
    let (ok, _, err) = careflow(&["check", "-f", manifest.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains(&format!("trigger.http[{web_trigger}].component")) && err.contains("webz"),
        "{err}"
    );

    let (ok, out, _) = careflow(&[
        "check",
        "-f",
        root().join("spin.toml").to_str().unwrap(),
        "--runtime-config-file",
        root().join("runtime-config.toml").to_str().unwrap(),
    ]);
    assert!(ok);
    assert!(out.contains("ok: application `careflow`"), "{out}");

    let config = dir.join("runtime-config.toml");
    std::fs::write(&config, "[key_value_store.default]\ntype = \"dynamo\"\n").unwrap();
    let (ok, _, err) = careflow(&[
        "check",
        "-f",
        root().join("spin.toml").to_str().unwrap(),
        "--runtime-config-file",
        config.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("key_value_store.default.type"), "{err}");
}

#[test]
fn a_missing_wasm_file_says_to_run_build() {
    let dir = temp_dir("nowasm");
    let manifest = dir.join("spin.toml");
    std::fs::write(
        &manifest,
        "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"a\"\n[component.a]\nsource = \"missing.wasm\"\n",
    )
    .unwrap();
    let launch = Launch::new(&manifest);
    let out = launch.command().output().unwrap();
    assert!(!out.status.success());
    let err = std::fs::read_to_string(launch.state_dir.join("runner.err")).unwrap();
    assert!(
        err.contains("missing.wasm") && err.contains("careflow build"),
        "{err}"
    );
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut launch = Launch::probe();
    launch.port = taken.local_addr().unwrap().port();
    let out = launch.command().output().unwrap();
    assert!(!out.status.success());
    let err = std::fs::read_to_string(launch.state_dir.join("runner.err")).unwrap();
    assert!(err.contains("already in use"), "{err}");
}

#[test]
fn redis_backs_a_key_value_store_when_configured() {
    let Ok(server) = which("redis-server") else {
        eprintln!("SKIPPED: redis-server is not on the PATH (.ci/run installs it)");
        return;
    };
    let port = careflow_e2e::free_port();
    let dir = temp_dir("redis");
    let mut redis = std::process::Command::new(server)
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            dir.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let config = dir.join("runtime-config.toml");
    std::fs::write(
        &config,
        format!(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:{port}\"\n"
        ),
    )
    .unwrap();
    let app = Launch::probe()
        .arg("--runtime-config-file")
        .arg(config.to_string_lossy())
        .start();
    assert_eq!(
        app.get("/probe/kv?key=city&value=hue").json()["value"],
        "hue"
    );
    let launch = app.kill();
    let app = launch.start();
    assert_eq!(app.get("/probe/kv?key=city").json()["value"], "hue");
    // The SQLite key-value file was never used.
    assert!(!app.launch.state_dir.join("sqlite_key_value.db").exists());
    drop(app);
    let _ = redis.kill();
    let _ = redis.wait();
}

fn which(bin: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(bin))
                .find(|p| p.exists())
        })
        .ok_or(())
}
