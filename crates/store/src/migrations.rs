//! Numbered schema migrations. Append only: a released migration never
//! changes; a new version is a new entry at the end.

use crate::db::{Db, SqlValue, StoreError};

/// One schema step; statements run one by one (Spin's SQLite interface runs
/// a single statement per call).
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub statements: &'static [&'static str],
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "tenancy",
        statements: &[
            "CREATE TABLE workspaces (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            timezone TEXT NOT NULL DEFAULT 'Asia/Ho_Chi_Minh',
            created_at TEXT NOT NULL
        )",
            "CREATE TABLE users (
            id TEXT PRIMARY KEY,
            workspace_id TEXT NOT NULL REFERENCES workspaces(id),
            email TEXT NOT NULL,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'supervisor', 'agent')),
            created_at TEXT NOT NULL,
            UNIQUE (workspace_id, email)
        )",
            "CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            workspace_id TEXT NOT NULL REFERENCES workspaces(id),
            name TEXT NOT NULL,
            prefix TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'supervisor', 'agent')),
            created_at TEXT NOT NULL,
            revoked_at TEXT
        )",
            "CREATE INDEX api_keys_by_workspace ON api_keys (workspace_id)",
            "CREATE TABLE idempotency_keys (
            workspace_id TEXT NOT NULL,
            key TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            status INTEGER NOT NULL,
            body TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (workspace_id, key)
        )",
        ],
    },
    Migration {
        version: 2,
        name: "flows and durable runs",
        statements: &[
            "CREATE TABLE flows (
            id TEXT PRIMARY KEY,
            workspace_id TEXT NOT NULL REFERENCES workspaces(id),
            name TEXT NOT NULL,
            draft TEXT NOT NULL,
            enabled INTEGER NOT NULL DEFAULT 0,
            published_version INTEGER,
            trigger_token TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )",
            "CREATE INDEX flows_by_workspace ON flows (workspace_id, created_at)",
            "CREATE TABLE flow_versions (
            workspace_id TEXT NOT NULL,
            flow_id TEXT NOT NULL REFERENCES flows(id),
            version INTEGER NOT NULL,
            definition TEXT NOT NULL,
            published_at TEXT NOT NULL,
            PRIMARY KEY (flow_id, version)
        )",
            "CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            workspace_id TEXT NOT NULL,
            flow_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            status TEXT NOT NULL,
            at_node TEXT,
            steps INTEGER NOT NULL DEFAULT 0,
            context TEXT NOT NULL,
            error TEXT,
            trigger_kind TEXT NOT NULL,
            idempotency_key TEXT,
            started_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            ended_at TEXT,
            UNIQUE (workspace_id, flow_id, idempotency_key)
        )",
            "CREATE INDEX runs_by_flow ON runs (workspace_id, flow_id, started_at)",
            "CREATE INDEX runs_by_status ON runs (workspace_id, status, started_at)",
            "CREATE TABLE run_steps (
            workspace_id TEXT NOT NULL,
            run_id TEXT NOT NULL REFERENCES runs(id),
            step_no INTEGER NOT NULL,
            node_id TEXT NOT NULL,
            node_type TEXT NOT NULL,
            port TEXT,
            rendered TEXT,
            decision TEXT,
            patch TEXT,
            error TEXT,
            started_at TEXT NOT NULL,
            duration_ms INTEGER NOT NULL,
            PRIMARY KEY (run_id, step_no)
        )",
            "CREATE TABLE waits (
            run_id TEXT PRIMARY KEY REFERENCES runs(id),
            workspace_id TEXT NOT NULL,
            due_at INTEGER NOT NULL,
            claim_id TEXT,
            lease_until INTEGER
        )",
            "CREATE INDEX waits_due ON waits (due_at)",
        ],
    },
    Migration {
        version: 3,
        name: "excel uploads",
        statements: &[
            "CREATE TABLE uploads (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL,
                flow_id TEXT NOT NULL REFERENCES flows(id),
                file_name TEXT NOT NULL,
                status TEXT NOT NULL,
                rows_total INTEGER NOT NULL,
                rows_started INTEGER NOT NULL DEFAULT 0,
                rows_failed INTEGER NOT NULL,
                errors TEXT NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )",
            "CREATE INDEX uploads_by_flow ON uploads (workspace_id, flow_id, created_at)",
            "CREATE TABLE upload_rows (
                upload_id TEXT NOT NULL REFERENCES uploads(id),
                workspace_id TEXT NOT NULL,
                row_no INTEGER NOT NULL,
                data TEXT NOT NULL,
                PRIMARY KEY (upload_id, row_no)
            )",
        ],
    },
    Migration {
        version: 4,
        name: "connected partners",
        statements: &["CREATE TABLE partner_connections (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id),
                kind TEXT NOT NULL,
                account_id TEXT NOT NULL,
                app_id TEXT NOT NULL,
                secret TEXT NOT NULL,
                created_at TEXT NOT NULL,
                UNIQUE (kind, account_id)
            )"],
    },
    Migration {
        version: 5,
        name: "business objects and condition triggers",
        statements: &[
            "CREATE TABLE crm_objects (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id),
                kind TEXT NOT NULL,
                phone TEXT,
                data TEXT NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                UNIQUE (workspace_id, kind, phone)
            )",
            "CREATE INDEX crm_objects_by_kind ON crm_objects (workspace_id, kind, created_at)",
            "CREATE TABLE object_changes (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                workspace_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                object_id TEXT NOT NULL,
                event TEXT,
                event_data TEXT,
                created_at TEXT NOT NULL
            )",
            "CREATE TABLE condition_state (
                workspace_id TEXT NOT NULL,
                flow_id TEXT NOT NULL,
                object_id TEXT NOT NULL,
                matched INTEGER NOT NULL,
                PRIMARY KEY (flow_id, object_id)
            )",
        ],
    },
    Migration {
        version: 6,
        name: "partner hosts a workspace allows",
        statements: &["CREATE TABLE workspace_allowed_hosts (
                workspace_id TEXT NOT NULL REFERENCES workspaces(id),
                pattern TEXT NOT NULL,
                PRIMARY KEY (workspace_id, pattern)
            )"],
    },
];

