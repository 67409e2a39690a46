//! `fermyon:spin/key-value@2.0.0`: a SQLite-file store (Spin's default) or
//! Redis, per label, as the runtime config says.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use redis::AsyncCommands;
use wasmtime::component::Resource;

use crate::spin_bindings::platform::fermyon::spin::key_value::{self, Error};
use crate::state::HostState;

/// A store backend shared by every instance.
pub enum KeyValueBackend {
    Sqlite(SqliteKv),
    Redis(RedisKv),
}

/// An open store handle inside one instance.
pub struct OpenStore {
    label: String,
    backend: Arc<KeyValueBackend>,
}

pub struct SqliteKv {
    conn: Mutex<rusqlite::Connection>,
}

impl SqliteKv {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let conn = rusqlite::Connection::open(path)
            .with_context(|| format!("opening key-value file {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS spin_key_value (
                 store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                 PRIMARY KEY (store, key));",
        )
        .with_context(|| format!("preparing key-value file {}", path.display()))?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T, Error> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| Error::Other("key-value store poisoned".into()))?;
        f(&conn).map_err(|e| Error::Other(e.to_string()))
    }
}

pub struct RedisKv {
    url: String,
    conn: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
}

impl RedisKv {
    pub fn new(url: String) -> Self {
        Self {
            url,
            conn: tokio::sync::OnceCell::new(),
        }
    }

    async fn conn(&self) -> Result<redis::aio::ConnectionManager, Error> {
        self.conn
            .get_or_try_init(|| async {
                let client = redis::Client::open(self.url.as_str())?;
                redis::aio::ConnectionManager::new(client).await
            })
            .await
            .cloned()
            .map_err(|e| Error::Other(format!("redis: {e}")))
    }
}

fn redis_err(e: redis::RedisError) -> Error {
    Error::Other(format!("redis: {e}"))
}

impl KeyValueBackend {
    async fn get(&self, label: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        match self {
            Self::Sqlite(db) => db.with(|c| {
                use rusqlite::OptionalExtension;
                c.query_row(
                    "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                    (label, key),
                    |r| r.get(0),
                )
                .optional()
            }),
            Self::Redis(r) => r.conn().await?.get(key).await.map_err(redis_err),
        }
    }

    async fn set(&self, label: &str, key: &str, value: &[u8]) -> Result<(), Error> {
        match self {
            Self::Sqlite(db) => db.with(|c| {
                c.execute(
                    "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                    (label, key, value),
                )
                .map(drop)
            }),
            Self::Redis(r) => r.conn().await?.set(key, value).await.map_err(redis_err),
        }
    }

    async fn delete(&self, label: &str, key: &str) -> Result<(), Error> {
        match self {
            Self::Sqlite(db) => db.with(|c| {
                c.execute(
                    "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2",
                    (label, key),
                )
                .map(drop)
            }),
            Self::Redis(r) => r.conn().await?.del(key).await.map_err(redis_err),
        }
    }

    async fn exists(&self, label: &str, key: &str) -> Result<bool, Error> {
        match self {
            Self::Sqlite(db) => db.with(|c| {
                c.query_row(
                    "SELECT EXISTS(SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2)",
                    (label, key),
                    |r| r.get(0),
                )
            }),
            Self::Redis(r) => r.conn().await?.exists(key).await.map_err(redis_err),
        }
    }

    async fn keys(&self, label: &str) -> Result<Vec<String>, Error> {
        match self {
            Self::Sqlite(db) => db.with(|c| {
                let mut stmt =
                    c.prepare("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")?;
                stmt.query_map([label], |r| r.get(0))?.collect()
            }),
            Self::Redis(r) => {
                let mut keys: Vec<String> = r.conn().await?.keys("*").await.map_err(redis_err)?;
                keys.sort();
                Ok(keys)
            }
        }
    }
}

impl key_value::Host for HostState {}

impl key_value::HostStore for HostState {
    async fn open(
        &mut self,
        label: String,
    ) -> wasmtime::Result<Result<Resource<OpenStore>, Error>> {
        if !self.component.key_value_stores.contains(&label) {
            return Ok(Err(Error::AccessDenied));
        }
        let Some(backend) = self.services.key_value.get(&label).cloned() else {
            return Ok(Err(Error::NoSuchStore));
        };
        Ok(Ok(self.table.push(OpenStore { label, backend })?))
    }

    async fn get(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let s = self.table.get(&store)?;
        Ok(s.backend.clone().get(&s.label.clone(), &key).await)
    }

    async fn set(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let s = self.table.get(&store)?;
        Ok(s.backend.clone().set(&s.label.clone(), &key, &value).await)
    }

    async fn delete(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        let s = self.table.get(&store)?;
        Ok(s.backend.clone().delete(&s.label.clone(), &key).await)
    }

    async fn exists(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        let s = self.table.get(&store)?;
        Ok(s.backend.clone().exists(&s.label.clone(), &key).await)
    }

    async fn get_keys(
        &mut self,
        store: Resource<OpenStore>,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        let s = self.table.get(&store)?;
        Ok(s.backend.clone().keys(&s.label.clone()).await)
    }

    async fn drop(&mut self, store: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}
