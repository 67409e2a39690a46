//! The `cron` component, driven by `[[trigger.cron]]` every second: makes
//! sure the schema is migrated, records its last tick (shown by
//! `/api/v1/health`), and asks the engine to resume the runs that are due
//! (A-N2 delays, runs a trigger could not hand over, expired leases).
//! It also drives the campaign dispatcher (`telephony` /tick: campaign
//! starts and ends, pacing, hold timeouts). SLA timers come later.

use spin_sdk::key_value::Store;

spin_sdk::wit_bindgen::generate!({
    world: "careflow:app/cron-component",
    path: "../../wit",
    runtime_path: "spin_sdk::wit_bindgen::rt",
    generate_all,
});

struct Tick;

impl Guest for Tick {
    fn handle_cron_event(metadata: Metadata) -> Result<(), Error> {
        careflow_store::SpinDb::open_default().map_err(|e| Error::Other(e.to_string()))?;
        let kv = Store::open_default().map_err(|e| Error::Other(e.to_string()))?;
        let count = kv
            .get_json::<serde_json::Value>("cron:last_tick")
            .ok()
            .flatten()
            .and_then(|v| v["count"].as_u64())
            .unwrap_or(0);
        let at = chrono::DateTime::from_timestamp(metadata.timestamp as i64, 0).unwrap_or_default();
        kv.set_json(
            "cron:last_tick",
            &serde_json::json!({ "timestamp": metadata.timestamp, "at": at.to_rfc3339(), "count": count + 1 }),
        )
        .map_err(|e| Error::Other(e.to_string()))?;
        // Campaigns first: a dial decision is time-critical, a resumed run
        // is not. A failing telephony tick must not stop the engine's.
        let campaigns =
            spin_sdk::http::Request::post("http://telephony.spin.internal/tick", "").build();
        let campaigns: Result<spin_sdk::http::Response, _> =
            spin_sdk::http::run(spin_sdk::http::send(campaigns));
        let tick = spin_sdk::http::Request::post("http://engine.spin.internal/tick", "").build();
        let res: spin_sdk::http::Response = spin_sdk::http::run(spin_sdk::http::send(tick))
            .map_err(|e| Error::Other(format!("engine tick: {e}")))?;
        if *res.status() != 200 {
            return Err(Error::Other(format!(
                "engine tick answered {}: {}",
                res.status(),
                String::from_utf8_lossy(res.body())
            )));
        }
        match campaigns {
            Ok(res) if *res.status() == 200 => Ok(()),
            Ok(res) => Err(Error::Other(format!(
                "telephony tick answered {}: {}",
                res.status(),
                String::from_utf8_lossy(res.body())
            ))),
            Err(e) => Err(Error::Other(format!("telephony tick: {e}"))),
        }
    }
}

export!(Tick);
