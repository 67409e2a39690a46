//! A campaign's settings (SPEC B-1 and the per-mode settings of B-M, B-P,
//! B-D, B-A, B-C): the one place their defaults and limits live. The API
//! parses a body into [`CampaignSettings`] and calls [`CampaignSettings::validate`].

use careflow_api::ApiError;
use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

/// How customers reach agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// B-M: agents pick customers themselves.
    Manual,
    /// B-P: the agent sees the customer, then the system dials.
    Preview,
    /// B-G: one call per available agent.
    Progressive,
    /// B-D: dials ahead of agents under an abandon-rate cap.
    Predictive,
    /// B-A: IVR broadcast, no agents.
    AutoCall,
    /// B-C: calls back customers who asked from the inbound queue.
    AutoCallback,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Manual => "manual",
            Mode::Preview => "preview",
            Mode::Progressive => "progressive",
            Mode::Predictive => "predictive",
            Mode::AutoCall => "auto_call",
            Mode::AutoCallback => "auto_callback",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.into())).ok()
    }

    /// Modes where the system dials (the customer's phone is required).
    pub fn is_automatic(self) -> bool {
        self != Mode::Manual
    }

    pub fn needs_agents(self) -> bool {
        self != Mode::AutoCall
    }
}

/// One opening window on the given ISO weekdays (1 = Monday … 7 = Sunday),
/// in the workspace's zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkingWindow {
    pub days: Vec<u8>,
    /// `HH:MM`, inclusive.
    pub from: String,
    /// `HH:MM`, exclusive.
    pub to: String,
}

impl WorkingWindow {
    pub fn times(&self) -> Option<(NaiveTime, NaiveTime)> {
        let from = NaiveTime::parse_from_str(&self.from, "%H:%M").ok()?;
        let to = NaiveTime::parse_from_str(&self.to, "%H:%M").ok()?;
        Some((from, to))
    }
}

/// The kinds of answer a call-script question takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionType {
    Text,
    Number,
    Choice,
    MultiChoice,
    Date,
    YesNo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: QuestionType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default)]
    pub required: bool,
}

/// The questions an agent fills in per call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    pub questions: Vec<Question>,
}

