//! The dispatcher and call records over a real SQLite store, with a fake
//! clock: each mode's decisions, carrier events, the cap under concurrent
//! ticks.

use std::cell::Cell;

use careflow_campaign::call::CallEvent;
use careflow_campaign::{
    CarrierEvent, Order, agents, calls, campaigns, customers, dispatch, reports,
};
use careflow_engine::Clock;
use careflow_store::{Db, NativeDb, SqlValue};
use serde_json::{Value, json};

struct FakeClock {
    now: Cell<i64>,
    next: u64,
}

impl FakeClock {
    fn at(text: &str) -> Self {
        let ms = chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis();
        Self {
            now: Cell::new(ms),
            next: 0,
        }
    }
    fn advance(&self, seconds: i64) {
        self.now.set(self.now.get() + seconds * 1000);
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.now.get()
    }
    fn new_id(&mut self) -> String {
        self.next += 1;
        format!("id-{:05}", self.next)
    }
}

const WS: &str = "ws-1";
// A Wednesday, 10:00 in Hanoi.
const NOON: &str = "2026-12-02T03:00:00Z";

fn setup(db: &NativeDb, agents_n: usize) -> Vec<String> {
    careflow_store::migrate(db).unwrap();
    db.execute(
        "INSERT INTO workspaces (id, name, created_at) VALUES (?, 'W', 'now')",
        &[WS.into()],
    )
    .unwrap();
    for number in ["842812345678", "842873009999", "842873001111"] {
        db.execute(
            "INSERT INTO hotlines (workspace_id, number, created_at) VALUES (?, ?, 'now')",
            &[WS.into(), number.into()],
        )
        .unwrap();
    }
    (0..agents_n)
        .map(|i| {
            let id = format!("agent-{i}");
            db.execute(
                "INSERT INTO users (id, workspace_id, email, name, role, created_at) VALUES (?, ?, ?, ?, 'agent', 'now')",
                &[id.as_str().into(), WS.into(), format!("a{i}@x.vn").into(), format!("Agent {i}").into()],
            )
            .unwrap();
            id
        })
        .collect()
}

