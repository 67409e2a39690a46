//! The simulator over real HTTP: a call placed in the generic shape rings,
//! is answered, is bridged, and ends; each event arrives in order with a
//! signature careflow's adapter verifies.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use careflow_telephony::{Provider, ProviderConfig, Signal};
use http_body_util::BodyExt;

/// Event posts as received: (signature header, body).
type Received = Arc<Mutex<Vec<(Option<String>, bytes::Bytes)>>>;

async fn post(url: &str, auth: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let uri: http::Uri = url.parse().unwrap();
    let stream = tokio::net::TcpStream::connect((uri.host().unwrap(), uri.port_u16().unwrap()))
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::post(uri.path())
        .header("host", "sim")
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test]
async fn a_bridged_call_sends_signed_events_in_order() {
    let sim = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_addr = sim.local_addr().unwrap();
    let options = careflow_sim::Options {
        time_scale: 100.0,
        seed: 1,
        api_key: "k".into(),
        api_secret: "s".into(),
        webhook_secret: "hook".into(),
        duplicate_events: false,
    };
    tokio::spawn(careflow_sim::serve(sim, options));

    // careflow's side: records every event post with its signature header.
    let received: Received = Arc::default();
    let app = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_addr = app.local_addr().unwrap();
    let sink = received.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = app.accept().await.unwrap();
            let sink = sink.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let sink = sink.clone();
                        async move {
                            let sig = req
                                .headers()
                                .get("x-careflow-signature")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string);
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            sink.lock().unwrap().push((sig, body));
                            Ok::<_, std::convert::Infallible>(http::Response::new(
                                http_body_util::Full::new(bytes::Bytes::from("{}")),
                            ))
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let base = format!("http://{sim_addr}");
    let (status, _) = post(&format!("{base}/sim/carrier"), "", serde_json::json!({})).await;
    assert_eq!(status, 404, "the carrier config is set with PUT");
    let (status, _) = post(
        &format!("{base}/v1/calls"),
        "Bearer wrong",
        serde_json::json!({}),
    )
    .await;
    assert_eq!(status, 401);
    let (status, answer) = post(
        &format!("{base}/v1/calls"),
        "Bearer k",
        serde_json::json!({"from": "842873001234", "to": "agent:101", "reference": "call-1", "event_url": format!("http://{app_addr}/telephony/events/generic")}),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let id = answer["call_id"].as_str().unwrap().to_string();
    // Agent legs answer after one simulated second.
    for _ in 0..100 {
        if received.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, _) = post(
        &format!("{base}/v1/calls/{id}/bridge"),
        "Bearer k",
        serde_json::json!({"agent": "101"}),
    )
    .await;
    assert_eq!(status, 200);
    for _ in 0..200 {
        if received.lock().unwrap().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let config = ProviderConfig {
        provider: Provider::Generic,
        base_url: base.clone(),
        api_key: "k".into(),
        api_secret: "s".into(),
        webhook_secret: "hook".into(),
        event_url: String::new(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let events: Vec<_> = received
        .lock()
        .unwrap()
        .iter()
        .map(|(sig, body)| {
            let sig = sig.clone();
            careflow_telephony::verify_event(&config, |_| sig.clone(), "", body, now)
                .expect("a verifying signature")
        })
        .collect();
    let signals: Vec<Signal> = events.iter().map(|e| e.signal).collect();
    assert_eq!(
        signals,
        [Signal::Ringing, Signal::Answered, Signal::Completed]
    );
    assert!(
        events
            .iter()
            .all(|e| e.reference.as_deref() == Some("call-1") && e.provider_call_id == id)
    );
    assert!(events[2].talk_seconds.unwrap() >= 1);
}