const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)";

/// The highest applied migration, 0 for an empty database.
pub fn schema_version(db: &impl Db) -> Result<i64, StoreError> {
    db.execute(VERSION_TABLE, &[])?;
    let rows = db.execute(
        "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations",
        &[],
    )?;
    Ok(rows.first().and_then(|r| r.int("v")).unwrap_or(0))
}

/// Applies the migrations `db` lacks, all in one transaction. Cheap when
/// the schema is current (one read), so every component calls it on open.
pub fn migrate(db: &impl Db) -> Result<i64, StoreError> {
    let latest = MIGRATIONS.last().map_or(0, |m| m.version);
    let current = schema_version(db)?;
    if current >= latest {
        return Ok(current);
    }
    db.transaction(|db| {
        // Re-read inside the write transaction: another instance may have
        // migrated between our first read and taking the write lock.
        let current = schema_version(db)?;
        for m in MIGRATIONS.iter().filter(|m| m.version > current) {
            for statement in m.statements {
                db.execute(statement, &[])
                    .map_err(|e| StoreError::Migration {
                        version: m.version,
                        name: m.name,
                        message: e.to_string(),
                    })?;
            }
            db.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                &[SqlValue::Integer(m.version), SqlValue::from(m.name)],
            )?;
        }
        Ok::<_, StoreError>(())
    })?;
    Ok(latest)
}

#[cfg(all(test, feature = "native"))]
mod tests {
    use super::*;
    use crate::NativeDb;

    #[test]
    fn migrates_an_empty_database_once() {
        let db = NativeDb::in_memory();
        assert_eq!(schema_version(&db).unwrap(), 0);
        let latest = MIGRATIONS.last().unwrap().version;
        assert_eq!(migrate(&db).unwrap(), latest);
        assert_eq!(migrate(&db).unwrap(), latest);
        let rows = db
            .execute("SELECT count(*) AS n FROM schema_migrations", &[])
            .unwrap();
        assert_eq!(
            rows.first().unwrap().int("n"),
            Some(MIGRATIONS.len() as i64)
        );
    }

    #[test]
    fn every_business_table_has_a_workspace_id() {
        let db = NativeDb::in_memory();
        migrate(&db).unwrap();
        let tables = db
            .execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('workspaces', 'schema_migrations') AND name NOT LIKE 'sqlite_%'", &[])
            .unwrap();
        for t in tables.iter() {
            let name = t.text("name").unwrap();
            let cols = db
                .execute(
                    &format!("SELECT name FROM pragma_table_info('{name}')"),
                    &[],
                )
                .unwrap();
            assert!(
                cols.iter()
                    .any(|c| c.text("name").as_deref() == Some("workspace_id")),
                "{name} lacks workspace_id"
            );
        }
    }

    #[test]
    fn a_failing_transaction_leaves_nothing_behind() {
        let db = NativeDb::in_memory();
        migrate(&db).unwrap();
        let result: Result<(), StoreError> = db.transaction(|db| {
            db.execute(
                "INSERT INTO workspaces (id, name, created_at) VALUES ('w', 'W', 'now')",
                &[],
            )?;
            db.execute("INSERT INTO nope VALUES (1)", &[])?;
            Ok(())
        });
        assert!(result.is_err());
        let rows = db
            .execute("SELECT count(*) AS n FROM workspaces", &[])
            .unwrap();
        assert_eq!(rows.first().unwrap().int("n"), Some(0));
    }
}
