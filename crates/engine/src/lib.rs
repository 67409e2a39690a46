//! Durable flow runs over careflow's store.
//!
//! - [`flows`]: drafts, validation on save, immutable published versions,
//!   enable/disable.
//! - [`runs`]: starting a run (idempotently), the work queue of due runs
//!   (`waits`, claimed with a lease), run inspection, cancel and retry.
//! - [`advance`]: walks a claimed run node by node; each step is one
//!   transaction (step record + variable patch + next pointer or wait row).
//!
//! Everything takes a [`careflow_store::Db`], so the same code runs in the
//! `engine` component on Spin's SQLite and natively in tests.

pub mod advance;
pub mod crm;
pub mod flows;
pub mod node_service;
pub mod partners;
pub mod runs;
pub mod uploads;

/// Time and ids, injected so tests control them.
pub trait Clock {
    /// Unix milliseconds.
    fn now_ms(&self) -> i64;
    fn new_id(&mut self) -> String;

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.now_ms()).unwrap_or_default()
    }

    fn now_text(&self) -> String {
        self.now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

/// The production clock: the host's wall clock (WASI clocks in a
/// component) and random UUIDs (WASI random).
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    fn new_id(&mut self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}
