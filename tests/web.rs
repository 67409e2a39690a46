//! The `web` component serves `static/` (issue 3): content types, ETags
//! and `If-None-Match`, the single-page-app fallback, 404s and methods.

use careflow_e2e::Launch;

#[test]
fn serves_static_files_with_types_etags_and_fallback() {
    let app = Launch::careflow().start();
    let index = app.get("/");
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(index.body.contains("<title>careflow</title>"));
    let etag = index.header("etag").expect("an ETag").to_string();
    let again = app.request("GET", "/", &[("if-none-match", &etag)], None);
    assert_eq!((again.status, again.body.as_str()), (304, ""));

    let js = app.get("/app.js");
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(js.body.contains("/api/v1/health"));
    assert_eq!(
        app.get("/app.css").header("content-type"),
        Some("text/css; charset=utf-8")
    );

    // Deep links into the UI get the app; missing assets get a JSON 404.
    let deep = app.get("/campaigns/42");
    assert_eq!(deep.status, 200);
    assert!(deep.body.contains("<title>careflow</title>"));
    let missing = app.get("/logo-missing.png");
    assert_eq!(
        (missing.status, missing.error_code().as_str()),
        (404, "not_found")
    );
    assert_eq!(app.get("/../Cargo.toml").status, 404);
    assert_eq!(app.get("/%2e%2e/Cargo.toml").status, 404);

    let head = app.request("HEAD", "/app.js", &[], None);
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    assert_eq!(app.request("POST", "/", &[], Some(b"x")).status, 405);
}
