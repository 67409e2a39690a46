//! The application manifest (`spin.toml`, manifest version 2).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{ManifestError, from_toml};
use crate::outbound::OutboundRule;
use crate::template::{Template, is_variable_name};

/// A validated application manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The manifest file, as given.
    pub file: PathBuf,
    /// The directory relative paths (`source`, build `workdir`) start from.
    pub dir: PathBuf,
    pub application: Application,
    pub variables: BTreeMap<String, AppVariable>,
    pub http: HttpTrigger,
    pub cron: Vec<CronTrigger>,
    pub components: BTreeMap<String, Component>,
}

#[derive(Debug, Clone)]
pub struct Application {
    pub name: String,
    pub version: String,
    pub description: String,
}

/// An application variable: a default, or required; maybe secret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppVariable {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct HttpTrigger {
    /// `[application.trigger.http] base`, always starting with `/`.
    pub base: String,
    pub routes: Vec<HttpRoute>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    /// `None` for a private route (`route = { private = true }`).
    pub route: Option<String>,
    pub component: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronTrigger {
    pub component: String,
    pub cron_expression: String,
}

#[derive(Debug, Clone)]
pub struct Component {
    pub id: String,
    /// The `.wasm` file, resolved against the manifest directory.
    pub source: PathBuf,
    pub description: String,
    pub allowed_outbound_hosts: Vec<String>,
    pub key_value_stores: Vec<String>,
    pub sqlite_databases: Vec<String>,
    pub environment: BTreeMap<String, String>,
    /// Component variables and the templates that give their values.
    pub variables: BTreeMap<String, Template>,
    pub build: Option<BuildConfig>,
    /// Host directories mounted read-only into the component.
    pub files: Vec<FileMount>,
}

/// `files = [{ source = "static", destination = "/" }]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMount {
    /// Host directory, resolved against the manifest directory.
    pub source: PathBuf,
    /// Where the component sees it (absolute guest path).
    pub destination: String,
}

impl Component {
    /// The parsed outbound rules; templates are rendered by `resolve`.
    pub fn outbound_rules<E>(
        &self,
        mut resolve: impl FnMut(&str) -> Result<String, E>,
    ) -> Result<Vec<OutboundRule>, OutboundError<E>> {
        self.allowed_outbound_hosts
            .iter()
            .map(|text| {
                let template = Template::parse(text).map_err(OutboundError::Invalid)?;
                let rendered = template
                    .render(&mut resolve)
                    .map_err(OutboundError::Variable)?;
                OutboundRule::parse(&rendered).map_err(OutboundError::Invalid)
            })
            .collect()
    }
}

