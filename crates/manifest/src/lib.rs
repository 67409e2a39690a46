//! Reads and validates a Spin application manifest (`spin.toml`,
//! `spin_manifest_version = 2`) and Spin's runtime configuration file
//! (`runtime-config.toml`) for careflow's local runner.
//!
//! The runner must never accept what the real Spin CLI would reject, so the
//! schema here is deliberately strict (`deny_unknown_fields`) and limited to
//! the keys careflow uses; everything is checked at load time and an error
//! names the file and the key at fault.

mod app;
mod error;
mod runtime_config;
mod template;

pub use app::{
    AppVariable, Application, BuildConfig, Component, CronTrigger, FileMount, HttpRoute,
    HttpTrigger, Manifest, load_manifest, parse_manifest,
};
pub use error::ManifestError;
pub use runtime_config::{
    KeyValueStoreConfig, RuntimeConfig, SqliteDatabaseConfig, load_runtime_config,
    parse_runtime_config,
};
pub use template::{Template, TemplatePart, is_variable_name};

pub mod cron;
mod outbound;
pub use app::OutboundError;
pub use outbound::{OutboundRule, default_port};
