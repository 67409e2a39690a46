//! Excel uploads (A-T4): an upload is a job. The request that receives the
//! file binds every row, records the per-row errors and stores the good
//! rows; the engine's tick then starts their runs in chunks, so no request
//! runs near the platform's time limit and a crash loses nothing (each row's
//! run is started with the key `upload:<id>:<row>`, so a row is never
//! started twice).

use careflow_api::ApiError;
use careflow_sheet::Sheet;
use careflow_store::{Db, Row, SqlValue};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::flows::{self, Live};
use crate::{Clock, runs};

/// Per-row errors kept on the job (the count is always exact).
pub const MAX_ERRORS_KEPT: usize = 1_000;
/// Rows stored per transaction.
const STORE_CHUNK: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The row as Excel numbers it.
    pub row: usize,
    /// The column's letter, when one column is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub field: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct UploadView {
    pub id: String,
    pub flow_id: String,
    pub file_name: String,
    /// `queued` → `running` → `completed`.
    pub status: String,
    pub rows_total: i64,
    pub rows_started: i64,
    pub rows_failed: i64,
    pub errors: Value,
    pub created_at: String,
    pub updated_at: String,
}

fn view(row: &Row<'_>) -> UploadView {
    UploadView {
        id: row.text("id").unwrap_or_default(),
        flow_id: row.text("flow_id").unwrap_or_default(),
        file_name: row.text("file_name").unwrap_or_default(),
        status: row.text("status").unwrap_or_default(),
        rows_total: row.int("rows_total").unwrap_or(0),
        rows_started: row.int("rows_started").unwrap_or(0),
        rows_failed: row.int("rows_failed").unwrap_or(0),
        errors: row
            .text("errors")
            .and_then(|e| serde_json::from_str(&e).ok())
            .unwrap_or(Value::Array(vec![])),
        created_at: row.text("created_at").unwrap_or_default(),
        updated_at: row.text("updated_at").unwrap_or_default(),
    }
}

/// Binds every row of `sheet` and stores the job; starts nothing yet.
pub fn create(
    db: &impl Db,
    clock: &mut impl Clock,
    live: &Live,
    file_name: &str,
    sheet: &Sheet,
) -> Result<UploadView, ApiError> {
    let declared: Vec<&str> = live
        .flow
        .variables
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    let unknown: Vec<&str> = sheet
        .columns
        .iter()
        .map(|c| c.key.as_str())
        .filter(|k| !declared.contains(k))
        .collect();
    if sheet
        .columns
        .iter()
        .all(|c| !declared.contains(&c.key.as_str()))
    {
        return Err(ApiError::validation(
            "file",
            format!(
                "no header matches the flow's variables ({}); the file's columns are: {}",
                declared.join(", "),
                unknown.join(", ")
            ),
        ));
    }
    let letter = |key: &str| {
        sheet
            .columns
            .iter()
            .find(|c| c.key == key)
            .map(|c| c.letter.clone())
    };
    let mut good: Vec<(usize, Map<String, Value>)> = Vec::new();
    let mut errors: Vec<RowError> = Vec::new();
    let mut failed = 0i64;
    for (row_no, values) in &sheet.rows {
        match careflow_flow::binding::bind(&live.flow.variables, values) {
            Ok(bound) => good.push((*row_no, bound)),
            Err(problems) => {
                failed += 1;
                for p in problems {
                    if errors.len() < MAX_ERRORS_KEPT {
                        errors.push(RowError {
                            row: *row_no,
                            column: letter(&p.field),
                            field: p.field,
                            reason: p.message,
                        });
                    }
                }
            }
        }
    }
    let id = clock.new_id();
    let now = clock.now_text();
    db.transaction(|db| {
        db.execute(
            "INSERT INTO uploads (id, workspace_id, flow_id, file_name, status, rows_total, rows_started, rows_failed, errors, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
            &[
                id.as_str().into(),
                live.workspace_id.as_str().into(),
                live.flow_id.as_str().into(),
                file_name.into(),
                if good.is_empty() { "completed" } else { "queued" }.into(),
                SqlValue::Integer(sheet.rows.len() as i64),
                SqlValue::Integer(failed),
                json!(errors).to_string().into(),
                now.as_str().into(),
                now.as_str().into(),
            ],
        )?;
        Ok::<_, ApiError>(())
    })?;
    for chunk in good.chunks(STORE_CHUNK) {
        db.transaction(|db| {
            for (row_no, data) in chunk {
                db.execute(
                    "INSERT INTO upload_rows (upload_id, workspace_id, row_no, data) VALUES (?, ?, ?, ?)",
                    &[id.as_str().into(), live.workspace_id.as_str().into(), SqlValue::Integer(*row_no as i64), Value::Object(data.clone()).to_string().into()],
                )?;
            }
            Ok::<_, ApiError>(())
        })?;
    }
    get(db, &live.workspace_id, &live.flow_id, &id)
}

