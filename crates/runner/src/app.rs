//! Loading an application: manifest + runtime config → compiled,
//! pre-instantiated components, resolved variables and opened stores.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use careflow_manifest::{
    KeyValueStoreConfig, Manifest, OutboundRule, RuntimeConfig, SqliteDatabaseConfig,
};
use careflow_routes::Router;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::WasiHttpCtx;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::key_value::{KeyValueBackend, RedisKv, SqliteKv};
use crate::logs::ComponentLog;
use crate::outbound::OutboundHooks;
use crate::spin_bindings;
use crate::sqlite::Database;
use crate::state::HostState;

/// How the app is run; defaults match `careflow up`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub state_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub request_timeout: Duration,
    pub max_request_body: usize,
    /// Per-instance linear memory cap.
    pub max_memory: usize,
    /// Keep component output out of the console (benchmarks).
    pub quiet_components: bool,
    pub log_to_files: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            state_dir: PathBuf::from(".spin"),
            cache_dir: PathBuf::from(".spin/cache"),
            request_timeout: Duration::from_secs(30),
            max_request_body: 16 * 1024 * 1024,
            max_memory: 256 * 1024 * 1024,
            quiet_components: false,
            log_to_files: true,
        }
    }
}

/// Stores shared by all instances, by label.
pub struct Services {
    pub key_value: HashMap<String, Arc<KeyValueBackend>>,
    pub sqlite: HashMap<String, Arc<Database>>,
}

/// One component, ready to instantiate.
pub struct LoadedComponent {
    pub id: String,
    pub variables: BTreeMap<String, String>,
    pub key_value_stores: HashSet<String>,
    pub sqlite_databases: HashSet<String>,
    pub outbound: Vec<OutboundRule>,
    pub environment: Vec<(String, String)>,
    pub files: Vec<careflow_manifest::FileMount>,
    pub http: Option<ProxyPre<HostState>>,
    pub cron: Option<spin_bindings::cron::CronComponentPre<HostState>>,
    pub stdout: ComponentLog,
    pub stderr: ComponentLog,
}

impl LoadedComponent {
    /// Writes a runner message about this component to its stderr log.
    pub fn stderr_line(&self, line: &str) {
        self.stderr.line(line);
    }
}

/// A loaded application.
pub struct App {
    pub manifest: Manifest,
    pub engine: Engine,
    pub components: BTreeMap<String, Arc<LoadedComponent>>,
    /// Public routes → component id.
    pub router: Router<String>,
    /// Every route of each component (for service chaining).
    pub component_routers: HashMap<String, Router<String>>,
    pub services: Arc<Services>,
    pub options: RunOptions,
}

pub fn engine(cache_dir: Option<&Path>) -> anyhow::Result<Engine> {
    let mut config = wasmtime::Config::new();
    if let Some(dir) = cache_dir {
        // Compiled components are cached, so a restart takes milliseconds.
        let mut cache = wasmtime::CacheConfig::new();
        cache.with_directory(dir);
        config.cache(wasmtime::Cache::new(cache).ok());
    }
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.total_component_instances(1_000);
    pool.total_core_instances(10_000);
    pool.total_memories(2_000);
    pool.total_tables(2_000);
    pool.max_memories_per_component(16);
    pool.max_tables_per_component(16);
    pool.max_core_instances_per_component(64);
    pool.max_component_instance_size(1 << 20);
    pool.max_memory_size(512 * 1024 * 1024);
    // Reset recycled slots with memset instead of madvise: unmapping pages
    // on every request costs TLB shootdowns across cores, which profiling
    // showed as the largest single cost of a small request.
    pool.linear_memory_keep_resident(16 << 20);
    pool.table_keep_resident(1 << 16);
    pool.async_stack_keep_resident(1 << 17);
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool.clone()));
    match Engine::new(&config) {
        Ok(engine) => Ok(engine),
        Err(e) => {
            // Pooling reserves address space up front; where that is not
            // allowed (ulimit -v), fall back to on-demand allocation.
            eprintln!("careflow: pooling allocator unavailable ({e}); using on-demand allocation");
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::OnDemand);
            Ok(Engine::new(&config)?)
        }
    }
}

