//! Serving the web UI's static files: which file a URL path means (with
//! the single-page-app fallback to `index.html`), its content type, its
//! ETag, and whether a conditional request can be answered `304`.

use sha2::{Digest, Sha256};

/// What to look up for a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Serve this file (relative, no leading `/`); `fallback` is the file
    /// to try when it does not exist.
    File {
        path: String,
        fallback: Option<String>,
    },
    /// The path tries to leave the static root or is malformed.
    Rejected,
}

pub const INDEX: &str = "index.html";

/// Maps a URL path (already stripped of the route prefix) to a file.
/// Paths without an extension are app routes: when no such file exists
/// they get `index.html`, so deep links into the UI work.
pub fn lookup(url_path: &str) -> Lookup {
    let path = url_path.split(['?', '#']).next().unwrap_or("");
    let mut parts = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Lookup::Rejected,
            s if s.contains('\\') || s.contains('\0') || s.starts_with('.') => {
                return Lookup::Rejected;
            }
            s => parts.push(s),
        }
    }
    if parts.is_empty() {
        return Lookup::File {
            path: INDEX.into(),
            fallback: None,
        };
    }
    let path = parts.join("/");
    let has_extension = parts.last().is_some_and(|last| last.contains('.'));
    Lookup::File {
        path,
        fallback: (!has_extension).then(|| INDEX.to_string()),
    }
}

/// The `Content-Type` for a file name.
pub fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/octet-stream",
    }
}

/// A strong ETag from the file's contents.
pub fn etag(contents: &[u8]) -> String {
    format!("\"{}\"", &hex::encode(Sha256::digest(contents))[..32])
}

/// Whether `If-None-Match` already names `etag` (so the answer is `304`).
pub fn not_modified(if_none_match: Option<&str>, etag: &str) -> bool {
    if_none_match.is_some_and(|header| {
        header
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag == etag || tag.strip_prefix("W/") == Some(etag))
    })
}

/// `Cache-Control`: the entry page is revalidated every time so a deploy
/// shows at once; other assets may be cached briefly.
pub fn cache_control(path: &str) -> &'static str {
    if path.ends_with(".html") {
        "no-cache"
    } else {
        "public, max-age=300"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_app_routes_fall_back_to_index() {
        assert_eq!(
            lookup(""),
            Lookup::File {
                path: INDEX.into(),
                fallback: None
            }
        );
        assert_eq!(
            lookup("/"),
            Lookup::File {
                path: INDEX.into(),
                fallback: None
            }
        );
        assert_eq!(
            lookup("/campaigns/42"),
            Lookup::File {
                path: "campaigns/42".into(),
                fallback: Some(INDEX.into())
            }
        );
        assert_eq!(
            lookup("/app.js"),
            Lookup::File {
                path: "app.js".into(),
                fallback: None
            }
        );
    }

    #[test]
    fn traversal_and_hidden_files_are_rejected() {
        assert_eq!(lookup("/../etc/passwd"), Lookup::Rejected);
        assert_eq!(lookup("/a/../../x"), Lookup::Rejected);
        assert_eq!(lookup("/.env"), Lookup::Rejected);
        assert_eq!(lookup("/a\\b"), Lookup::Rejected);
    }

    #[test]
    fn content_types_match_extensions() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("x/app.JS"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("logo.svg"), "image/svg+xml");
        assert_eq!(content_type("blob"), "application/octet-stream");
    }

    #[test]
    fn etag_round_trips_through_if_none_match() {
        let tag = etag(b"hello");
        assert_ne!(tag, etag(b"hello!"));
        assert!(not_modified(Some(&tag), &tag));
        assert!(not_modified(Some(&format!("\"x\", W/{tag}")), &tag));
        assert!(!not_modified(Some("\"other\""), &tag));
        assert!(!not_modified(None, &tag));
    }
}
