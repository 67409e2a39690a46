//! `trigger-excel` (A-T4): `POST /api/v1/flows/:id/uploads` with an `.xlsx`
//! body (`?file_name=` optional) binds each data row to the flow's
//! variables (the header row names them) and answers the upload job: rows
//! total, failed, and each row's errors (row, column, reason). The runs are
//! started by the engine's tick, in chunks; `GET …/uploads/:upload_id`
//! shows the progress. `POST …/uploads/columns` only reads the header row,
//! to declare a flow's variables from a sample file.

use careflow_api::{ApiError, json_response, parse_form};
use careflow_engine::{flows, uploads};
use careflow_store::SpinDb;
use serde_json::{Value, json};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    match serve(&req) {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.header(name).and_then(|v| v.as_str())
}

fn sheet(req: &Request) -> Result<careflow_sheet::Sheet, ApiError> {
    let content_type = header(req, "content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if !(content_type.is_empty()
        || content_type
            .starts_with("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        || content_type.starts_with("application/octet-stream"))
    {
        return Err(ApiError::unsupported_media_type(
            "send the .xlsx file itself as the body (Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet)",
        ));
    }
    if req.body().is_empty() {
        return Err(
            ApiError::bad_request("the body is empty: send the .xlsx file").with_field("file"),
        );
    }
    careflow_sheet::read_xlsx(req.body()).map_err(|e| match e {
        careflow_sheet::SheetError::TooLarge => ApiError::payload_too_large(e.to_string()),
        careflow_sheet::SheetError::NotXlsx(_) => {
            ApiError::unsupported_media_type(e.to_string()).with_field("file")
        }
        other => ApiError::validation("file", other.to_string()),
    })
}

fn serve(req: &Request) -> Result<Response, ApiError> {
    let flow_id = header(req, "spin-path-match-id")
        .unwrap_or_default()
        .to_string();
    let rest: Vec<&str> = header(req, "spin-path-info")
        .unwrap_or("")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let db = SpinDb::open_default()?;
    let admin = spin_sdk::variables::get("admin_token").ok();
    let principal =
        careflow_auth::authenticate(&db, header(req, "authorization"), admin.as_deref())?;
    let (workspace, _) = principal.workspace()?;
    match (req.method(), rest.as_slice()) {
        (Method::Post, ["columns"]) => {
            let sheet = sheet(req)?;
            let variables: Vec<Value> = sheet.columns.iter().map(|c| json!({ "name": c.key, "label": c.label, "type": "text", "column": c.letter })).collect();
            Ok(json_response(
                200,
                json!({ "variables": variables, "rows": sheet.rows.len() }).to_string(),
            ))
        }
        (Method::Post, []) => {
            let workspace = principal.require_manager()?;
            let live = flows::live(&db, Some(workspace), &flow_id, None)?;
            live.expect_trigger(careflow_flow::TriggerKind::Excel)?;
            let sheet = sheet(req)?;
            let name = parse_form(req.query())
                .get("file_name")
                .and_then(Value::as_str)
                .unwrap_or("upload.xlsx")
                .chars()
                .take(200)
                .collect::<String>();
            let job =
                uploads::create(&db, &mut careflow_engine::SystemClock, &live, &name, &sheet)?;
            Ok(json_response(
                202,
                serde_json::to_string(&job).unwrap_or_default(),
            ))
        }
        (Method::Get, [upload_id]) => {
            let job = uploads::get(&db, workspace, &flow_id, upload_id)?;
            Ok(json_response(
                200,
                serde_json::to_string(&job).unwrap_or_default(),
            ))
        }
        _ => Err(ApiError::method_not_allowed(
            "POST an .xlsx to …/uploads, GET …/uploads/:upload_id",
        )),
    }
}
