//! The `web` component: serves the built web UI (`static/`, mounted at `/`
//! through the manifest's `files`) with content types, ETags and the
//! single-page-app fallback.

use careflow_api::ApiError;
use careflow_web_assets::{Lookup, cache_control, content_type, etag, lookup, not_modified};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    let head = match req.method() {
        Method::Get => false,
        Method::Head => true,
        _ => {
            return ApiError::method_not_allowed("static files answer GET and HEAD")
                .into_response();
        }
    };
    let path_info = req
        .header("spin-path-info")
        .and_then(|h| h.as_str())
        .unwrap_or(req.path())
        .to_string();
    let missing = || ApiError::not_found(format!("no file {path_info}")).into_response();
    let Lookup::File { path, fallback } = lookup(&path_info) else {
        return missing();
    };
    let (path, contents) = match std::fs::read(format!("/{path}")) {
        Ok(c) => (path, c),
        Err(_) => {
            match fallback.and_then(|f| std::fs::read(format!("/{f}")).ok().map(|c| (f, c))) {
                Some(found) => found,
                None => return missing(),
            }
        }
    };
    let tag = etag(&contents);
    let if_none_match = req.header("if-none-match").and_then(|h| h.as_str());
    let mut builder = Response::builder();
    builder
        .header("etag", tag.as_str())
        .header("cache-control", cache_control(&path));
    if not_modified(if_none_match, &tag) {
        return builder.status(304).build();
    }
    builder
        .status(200)
        .header("content-type", content_type(&path))
        .header("content-length", contents.len().to_string())
        .header("x-content-type-options", "nosniff");
    if head {
        builder.build()
    } else {
        builder.body(contents).build()
    }
}