impl App {
    /// Loads everything, failing with a message that names what is wrong.
    pub fn load(
        manifest: Manifest,
        runtime: RuntimeConfig,
        options: RunOptions,
    ) -> anyhow::Result<Arc<App>> {
        let app_values =
            crate::variables::resolve_app_variables(&manifest, |k| std::env::var(k).ok())?;
        let services = Arc::new(open_services(&manifest, &runtime, &options.state_dir)?);

        let engine = engine(Some(&options.cache_dir))?;

        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        spin_bindings::platform::RunnerHost::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;

        let logs_dir = options.log_to_files.then(|| options.state_dir.join("logs"));
        let mut components = BTreeMap::new();
        for (id, c) in &manifest.components {
            if !c.source.exists() {
                bail!(
                    "component `{id}`: {} does not exist; run `careflow build` first",
                    c.source.display()
                );
            }
            let compiled = Component::from_file(&engine, &c.source)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("component `{id}`: loading {}", c.source.display()))?;
            let pre = linker
                .instantiate_pre(&compiled)
                .map_err(anyhow::Error::from)
                .with_context(|| {
                    format!("component `{id}` imports something careflow's runner does not provide")
                })?;
            let http = ProxyPre::new(pre.clone()).ok();
            let cron = spin_bindings::cron::CronComponentPre::new(pre).ok();
            let variables = crate::variables::component_variables(c, &app_values)
                .with_context(|| format!("component `{id}`"))?;
            let outbound = c
                .outbound_rules(|v| {
                    app_values
                        .get(v)
                        .cloned()
                        .ok_or_else(|| format!("variable `{v}` has no value"))
                })
                .map_err(|e| match e {
                    careflow_manifest::OutboundError::Invalid(m)
                    | careflow_manifest::OutboundError::Variable(m) => {
                        anyhow::anyhow!("component `{id}`: allowed_outbound_hosts: {m}")
                    }
                })?;
            for label in &c.key_value_stores {
                if !services.key_value.contains_key(label) {
                    bail!(
                        "component `{id}`: key_value_stores: no store `{label}` (only `default` exists unless runtime-config.toml defines [key_value_store.{label}])"
                    );
                }
            }
            for label in &c.sqlite_databases {
                if !services.sqlite.contains_key(label) {
                    bail!(
                        "component `{id}`: sqlite_databases: no database `{label}` (only `default` exists unless runtime-config.toml defines [sqlite_database.{label}])"
                    );
                }
            }
            for mount in &c.files {
                if !mount.source.is_dir() {
                    bail!(
                        "component `{id}`: files: {} is not a directory",
                        mount.source.display()
                    );
                }
            }
            let quiet = options.quiet_components;
            components.insert(
                id.clone(),
                Arc::new(LoadedComponent {
                    id: id.clone(),
                    variables,
                    key_value_stores: c.key_value_stores.iter().cloned().collect(),
                    sqlite_databases: c.sqlite_databases.iter().cloned().collect(),
                    outbound,
                    environment: c
                        .environment
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    files: c.files.clone(),
                    http,
                    cron,
                    stdout: ComponentLog::open(logs_dir.as_deref(), id, "stdout", quiet)?,
                    stderr: ComponentLog::open(logs_dir.as_deref(), id, "stderr", quiet)?,
                }),
            );
        }

        for route in &manifest.http.routes {
            if components[&route.component].http.is_none() {
                bail!(
                    "component `{}` is used by an HTTP trigger but does not export wasi:http/incoming-handler",
                    route.component
                );
            }
        }
        for trigger in &manifest.cron {
            if components[&trigger.component].cron.is_none() {
                bail!(
                    "component `{}` is used by a cron trigger but does not export handle-cron-event (world fermyon:spin-cron/spin-cron@2.0.0)",
                    trigger.component
                );
            }
        }

