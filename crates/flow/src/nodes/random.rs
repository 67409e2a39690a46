//! A-N3 Random: splits runs across branches by percentages that add up to
//! 100. The draw is made by the engine and recorded with the step, so a
//! replayed step takes the same branch.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{NodeError, NodeKind, Outcome, RunInput, ValidationContext, parse_settings};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub branches: Vec<Branch>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    /// The output port of this branch.
    pub port: String,
    /// Share of runs, 0–100.
    pub percent: f64,
}

pub struct RandomNode;

/// The branch a draw in [0, 1) falls into.
pub fn choose(branches: &[Branch], draw: f64) -> Option<&Branch> {
    let mut cumulative = 0.0;
    let point = draw.clamp(0.0, 1.0) * 100.0;
    for branch in branches {
        cumulative += branch.percent;
        if point < cumulative {
            return Some(branch);
        }
    }
    branches.iter().rev().find(|b| b.percent > 0.0)
}

impl NodeKind for RandomNode {
    fn kind(&self) -> &'static str {
        "random"
    }

    fn describe(&self) -> Value {
        json!({
            "type": "random",
            "spec": "A-N3",
            "ports": "one per branch",
            "settings": { "branches": [{ "port": "a", "percent": 50 }, { "port": "b", "percent": 50 }] },
            "limits": "2 or more branches, distinct ports, percents 0–100 adding up to 100"
        })
    }

    fn ports(&self, settings: &Value) -> Vec<String> {
        parse_settings::<Settings>(settings)
            .map(|s| s.branches.into_iter().map(|b| b.port).collect())
            .unwrap_or_default()
    }

    fn validate(&self, settings: &Value, _ctx: &ValidationContext<'_>) -> Vec<(String, String)> {
        let s: Settings = match parse_settings(settings) {
            Ok(s) => s,
            Err(problem) => return vec![problem],
        };
        let mut problems = Vec::new();
        if s.branches.len() < 2 {
            problems.push((
                "settings.branches".into(),
                "a random split needs at least 2 branches".into(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, b) in s.branches.iter().enumerate() {
            if b.port.trim().is_empty() || !seen.insert(b.port.as_str()) {
                problems.push((
                    format!("settings.branches[{i}].port"),
                    format!("port {:?} must be non-empty and unique", b.port),
                ));
            }
            if !(0.0..=100.0).contains(&b.percent) || !b.percent.is_finite() {
                problems.push((
                    format!("settings.branches[{i}].percent"),
                    "must be between 0 and 100".into(),
                ));
            }
        }
        let total: f64 = s.branches.iter().map(|b| b.percent).sum();
        if (total - 100.0).abs() > 1e-6 {
            problems.push((
                "settings.branches".into(),
                format!("percentages add up to {total}, not 100"),
            ));
        }
        problems
    }

    fn execute(&self, settings: &Value, input: &RunInput<'_>) -> Result<Outcome, NodeError> {
        let s: Settings =
            parse_settings(settings).map_err(|(f, m)| NodeError::new(format!("{f}: {m}")))?;
        let branch =
            choose(&s.branches, input.random).ok_or_else(|| NodeError::new("no branch to take"))?;
        Ok(Outcome {
            port: branch.port.clone(),
            rendered: settings.clone(),
            decision: json!({ "draw": input.random, "branch": branch.port }),
            ..Default::default()
        })
    }
}
