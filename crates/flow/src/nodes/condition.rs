//! A-N1 Condition: nested all/any rules over the run's variables; leaves
//! by `yes` or `no`.

use careflow_condition::Condition;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{NodeError, NodeKind, Outcome, RunInput, ValidationContext, parse_settings};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub condition: Condition,
}

pub struct ConditionNode;

impl NodeKind for ConditionNode {
    fn kind(&self) -> &'static str {
        "condition"
    }

    fn describe(&self) -> Value {
        json!({
            "type": "condition",
            "spec": "A-N1",
            "ports": ["yes", "no"],
            "settings": { "condition": "{\"all\"|\"any\": [rules or groups]} ; rule = {field, op, value}" }
        })
    }

    fn ports(&self, _settings: &Value) -> Vec<String> {
        vec!["yes".into(), "no".into()]
    }

    fn validate(&self, settings: &Value, ctx: &ValidationContext<'_>) -> Vec<(String, String)> {
        match parse_settings::<Settings>(settings) {
            Err(problem) => vec![problem],
            Ok(s) => s
                .condition
                .validate(&|path| ctx.types.type_of(path))
                .into_iter()
                .map(|p| {
                    (
                        format!("settings.condition.{}", p.path)
                            .trim_end_matches('.')
                            .to_string(),
                        p.message,
                    )
                })
                .collect(),
        }
    }

    fn execute(&self, settings: &Value, input: &RunInput<'_>) -> Result<Outcome, NodeError> {
        let s: Settings =
            parse_settings(settings).map_err(|(f, m)| NodeError::new(format!("{f}: {m}")))?;
        let matched = s.condition.evaluate(input.context, input.now);
        Ok(Outcome {
            port: if matched { "yes" } else { "no" }.into(),
            rendered: settings.clone(),
            decision: json!({ "matched": matched }),
            ..Default::default()
        })
    }
}
