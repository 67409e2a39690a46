//! The `admin` component over HTTP (issue 3): health, workspace bootstrap
//! with the admin token, members and API keys, auth failures, tenant
//! isolation, idempotent retries and the JSON error shape.

use careflow_e2e::{ADMIN_TOKEN, Answer, Launch, Runner};

fn post(app: &Runner, path: &str, token: &str, body: &str, extra: &[(&str, &str)]) -> Answer {
    let auth = format!("Bearer {token}");
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    headers.extend_from_slice(extra);
    app.request("POST", path, &headers, Some(body.as_bytes()))
}

fn get(app: &Runner, path: &str, token: &str) -> Answer {
    app.request(
        "GET",
        path,
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
}

/// Creates a workspace and returns (workspace id, owner key).
fn workspace(app: &Runner, name: &str) -> (String, String) {
    let a = post(
        app,
        "/api/v1/workspaces",
        ADMIN_TOKEN,
        &format!(
            r#"{{"name":"{name}","owner_email":"owner@{name}.vn","owner_name":"Chủ {name}"}}"#
        ),
        &[],
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let v = a.json();
    (
        v["workspace"]["id"].as_str().unwrap().to_string(),
        v["api_key"]["key"].as_str().unwrap().to_string(),
    )
}

#[test]
fn health_reports_version_store_and_cron() {
    let app = Launch::careflow().start();
    let a = app.get("/api/v1/health");
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("application/json"));
    let v = a.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["version"], "0.1.0");
    assert_eq!(v["store"]["status"], "ok");
    assert!(v["store"]["schema_version"].as_i64().unwrap() >= 1);
    std::thread::sleep(std::time::Duration::from_millis(2200));
    let v = app.get("/api/v1/health").json();
    assert!(
        v["cron"]["last_tick"]["count"].as_u64().unwrap() >= 1,
        "{v}"
    );
    assert_eq!(app.request("POST", "/api/v1/health", &[], None).status, 405);
}

#[test]
fn requests_without_a_valid_key_are_401() {
    let app = Launch::careflow().start();
    let a = app.get("/api/v1/users");
    assert_eq!((a.status, a.error_code().as_str()), (401, "unauthorized"));
    assert_eq!(get(&app, "/api/v1/users", "cf_not_a_key").status, 401);
    let basic = app.request(
        "GET",
        "/api/v1/users",
        &[("authorization", "Basic YTpi")],
        None,
    );
    assert_eq!(basic.status, 401);
}

#[test]
fn the_admin_token_bootstraps_workspaces_and_only_it_can() {
    let app = Launch::careflow().start();
    let (id, key) = workspace(&app, "alpha");
    let me = get(&app, "/api/v1/workspaces/current", &key).json();
    assert_eq!(
        (me["id"].as_str(), me["timezone"].as_str()),
        (Some(id.as_str()), Some("Asia/Ho_Chi_Minh"))
    );
    let denied = post(
        &app,
        "/api/v1/workspaces",
        &key,
        r#"{"name":"x","owner_email":"a@b.vn","owner_name":"A"}"#,
        &[],
    );
    assert_eq!(denied.status, 403);
    // The admin token is not a workspace key.
    assert_eq!(get(&app, "/api/v1/users", ADMIN_TOKEN).status, 403);
}

#[test]
fn a_key_of_one_workspace_gets_404_for_another_workspaces_resources() {
    let app = Launch::careflow().start();
    let (_, key_a) = workspace(&app, "alpha");
    let (_, key_b) = workspace(&app, "beta");
    let user = post(
        &app,
        "/api/v1/users",
        &key_a,
        r#"{"email":"lan@alpha.vn","name":"Lan","role":"agent"}"#,
        &[],
    );
    assert_eq!(user.status, 201, "{}", user.body);
    let user_id = user.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        get(&app, &format!("/api/v1/users/{user_id}"), &key_a).status,
        200
    );
    let other = get(&app, &format!("/api/v1/users/{user_id}"), &key_b);
    assert_eq!(
        (other.status, other.error_code().as_str()),
        (404, "not_found")
    );
    let listed = get(&app, "/api/v1/users", &key_b).json();
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["email"] != "lan@alpha.vn")
    );
    let keys_a = get(&app, "/api/v1/api-keys", &key_a).json();
    let a_key_id = keys_a["data"][0]["id"].as_str().unwrap();
    assert_eq!(
        app.request(
            "DELETE",
            &format!("/api/v1/api-keys/{a_key_id}"),
            &[("authorization", &format!("Bearer {key_b}"))],
            None
        )
        .status,
        404
    );
    assert_eq!(
        get(&app, "/api/v1/users", &key_a).status,
        200,
        "B could not revoke A's key"
    );
}