/// Why an `allowed_outbound_hosts` entry could not be turned into a rule.
#[derive(Debug)]
pub enum OutboundError<E> {
    Invalid(String),
    Variable(E),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildConfig {
    pub command: String,
    /// Where the command runs, resolved against the manifest directory.
    pub workdir: PathBuf,
}

// ---- raw schema: what the file may contain -------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, AppVariable>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApplication {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    authors: Vec<String>,
    #[serde(default)]
    trigger: RawAppTriggers,
    /// Tool-specific settings are Spin's own extension point; ignored here.
    #[serde(default)]
    #[allow(dead_code)]
    tool: Option<toml::Table>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppTriggers {
    #[serde(default)]
    http: Option<RawAppHttp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppHttp {
    #[serde(default)]
    base: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<RawHttpTrigger>,
    #[serde(default)]
    cron: Vec<RawCronTrigger>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpTrigger {
    #[serde(default)]
    #[allow(dead_code)]
    id: Option<String>,
    route: RawRoute,
    component: String,
    #[serde(default)]
    executor: Option<RawExecutor>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawRoute {
    Path(String),
    Private { private: bool },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExecutor {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCronTrigger {
    #[serde(default)]
    #[allow(dead_code)]
    id: Option<String>,
    component: String,
    cron_expression: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    source: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    build: Option<RawBuild>,
    #[serde(default)]
    files: Vec<RawFiles>,
    #[serde(default)]
    #[allow(dead_code)]
    tool: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawFiles {
    Pattern(String),
    Mount { source: String, destination: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    command: String,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    watch: Vec<String>,
}

/// Reads and validates the manifest at `file`.
pub fn load_manifest(file: &Path) -> Result<Manifest, ManifestError> {
    let text = std::fs::read_to_string(file).map_err(|source| ManifestError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    parse_manifest(file, &text)
}

/// Validates manifest `text` as if read from `file`.
pub fn parse_manifest(file: &Path, text: &str) -> Result<Manifest, ManifestError> {
    let raw: RawManifest = from_toml(file, text)?;
    let bad = |key: String, message: String| ManifestError::invalid(file, key, message);

    if raw.spin_manifest_version.as_integer() != Some(2) {
        return Err(bad(
            "spin_manifest_version".into(),
            format!(
                "must be 2 (found {}); careflow targets Spin manifest version 2",
                raw.spin_manifest_version
            ),
        ));
    }
    if raw.application.name.trim().is_empty() {
        return Err(bad("application.name".into(), "must not be empty".into()));
    }

    for (name, var) in &raw.variables {
        let key = format!("variables.{name}");
        if !is_variable_name(name) {
            return Err(bad(key, "variable names are lowercase letters, digits and single underscores, starting with a letter".into()));
        }
        match (&var.default, var.required) {
            (Some(_), true) => {
                return Err(bad(
                    key,
                    "a variable is either `required` or has a `default`, not both".into(),
                ));
            }
            (None, false) => {
                return Err(bad(
                    key,
                    "give the variable a `default` or mark it `required = true`".into(),
                ));
            }
            _ => {}
        }
    }

    let dir = file
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));

    let mut components = BTreeMap::new();
    for (id, raw_component) in raw.component {
        let key = format!("component.{id}");
        if !is_component_id(&id) {
            return Err(bad(key, "component ids are kebab-case: lowercase letters and digits separated by single hyphens, starting with a letter".into()));
        }
        let mut variables = BTreeMap::new();
        for (name, text) in raw_component.variables {
            let var_key = format!("{key}.variables.{name}");
            if !is_variable_name(&name) {
                return Err(bad(var_key, "variable names are lowercase letters, digits and single underscores, starting with a letter".into()));
            }
            let template = Template::parse(&text).map_err(|m| bad(var_key.clone(), m))?;
            if let Some(missing) = template
                .variables()
                .find(|v| !raw.variables.contains_key(*v))
            {
                return Err(bad(
                    var_key,
                    format!("refers to `{missing}`, which is not in the application's [variables]"),
                ));
            }
            variables.insert(name, template);
        }
        for (i, host) in raw_component.allowed_outbound_hosts.iter().enumerate() {
            let host_key = format!("{key}.allowed_outbound_hosts[{i}]");
            let template = Template::parse(host).map_err(|m| bad(host_key.clone(), m))?;
            if let Some(missing) = template
                .variables()
                .find(|v| !raw.variables.contains_key(*v))
            {
                return Err(bad(
                    host_key,
                    format!("refers to `{missing}`, which is not in the application's [variables]"),
                ));
            }
            if template.variables().next().is_none() {
                OutboundRule::parse(host).map_err(|m| bad(host_key, m))?;
            }
        }
        for (list, labels) in [
            ("key_value_stores", &raw_component.key_value_stores),
            ("sqlite_databases", &raw_component.sqlite_databases),
        ] {
            for (i, label) in labels.iter().enumerate() {
                if !is_label(label) {
                    return Err(bad(
                        format!("{key}.{list}[{i}]"),
                        format!(
                            "{label:?} is not a valid label (lowercase letters, digits, `_` and `-`)"
                        ),
                    ));
                }
            }
        }
        if raw_component.source.trim().is_empty() {
            return Err(bad(
                format!("{key}.source"),
                "must name the component's .wasm file".into(),
            ));
        }
        if raw_component.source.contains("://") {
            return Err(bad(
                format!("{key}.source"),
                "careflow's runner loads components from local files only".into(),
            ));
        }
        let build = match raw_component.build {
            Some(b) if b.command.trim().is_empty() => {
                return Err(bad(
                    format!("{key}.build.command"),
                    "must not be empty".into(),
                ));
            }
            Some(b) => Some(BuildConfig {
                command: b.command,
                workdir: dir.join(b.workdir.unwrap_or_default()),
            }),
            None => None,
        };
        let mut files = Vec::new();
        for (i, entry) in raw_component.files.into_iter().enumerate() {
            let file_key = format!("{key}.files[{i}]");
            match entry {
                RawFiles::Pattern(pattern) => {
                    return Err(bad(
                        file_key,
                        format!(
                            "{pattern:?}: careflow's runner mounts directories only; write {{ source = \"dir\", destination = \"/\" }}"
                        ),
                    ));
                }
                RawFiles::Mount {
                    source,
                    destination,
                } => {
                    if !destination.starts_with('/') {
                        return Err(bad(
                            format!("{file_key}.destination"),
                            "must be an absolute path such as \"/\"".into(),
                        ));
                    }
                    if Path::new(&source).is_absolute() || source.split('/').any(|p| p == "..") {
                        return Err(bad(
                            format!("{file_key}.source"),
                            "must be a directory inside the application".into(),
                        ));
                    }
                    files.push(FileMount {
                        source: dir.join(source),
                        destination,
                    });
                }
            }
        }
        components.insert(
            id.clone(),
            Component {
                files,
                source: dir.join(&raw_component.source),
                description: raw_component.description.unwrap_or_default(),
                allowed_outbound_hosts: raw_component.allowed_outbound_hosts,
                key_value_stores: raw_component.key_value_stores,
                sqlite_databases: raw_component.sqlite_databases,
                environment: raw_component.environment,
                variables,
                build,
                id,
            },
        );
    }

    let base = raw
        .application
        .trigger
        .http
        .and_then(|h| h.base)
        .unwrap_or_else(|| "/".to_string());
    if !base.starts_with('/') {
        return Err(bad(
            "application.trigger.http.base".into(),
            "must start with `/`".into(),
        ));
    }

    let mut routes = Vec::new();
    let mut seen_routes = BTreeMap::new();
    for (i, trigger) in raw.trigger.http.into_iter().enumerate() {
        let key = format!("trigger.http[{i}]");
        if !components.contains_key(&trigger.component) {
            return Err(bad(
                format!("{key}.component"),
                format!(
                    "no component `{}` in the manifest (add a [component.{}] table)",
                    trigger.component, trigger.component
                ),
            ));
        }
        if let Some(executor) = &trigger.executor
            && executor.kind != "spin"
        {
            return Err(bad(
                format!("{key}.executor.type"),
                format!(
                    "{:?} is not supported; careflow components use the `spin` executor",
                    executor.kind
                ),
            ));
        }
        let route = match trigger.route {
            RawRoute::Private { private: true } => None,
            RawRoute::Private { private: false } => {
                return Err(bad(
                    format!("{key}.route"),
                    "`{ private = false }` is not a route: give a path such as \"/api/...\"".into(),
                ));
            }
            RawRoute::Path(path) => {
                validate_route(&path).map_err(|m| bad(format!("{key}.route"), m))?;
                if let Some(previous) = seen_routes.insert(path.clone(), i) {
                    return Err(bad(
                        format!("{key}.route"),
                        format!("route {path:?} is already used by trigger.http[{previous}]"),
                    ));
                }
                Some(path)
            }
        };
        routes.push(HttpRoute {
            route,
            component: trigger.component,
        });
    }

    let mut cron = Vec::new();
    for (i, trigger) in raw.trigger.cron.into_iter().enumerate() {
        let key = format!("trigger.cron[{i}]");
        if !components.contains_key(&trigger.component) {
            return Err(bad(
                format!("{key}.component"),
                format!("no component `{}` in the manifest", trigger.component),
            ));
        }
        crate::cron::parse(&trigger.cron_expression)
            .map_err(|m| bad(format!("{key}.cron_expression"), m))?;
        cron.push(CronTrigger {
            component: trigger.component,
            cron_expression: trigger.cron_expression,
        });
    }

    Ok(Manifest {
        file: file.to_path_buf(),
        dir,
        application: Application {
            name: raw.application.name,
            version: raw.application.version.unwrap_or_default(),
            description: raw.application.description.unwrap_or_default(),
        },
        variables: raw.variables,
        http: HttpTrigger { base, routes },
        cron,
        components,
    })
}

/// Spin's component id rule: kebab-case.
fn is_component_id(id: &str) -> bool {
    matches!(id.chars().next(), Some(c) if c.is_ascii_lowercase())
        && id.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

fn is_label(label: &str) -> bool {
    !label.is_empty()
        && label
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn validate_route(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("{path:?} must start with `/`"));
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        if *segment == "..." && i + 1 != segments.len() {
            return Err(format!("{path:?}: the `...` wildcard may only end a route"));
        }
        if let Some(name) = segment.strip_prefix(':')
            && (name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        {
            return Err(format!(
                "{path:?}: parameter `{segment}` needs a name of letters, digits, `_` or `-`"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
spin_manifest_version = 2

[application]
name = "demo"
version = "1.2.3"

[application.trigger.http]
base = "/"

[variables]
token = { required = true, secret = true }
greeting = { default = "hi" }

[[trigger.http]]
route = "/api/..."
component = "api"

[[trigger.http]]
route = { private = true }
component = "inner"

[[trigger.cron]]
component = "inner"
cron_expression = "*/1 * * * * *"

[component.api]
source = "target/api.wasm"
allowed_outbound_hosts = ["http://inner.spin.internal", "https://{{ greeting }}.example.com"]
key_value_stores = ["default"]
variables = { message = "{{ greeting }}, world", secret_token = "{{ token }}" }
[component.api.build]
command = "cargo build"

[component.inner]
source = "inner.wasm"
files = [{ source = "static", destination = "/" }]
"#;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        parse_manifest(Path::new("app/spin.toml"), text)
    }

    #[test]
    fn reads_a_complete_manifest() {
        let m = parse(GOOD).unwrap();
        assert_eq!(m.application.name, "demo");
        assert_eq!(m.http.routes.len(), 2);
        assert_eq!(m.http.routes[1].route, None);
        assert_eq!(m.cron[0].component, "inner");
        let api = &m.components["api"];
        assert_eq!(api.source, Path::new("app/target/api.wasm"));
        assert_eq!(api.build.as_ref().unwrap().workdir, Path::new("app/"));
        assert_eq!(
            api.variables["message"].variables().collect::<Vec<_>>(),
            ["greeting"]
        );
    }

    fn error_key(text: &str) -> String {
        let err = parse(text).unwrap_err();
        assert!(err.to_string().starts_with("app/spin.toml: "), "{err}");
        err.key().unwrap().to_string()
    }

    #[test]
    fn names_the_key_of_an_unknown_field() {
        let text = GOOD.replace("key_value_stores", "key_value_store");
        assert_eq!(error_key(&text), "component.api.key_value_store");
        assert!(
            parse(&text)
                .unwrap_err()
                .to_string()
                .contains("key_value_store")
        );
    }

    #[test]
    fn names_the_trigger_with_an_unknown_component() {
        let text = GOOD.replace("component = \"api\"", "component = \"nope\"");
        assert_eq!(error_key(&text), "trigger.http[0].component");
    }

    #[test]
    fn rejects_wrong_manifest_version() {
        let text = GOOD.replace("spin_manifest_version = 2", "spin_manifest_version = 1");
        assert_eq!(error_key(&text), "spin_manifest_version");
    }

    #[test]
    fn rejects_templates_naming_unknown_variables() {
        let text = GOOD.replace("{{ greeting }}, world", "{{ nope }}");
        assert_eq!(error_key(&text), "component.api.variables.message");
    }

    #[test]
    fn rejects_bad_cron_expression() {
        let text = GOOD.replace("*/1 * * * * *", "every second");
        assert_eq!(error_key(&text), "trigger.cron[0].cron_expression");
    }

    #[test]
    fn rejects_duplicate_and_malformed_routes() {
        let text = GOOD.replace("route = { private = true }", "route = \"/api/...\"");
        assert_eq!(error_key(&text), "trigger.http[1].route");
        let text = GOOD.replace("/api/...", "/.../x");
        assert_eq!(error_key(&text), "trigger.http[0].route");
        let text = GOOD.replace("/api/...", "api");
        assert_eq!(error_key(&text), "trigger.http[0].route");
    }

    #[test]
    fn rejects_bad_component_ids_and_variables() {
        let text = GOOD.replace("[component.inner]", "[component.Inner]");
        assert_eq!(error_key(&text), "component.Inner");
        let text = GOOD.replace(
            "greeting = { default = \"hi\" }",
            "greeting = { default = \"hi\", required = true }",
        );
        assert_eq!(error_key(&text), "variables.greeting");
    }

    #[test]
    fn reports_the_line_of_a_type_error() {
        let text = GOOD.replace("source = \"inner.wasm\"", "source = 5");
        let err = parse(&text).unwrap_err();
        assert_eq!(err.key(), Some("component.inner.source"));
        assert!(err.to_string().contains("line"), "{err}");
    }

    #[test]
    fn mounts_directories_and_rejects_globs_and_escapes() {
        let m = parse(GOOD).unwrap();
        assert_eq!(
            m.components["inner"].files,
            vec![FileMount {
                source: "app/static".into(),
                destination: "/".into()
            }]
        );
        let text = GOOD.replace(
            "files = [{ source = \"static\", destination = \"/\" }]",
            "files = [\"static/**\"]",
        );
        assert_eq!(error_key(&text), "component.inner.files[0]");
        let text = GOOD.replace("source = \"static\"", "source = \"../etc\"");
        assert_eq!(error_key(&text), "component.inner.files[0].source");
    }

    #[test]
    fn rejects_a_bad_outbound_host() {
        let text = GOOD.replace("http://inner.spin.internal", "inner.spin.internal");
        assert_eq!(error_key(&text), "component.api.allowed_outbound_hosts[0]");
    }
}
