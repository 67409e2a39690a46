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
    Migration {
        version: 7,
        name: "outbound call campaigns",
        statements: &[
            // The subscription's concurrent-call cap and the hotlines B-A
            // rotates over; one row per workspace / number.
            "CREATE TABLE telephony_plans (
                workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id),
                max_concurrent_calls INTEGER NOT NULL,
                updated_at TEXT NOT NULL
            )",
            "CREATE TABLE hotlines (
                workspace_id TEXT NOT NULL REFERENCES workspaces(id),
                number TEXT NOT NULL,
                failing_until INTEGER,
                created_at TEXT NOT NULL,
                PRIMARY KEY (workspace_id, number)
            )",
            "CREATE TABLE agent_groups (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id),
                name TEXT NOT NULL,
                created_at TEXT NOT NULL,
                UNIQUE (workspace_id, name)
            )",
            "CREATE TABLE agent_group_members (
                workspace_id TEXT NOT NULL,
                group_id TEXT NOT NULL REFERENCES agent_groups(id),
                user_id TEXT NOT NULL REFERENCES users(id),
                PRIMARY KEY (group_id, user_id)
            )",
            // What an agent's softphone last said (B-3, agent state API).
            "CREATE TABLE agent_states (
                user_id TEXT PRIMARY KEY REFERENCES users(id),
                workspace_id TEXT NOT NULL,
                extension TEXT NOT NULL,
                state TEXT NOT NULL,
                auto_answer INTEGER NOT NULL DEFAULT 0,
                call_id TEXT,
                since_ms INTEGER NOT NULL,
                wrap_until_ms INTEGER,
                last_offered_ms INTEGER
            )",
            "CREATE INDEX agent_states_by_state ON agent_states (workspace_id, state)",
            "CREATE TABLE campaigns (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id),
                name TEXT NOT NULL,
                mode TEXT NOT NULL,
                status TEXT NOT NULL,
                settings TEXT NOT NULL,
                starts_at_ms INTEGER NOT NULL,
                ends_at_ms INTEGER NOT NULL,
                pacer_state TEXT,
                created_by TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )",
            "CREATE INDEX campaigns_by_status ON campaigns (status, starts_at_ms)",
            "CREATE INDEX campaigns_by_workspace ON campaigns (workspace_id, created_at)",
            // Who moved a campaign and when (B-4).
            "CREATE TABLE campaign_transitions (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                workspace_id TEXT NOT NULL,
                campaign_id TEXT NOT NULL REFERENCES campaigns(id),
                from_status TEXT NOT NULL,
                to_status TEXT NOT NULL,
                actor TEXT NOT NULL,
                reason TEXT,
                at TEXT NOT NULL
            )",
            "CREATE TABLE campaign_agents (
                workspace_id TEXT NOT NULL,
                campaign_id TEXT NOT NULL REFERENCES campaigns(id),
                user_id TEXT NOT NULL REFERENCES users(id),
                daily_quota INTEGER,
                PRIMARY KEY (campaign_id, user_id)
            )",
            "CREATE TABLE campaign_customers (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL,
                campaign_id TEXT NOT NULL REFERENCES campaigns(id),
                customer_id TEXT,
                phone TEXT NOT NULL,
                name TEXT,
                data TEXT NOT NULL,
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                last_result TEXT,
                next_attempt_ms INTEGER NOT NULL DEFAULT 0,
                claimed_by TEXT,
                claimed_ms INTEGER,
                hotline TEXT,
                created_at TEXT NOT NULL,
                UNIQUE (campaign_id, phone)
            )",
            "CREATE INDEX campaign_customers_due ON campaign_customers (campaign_id, state, next_attempt_ms, created_at)",
            "CREATE TABLE do_not_call (
                workspace_id TEXT NOT NULL,
                phone TEXT NOT NULL,
                until_ms INTEGER NOT NULL,
                campaign_id TEXT,
                created_at TEXT NOT NULL,
                PRIMARY KEY (workspace_id, phone)
            )",
            "CREATE TABLE manual_picks (
                workspace_id TEXT NOT NULL,
                campaign_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                day TEXT NOT NULL,
                picks INTEGER NOT NULL,
                PRIMARY KEY (campaign_id, user_id, day)
            )",
            "CREATE TABLE calls (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL,
                campaign_id TEXT,
                campaign_customer_id TEXT,
                agent_id TEXT,
                leg TEXT NOT NULL,
                from_number TEXT NOT NULL,
                to_number TEXT NOT NULL,
                provider TEXT NOT NULL,
                provider_call_id TEXT,
                state TEXT NOT NULL,
                result TEXT,
                attempt INTEGER NOT NULL,
                placed_ms INTEGER NOT NULL,
                answered_ms INTEGER,
                queued_ms INTEGER,
                offered_ms INTEGER,
                bridged_ms INTEGER,
                ended_ms INTEGER,
                talk_seconds INTEGER,
                skipped_agents TEXT NOT NULL DEFAULT '[]',
                answers TEXT,
                disposition TEXT,
                ticket_id TEXT,
                error TEXT
            )",
            "CREATE UNIQUE INDEX calls_by_provider_id ON calls (provider, provider_call_id)",
            "CREATE INDEX calls_live ON calls (workspace_id, state)",
            "CREATE INDEX calls_by_campaign ON calls (campaign_id, placed_ms)",
            "CREATE TABLE call_events (
                provider TEXT NOT NULL,
                event_id TEXT NOT NULL,
                workspace_id TEXT NOT NULL,
                call_id TEXT NOT NULL,
                signal TEXT NOT NULL,
                at_ms INTEGER NOT NULL,
                applied INTEGER NOT NULL,
                received_at TEXT NOT NULL,
                PRIMARY KEY (provider, event_id)
            )",
        ],
    },
    Migration {
        version: 8,
        name: "api keys bound to a member",
        // An agent's softphone holds a key that acts only for that agent.
        statements: &["ALTER TABLE api_keys ADD COLUMN user_id TEXT REFERENCES users(id)"],
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