fn campaign(
    db: &NativeDb,
    clock: &mut FakeClock,
    mode: &str,
    extra: Value,
    agents: &[String],
    phones: usize,
) -> String {
    let mut body = json!({
        "name": format!("{mode} campaign"), "mode": mode, "hotline": "02812345678",
        "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-31T00:00:00Z",
        "wrap_up_seconds": 5, "retry_minutes": 10, "agents": agents,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let c = campaigns::create(db, clock, WS, "owner", body).unwrap();
    let rows = (0..phones)
        .map(|i| {
            json!({"phone": format!("0912{:06}", i), "name": format!("Khách {i}")})
                .as_object()
                .unwrap()
                .clone()
        })
        .collect();
    let source = customers::Source::Rows { rows };
    let rows = customers::rows_of(db, clock, WS, source).unwrap();
    let report = customers::import(db, clock, WS, &c.id, rows).unwrap();
    assert_eq!(report.added, phones);
    for a in [
        careflow_campaign::lifecycle::Action::Submit,
        careflow_campaign::lifecycle::Action::Approve,
        careflow_campaign::lifecycle::Action::Start,
    ] {
        campaigns::act(db, clock, WS, &c.id, a, "owner").unwrap();
    }
    c.id
}

fn available(db: &NativeDb, clock: &FakeClock, agent: &str, auto_answer: bool) {
    agents::set_state(
        db,
        clock,
        WS,
        agent,
        agents::StateInput {
            state: agents::AgentState::Available,
            extension: Some(format!("ext-{agent}")),
            auto_answer: Some(auto_answer),
        },
    )
    .unwrap();
}

fn originates(orders: &[Order]) -> Vec<String> {
    orders
        .iter()
        .filter_map(|o| match o {
            Order::Originate { call_id, .. } => Some(call_id.clone()),
            _ => None,
        })
        .collect()
}

fn event(
    db: &NativeDb,
    clock: &mut FakeClock,
    call: &str,
    n: &mut u32,
    signal: CallEvent,
    talk: Option<u32>,
) -> Vec<Order> {
    *n += 1;
    calls::apply_event(
        db,
        clock,
        "generic",
        &CarrierEvent {
            event_id: format!("evt-{n}"),
            provider_call_id: format!("p-{call}"),
            reference: Some(call.to_string()),
            signal,
            at_ms: clock.now_ms(),
            talk_seconds: talk,
        },
    )
    .unwrap()
}

fn state_of(db: &NativeDb, call: &str) -> Value {
    calls::get(db, WS, call).unwrap()
}

#[test]
fn progressive_dials_one_customer_per_available_agent_and_bridges_on_answer() {
    // SPEC B-G
    let db = NativeDb::in_memory();
    let agents = setup(&db, 3);
    let mut clock = FakeClock::at(NOON);
    let id = campaign(&db, &mut clock, "progressive", json!({}), &agents, 10);
    available(&db, &clock, &agents[0], false);
    available(&db, &clock, &agents[1], false);
    let orders = dispatch::tick(&db, &mut clock, "generic").unwrap();
    let placed = originates(&orders);
    assert_eq!(
        placed.len(),
        2,
        "one call per available agent, none for the offline one"
    );
    // A second tick places nothing: both agents are on those calls.
    assert!(originates(&dispatch::tick(&db, &mut clock, "generic").unwrap()).is_empty());
    let mut n = 0;
    event(
        &db,
        &mut clock,
        &placed[0],
        &mut n,
        CallEvent::Ringing,
        None,
    );
    let bridged = event(
        &db,
        &mut clock,
        &placed[0],
        &mut n,
        CallEvent::Answered,
        None,
    );
    assert!(
        matches!(&bridged[..], [Order::Bridge { extension, .. }] if extension.starts_with("ext-agent-"))
    );
    clock.advance(60);
    event(
        &db,
        &mut clock,
        &placed[0],
        &mut n,
        CallEvent::Completed,
        Some(60),
    );
    let call = state_of(&db, &placed[0]);
    assert_eq!(call["result"], "answered");
    let agent = call["agent_id"].as_str().unwrap().to_string();
    assert_eq!(agents::get(&db, WS, &agent).unwrap().state, "wrap_up");
    // Wrap-up (5 s) over: the agent gets the next customer.
    clock.advance(5);
    let next = originates(&dispatch::tick(&db, &mut clock, "generic").unwrap());
    assert_eq!(next.len(), 1);
    let report = reports::report(&db, WS, &id, clock.now_ms()).unwrap();
    assert_eq!(report["contacts"], 1);
    assert_eq!(report["talk_seconds"], 60);
}

#[test]
fn a_replayed_or_late_event_changes_nothing() {
    let db = NativeDb::in_memory();
    let agents = setup(&db, 1);
    let mut clock = FakeClock::at(NOON);
    campaign(&db, &mut clock, "progressive", json!({}), &agents, 2);
    available(&db, &clock, &agents[0], false);
    let placed = originates(&dispatch::tick(&db, &mut clock, "generic").unwrap());
    let mut n = 0;
    event(
        &db,
        &mut clock,
        &placed[0],
        &mut n,
        CallEvent::Answered,
        None,
    );
    // The same event id again: no second bridge.
    let replay = calls::apply_event(
        &db,
        &mut clock,
        "generic",
        &CarrierEvent {
            event_id: "evt-1".into(),
            provider_call_id: format!("p-{}", placed[0]),
            reference: Some(placed[0].clone()),
            signal: CallEvent::Answered,
            at_ms: 0,
            talk_seconds: None,
        },
    )
    .unwrap();
    assert!(replay.is_empty());
    // A ringing that arrives after answered is ignored.
    event(
        &db,
        &mut clock,
        &placed[0],
        &mut n,
        CallEvent::Ringing,
        None,
    );
    assert_eq!(state_of(&db, &placed[0])["state"], "bridged");
}

#[test]
fn predictive_holds_answered_customers_and_drops_them_after_the_maximum_wait() {
    // SPEC B-D
    let db = NativeDb::in_memory();
    let agents = setup(&db, 2);
    let mut clock = FakeClock::at(NOON);
    let id = campaign(
        &db,
        &mut clock,
        "predictive",
        json!({"predictive": {"max_wait_seconds": 5}}),
        &agents,
        40,
    );
    available(&db, &clock, &agents[0], true);
    available(&db, &clock, &agents[1], true);
    let placed = originates(&dispatch::tick(&db, &mut clock, "generic").unwrap());
    assert!(
        placed.len() >= 2,
        "at least one call per idle agent: {}",
        placed.len()
    );
    // One agent steps away before the customers answer.
    agents::set_state(
        &db,
        &clock,
        WS,
        &agents[1],
        agents::StateInput {
            state: agents::AgentState::Paused,
            extension: None,
            auto_answer: None,
        },
    )
    .unwrap();
    let mut n = 0;
    // Two customers answer at once: the agent takes one, one waits.
    let mut orders = Vec::new();
    for c in placed.iter().take(2) {
        orders.extend(event(&db, &mut clock, c, &mut n, CallEvent::Answered, None));
    }
    let bridges = orders
        .iter()
        .filter(|o| matches!(o, Order::Bridge { .. }))
        .count();
    let holds = orders
        .iter()
        .filter(|o| matches!(o, Order::Play { audio, .. } if audio == "hold-music"))
        .count();
    assert_eq!((bridges, holds), (1, 1));
    clock.advance(6);
    let orders = dispatch::tick(&db, &mut clock, "generic").unwrap();
    assert!(
        orders
            .iter()
            .any(|o| matches!(o, Order::Hangup { call_id, .. } if call_id == &placed[1]))
    );
    assert_eq!(state_of(&db, &placed[1])["result"], "abandoned");
    let report = reports::report(&db, WS, &id, clock.now_ms()).unwrap();
    let rate = report["abandon_rate"]["last_24h"].as_f64().unwrap();
    assert!((rate - 0.5).abs() < 1e-9, "{rate}");
}

#[test]
fn an_agent_who_does_not_accept_in_time_is_skipped_for_the_next() {
    // SPEC B-D
    let db = NativeDb::in_memory();
    let agents = setup(&db, 2);
    let mut clock = FakeClock::at(NOON);
    campaign(
        &db,
        &mut clock,
        "predictive",
        json!({"predictive": {"max_wait_seconds": 120, "agent_accept_seconds": 30}}),
        &agents,
        5,
    );
    available(&db, &clock, &agents[0], false);
    let placed = originates(&dispatch::tick(&db, &mut clock, "generic").unwrap());
    let mut n = 0;
    event(
        &db,
        &mut clock,
        &placed[0],
        &mut n,
        CallEvent::Answered,
        None,
    );
    assert_eq!(state_of(&db, &placed[0])["state"], "offered");
    available(&db, &clock, &agents[1], false);
    clock.advance(31);
    dispatch::tick(&db, &mut clock, "generic").unwrap();
    let call = state_of(&db, &placed[0]);
    assert_eq!(call["state"], "offered");
    assert_eq!(call["agent_id"], agents[1].as_str());
    assert_eq!(agents::get(&db, WS, &agents[0]).unwrap().state, "paused");
    let orders = calls::accept(&db, &clock, WS, &agents[1], &placed[0]).unwrap();
    assert!(matches!(&orders[..], [Order::Bridge { .. }]));
}

#[test]
fn never_dials_a_do_not_call_customer_or_outside_working_hours() {
    // SPEC B-1
    let db = NativeDb::in_memory();
    let agents = setup(&db, 1);
    let mut clock = FakeClock::at(NOON);
    db.execute("INSERT INTO do_not_call (workspace_id, phone, until_ms, created_at) VALUES (?, '84912000000', ?, 'now')", &[WS.into(), SqlValue::Integer(clock.now_ms() + 86_400_000)]).unwrap();
    let id = campaign(
        &db,
        &mut clock,
        "progressive",
        json!({"working_hours": [{"days": [1,2,3,4,5], "from": "08:00", "to": "17:00"}]}),
        &agents,
        2,
    );
    available(&db, &clock, &agents[0], false);
    // 18:00 local: closed.
    clock.advance(8 * 3600);
    assert!(
        dispatch::tick(&db, &mut clock, "generic")
            .unwrap()
            .is_empty()
    );
    clock.advance(15 * 3600); // 09:00 the next day
    let orders = dispatch::tick(&db, &mut clock, "generic").unwrap();
    assert!(matches!(&orders[..], [Order::Originate { to, .. }] if to == "84912000001"));
    let list = customers::list(&db, WS, &id, None, 10, 0).unwrap();
    assert_eq!(
        list.iter()
            .find(|c| c.phone == "84912000000")
            .unwrap()
            .last_result
            .as_deref(),
        Some("dnc")
    );
}

#[test]
fn stops_at_the_end_time_with_customers_left() {
    // SPEC B-4
    let db = NativeDb::in_memory();
    let agents = setup(&db, 1);
    let mut clock = FakeClock::at(NOON);
    let id = campaign(
        &db,
        &mut clock,
        "progressive",
        json!({"ends_at": "2026-12-02T04:00:00Z"}),
        &agents,
        5,
    );
    clock.advance(3600);
    available(&db, &clock, &agents[0], false);
    assert!(
        dispatch::tick(&db, &mut clock, "generic")
            .unwrap()
            .is_empty()
    );
    let c = campaigns::get(&db, WS, &id).unwrap();
    assert_eq!(c.status, "finished");
    assert_eq!(c.history.last().unwrap()["by"], "system");
}

#[test]
fn two_agents_never_pick_the_same_customer_and_quotas_hold() {
    // SPEC B-M
    let db = NativeDb::in_memory();
    let agents = setup(&db, 2);
    let mut clock = FakeClock::at(NOON);
    let id = campaign(
        &db,
        &mut clock,
        "manual",
        json!({"manual": {"daily_quota": 1}}),
        &agents,
        3,
    );
    let zone = chrono_tz::Asia::Ho_Chi_Minh;
    let a = customers::pick(&db, &mut clock, WS, &id, &agents[0], None, zone).unwrap();
    let b = customers::pick(&db, &mut clock, WS, &id, &agents[1], None, zone).unwrap();
    assert_ne!(a.id, b.id);
    let taken = customers::pick(&db, &mut clock, WS, &id, &agents[1], Some(&a.id), zone);
    assert!(taken.is_err());
    let over = customers::pick(&db, &mut clock, WS, &id, &agents[0], None, zone).unwrap_err();
    assert_eq!(over.status, 429);
    available(&db, &clock, &agents[0], false);
    let orders = dispatch::manual_dial(&db, &mut clock, "generic", WS, &agents[0], &a.id).unwrap();
    assert_eq!(originates(&orders).len(), 1);
    assert_eq!(
        dispatch::manual_dial(&db, &mut clock, "generic", WS, &agents[0], &b.id)
            .unwrap_err()
            .status,
        403
    );
}

#[test]
fn auto_call_never_exceeds_the_workspace_cap_under_concurrent_ticks() {
    // SPEC B-A: one workspace-wide cap, even with two dispatchers at once.
    let dir = std::env::temp_dir().join(format!("careflow-cap-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let path = dir.clone();
    let open = move || {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        NativeDb(conn)
    };
    let db = open();
    setup(&db, 0);
    let mut clock = FakeClock::at(NOON);
    let id = campaign(
        &db,
        &mut clock,
        "auto_call",
        json!({"auto_call": {"concurrent_calls": 100, "ivr": "promo"}}),
        &[],
        200,
    );
    db.execute("INSERT INTO telephony_plans (workspace_id, max_concurrent_calls, updated_at) VALUES (?, 7, 'now')", &[WS.into()]).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let open = open.clone();
            std::thread::spawn(move || {
                let db = open();
                let mut clock = FakeClock::at(NOON);
                clock.next = 1_000_000 * (t + 1);
                let mut placed = 0;
                for _ in 0..20 {
                    placed +=
                        originates(&dispatch::tick(&db, &mut clock, "generic").unwrap()).len();
                }
                placed
            })
        })
        .collect();
    let placed: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(
        placed, 7,
        "four dispatchers together placed exactly the cap"
    );
    assert_eq!(dispatch::live_lines(&db, WS).unwrap(), 7);
    let _ = id;
    drop(db);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", dir.display()));
    }
}

#[test]
fn the_pacer_sees_how_long_agents_have_talked_and_their_wrap_up_left() {
    // SPEC B-D: the forecast of agents about to be free reads the store.
    let db = NativeDb::in_memory();
    let agents = setup(&db, 1);
    let mut clock = FakeClock::at(NOON);
    let id = campaign(
        &db,
        &mut clock,
        "predictive",
        json!({"wrap_up_seconds": 20}),
        &agents,
        5,
    );
    available(&db, &clock, &agents[0], true);
    let placed = originates(&dispatch::tick(&db, &mut clock, "generic").unwrap());
    let mut n = 0;
    event(
        &db,
        &mut clock,
        &placed[0],
        &mut n,
        CallEvent::Answered,
        None,
    );
    clock.advance(30);
    let c = campaigns::load(&db, WS, &id).unwrap();
    let view = dispatch::predictive_view(&db, &c, clock.now_ms()).unwrap();
    assert_eq!((view.talking_for.clone(), view.idle_agents), (vec![30], 0));
    event(
        &db,
        &mut clock,
        &placed[0],
        &mut n,
        CallEvent::Completed,
        Some(30),
    );
    clock.advance(5);
    let view = dispatch::predictive_view(&db, &c, clock.now_ms()).unwrap();
    assert_eq!(view.wrap_left, vec![15]);
    assert!(view.talking_for.is_empty());
}

#[test]
fn a_campaign_dials_only_from_its_workspaces_own_hotlines() {
    // SPEC B-1 B-A
    let db = NativeDb::in_memory();
    let mut clock = FakeClock::at(NOON);
    setup(&db, 0);
    db.execute(
        "INSERT INTO workspaces (id, name, created_at) VALUES ('ws-2', 'Other', 'now')",
        &[],
    )
    .unwrap();
    db.execute(
        "INSERT INTO hotlines (workspace_id, number, created_at) VALUES ('ws-2', '842899990000', 'now')",
        &[],
    )
    .unwrap();
    let body = |hotline: &str| {
        json!({"name": "x", "mode": "progressive", "hotline": hotline,
            "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-31T00:00:00Z"})
    };
    for foreign in ["02899990000", "02800000000"] {
        let e = campaigns::create(&db, &mut clock, WS, "owner", body(foreign)).unwrap_err();
        assert_eq!(
            (e.status, e.field.as_deref()),
            (422, Some("hotline")),
            "{foreign}"
        );
    }
    let ok = campaigns::create(&db, &mut clock, WS, "owner", body("028 1234 5678")).unwrap();
    let e = campaigns::update(
        &db,
        &mut clock,
        WS,
        &ok.id,
        json!({"hotline": "02899990000"}),
    )
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("hotline"));
    let auto = json!({"name": "ivr", "mode": "auto_call", "starts_at": "2026-12-01T00:00:00Z",
        "ends_at": "2026-12-31T00:00:00Z", "auto_call": {"concurrent_calls": 2, "ivr": "x",
        "hotline_rotation": "random", "hotlines": ["02873009999", "02899990000"]}});
    let e = campaigns::create(&db, &mut clock, WS, "owner", auto).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("auto_call.hotlines[1]"));
    let stored = db
        .execute("SELECT count(*) AS n FROM campaigns", &[])
        .unwrap();
    assert_eq!(
        stored.first().unwrap().int("n"),
        Some(1),
        "refused campaigns wrote nothing"
    );
}

