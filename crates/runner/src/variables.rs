//! `fermyon:spin/variables@2.0.0` and the resolution of application
//! variables: `SPIN_VARIABLE_<NAME>` from the environment, else the
//! manifest default; a `required` variable with neither stops start-up.

use std::collections::BTreeMap;

use anyhow::bail;
use careflow_manifest::Manifest;

use crate::spin_bindings::platform::fermyon::spin::variables::{self, Error};
use crate::state::HostState;

/// Resolves every application variable once, at start-up.
pub fn resolve_app_variables(
    manifest: &Manifest,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    let mut missing = Vec::new();
    for (name, var) in &manifest.variables {
        let env_name = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
        match env(&env_name).or_else(|| var.default.clone()) {
            Some(value) => {
                values.insert(name.clone(), value);
            }
            None => missing.push(format!("`{name}` (set {env_name})")),
        }
    }
    if !missing.is_empty() {
        bail!(
            "{}: required variables have no value: {}",
            manifest.file.display(),
            missing.join(", ")
        );
    }
    Ok(values)
}

/// The values of one component's `variables` table.
pub fn component_variables(
    component: &careflow_manifest::Component,
    app_values: &BTreeMap<String, String>,
) -> anyhow::Result<BTreeMap<String, String>> {
    component
        .variables
        .iter()
        .map(|(name, template)| {
            let value = template.render(|v| {
                app_values
                    .get(v)
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("variable `{v}` has no value"))
            })?;
            Ok((name.clone(), value))
        })
        .collect()
}

impl variables::Host for HostState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, Error>> {
        if !careflow_manifest::is_variable_name(&name) {
            return Ok(Err(Error::InvalidName(format!(
                "{name:?} is not a valid variable name"
            ))));
        }
        Ok(self.component.variables.get(&name).cloned().ok_or_else(|| {
            Error::Undefined(format!(
                "no variable `{name}` in component `{}`",
                self.component.id
            ))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        careflow_manifest::parse_manifest(
            std::path::Path::new("spin.toml"),
            r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
token = { required = true }
greeting = { default = "hi" }
[component.a]
source = "a.wasm"
variables = { message = "{{ greeting }}, {{ token }}!" }
"#,
        )
        .unwrap()
    }

    #[test]
    fn environment_overrides_defaults_and_fills_templates() {
        let m = manifest();
        let values = resolve_app_variables(&m, |k| match k {
            "SPIN_VARIABLE_TOKEN" => Some("s3cret".into()),
            "SPIN_VARIABLE_GREETING" => Some("xin chào".into()),
            _ => None,
        })
        .unwrap();
        let c = component_variables(&m.components["a"], &values).unwrap();
        assert_eq!(c["message"], "xin chào, s3cret!");
    }

    #[test]
    fn missing_required_variable_names_its_env_var() {
        let err = resolve_app_variables(&manifest(), |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("SPIN_VARIABLE_TOKEN"), "{err}");
    }
}