pub fn get(db: &impl Db, workspace: &str, flow_id: &str, id: &str) -> Result<UploadView, ApiError> {
    let rows = db.execute(
        "SELECT id, flow_id, file_name, status, rows_total, rows_started, rows_failed, errors, created_at, updated_at FROM uploads WHERE workspace_id = ? AND flow_id = ? AND id = ?",
        &[workspace.into(), flow_id.into(), id.into()],
    )?;
    rows.first()
        .map(|r| view(&r))
        .ok_or_else(|| ApiError::not_found(format!("no upload {id}")))
}

/// Starts the runs of up to `limit` stored rows (oldest uploads first),
/// `chunk` rows per transaction. Returns how many runs it started.
pub fn drain(
    db: &impl Db,
    clock: &mut impl Clock,
    limit: i64,
    chunk: i64,
) -> Result<usize, ApiError> {
    let mut started = 0usize;
    while (started as i64) < limit {
        let rows = db.execute(
            "SELECT r.upload_id, r.workspace_id, r.row_no, r.data, u.flow_id FROM upload_rows r JOIN uploads u ON u.id = r.upload_id
             ORDER BY u.created_at, r.upload_id, r.row_no LIMIT ?",
            &[SqlValue::Integer(chunk.min(limit - started as i64))],
        )?;
        if rows.first().is_none() {
            break;
        }
        let batch: Vec<(String, String, i64, String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r.text("upload_id").unwrap_or_default(),
                    r.text("workspace_id").unwrap_or_default(),
                    r.int("row_no").unwrap_or(0),
                    r.text("data").unwrap_or_default(),
                    r.text("flow_id").unwrap_or_default(),
                )
            })
            .collect();
        db.transaction(|db| {
            let mut live_cache: Option<Live> = None;
            for (upload_id, workspace, row_no, data, flow_id) in &batch {
                if live_cache.as_ref().is_none_or(|l| &l.flow_id != flow_id) {
                    // The version pinned is the one live when the rows start.
                    live_cache = Some(flows::live_unchecked(db, workspace, flow_id)?);
                }
                let live = live_cache.as_ref().expect("loaded above");
                let data: Map<String, Value> = serde_json::from_str(data).unwrap_or_default();
                runs::start(db, clock, live, "excel", &data, Some(&format!("upload:{upload_id}:{row_no}")))?;
                db.execute("DELETE FROM upload_rows WHERE upload_id = ? AND row_no = ?", &[upload_id.as_str().into(), SqlValue::Integer(*row_no)])?;
                db.execute(
                    "UPDATE uploads SET rows_started = rows_started + 1, status = 'running', updated_at = ? WHERE id = ?",
                    &[clock.now_text().into(), upload_id.as_str().into()],
                )?;
            }
            db.execute(
                "UPDATE uploads SET status = 'completed' WHERE status = 'running' AND NOT EXISTS (SELECT 1 FROM upload_rows r WHERE r.upload_id = uploads.id)",
                &[],
            )?;
            Ok::<_, ApiError>(())
        })?;
        started += batch.len();
    }
    Ok(started)
}