impl Default for Script {
    /// The default script: what happened and a note.
    fn default() -> Self {
        Script {
            questions: vec![
                Question {
                    id: "outcome".into(),
                    label: "Kết quả cuộc gọi".into(),
                    kind: QuestionType::Choice,
                    options: vec![
                        "Quan tâm".into(),
                        "Không quan tâm".into(),
                        "Hẹn gọi lại".into(),
                    ],
                    required: false,
                },
                Question {
                    id: "note".into(),
                    label: "Ghi chú".into(),
                    kind: QuestionType::Text,
                    options: vec![],
                    required: false,
                },
            ],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ManualSettings {
    /// Customers each agent may pick per day; per-agent quotas on the
    /// campaign's agent list override it. `None`: unlimited.
    #[serde(default)]
    pub daily_quota: Option<u32>,
    /// Make the agent the customer's account manager on pickup.
    #[serde(default)]
    pub assign_account_manager: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewSettings {
    /// Seconds the agent sees the customer before the system dials.
    #[serde(default = "PreviewSettings::default_seconds")]
    pub seconds: u32,
}

impl PreviewSettings {
    fn default_seconds() -> u32 {
        15
    }
}

impl Default for PreviewSettings {
    fn default() -> Self {
        Self {
            seconds: Self::default_seconds(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictiveSettings {
    /// Abandoned / answered the pacer keeps under (at most 0.10).
    #[serde(default = "PredictiveSettings::default_cap")]
    pub max_abandon_rate: f64,
    /// Seconds an answered customer waits on hold music for an agent
    /// before the call is dropped and counted abandoned.
    #[serde(default = "PredictiveSettings::default_max_wait")]
    pub max_wait_seconds: u32,
    /// Seconds an agent has to accept an offered call before the next
    /// agent gets it.
    #[serde(default = "PredictiveSettings::default_accept")]
    pub agent_accept_seconds: u32,
    /// What an answered customer hears while waiting.
    #[serde(default = "PredictiveSettings::default_hold_music")]
    pub hold_music: String,
}

impl PredictiveSettings {
    fn default_cap() -> f64 {
        0.03
    }
    fn default_max_wait() -> u32 {
        15
    }
    fn default_accept() -> u32 {
        30
    }
    fn default_hold_music() -> String {
        "hold-music".into()
    }
}

impl Default for PredictiveSettings {
    fn default() -> Self {
        Self {
            max_abandon_rate: Self::default_cap(),
            max_wait_seconds: Self::default_max_wait(),
            agent_accept_seconds: Self::default_accept(),
            hold_music: Self::default_hold_music(),
        }
    }
}

/// Which hotline an auto-call dials from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HotlineRotation {
    /// The campaign's hotline only.
    #[default]
    Single,
    /// A random one among `hotlines`.
    Random,
    /// Every hotline of the workspace in turn.
    All,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoCallSettings {
    #[serde(default)]
    pub hotline_rotation: HotlineRotation,
    /// The chosen hotlines for `random`.
    #[serde(default)]
    pub hotlines: Vec<String>,
    /// Calls in flight at once, 1–100 (and never above the workspace cap).
    pub concurrent_calls: u32,
    /// The IVR scenario played to the customer.
    pub ivr: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackSettings {
    /// Seconds a caller must have waited in the queue before the key
    /// registers a callback.
    #[serde(default = "CallbackSettings::default_min_wait")]
    pub min_wait_seconds: u32,
    /// The key (1–9, `*`, `#`) that asks for a callback.
    #[serde(default = "CallbackSettings::default_key")]
    pub key: String,
}

impl CallbackSettings {
    fn default_min_wait() -> u32 {
        20
    }
    fn default_key() -> String {
        "1".into()
    }
}

impl Default for CallbackSettings {
    fn default() -> Self {
        Self {
            min_wait_seconds: Self::default_min_wait(),
            key: Self::default_key(),
        }
    }
}

/// Everything B-1 names plus the settings of the campaign's mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSettings {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub mode: Mode,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The number customers see; required except for auto-call with a
    /// rotation over several hotlines.
    #[serde(default)]
    pub hotline: Option<String>,
    /// Empty: any time (auto-callback's default; other modes too).
    #[serde(default)]
    pub working_hours: Vec<WorkingWindow>,
    #[serde(default = "CampaignSettings::default_max_attempts")]
    pub max_attempts: u32,
    #[serde(default = "CampaignSettings::default_retry_minutes")]
    pub retry_minutes: u32,
    /// Days a customer marked "do not call again" is not recalled.
    #[serde(default = "CampaignSettings::default_dnc_days")]
    pub dnc_days: u32,
    /// Rest between two system-placed calls of one agent.
    #[serde(default = "CampaignSettings::default_wrap_up")]
    pub wrap_up_seconds: u32,
    #[serde(default)]
    pub script: Script,
    #[serde(default)]
    pub create_ticket: bool,
    #[serde(default)]
    pub manual: ManualSettings,
    #[serde(default)]
    pub preview: PreviewSettings,
    #[serde(default)]
    pub predictive: PredictiveSettings,
    #[serde(default)]
    pub auto_call: Option<AutoCallSettings>,
    #[serde(default)]
    pub callback: CallbackSettings,
}

impl CampaignSettings {
    fn default_max_attempts() -> u32 {
        3
    }
    fn default_retry_minutes() -> u32 {
        30
    }
    fn default_dnc_days() -> u32 {
        30
    }
    fn default_wrap_up() -> u32 {
        10
    }

    /// Checks every limit and normalises hotlines to E.164 digits.
    pub fn validate(mut self) -> Result<Self, ApiError> {
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ApiError::validation(
                "name",
                "a name of 1 to 200 characters",
            ));
        }
        self.name = name;
        if self.description.chars().count() > 2000 {
            return Err(ApiError::validation(
                "description",
                "at most 2000 characters",
            ));
        }
        if self.ends_at <= self.starts_at {
            return Err(ApiError::validation(
                "ends_at",
                "ends_at is after starts_at",
            ));
        }
        if let Some(hotline) = &self.hotline {
            self.hotline = Some(hotline_number("hotline", hotline)?);
        }
        if self.working_hours.len() > 20 {
            return Err(ApiError::validation(
                "working_hours",
                "at most 20 working-hours windows",
            ));
        }
        for (i, w) in self.working_hours.iter().enumerate() {
            let field = format!("working_hours[{i}]");
            if w.days.is_empty() || w.days.iter().any(|d| !(1..=7).contains(d)) {
                return Err(ApiError::validation(
                    format!("{field}.days"),
                    "days are 1 (Monday) to 7 (Sunday)",
                ));
            }
            match w.times() {
                Some((from, to)) if from < to => {}
                Some(_) => {
                    return Err(ApiError::validation(
                        format!("{field}.to"),
                        "`to` is after `from`",
                    ));
                }
                None => {
                    return Err(ApiError::validation(field, "times are HH:MM (e.g. 08:00)"));
                }
            }
        }
        range("max_attempts", self.max_attempts, 1, 20)?;
        range("retry_minutes", self.retry_minutes, 0, 7 * 24 * 60)?;
        range("dnc_days", self.dnc_days, 0, 3650)?;
        range("wrap_up_seconds", self.wrap_up_seconds, 0, 3600)?;
        self.validate_script()?;
        // Every mode block is checked, not only the campaign's own: what is
        // stored is what a later reader trusts.
        range("preview.seconds", self.preview.seconds, 1, 600)?;
        let p = &self.predictive;
        if !(p.max_abandon_rate > 0.0 && p.max_abandon_rate <= 0.10) {
            return Err(ApiError::validation(
                "predictive.max_abandon_rate",
                "the abandon cap is above 0 and at most 0.10",
            ));
        }
        range("predictive.max_wait_seconds", p.max_wait_seconds, 1, 600)?;
        range(
            "predictive.agent_accept_seconds",
            p.agent_accept_seconds,
            1,
            120,
        )?;
        short_text("predictive.hold_music", &p.hold_music)?;
        if self.mode == Mode::AutoCall || self.auto_call.is_some() {
            self.validate_auto_call()?;
        }
        let key = self.callback.key.as_str();
        if !(key.len() == 1 && (key == "*" || key == "#" || ("1"..="9").contains(&key))) {
            return Err(ApiError::validation(
                "callback.key",
                "the callback key is 1–9, * or #",
            ));
        }
        range(
            "callback.min_wait_seconds",
            self.callback.min_wait_seconds,
            0,
            3600,
        )?;
        if let Some(q) = self.manual.daily_quota {
            range("manual.daily_quota", q, 1, 100_000)?;
        }
        if self.mode != Mode::AutoCall && self.hotline.is_none() {
            return Err(ApiError::validation(
                "hotline",
                "the hotline customers see is required",
            ));
        }
        Ok(self)
    }

    fn validate_script(&self) -> Result<(), ApiError> {
        let questions = &self.script.questions;
        if questions.len() > 50 {
            return Err(ApiError::validation(
                "script.questions",
                "at most 50 questions",
            ));
        }
        for (i, q) in questions.iter().enumerate() {
            let field = format!("script.questions[{i}]");
            if q.id.trim().is_empty() || q.label.trim().is_empty() {
                return Err(ApiError::validation(
                    field,
                    "a question has an id and a label",
                ));
            }
            if questions[..i].iter().any(|o| o.id == q.id) {
                return Err(ApiError::validation(
                    format!("{field}.id"),
                    format!("question id `{}` is used twice", q.id),
                ));
            }
            short_text(&format!("{field}.id"), &q.id)?;
            short_text(&format!("{field}.label"), &q.label)?;
            if q.options.len() > 50 {
                return Err(ApiError::validation(
                    format!("{field}.options"),
                    "at most 50 options",
                ));
            }
            for (j, o) in q.options.iter().enumerate() {
                short_text(&format!("{field}.options[{j}]"), o)?;
            }
            let choice = matches!(q.kind, QuestionType::Choice | QuestionType::MultiChoice);
            if choice && q.options.is_empty() {
                return Err(ApiError::validation(
                    format!("{field}.options"),
                    "a choice question lists its options",
                ));
            }
        }
        Ok(())
    }

    fn validate_auto_call(&mut self) -> Result<(), ApiError> {
        let Some(auto) = self.auto_call.as_mut() else {
            return Err(ApiError::validation(
                "auto_call",
                "auto-call needs `auto_call` settings (concurrent_calls, ivr)",
            ));
        };
        range("auto_call.concurrent_calls", auto.concurrent_calls, 1, 100)?;
        if auto.ivr.trim().is_empty() {
            return Err(ApiError::validation(
                "auto_call.ivr",
                "the IVR scenario to play",
            ));
        }
        short_text("auto_call.ivr", &auto.ivr)?;
        if auto.hotlines.len() > 50 {
            return Err(ApiError::validation(
                "auto_call.hotlines",
                "at most 50 hotlines",
            ));
        }
        let mut normal = Vec::new();
        for (i, h) in auto.hotlines.iter().enumerate() {
            normal.push(hotline_number(&format!("auto_call.hotlines[{i}]"), h)?);
        }
        auto.hotlines = normal;
        match auto.hotline_rotation {
            HotlineRotation::Single if self.hotline.is_none() => Err(ApiError::validation(
                "hotline",
                "single rotation dials from the campaign's hotline",
            )),
            HotlineRotation::Random if auto.hotlines.is_empty() => Err(ApiError::validation(
                "auto_call.hotlines",
                "random rotation chooses among the listed hotlines",
            )),
            _ => Ok(()),
        }
    }

    /// Checks answers an agent saved against the script.
    pub fn check_answers(&self, answers: &serde_json::Value) -> Result<(), ApiError> {
        let Some(map) = answers.as_object() else {
            return Err(ApiError::validation(
                "answers",
                "answers are an object by question id",
            ));
        };
        for key in map.keys() {
            if !self.script.questions.iter().any(|q| &q.id == key) {
                return Err(ApiError::validation(
                    format!("answers.{key}"),
                    format!("the script has no question `{key}`"),
                ));
            }
        }
        for q in &self.script.questions {
            let field = format!("answers.{}", q.id);
            let Some(v) = map.get(&q.id).filter(|v| !v.is_null()) else {
                if q.required {
                    return Err(ApiError::validation(
                        field,
                        format!("`{}` is required", q.label),
                    ));
                }
                continue;
            };
            let fits = match q.kind {
                QuestionType::Text => v.as_str().is_some_and(|s| s.chars().count() <= 5000),
                QuestionType::Number => v.is_number(),
                QuestionType::YesNo => v.is_boolean(),
                QuestionType::Date => v
                    .as_str()
                    .is_some_and(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()),
                QuestionType::Choice => {
                    v.as_str().is_some_and(|s| q.options.iter().any(|o| o == s))
                }
                QuestionType::MultiChoice => v.as_array().is_some_and(|items| {
                    items
                        .iter()
                        .all(|i| i.as_str().is_some_and(|s| q.options.iter().any(|o| o == s)))
                }),
            };
            if !fits {
                return Err(ApiError::validation(
                    field,
                    format!("not a valid answer for a {:?} question", q.kind),
                ));
            }
        }
        Ok(())
    }
}

/// Names, labels and scenario ids: at most 200 characters.
fn short_text(field: &str, value: &str) -> Result<(), ApiError> {
    if value.chars().count() > 200 {
        return Err(ApiError::validation(
            field,
            format!("{field} is at most 200 characters"),
        ));
    }
    Ok(())
}

pub(crate) fn range(field: &str, value: u32, min: u32, max: u32) -> Result<(), ApiError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ApiError::validation(
            field,
            format!("{field} is {min} to {max}"),
        ))
    }
}

/// A hotline: a phone number in E.164 digits, or a Vietnamese service
/// number (1800 / 1900 …, 8 or 10 digits) kept as dialled.
pub fn hotline_number(field: &str, raw: &str) -> Result<String, ApiError> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let service = (digits.starts_with("1800") || digits.starts_with("1900"))
        && (digits.len() == 8 || digits.len() == 10)
        && raw.chars().all(|c| c.is_ascii_digit() || " .-".contains(c));
    if service {
        return Ok(digits);
    }
    careflow_flow::binding::normalize_phone(raw)
        .ok_or_else(|| ApiError::validation(field, format!("{raw:?} is not a phone number")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base(mode: &str) -> serde_json::Value {
        json!({
            "name": "Chăm sóc tháng 12", "mode": mode, "hotline": "1900 1234 56",
            "starts_at": "2026-12-01T01:00:00Z", "ends_at": "2026-12-31T10:00:00Z"
        })
    }

    fn parse(v: serde_json::Value) -> Result<CampaignSettings, ApiError> {
        serde_json::from_value::<CampaignSettings>(v)
            .map_err(|e| ApiError::bad_request(e.to_string()))?
            .validate()
    }

    #[test]
    fn fills_the_defaults_of_b1_when_settings_are_left_out() {
        // SPEC B-1
        let s = parse(base("progressive")).unwrap();
        assert_eq!(s.max_attempts, 3);
        assert_eq!(s.retry_minutes, 30);
        assert_eq!(s.wrap_up_seconds, 10);
        assert_eq!(s.script, Script::default());
        assert_eq!(s.hotline.as_deref(), Some("1900123456"));
        assert!((s.predictive.max_abandon_rate - 0.03).abs() < 1e-9);
    }

    #[test]
    fn checks_every_mode_block_and_caps_sizes() {
        // SPEC B-1: a manual campaign cannot store a predictive cap of 50
        // or an auto-call block of four billion lines for later.
        let with = |k: &str, v: serde_json::Value| {
            let mut b = base("manual");
            b[k] = v;
            parse(b).unwrap_err().field
        };
        assert_eq!(
            with("predictive", json!({"max_abandon_rate": 50.0})).as_deref(),
            Some("predictive.max_abandon_rate")
        );
        assert_eq!(
            with(
                "auto_call",
                json!({"concurrent_calls": 4_000_000_000u32, "ivr": "x"})
            )
            .as_deref(),
            Some("auto_call.concurrent_calls")
        );
        assert_eq!(
            with("callback", json!({"key": "xyz"})).as_deref(),
            Some("callback.key")
        );
        let long = "x".repeat(201);
        assert_eq!(
            with(
                "script",
                json!({"questions": [{"id": "q", "label": long, "type": "text"}]})
            )
            .as_deref(),
            Some("script.questions[0].label")
        );
        let many: Vec<_> = (0..21)
            .map(|_| json!({"days": [1], "from": "08:00", "to": "17:00"}))
            .collect();
        assert_eq!(
            with("working_hours", json!(many)).as_deref(),
            Some("working_hours")
        );
    }

    #[test]
    fn refuses_an_abandon_cap_above_ten_percent() {
        // SPEC B-D
        let mut v = base("predictive");
        v["predictive"] = json!({"max_abandon_rate": 0.11});
        let e = parse(v).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("predictive.max_abandon_rate"));
        let mut v = base("predictive");
        v["predictive"] = json!({"max_abandon_rate": 0.10});
        assert!(parse(v).is_ok());
    }

    #[test]
    fn auto_call_needs_between_one_and_a_hundred_calls_and_an_ivr() {
        // SPEC B-A
        let mut v = base("auto_call");
        v["auto_call"] = json!({"concurrent_calls": 101, "ivr": "welcome"});
        assert_eq!(
            parse(v).unwrap_err().field.as_deref(),
            Some("auto_call.concurrent_calls")
        );
        let mut v = base("auto_call");
        v["auto_call"] =
            json!({"concurrent_calls": 5, "ivr": "welcome", "hotline_rotation": "random"});
        assert_eq!(
            parse(v).unwrap_err().field.as_deref(),
            Some("auto_call.hotlines")
        );
        let mut v = base("auto_call");
        v["auto_call"] = json!({"concurrent_calls": 5, "ivr": "welcome", "hotline_rotation": "random", "hotlines": ["0281234567", "0287654321"]});
        assert_eq!(
            parse(v).unwrap().auto_call.unwrap().hotlines,
            vec!["84281234567", "84287654321"]
        );
    }

    #[test]
    fn names_the_window_whose_times_are_wrong() {
        let mut v = base("manual");
        v["working_hours"] = json!([{"days": [1,2,3,4,5], "from": "08:00", "to": "17:30"}, {"days": [6], "from": "13:00", "to": "09:00"}]);
        assert_eq!(
            parse(v).unwrap_err().field.as_deref(),
            Some("working_hours[1].to")
        );
    }

    #[test]
    fn callback_key_is_a_digit_star_or_hash() {
        // SPEC B-C
        for (key, ok) in [
            ("1", true),
            ("*", true),
            ("#", true),
            ("0", false),
            ("12", false),
        ] {
            let mut v = base("auto_callback");
            v["callback"] = json!({"key": key});
            assert_eq!(parse(v).is_ok(), ok, "{key}");
        }
    }

    #[test]
    fn checks_script_answers_by_question_type() {
        let s = parse(base("manual")).unwrap();
        assert!(
            s.check_answers(&json!({"outcome": "Quan tâm", "note": "gọi lại sau"}))
                .is_ok()
        );
        let e = s.check_answers(&json!({"outcome": "Maybe"})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("answers.outcome"));
        let e = s.check_answers(&json!({"nope": 1})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("answers.nope"));
    }

    #[test]
    fn ends_after_it_starts() {
        let mut v = base("manual");
        v["ends_at"] = v["starts_at"].clone();
        assert_eq!(parse(v).unwrap_err().field.as_deref(), Some("ends_at"));
    }
}
