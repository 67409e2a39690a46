//! `careflow`: builds and serves careflow's Spin application locally, the
//! way `spin build` and `spin up` do, on wasmtime.

mod app;
mod builder;
mod cron;
mod key_value;
mod llm;
mod logs;
mod outbound;
mod server;
mod spin_bindings;
mod sqlite;
mod state;
mod variables;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// How often the epoch advances; request deadlines are counted in these.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

#[derive(Parser)]
#[command(
    name = "careflow",
    version,
    about = "Build and run careflow's Spin application locally"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct AppArgs {
    /// The application manifest.
    #[arg(long, short = 'f', default_value = "spin.toml")]
    manifest: PathBuf,
    /// Spin runtime configuration (key-value and SQLite backends).
    #[arg(long)]
    runtime_config_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Build every component (installs the wasm32-wasip2 target if missing).
    Build {
        #[command(flatten)]
        app: AppArgs,
    },
    /// Serve the application.
    Up {
        #[command(flatten)]
        app: AppArgs,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: SocketAddr,
        /// Directory for the default SQLite and key-value files, logs and
        /// the compilation cache (relative to the manifest's directory).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Where compiled components are cached (default: <state-dir>/cache).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
        /// Build the components first.
        #[arg(long)]
        build: bool,
        /// Seconds one request or cron tick may run before it is cut off.
        #[arg(long, default_value_t = 30)]
        request_timeout: u64,
        /// Largest request body accepted, in bytes.
        #[arg(long, default_value_t = 16 * 1024 * 1024)]
        max_body_bytes: usize,
        /// Keep component output out of the console (still logged to files).
        #[arg(long)]
        quiet: bool,
    },
    /// Validate the manifest and runtime config without starting.
    Check {
        #[command(flatten)]
        app: AppArgs,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("careflow: error: {e:#}");
        std::process::exit(1);
    }
}

fn load(
    app: &AppArgs,
) -> anyhow::Result<(
    careflow_manifest::Manifest,
    careflow_manifest::RuntimeConfig,
)> {
    let manifest = careflow_manifest::load_manifest(&app.manifest)?;
    let runtime = match &app.runtime_config_file {
        Some(f) => careflow_manifest::load_runtime_config(f)?,
        None => Default::default(),
    };
    Ok((manifest, runtime))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Build { app } => {
            let (manifest, _) = load(&app)?;
            builder::build(&manifest)
        }
        Command::Check { app } => {
            let (manifest, runtime) = load(&app)?;
            let missing: Vec<_> = manifest
                .components
                .values()
                .filter(|c| !c.source.exists())
                .map(|c| format!("{} ({})", c.id, c.source.display()))
                .collect();
            println!(
                "{}: ok: application `{}` with {} components, {} HTTP routes, {} cron triggers; runtime config: {} key-value stores, {} SQLite databases",
                manifest.file.display(),
                manifest.application.name,
                manifest.components.len(),
                manifest.http.routes.len(),
                manifest.cron.len(),
                runtime.key_value_stores.len(),
                runtime.sqlite_databases.len(),
            );
            if !missing.is_empty() {
                println!(
                    "note: not built yet (run `careflow build`): {}",
                    missing.join(", ")
                );
            }
            Ok(())
        }
        Command::Up {
            app,
            listen,
            state_dir,
            cache_dir,
            build,
            request_timeout,
            max_body_bytes,
            quiet,
        } => {
            let (manifest, runtime) = load(&app)?;
            if build {
                builder::build(&manifest)?;
            }
            let state_dir = state_dir.unwrap_or_else(|| PathBuf::from(".spin"));
            let state_dir = if state_dir.is_absolute() {
                state_dir
            } else {
                manifest.dir.join(state_dir)
            };
            let options = app::RunOptions {
                cache_dir: cache_dir.unwrap_or_else(|| state_dir.join("cache")),
                state_dir,
                request_timeout: Duration::from_secs(request_timeout.max(1)),
                max_request_body: max_body_bytes,
                quiet_components: quiet,
                ..Default::default()
            };
            up(manifest, runtime, options, listen)
        }
    }
}

fn up(
    manifest: careflow_manifest::Manifest,
    runtime: careflow_manifest::RuntimeConfig,
    options: app::RunOptions,
    listen: SocketAddr,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = server::bind(listen).await?;
        let app = app::App::load(manifest, runtime, options)?;
        start_epoch_ticker(&app.engine);
        let cron = cron::start(&app)?;
        let routes: Vec<_> = app
            .manifest
            .http
            .routes
            .iter()
            .filter_map(|r| {
                r.route
                    .as_ref()
                    .map(|p| format!("  {} → {}", p, r.component))
            })
            .collect();
        println!(
            "careflow: serving `{}` on http://{listen}",
            app.manifest.application.name
        );
        println!("{}", routes.join("\n"));
        print_state(&app.options.state_dir);
        server::serve(app, listener, shutdown_signal()).await?;
        for handle in cron {
            handle.abort();
        }
        Ok(())
    })
}

fn print_state(state_dir: &Path) {
    println!(
        "careflow: state in {} (logs in {})",
        state_dir.display(),
        state_dir.join("logs").display()
    );
}

fn start_epoch_ticker(engine: &wasmtime::Engine) {
    let engine = engine.weak();
    std::thread::spawn(move || {
        while let Some(engine) = engine.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(EPOCH_TICK);
        }
    });
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())
        .context("SIGTERM handler")
        .ok();
    let terminate = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

#[allow(dead_code)]
fn _assert_send(app: Arc<app::App>) -> impl Send {
    app
}
