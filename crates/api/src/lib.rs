//! The HTTP contract every careflow endpoint shares: errors are
//! `{"error":{"code","message","field"}}` with the right status, and JSON
//! bodies are parsed so that a bad one names the field at fault.

use serde::de::DeserializeOwned;

/// An error answer: status, stable machine code, human message, and the
/// request field at fault when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Every problem, when there are several (validation of a whole
    /// document or of several fields).
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            details: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "forbidden", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "method_not_allowed", message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "conflict", message)
    }
    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(413, "payload_too_large", message)
    }
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "unsupported_media_type", message)
    }
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(422, "validation_failed", message).with_field(field)
    }
    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self::new(429, "too_many_requests", message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal", message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "unavailable", message)
    }

    /// The response body.
    pub fn body(&self) -> String {
        let mut error = serde_json::json!({ "code": self.code, "message": self.message });
        if let Some(field) = &self.field {
            error["field"] = field.clone().into();
        }
        if let Some(details) = &self.details {
            error["details"] = details.clone();
        }
        serde_json::json!({ "error": error }).to_string()
    }
}

impl From<careflow_store::StoreError> for ApiError {
    fn from(e: careflow_store::StoreError) -> Self {
        Self::unavailable(format!("the store failed: {e}"))
    }
}

#[cfg(feature = "spin")]
mod spin_response {
    use super::ApiError;
    use spin_sdk::http::Response;

    impl ApiError {
        /// The error as a Spin HTTP response.
        pub fn into_response(self) -> Response {
            json_response(self.status, self.body())
        }
    }

    /// Asks the `engine` component to advance a run that was just stored.
    /// Best effort by design: the run already has a due wait row, so the
    /// cron tick resumes it if this hop fails.
    pub fn ask_engine_to_advance(run_id: &str) {
        let hop = spin_sdk::http::Request::post(
            format!("http://engine.spin.internal/runs/{run_id}/advance"),
            "",
        )
        .build();
        let _ = spin_sdk::http::run(spin_sdk::http::send::<_, Response>(hop));
    }

    /// Runs a creating request at most once per `Idempotency-Key`: the
    /// work and the remembered answer commit together, so a retry gets the
    /// same answer and changes nothing twice. `redact` strips what must not
    /// be stored (a key shown once).
    pub fn idempotent<D: careflow_store::Db>(
        db: &D,
        req: &spin_sdk::http::Request,
        scope: &str,
        now: &str,
        redact: impl Fn(serde_json::Value) -> serde_json::Value,
        work: impl FnOnce(&D) -> Result<(u16, serde_json::Value), ApiError>,
    ) -> Result<Response, ApiError> {
        use careflow_store::idempotency::{self, Replay};
        use sha2::{Digest, Sha256};
        let key = req
            .header("idempotency-key")
            .and_then(|v| v.as_str())
            .map(str::trim);
        let Some(key) = key else {
            let (status, value) = db.transaction(work)?;
            return Ok(json_response(status, value.to_string()));
        };
        if key.is_empty() || key.len() > 255 {
            return Err(
                ApiError::bad_request("Idempotency-Key must be 1 to 255 characters")
                    .with_field("Idempotency-Key"),
            );
        }
        let mut hasher = Sha256::new();
        hasher.update(req.method().to_string().as_bytes());
        hasher.update(req.path().as_bytes());
        hasher.update(req.body());
        let hash = hex::encode(hasher.finalize());
        db.transaction(|db| match idempotency::replay(db, scope, key, &hash)? {
            Replay::Answer { status, body } => Ok(json_response(status, body)),
            Replay::Mismatch => Err(ApiError::validation(
                "Idempotency-Key",
                "this Idempotency-Key was used for a different request",
            )),
            Replay::New => {
                let (status, value) = work(db)?;
                idempotency::remember(
                    db,
                    scope,
                    key,
                    &hash,
                    status,
                    &redact(value.clone()).to_string(),
                    now,
                )?;
                Ok(json_response(status, value.to_string()))
            }
        })
    }

    /// A JSON response with `status`.
    pub fn json_response(status: u16, body: impl Into<String>) -> Response {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("cache-control", "no-store")
            .body(body.into())
            .build()
    }
}
#[cfg(feature = "spin")]
pub use spin_response::{ask_engine_to_advance, idempotent, json_response};

/// Decodes an `application/x-www-form-urlencoded` body or a query string
/// into field → value (the last value of a repeated field wins).
pub fn parse_form(text: &str) -> serde_json::Map<String, serde_json::Value> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(k),
                serde_json::Value::String(percent_decode(v)),
            )
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Largest JSON body an API endpoint reads.
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// Parses a JSON request body into `T`: 413 when too large, 400 when it is
/// not JSON, 422 naming the field when it does not fit `T`.
pub fn parse_json<T: DeserializeOwned>(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<T, ApiError> {
    if body.len() > MAX_JSON_BODY {
        return Err(ApiError::payload_too_large(format!(
            "the body is larger than {MAX_JSON_BODY} bytes"
        )));
    }
    if let Some(ct) = content_type
        && !ct
            .trim()
            .to_ascii_lowercase()
            .starts_with("application/json")
    {
        return Err(ApiError::unsupported_media_type(format!(
            "send `Content-Type: application/json`, not {ct:?}"
        )));
    }
    let text = if body.is_empty() { &b"{}"[..] } else { body };
    let value: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let message = e.inner().to_string();
        let field = if field == "." {
            // serde names a missing field only in its message.
            message.split('`').nth(1).unwrap_or("").to_string()
        } else {
            field
        };
        ApiError::validation(field, message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct NewUser {
        email: String,
        role: Option<String>,
        age: Option<u8>,
    }

    #[test]
    fn error_body_has_the_shared_shape() {
        let e = ApiError::validation("email", "must contain @");
        assert_eq!(e.status, 422);
        let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(v["error"]["code"], "validation_failed");
        assert_eq!(v["error"]["field"], "email");
        assert_eq!(v["error"]["message"], "must contain @");
        assert!(
            ApiError::not_found("x")
                .body()
                .contains("\"code\":\"not_found\"")
        );
    }

    #[test]
    fn names_the_field_of_a_wrong_type_or_missing_field() {
        let e = parse_json::<NewUser>(None, br#"{"email":"a@b","age":"old"}"#).unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (422, Some("age")));
        let e = parse_json::<NewUser>(None, br#"{"role":"agent"}"#).unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (422, Some("email")));
    }

    #[test]
    fn form_bodies_decode_plus_percent_and_utf8() {
        let form = parse_form("ten=Nguy%E1%BB%85n+An&sdt=0912%20345%20678&empty=&bad=%zz&tail=%4");
        assert_eq!(form["ten"], "Nguyễn An");
        assert_eq!(form["sdt"], "0912 345 678");
        assert_eq!(form["empty"], "");
        assert_eq!(form["bad"], "%zz");
        assert_eq!(form["tail"], "%4");
    }

    #[test]
    fn rejects_non_json_and_oversized_bodies() {
        assert_eq!(
            parse_json::<NewUser>(None, b"{nope").unwrap_err().status,
            400
        );
        assert_eq!(
            parse_json::<NewUser>(Some("text/plain"), b"{}")
                .unwrap_err()
                .status,
            415
        );
        let big = vec![b' '; MAX_JSON_BODY + 1];
        assert_eq!(parse_json::<NewUser>(None, &big).unwrap_err().status, 413);
    }
}