#[test]
fn call_listings_page_with_a_stable_cursor() {
    // SPEC B-4: a partner reads every call record of a long campaign.
    let db = NativeDb::in_memory();
    let mut clock = FakeClock::at(NOON);
    let agents = setup(&db, 3);
    let id = campaign(&db, &mut clock, "progressive", json!({}), &agents, 3);
    for a in &agents {
        available(&db, &clock, a, false);
    }
    // Three calls placed in the same millisecond: the cursor breaks ties.
    assert_eq!(
        originates(&dispatch::tick(&db, &mut clock, "generic").unwrap()).len(),
        3
    );
    let page = |cursor: Option<&str>| {
        calls::list(
            &db,
            WS,
            calls::CallQuery {
                campaign: Some(&id),
                limit: 2,
                cursor,
                ..Default::default()
            },
        )
        .unwrap()
    };
    let (first, next) = page(None);
    assert_eq!(first.len(), 2);
    let (second, last) = page(next.as_deref());
    assert_eq!((second.len(), last), (1, None));
    let mut ids: Vec<_> = first
        .iter()
        .chain(&second)
        .map(|c| c["id"].clone())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "every call once");
    let bad = calls::list(
        &db,
        WS,
        calls::CallQuery {
            cursor: Some("nonsense"),
            limit: 2,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!((bad.status, bad.field.as_deref()), (422, Some("cursor")));
}
