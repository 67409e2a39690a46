//! `fermyon:spin/sqlite@2.0.0` over local SQLite files.
//!
//! Each `open` takes a connection from a small per-database pool. Readers
//! run concurrently (WAL); writers are serialised by one async lock per
//! database, held from the first writing statement (or `BEGIN`) until the
//! connection is back in autocommit mode, so concurrent requests queue
//! instead of failing with `database is locked`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};
use wasmtime::component::Resource;

use crate::spin_bindings::platform::fermyon::spin::sqlite::{
    self, Error, QueryResult, RowResult, Value,
};
use crate::state::HostState;

/// How long a writer waits for another connection's transaction.
const WRITE_WAIT: Duration = Duration::from_secs(10);
const POOL_SIZE: usize = 16;

/// One database file, shared by every instance.
pub struct Database {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
    write_lock: Arc<AsyncMutex<()>>,
}

impl Database {
    /// Opens (creating) the file and checks it can be used.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let db = Self {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            write_lock: Arc::new(AsyncMutex::new(())),
        };
        let conn = db
            .connect()
            .with_context(|| format!("opening SQLite database {}", path.display()))?;
        db.release(conn);
        Ok(db)
    }

    fn connect(&self) -> rusqlite::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open(&self.path)?;
        conn.busy_timeout(WRITE_WAIT)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )?;
        Ok(conn)
    }

    fn acquire(&self) -> rusqlite::Result<rusqlite::Connection> {
        if let Some(conn) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(conn);
        }
        self.connect()
    }

    fn release(&self, conn: rusqlite::Connection) {
        if !conn.is_autocommit() {
            // A guest left a transaction open: it must not leak into the
            // next request that gets this connection.
            if conn.execute_batch("ROLLBACK").is_err() {
                return;
            }
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < POOL_SIZE
        {
            idle.push(conn);
        }
    }
}

/// A connection opened by one instance.
pub struct OpenConnection {
    db: Arc<Database>,
    conn: Option<rusqlite::Connection>,
    write_guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.db.release(conn);
        }
        // The write guard drops after the rollback above.
    }
}

fn io(e: impl std::fmt::Display) -> Error {
    Error::Io(e.to_string())
}

/// Whether a statement needs the database's write lock.
fn needs_write_lock(sql: &str, readonly: bool) -> bool {
    if !readonly {
        return true;
    }
    let head = sql
        .trim_start()
        .get(..9)
        .unwrap_or(sql.trim_start())
        .to_ascii_uppercase();
    head.starts_with("BEGIN") || head.starts_with("SAVEPOINT")
}

fn to_sql(value: Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match value {
        Value::Integer(i) => V::Integer(i),
        Value::Real(f) => V::Real(f),
        Value::Text(s) => V::Text(s),
        Value::Blob(b) => V::Blob(b),
        Value::Null => V::Null,
    }
}

fn from_sql(value: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef as V;
    match value {
        V::Null => Value::Null,
        V::Integer(i) => Value::Integer(i),
        V::Real(f) => Value::Real(f),
        V::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        V::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn run(conn: &rusqlite::Connection, sql: &str, params: Vec<Value>) -> Result<QueryResult, Error> {
    let mut stmt = conn.prepare_cached(sql).map_err(io)?;
    let columns: Vec<String> = stmt
        .column_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    let params: Vec<rusqlite::types::Value> = params.into_iter().map(to_sql).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(io)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(io)? {
        let values = (0..columns.len())
            .map(|i| row.get_ref(i).map(from_sql))
            .collect::<Result<Vec<_>, _>>()
            .map_err(io)?;
        out.push(RowResult { values });
    }
    Ok(QueryResult { columns, rows: out })
}

impl sqlite::Host for HostState {}

impl sqlite::HostConnection for HostState {
    async fn open(
        &mut self,
        database: String,
    ) -> wasmtime::Result<Result<Resource<OpenConnection>, Error>> {
        if !self.component.sqlite_databases.contains(&database) {
            return Ok(Err(Error::AccessDenied));
        }
        let Some(db) = self.services.sqlite.get(&database).cloned() else {
            return Ok(Err(Error::NoSuchDatabase));
        };
        let conn = match db.acquire() {
            Ok(c) => c,
            Err(e) => return Ok(Err(io(e))),
        };
        Ok(Ok(self.table.push(OpenConnection {
            db,
            conn: Some(conn),
            write_guard: None,
        })?))
    }

    async fn execute(
        &mut self,
        connection: Resource<OpenConnection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<QueryResult, Error>> {
        let open = self.table.get_mut(&connection)?;
        let Some(conn) = open.conn.as_ref() else {
            return Ok(Err(Error::InvalidConnection));
        };
        let readonly = match conn.prepare_cached(&statement) {
            Ok(stmt) => stmt.readonly(),
            Err(e) => return Ok(Err(io(e))),
        };
        if open.write_guard.is_none() && needs_write_lock(&statement, readonly) {
            let lock = open.db.write_lock.clone();
            match tokio::time::timeout(WRITE_WAIT, lock.lock_owned()).await {
                Ok(guard) => open.write_guard = Some(guard),
                Err(_) => {
                    return Ok(Err(Error::Io(
                        "database is busy: another writer held it too long".into(),
                    )));
                }
            }
        }
        let conn = open.conn.as_ref().expect("checked above");
        let result = run(conn, &statement, parameters);
        if conn.is_autocommit() {
            open.write_guard = None;
        }
        Ok(result)
    }

    async fn drop(&mut self, connection: Resource<OpenConnection>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_control_takes_the_write_lock() {
        assert!(needs_write_lock("BEGIN", true));
        assert!(needs_write_lock("  begin immediate", true));
        assert!(needs_write_lock("SAVEPOINT a", true));
        assert!(!needs_write_lock("SELECT 1", true));
        assert!(needs_write_lock("INSERT INTO t VALUES (1)", false));
    }

    #[test]
    fn release_rolls_back_an_open_transaction() {
        let path = std::env::temp_dir().join(format!("careflow-sqlite-{}.db", std::process::id()));
        let db = Database::open(&path).unwrap();
        let conn = db.acquire().unwrap();
        conn.execute_batch("CREATE TABLE IF NOT EXISTS t (x); BEGIN; INSERT INTO t VALUES (1);")
            .unwrap();
        db.release(conn);
        let conn = db.acquire().unwrap();
        assert!(conn.is_autocommit());
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        drop(conn);
        let _ = std::fs::remove_file(&path);
    }
}
