//! `careflow-sim --listen 127.0.0.1:3100`: the carrier for dev runs.

use clap::Parser;

/// Plays the telephony carrier for careflow (docs/telephony.md).
#[derive(Parser)]
#[command(name = "careflow-sim", version)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:3100")]
    listen: String,
    /// Divides every ring, talk and IVR duration (10 = ten times faster).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The generic API's bearer key (the app's telephony_api_key).
    #[arg(long, default_value = "dev-telephony-key")]
    api_key: String,
    /// The secret Stringee REST tokens are signed with.
    #[arg(long, default_value = "dev-telephony-secret")]
    api_secret: String,
    /// Signs event posts (the app's telephony_webhook_secret).
    #[arg(long, default_value = "dev-webhook-secret")]
    webhook_secret: String,
    /// Sends every event twice (replays exercise careflow's dedupe).
    #[arg(long)]
    duplicate_events: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !(args.time_scale > 0.0 && args.time_scale <= 10_000.0) {
        anyhow::bail!("--time-scale is above 0 and at most 10000");
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("careflow-sim: cannot listen on {}: {e}", args.listen))?;
    println!("careflow-sim: carrier on http://{}", listener.local_addr()?);
    let options = careflow_sim::Options {
        time_scale: args.time_scale,
        seed: args.seed,
        api_key: args.api_key,
        api_secret: args.api_secret,
        webhook_secret: args.webhook_secret,
        duplicate_events: args.duplicate_events,
    };
    tokio::select! {
        r = careflow_sim::serve(listener, options) => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
