//! Spin's runtime configuration file (`--runtime-config-file`): which
//! backend serves each key-value store and SQLite database label.
//!
//! Relative paths are taken from the directory of the runtime-config file,
//! as Spin does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{ManifestError, from_toml};

/// A validated runtime configuration. Labels not listed here get the
/// runner's defaults (a SQLite file under the state directory).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    pub key_value_stores: BTreeMap<String, KeyValueStoreConfig>,
    pub sqlite_databases: BTreeMap<String, SqliteDatabaseConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyValueStoreConfig {
    /// Spin's own SQLite-file store; `None` means the state-dir default.
    Spin { path: Option<PathBuf> },
    /// A Redis server.
    Redis { url: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteDatabaseConfig {
    /// A local SQLite file; `None` means the state-dir default.
    Spin { path: Option<PathBuf> },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuntimeConfig {
    #[serde(default)]
    key_value_store: BTreeMap<String, RawStore>,
    #[serde(default)]
    sqlite_database: BTreeMap<String, RawStore>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

/// Reads and validates the runtime-config file at `file`.
pub fn load_runtime_config(file: &Path) -> Result<RuntimeConfig, ManifestError> {
    let text = std::fs::read_to_string(file).map_err(|source| ManifestError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    parse_runtime_config(file, &text)
}

/// Validates runtime-config `text` as if read from `file`.
pub fn parse_runtime_config(file: &Path, text: &str) -> Result<RuntimeConfig, ManifestError> {
    let raw: RawRuntimeConfig = from_toml(file, text)?;
    let dir = file.parent().unwrap_or(Path::new(""));
    let resolve = |p: &str| {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            dir.join(p)
        }
    };
    let mut config = RuntimeConfig::default();
    for (label, store) in raw.key_value_store {
        let key = format!("key_value_store.{label}");
        let unused = |field: &str| {
            ManifestError::invalid(
                file,
                format!("{key}.{field}"),
                format!("not used by type = {:?}", store.kind),
            )
        };
        let parsed = match store.kind.as_str() {
            "spin" => {
                if store.url.is_some() {
                    return Err(unused("url"));
                }
                KeyValueStoreConfig::Spin {
                    path: store.path.as_deref().map(resolve),
                }
            }
            "redis" => {
                if store.path.is_some() {
                    return Err(unused("path"));
                }
                let url = store.url.ok_or_else(|| {
                    ManifestError::invalid(
                        file,
                        format!("{key}.url"),
                        "a redis store needs `url = \"redis://host:port\"`",
                    )
                })?;
                if !url.starts_with("redis://") && !url.starts_with("rediss://") {
                    return Err(ManifestError::invalid(
                        file,
                        format!("{key}.url"),
                        format!("{url:?} is not a redis:// URL"),
                    ));
                }
                KeyValueStoreConfig::Redis { url }
            }
            other => {
                return Err(ManifestError::invalid(
                    file,
                    format!("{key}.type"),
                    format!(
                        "{other:?} is not a key-value backend the local runner serves (\"spin\" or \"redis\"); cloud backends are configured on the platform"
                    ),
                ));
            }
        };
        if store.token.is_some() {
            return Err(unused("token"));
        }
        config.key_value_stores.insert(label, parsed);
    }
    for (label, db) in raw.sqlite_database {
        let key = format!("sqlite_database.{label}");
        match db.kind.as_str() {
            "spin" => {
                for (field, present) in [("url", db.url.is_some()), ("token", db.token.is_some())] {
                    if present {
                        return Err(ManifestError::invalid(
                            file,
                            format!("{key}.{field}"),
                            "not used by type = \"spin\"",
                        ));
                    }
                }
                config.sqlite_databases.insert(
                    label,
                    SqliteDatabaseConfig::Spin {
                        path: db.path.as_deref().map(resolve),
                    },
                );
            }
            other => {
                return Err(ManifestError::invalid(
                    file,
                    format!("{key}.type"),
                    format!(
                        "{other:?} is not a SQLite backend the local runner serves (\"spin\"); libSQL/Turso is configured on the deployed platform"
                    ),
                ));
            }
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RuntimeConfig, ManifestError> {
        parse_runtime_config(Path::new("conf/runtime-config.toml"), text)
    }

    #[test]
    fn reads_spin_and_redis_backends_with_paths_relative_to_the_file() {
        let c = parse(
            r#"
[key_value_store.default]
type = "spin"
path = "data/kv.db"
[key_value_store.cache]
type = "redis"
url = "redis://127.0.0.1:6379"
[sqlite_database.default]
type = "spin"
path = "/abs/app.db"
"#,
        )
        .unwrap();
        assert_eq!(
            c.key_value_stores["default"],
            KeyValueStoreConfig::Spin {
                path: Some("conf/data/kv.db".into())
            }
        );
        assert_eq!(
            c.key_value_stores["cache"],
            KeyValueStoreConfig::Redis {
                url: "redis://127.0.0.1:6379".into()
            }
        );
        assert_eq!(
            c.sqlite_databases["default"],
            SqliteDatabaseConfig::Spin {
                path: Some("/abs/app.db".into())
            }
        );
    }

    #[test]
    fn names_the_key_at_fault() {
        let err = parse("[key_value_store.default]\ntype = \"dynamodb\"\n").unwrap_err();
        assert_eq!(err.key(), Some("key_value_store.default.type"));
        let err = parse("[key_value_store.c]\ntype = \"redis\"\n").unwrap_err();
        assert_eq!(err.key(), Some("key_value_store.c.url"));
        let err = parse("[sqlite_databases.default]\ntype = \"spin\"\n").unwrap_err();
        assert_eq!(err.key(), Some("sqlite_databases"));
        assert!(err.to_string().contains("sqlite_databases"), "{err}");
    }
}