        let router = Router::new(
            &manifest.http.base,
            manifest
                .http
                .routes
                .iter()
                .filter_map(|r| r.route.clone().map(|path| (path, r.component.clone()))),
        );
        let mut by_component: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for r in &manifest.http.routes {
            let path = r.route.clone().unwrap_or_else(|| "/...".to_string());
            by_component
                .entry(r.component.clone())
                .or_default()
                .push((path, r.component.clone()));
        }
        let component_routers = by_component
            .into_iter()
            .map(|(id, routes)| (id, Router::new("/", routes)))
            .collect();

        Ok(Arc::new(App {
            manifest,
            engine,
            components,
            router,
            component_routers,
            services,
            options,
        }))
    }

    /// A fresh store for one instance of `component`.
    pub fn new_store(self: &Arc<Self>, component: &Arc<LoadedComponent>) -> Store<HostState> {
        let mut wasi = WasiCtx::builder();
        wasi.stdout(component.stdout.clone());
        wasi.stderr(component.stderr.clone());
        wasi.envs(&component.environment);
        for mount in &component.files {
            // Checked to be a directory at load; a failure here means it
            // vanished since, and the component simply sees no files.
            let _ = wasi.preopened_dir(
                &mount.source,
                &mount.destination,
                wasmtime_wasi::FsPerms::ReadOnly,
            );
        }
        let limits = wasmtime::StoreLimitsBuilder::new()
            .memory_size(self.options.max_memory)
            .build();
        let mut store = Store::new(
            &self.engine,
            HostState {
                wasi: wasi.build(),
                http: WasiHttpCtx::new(),
                table: wasmtime::component::ResourceTable::new(),
                hooks: OutboundHooks::new(self.clone(), component.clone()),
                component: component.clone(),
                services: self.services.clone(),
                limits,
            },
        );
        store.limiter(|s| &mut s.limits);
        let ticks = (self.options.request_timeout.as_millis() / crate::EPOCH_TICK.as_millis())
            .max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        store
    }
}

fn open_services(
    manifest: &Manifest,
    runtime: &RuntimeConfig,
    state_dir: &Path,
) -> anyhow::Result<Services> {
    let mut key_value = HashMap::new();
    let mut sqlite = HashMap::new();
    let mut kv_files: HashMap<PathBuf, Arc<KeyValueBackend>> = HashMap::new();
    let uses_kv = |label: &str| {
        manifest
            .components
            .values()
            .any(|c| c.key_value_stores.iter().any(|l| l == label))
    };
    let uses_db = |label: &str| {
        manifest
            .components
            .values()
            .any(|c| c.sqlite_databases.iter().any(|l| l == label))
    };

    let mut kv_configs = runtime.key_value_stores.clone();
    kv_configs
        .entry("default".into())
        .or_insert(KeyValueStoreConfig::Spin { path: None });
    for (label, config) in kv_configs {
        if !uses_kv(&label) {
            continue;
        }
        let backend = match config {
            KeyValueStoreConfig::Spin { path } => {
                let path = path.unwrap_or_else(|| state_dir.join("sqlite_key_value.db"));
                match kv_files.get(&path) {
                    Some(b) => b.clone(),
                    None => {
                        let b = Arc::new(KeyValueBackend::Sqlite(
                            SqliteKv::open(&path)
                                .with_context(|| format!("key-value store `{label}`"))?,
                        ));
                        kv_files.insert(path, b.clone());
                        b
                    }
                }
            }
            KeyValueStoreConfig::Redis { url } => {
                Arc::new(KeyValueBackend::Redis(RedisKv::new(url)))
            }
        };
        key_value.insert(label, backend);
    }

    let mut db_configs = runtime.sqlite_databases.clone();
    db_configs
        .entry("default".into())
        .or_insert(SqliteDatabaseConfig::Spin { path: None });
    for (label, config) in db_configs {
        if !uses_db(&label) {
            continue;
        }
        let SqliteDatabaseConfig::Spin { path } = config;
        let path = path.unwrap_or_else(|| {
            state_dir.join(if label == "default" {
                "sqlite_db.db".to_string()
            } else {
                format!("sqlite_db_{label}.db")
            })
        });
        sqlite.insert(
            label.clone(),
            Arc::new(Database::open(&path).with_context(|| format!("SQLite database `{label}`"))?),
        );
    }
    Ok(Services { key_value, sqlite })
}
