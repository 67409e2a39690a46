//! Calls the simulated carrier carries: their lifecycle (ring, outcome,
//! talk after a bridge, IVR, hang-up) as one task per step, and the call
//! events posted back to careflow, signed (generic) or tokened (Stringee).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use serde::Serialize;
use serde_json::json;

use crate::carrier::{CarrierConfig, Outcome, Rng};

/// The wire shape a call was placed with; its events go back in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    Generic,
    Stringee,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimCall {
    pub id: String,
    pub shape: Shape,
    pub from: String,
    pub to: String,
    pub reference: Option<String>,
    #[serde(skip)]
    pub event_url: String,
    pub ivr: Option<String>,
    /// Drawn when placed; `refused` calls never rang.
    pub outcome: Option<Outcome>,
    /// ringing, answered, bridged, playing, ended, refused.
    pub state: String,
    pub ring_ms: u64,
    pub talk_seconds: Option<u32>,
    pub placed_at_ms: i64,
    pub answered_at_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    #[serde(skip)]
    bridged_at: Option<Instant>,
}

pub struct Options {
    pub time_scale: f64,
    pub seed: u64,
    pub api_key: String,
    pub api_secret: String,
    pub webhook_secret: String,
    pub duplicate_events: bool,
}

pub struct Inner {
    pub config: CarrierConfig,
    pub calls: HashMap<String, SimCall>,
    pub order: Vec<String>,
    pub rng: Rng,
    next_call: u64,
    next_event: u64,
}