#[test]
fn api_keys_are_shown_once_scoped_by_role_and_revocable() {
    let app = Launch::careflow().start();
    let (_, owner) = workspace(&app, "gamma");
    let created = post(
        &app,
        "/api/v1/api-keys",
        &owner,
        r#"{"name":"agent desk","role":"agent"}"#,
        &[],
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let agent_key = created.json()["key"].as_str().unwrap().to_string();
    assert!(agent_key.starts_with("cf_"));
    let listed = get(&app, "/api/v1/api-keys", &owner).json();
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("key").is_none()),
        "keys are never listed"
    );
    // An agent may read but not manage.
    assert_eq!(get(&app, "/api/v1/users", &agent_key).status, 200);
    let forbidden = post(
        &app,
        "/api/v1/users",
        &agent_key,
        r#"{"email":"x@y.vn","name":"X","role":"agent"}"#,
        &[],
    );
    assert_eq!(
        (forbidden.status, forbidden.error_code().as_str()),
        (403, "forbidden")
    );
    let id = created.json()["id"].as_str().unwrap().to_string();
    let revoked = app.request(
        "DELETE",
        &format!("/api/v1/api-keys/{id}"),
        &[("authorization", &format!("Bearer {owner}"))],
        None,
    );
    assert_eq!(revoked.status, 200);
    assert!(revoked.json()["revoked_at"].is_string());
    assert_eq!(get(&app, "/api/v1/users", &agent_key).status, 401);
}

#[test]
fn bad_input_gets_the_json_error_shape_and_writes_nothing() {
    let app = Launch::careflow().start();
    let (_, key) = workspace(&app, "delta");
    let cases: [(&str, u16, &str, Option<&str>); 5] = [
        ("{not json", 400, "bad_request", None),
        (
            r#"{"name":"X","role":"agent"}"#,
            422,
            "validation_failed",
            Some("email"),
        ),
        (
            r#"{"email":"nope","name":"X","role":"agent"}"#,
            422,
            "validation_failed",
            Some("email"),
        ),
        (
            r#"{"email":"a@b.vn","name":"X","role":"king"}"#,
            422,
            "validation_failed",
            Some("role"),
        ),
        (
            r#"{"email":"a@b.vn","name":"X","role":"agent","extra":1}"#,
            422,
            "validation_failed",
            None,
        ),
    ];
    for (body, status, code, field) in cases {
        let a = post(&app, "/api/v1/users", &key, body, &[]);
        assert_eq!(
            (a.status, a.error_code().as_str()),
            (status, code),
            "{body} → {}",
            a.body
        );
        if let Some(field) = field {
            assert_eq!(a.json()["error"]["field"], field, "{body}");
        }
    }
    let users = get(&app, "/api/v1/users", &key).json();
    assert_eq!(
        users["data"].as_array().unwrap().len(),
        1,
        "only the owner exists"
    );
    let dup = post(
        &app,
        "/api/v1/users",
        &key,
        r#"{"email":"owner@delta.vn","name":"Again","role":"agent"}"#,
        &[],
    );
    assert_eq!(dup.status, 409);
    let text = app.request(
        "POST",
        "/api/v1/users",
        &[
            ("authorization", &format!("Bearer {key}")),
            ("content-type", "text/plain"),
        ],
        Some(b"hi"),
    );
    assert_eq!(text.status, 415);
    let huge = post(
        &app,
        "/api/v1/users",
        &key,
        &format!(
            r#"{{"email":"a@b.vn","name":"{}","role":"agent"}}"#,
            "x".repeat(2 * 1024 * 1024)
        ),
        &[],
    );
    assert_eq!(huge.status, 413);
    assert_eq!(get(&app, "/api/v1/nothing-here", &key).status, 404);
    assert_eq!(
        app.request(
            "PUT",
            "/api/v1/users",
            &[("authorization", &format!("Bearer {key}"))],
            None
        )
        .status,
        405
    );
}

#[test]
fn a_retried_request_with_the_same_idempotency_key_changes_nothing_twice() {
    let app = Launch::careflow().start();
    let body = r#"{"name":"Epsilon","owner_email":"o@eps.vn","owner_name":"O"}"#;
    let first = post(
        &app,
        "/api/v1/workspaces",
        ADMIN_TOKEN,
        body,
        &[("idempotency-key", "create-eps")],
    );
    let second = post(
        &app,
        "/api/v1/workspaces",
        ADMIN_TOKEN,
        body,
        &[("idempotency-key", "create-eps")],
    );
    assert_eq!((first.status, second.status), (201, 201));
    let (a, b) = (first.json(), second.json());
    assert_eq!(a["workspace"]["id"], b["workspace"]["id"]);
    assert!(a["api_key"]["key"].is_string());
    assert!(
        b["api_key"]["key"].is_null(),
        "a key's plaintext is never stored for replays"
    );
    let key = a["api_key"]["key"].as_str().unwrap();
    let other = post(
        &app,
        "/api/v1/workspaces",
        ADMIN_TOKEN,
        r#"{"name":"Other","owner_email":"o@o.vn","owner_name":"O"}"#,
        &[("idempotency-key", "create-eps")],
    );
    assert_eq!(
        (other.status, other.json()["error"]["field"].as_str()),
        (422, Some("Idempotency-Key"))
    );

    let user = r#"{"email":"mai@eps.vn","name":"Mai","role":"supervisor"}"#;
    let u1 = post(
        &app,
        "/api/v1/users",
        key,
        user,
        &[("idempotency-key", "u1")],
    );
    let u2 = post(
        &app,
        "/api/v1/users",
        key,
        user,
        &[("idempotency-key", "u1")],
    );
    assert_eq!((u1.status, u2.status), (201, 201));
    assert_eq!(u1.json()["id"], u2.json()["id"]);
    assert_eq!(
        get(&app, "/api/v1/users", key).json()["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
