//! A-N2 Delay: wait a duration, until a date-time (absolute or from a
//! variable), or until the next opening of working hours. The run becomes a
//! wait row with `due_at`; nothing is held in memory.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    NodeError, NodeKind, Outcome, RunInput, ValidationContext, check_template, parse_settings,
    render,
};

/// Longest delay accepted.
pub const MAX_DELAY_DAYS: i64 = 366;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub duration: Option<Span>,
    /// RFC 3339 date-time, or a template giving one (`{{order.delivery_at}}`).
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub working_hours: Option<WorkingHours>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Span {
    pub amount: i64,
    pub unit: Unit,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Seconds,
    Minutes,
    Hours,
    Days,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkingHours {
    #[serde(default = "default_zone")]
    pub zone: String,
    /// ISO weekdays, 1 = Monday … 7 = Sunday.
    pub days: Vec<u32>,
    /// `HH:MM` local opening and closing time.
    pub open: String,
    pub close: String,
    /// `YYYY-MM-DD` local dates that are closed.
    #[serde(default)]
    pub holidays: Vec<String>,
}

fn default_zone() -> String {
    "Asia/Ho_Chi_Minh".into()
}

impl Span {
    fn duration(&self) -> Duration {
        match self.unit {
            Unit::Seconds => Duration::seconds(self.amount),
            Unit::Minutes => Duration::minutes(self.amount),
            Unit::Hours => Duration::hours(self.amount),
            Unit::Days => Duration::days(self.amount),
        }
    }
}

struct Schedule {
    zone: chrono_tz::Tz,
    days: Vec<u32>,
    open: NaiveTime,
    close: NaiveTime,
    holidays: Vec<NaiveDate>,
}

impl WorkingHours {
    fn schedule(&self) -> Result<Schedule, (String, String)> {
        let zone = self.zone.parse().map_err(|_| {
            (
                "settings.working_hours.zone".to_string(),
                format!("{:?} is not an IANA time zone", self.zone),
            )
        })?;
        let time = |field: &str, v: &str| {
            NaiveTime::parse_from_str(v, "%H:%M").map_err(|_| {
                (
                    format!("settings.working_hours.{field}"),
                    format!("{v:?} is not HH:MM"),
                )
            })
        };
        let open = time("open", &self.open)?;
        let close = time("close", &self.close)?;
        if open >= close {
            return Err((
                "settings.working_hours.close".into(),
                "closing time must be after opening time".into(),
            ));
        }
        if self.days.is_empty() || self.days.iter().any(|d| !(1..=7).contains(d)) {
            return Err((
                "settings.working_hours.days".into(),
                "give at least one weekday, 1 (Monday) to 7 (Sunday)".into(),
            ));
        }
        let holidays = self
            .holidays
            .iter()
            .enumerate()
            .map(|(i, h)| {
                NaiveDate::parse_from_str(h, "%Y-%m-%d").map_err(|_| {
                    (
                        format!("settings.working_hours.holidays[{i}]"),
                        format!("{h:?} is not YYYY-MM-DD"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Schedule {
            zone,
            days: self.days.clone(),
            open,
            close,
            holidays,
        })
    }
}

impl Schedule {
    /// `now` if working hours are open, else their next opening.
    fn next_opening(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.zone);
        for offset in 0..=400 {
            let date = local.date_naive() + Duration::days(offset);
            if !self.days.contains(&date.weekday().number_from_monday())
                || self.holidays.contains(&date)
            {
                continue;
            }
            let open = self
                .zone
                .from_local_datetime(&date.and_time(self.open))
                .earliest()?
                .with_timezone(&Utc);
            let close = self
                .zone
                .from_local_datetime(&date.and_time(self.close))
                .earliest()?
                .with_timezone(&Utc);
            if now < open {
                return Some(open);
            }
            if now < close {
                return Some(now);
            }
        }
        None
    }
}

fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub struct DelayNode;

impl NodeKind for DelayNode {
    fn kind(&self) -> &'static str {
        "delay"
    }

    fn describe(&self) -> Value {
        json!({
            "type": "delay",
            "spec": "A-N2",
            "ports": ["next"],
            "settings": {
                "one of": {
                    "duration": { "amount": "integer > 0", "unit": "seconds|minutes|hours|days" },
                    "until": "RFC 3339 date-time or a template such as {{order.delivery_at}}",
                    "working_hours": { "zone": "IANA zone (default Asia/Ho_Chi_Minh)", "days": "[1..7]", "open": "HH:MM", "close": "HH:MM", "holidays": ["YYYY-MM-DD"] }
                }
            },
            "limits": format!("at most {MAX_DELAY_DAYS} days")
        })
    }

    fn ports(&self, _settings: &Value) -> Vec<String> {
        vec!["next".into()]
    }

    fn validate(&self, settings: &Value, ctx: &ValidationContext<'_>) -> Vec<(String, String)> {
        let s: Settings = match parse_settings(settings) {
            Ok(s) => s,
            Err(problem) => return vec![problem],
        };
        let given = [
            s.duration.is_some(),
            s.until.is_some(),
            s.working_hours.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given != 1 {
            return vec![(
                "settings".into(),
                "give exactly one of `duration`, `until` or `working_hours`".into(),
            )];
        }
        let mut problems = Vec::new();
        if let Some(span) = &s.duration {
            if span.amount <= 0 {
                problems.push((
                    "settings.duration.amount".into(),
                    "must be greater than 0".into(),
                ));
            } else if span.duration() > Duration::days(MAX_DELAY_DAYS) {
                problems.push((
                    "settings.duration".into(),
                    format!("longer than {MAX_DELAY_DAYS} days"),
                ));
            }
        }
        if let Some(until) = &s.until {
            if until.contains("{{") {
                problems.extend(check_template("settings.until", until, ctx.types));
            } else {
                match parse_instant(until) {
                    None => problems.push(("settings.until".into(), format!("{until:?} is not an RFC 3339 date-time such as 2026-12-01T09:00:00+07:00"))),
                    Some(t) if t <= ctx.now => problems.push(("settings.until".into(), format!("{until} is in the past"))),
                    Some(t) if t - ctx.now > Duration::days(MAX_DELAY_DAYS) => {
                        problems.push(("settings.until".into(), format!("more than {MAX_DELAY_DAYS} days ahead")))
                    }
                    Some(_) => {}
                }
            }
        }
        if let Some(hours) = &s.working_hours
            && let Err(problem) = hours.schedule()
        {
            problems.push(problem);
        }
        problems
    }

    fn execute(&self, settings: &Value, input: &RunInput<'_>) -> Result<Outcome, NodeError> {
        let s: Settings =
            parse_settings(settings).map_err(|(f, m)| NodeError::new(format!("{f}: {m}")))?;
        let (due, rendered) = if let Some(span) = &s.duration {
            (input.now + span.duration(), settings.clone())
        } else if let Some(until) = &s.until {
            let text = render("settings.until", until, input.context)?;
            let due = parse_instant(&text).ok_or_else(|| {
                NodeError::new(format!(
                    "settings.until: {text:?} is not an RFC 3339 date-time"
                ))
            })?;
            // A date already past means "go on now", not an error: the
            // variable's value is only known at run time.
            (due.max(input.now), json!({ "until": text }))
        } else if let Some(hours) = &s.working_hours {
            let schedule = hours
                .schedule()
                .map_err(|(f, m)| NodeError::new(format!("{f}: {m}")))?;
            let due = schedule
                .next_opening(input.now)
                .ok_or_else(|| NodeError::new("working hours never open"))?;
            (due, settings.clone())
        } else {
            return Err(NodeError::new(
                "settings: give one of duration, until or working_hours",
            ));
        };
        Ok(Outcome {
            port: "next".into(),
            wait_until: Some(due),
            rendered,
            decision: json!({ "due_at": due.to_rfc3339() }),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::VariableTypes;

    fn at(s: &str) -> DateTime<Utc> {
        parse_instant(s).unwrap()
    }

    fn run(settings: Value, now: DateTime<Utc>, context: Value) -> Result<Outcome, NodeError> {
        DelayNode.execute(
            &settings,
            &RunInput {
                context: &context,
                now,
                random: 0.0,
                idempotency_key: "r:1",
            },
        )
    }

    #[test]
    fn duration_waits_from_now() {
        // SPEC A-N2
        let now = at("2026-11-25T10:00:00Z");
        let o = run(
            json!({"duration": {"amount": 2, "unit": "hours"}}),
            now,
            json!({}),
        )
        .unwrap();
        assert_eq!(o.wait_until, Some(at("2026-11-25T12:00:00Z")));
        assert_eq!(o.port, "next");
    }

    #[test]
    fn until_renders_a_variable_and_never_waits_into_the_past() {
        // SPEC A-N2
        let now = at("2026-11-25T10:00:00Z");
        let ctx = json!({"order": {"delivery_at": "2026-11-26T09:00:00+07:00"}});
        let o = run(json!({"until": "{{order.delivery_at}}"}), now, ctx).unwrap();
        assert_eq!(o.wait_until, Some(at("2026-11-26T02:00:00Z")));
        let past = run(json!({"until": "2026-01-01T00:00:00Z"}), now, json!({})).unwrap();
        assert_eq!(past.wait_until, Some(now));
    }

    #[test]
    fn working_hours_wait_for_the_next_opening_in_the_workspace_zone() {
        // SPEC A-N2
        let hours = json!({"working_hours": {"days": [1,2,3,4,5], "open": "08:00", "close": "17:30", "holidays": ["2026-11-30"]}});
        // Friday 2026-11-27 18:00 in Hanoi (11:00 UTC) → Monday is a holiday → Tuesday 08:00 +07.
        let o = run(hours.clone(), at("2026-11-27T11:00:00Z"), json!({})).unwrap();
        assert_eq!(o.wait_until, Some(at("2026-12-01T01:00:00Z")));
        // Inside hours: go on now.
        let now = at("2026-11-25T03:00:00Z");
        assert_eq!(run(hours, now, json!({})).unwrap().wait_until, Some(now));
    }

    #[test]
    fn validation_rejects_past_dates_ambiguous_and_bad_settings() {
        // SPEC A-V
        let types = VariableTypes::default();
        let ctx = ValidationContext {
            types: &types,
            now: at("2026-11-25T10:00:00Z"),
        };
        let fields = |s: Value| {
            DelayNode
                .validate(&s, &ctx)
                .into_iter()
                .map(|(f, _)| f)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fields(json!({"until": "2026-01-01T00:00:00Z"})),
            ["settings.until"]
        );
        assert_eq!(fields(json!({"until": "soon"})), ["settings.until"]);
        assert_eq!(
            fields(json!({"duration": {"amount": 0, "unit": "days"}})),
            ["settings.duration.amount"]
        );
        assert_eq!(
            fields(json!({"duration": {"amount": 1, "unit": "weeks"}})),
            ["settings.duration.unit"]
        );
        assert_eq!(fields(json!({})), ["settings"]);
        assert_eq!(
            fields(json!({"until": "{{order.when}}"})),
            ["settings.until"]
        );
        assert_eq!(
            fields(json!({"working_hours": {"days": [8], "open": "08:00", "close": "17:00"}})),
            ["settings.working_hours.days"]
        );
        assert!(fields(json!({"duration": {"amount": 5, "unit": "minutes"}})).is_empty());
    }
}