/// Everything shared by the HTTP handlers and the call tasks.
pub struct Carrier {
    pub inner: Mutex<Inner>,
    pub options: Options,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Carrier {
    pub fn new(options: Options) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                config: CarrierConfig::default(),
                calls: HashMap::new(),
                order: Vec::new(),
                rng: Rng::new(options.seed),
                next_call: 0,
                next_event: 0,
            }),
            options,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Simulated seconds as real time.
    fn real(&self, seconds: f64) -> Duration {
        Duration::from_secs_f64((seconds / self.options.time_scale).max(0.0))
    }

    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.calls.clear();
        inner.order.clear();
    }

    pub fn list(&self) -> Vec<SimCall> {
        let inner = self.lock();
        inner
            .order
            .iter()
            .filter_map(|id| inner.calls.get(id).cloned())
            .collect()
    }

    /// A new call; `Err` when the caller's hotline is failing. The caller
    /// spawns [`Carrier::run`] for an accepted call.
    pub fn place(
        &self,
        shape: Shape,
        from: String,
        to: String,
        reference: Option<String>,
        event_url: String,
        ivr: Option<String>,
    ) -> Result<String, String> {
        let mut inner = self.lock();
        inner.next_call += 1;
        let id = format!("sim-{}", inner.next_call);
        let refused = inner.config.failing_hotlines.iter().any(|h| h == &from);
        let agent_leg = to.starts_with("agent:");
        let outcome = if refused {
            None
        } else if agent_leg {
            Some(Outcome::Answered)
        } else {
            let config = inner.config.clone();
            Some(config.outcome(&to, &mut inner.rng))
        };
        let ring_s = match outcome {
            None => 0.0,
            Some(_) if agent_leg => 1.0,
            Some(Outcome::NoAnswer) => inner.config.no_answer_after_s,
            Some(_) => {
                let mean = inner.config.ring_mean_s;
                inner.rng.lognormal(mean, 0.5)
            }
        };
        let call = SimCall {
            id: id.clone(),
            shape,
            from,
            to,
            reference,
            event_url,
            ivr,
            outcome,
            state: if refused {
                "refused".into()
            } else {
                "ringing".into()
            },
            ring_ms: (ring_s * 1000.0) as u64,
            talk_seconds: None,
            placed_at_ms: now_ms(),
            answered_at_ms: None,
            ended_at_ms: None,
            bridged_at: None,
        };
        inner.calls.insert(id.clone(), call);
        inner.order.push(id.clone());
        if refused { Err(id) } else { Ok(id) }
    }

    fn snapshot(&self, id: &str) -> Option<SimCall> {
        self.lock().calls.get(id).cloned()
    }

    fn is_ended(&self, id: &str) -> bool {
        self.snapshot(id).is_none_or(|c| c.state == "ended")
    }

    fn end(&self, id: &str, talk: Option<u32>) -> bool {
        let mut inner = self.lock();
        let Some(c) = inner.calls.get_mut(id) else {
            return false;
        };
        if c.state == "ended" {
            return false;
        }
        c.state = "ended".into();
        c.ended_at_ms = Some(now_ms());
        c.talk_seconds = talk;
        true
    }

    /// A placed call's life until its outcome.
    pub async fn run(self: Arc<Self>, id: String) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.post(&id, "ringing", None).await;
        let Some(call) = self.snapshot(&id) else {
            return;
        };
        tokio::time::sleep(self.real(call.ring_ms as f64 / 1000.0)).await;
        if self.is_ended(&id) {
            return;
        }
        match call.outcome {
            Some(Outcome::Answered) => {
                {
                    let mut inner = self.lock();
                    if let Some(c) = inner.calls.get_mut(&id) {
                        c.state = "answered".into();
                        c.answered_at_ms = Some(now_ms());
                    }
                }
                self.post(&id, "answered", None).await;
                if let Some(ivr) = call.ivr {
                    self.clone().play(id, ivr).await;
                }
            }
            Some(other) => {
                let kind = match other {
                    Outcome::Busy => "busy",
                    Outcome::Voicemail => "voicemail",
                    Outcome::Failed => "failed",
                    _ => "no_answer",
                };
                if self.end(&id, None) {
                    self.post(&id, kind, None).await;
                }
            }
            None => {}
        }
    }

    /// The customer talks to an agent, then hangs up.
    pub async fn bridge(self: Arc<Self>, id: String) {
        let talk = {
            let mut inner = self.lock();
            let (mean, sigma) = (inner.config.talk_mean_s, inner.config.talk_sigma);
            let talk = inner.rng.lognormal(mean, sigma);
            match inner.calls.get_mut(&id) {
                Some(c) if c.state == "answered" => {
                    c.state = "bridged".into();
                    c.bridged_at = Some(Instant::now());
                    talk
                }
                _ => return,
            }
        };
        tokio::time::sleep(self.real(talk)).await;
        let seconds = talk.round().max(1.0) as u32;
        if self.end(&id, Some(seconds)) {
            self.post(&id, "completed", Some(seconds)).await;
        }
    }

    /// An IVR scenario plays to its end, then the call ends.
    pub async fn play(self: Arc<Self>, id: String, audio: String) {
        if audio == "hold-music" {
            return;
        }
        let seconds = {
            let mut inner = self.lock();
            let seconds = inner.config.ivr_seconds;
            match inner.calls.get_mut(&id) {
                Some(c) if c.state == "answered" => c.state = "playing".into(),
                _ => return,
            }
            seconds
        };
        tokio::time::sleep(self.real(seconds)).await;
        let talk = seconds.round() as u32;
        if self.end(&id, Some(talk)) {
            self.post(&id, "completed", Some(talk)).await;
        }
    }

    /// careflow hangs up: the call ends with the talk time so far.
    pub async fn hang_up(self: Arc<Self>, id: String) -> bool {
        let talk = {
            let inner = self.lock();
            let Some(c) = inner.calls.get(&id) else {
                return false;
            };
            c.bridged_at
                .map(|t| (t.elapsed().as_secs_f64() * self.options.time_scale).round() as u32)
        };
        if self.end(&id, talk.or(Some(0))) {
            self.post(&id, "completed", talk.or(Some(0))).await;
        }
        true
    }

    /// Posts one event (twice with `--duplicate-events`).
    async fn post(&self, id: &str, kind: &str, talk: Option<u32>) {
        let Some(call) = self.snapshot(id) else {
            return;
        };
        let event_id = {
            let mut inner = self.lock();
            inner.next_event += 1;
            format!("evt-{}", inner.next_event)
        };
        let at = now_ms();
        let body = match call.shape {
            Shape::Generic => json!({"event_id": event_id, "call_id": call.id, "reference": call.reference, "type": kind, "at_ms": at, "talk_seconds": talk}),
            Shape::Stringee => {
                let status = if kind == "completed" { "ended" } else { kind };
                json!({"call_id": call.id, "call_status": status, "timestamp_ms": at, "custom_data": call.reference, "duration": talk})
            }
        }
        .to_string();
        let times = if self.options.duplicate_events { 2 } else { 1 };
        for _ in 0..times {
            // Like a real carrier, retry while careflow is away or failing
            // (about 30 s), re-signing each attempt with the current time.
            for attempt in 0..120 {
                let signature = careflow_telephony::sign_generic(
                    &self.options.webhook_secret,
                    body.as_bytes(),
                    now_ms() / 1000,
                );
                match send(&call.event_url, &body, &signature).await {
                    Ok(status) if status < 500 => break,
                    Ok(status) if attempt == 119 => {
                        eprintln!(
                            "careflow-sim: {kind} of {id}: {} answered {status}",
                            call.event_url
                        )
                    }
                    Err(e) if attempt == 119 => {
                        eprintln!(
                            "careflow-sim: posting {kind} of {id} to {}: {e}",
                            call.event_url
                        )
                    }
                    _ => tokio::time::sleep(Duration::from_millis(250)).await,
                }
            }
        }
    }
}

/// One plain-HTTP POST (careflow in dev and tests listens on loopback).
async fn send(url: &str, body: &str, signature: &str) -> anyhow::Result<u16> {
    let uri: http::Uri = url.parse()?;
    let host = uri
        .host()
        .ok_or_else(|| anyhow::anyhow!("no host in {url}"))?
        .to_string();
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let req = http::Request::post(path)
        .header("host", format!("{host}:{port}"))
        .header("content-type", "application/json")
        .header("x-careflow-signature", signature)
        .body(Full::new(Bytes::from(body.to_string())))?;
    let res = sender.send_request(req).await?;
    Ok(res.status().as_u16())
}
