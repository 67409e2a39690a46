//! `careflow-sim`: one small HTTP server that plays the telephony carrier
//! in dev runs and tests (docs/telephony.md). It answers originate
//! requests in the generic and the Stringee shape, lets each call ring,
//! draws its outcome from a configurable mix with a seeded random source,
//! talks for a sampled time once careflow bridges it to an agent, plays
//! IVR scenarios, and posts every call event back, signed. `--time-scale`
//! divides every duration so a shift replays fast.

pub mod calls;
pub mod carrier;
mod http;

use std::sync::Arc;

use calls::Carrier;
pub use calls::Options;

/// Serves the simulator on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, options: Options) -> anyhow::Result<()> {
    let carrier = Carrier::new(options);
    loop {
        let (stream, _) = listener.accept().await?;
        let carrier = carrier.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let carrier: Arc<Carrier> = carrier.clone();
                async move { Ok::<_, std::convert::Infallible>(http::handle(carrier, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}
