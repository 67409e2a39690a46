//! Reading paths from the JSON context and writing values as text.
//!
//! Values are written the way a customer should read them, not the way
//! Jinja prints them: `5` not `5.0`, nothing for null, `true`/`false`, and
//! lists and objects as compact JSON.

use std::io;

use minijinja::Value;
use minijinja::value::ValueKind;
use serde::Serialize;
use serde_json::Value as Json;

use crate::error::RenderError;
use crate::parse::Segment;

/// The value at `path` in `root`, or `None` when any step is absent or
/// steps into something that is not an object or array.
pub(crate) fn resolve<'a>(root: &'a Json, path: &[Segment]) -> Option<&'a Json> {
    path.iter()
        .try_fold(root, |node, segment| match (node, segment) {
            (Json::Object(fields), Segment::Key(key)) => fields.get(key),
            (Json::Object(fields), Segment::Index(index)) => fields.get(&index.to_string()),
            (Json::Array(items), Segment::Index(index)) => {
                let position = if *index < 0 {
                    items
                        .len()
                        .checked_sub(usize::try_from(index.unsigned_abs()).ok()?)?
                } else {
                    usize::try_from(*index).ok()?
                };
                items.get(position)
            }
            _ => None,
        })
}

/// A float as a person writes it: `5` for `5.0`, `1234.5`, never an exponent.
fn float_text(float: f64) -> String {
    float.to_string()
}

/// A scalar value as text (lists and objects as compact JSON), without a
/// size bound: for filters, whose input is already bounded by the context.
pub(crate) fn text_of(value: &Value) -> String {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => String::new(),
        ValueKind::Bool => value.is_true().to_string(),
        ValueKind::Number if value.is_integer() => value.to_string(),
        ValueKind::Number => {
            f64::try_from(value.clone()).map_or_else(|_| value.to_string(), float_text)
        }
        ValueKind::String => value.as_str().unwrap_or_default().to_owned(),
        ValueKind::Seq | ValueKind::Map => {
            serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
        }
        _ => value.to_string(),
    }
}

/// The text being rendered, refusing to grow past its limit.
pub(crate) struct Output {
    text: String,
    limit: usize,
}

impl Output {
    pub fn new(limit: usize) -> Output {
        Output {
            text: String::new(),
            limit,
        }
    }

    pub fn into_string(self) -> String {
        self.text
    }

    fn too_large(&self) -> RenderError {
        RenderError::OutputTooLarge { limit: self.limit }
    }

    pub fn push_str(&mut self, text: &str) -> Result<(), RenderError> {
        if self.text.len() + text.len() > self.limit {
            return Err(self.too_large());
        }
        self.text.push_str(text);
        Ok(())
    }

    /// Writes a value straight from the context.
    pub fn push_json(&mut self, value: &Json) -> Result<(), RenderError> {
        match value {
            Json::Null => Ok(()),
            Json::Bool(flag) => self.push_str(if *flag { "true" } else { "false" }),
            Json::Number(number) => match number.as_f64() {
                Some(float) if number.is_f64() => self.push_str(&float_text(float)),
                _ => self.push_str(&number.to_string()),
            },
            Json::String(text) => self.push_str(text),
            Json::Array(_) | Json::Object(_) => self.push_serialized(value),
        }
    }

    /// Writes a value a filter returned.
    pub fn push_value(&mut self, value: &Value) -> Result<(), RenderError> {
        match value.kind() {
            ValueKind::Seq | ValueKind::Map => self.push_serialized(value),
            ValueKind::String => self.push_str(value.as_str().unwrap_or_default()),
            _ => self.push_str(&text_of(value)),
        }
    }

    /// Writes compact JSON, stopping as soon as it passes the limit rather
    /// than building a large string first.
    fn push_serialized<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), RenderError> {
        let mut sink = Bounded {
            bytes: Vec::new(),
            room: self.limit - self.text.len(),
        };
        // The sink's limit is the only way this fails: the values come from
        // JSON, so every map key is a string.
        serde_json::to_writer(&mut sink, value).map_err(|_| self.too_large())?;
        // serde_json writes UTF-8 only.
        let json = String::from_utf8(sink.bytes).map_err(|_| self.too_large())?;
        self.push_str(&json)
    }
}

/// A writer that fails once more than `room` bytes are written.
struct Bounded {
    bytes: Vec<u8>,
    room: usize,
}

impl io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len() + buf.len() > self.room {
            return Err(io::Error::other("output limit reached"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finds_nothing_when_a_step_is_absent_or_not_a_container() {
        // SPEC A-V
        let root = json!({"a": {"b": [10, 20], "0": "zero"}, "s": "text", "n": null});
        let key = |k: &str| Segment::Key(k.to_owned());
        assert_eq!(
            resolve(&root, &[key("a"), key("b"), Segment::Index(1)]),
            Some(&json!(20))
        );
        assert_eq!(
            resolve(&root, &[key("a"), key("b"), Segment::Index(-2)]),
            Some(&json!(10))
        );
        assert_eq!(
            resolve(&root, &[key("a"), Segment::Index(0)]),
            Some(&json!("zero"))
        );
        assert_eq!(resolve(&root, &[key("n")]), Some(&Json::Null));
        assert_eq!(
            resolve(&root, &[key("a"), key("b"), Segment::Index(2)]),
            None
        );
        assert_eq!(
            resolve(&root, &[key("a"), key("b"), Segment::Index(-3)]),
            None
        );
        assert_eq!(resolve(&root, &[key("a"), key("b"), key("len")]), None);
        assert_eq!(resolve(&root, &[key("s"), Segment::Index(0)]), None);
        assert_eq!(resolve(&root, &[key("n"), key("x")]), None);
        assert_eq!(resolve(&json!([1]), &[key("a")]), None);
    }

    #[test]
    fn writes_values_for_people_when_they_are_not_text() {
        // SPEC A-V
        let mut out = Output::new(1000);
        for value in [
            json!(null),
            json!(true),
            json!(3.0),
            json!(-0.5),
            json!(7),
            json!({"b": [1.5], "a": "x"}),
        ] {
            out.push_json(&value).unwrap();
            out.push_str("|").unwrap();
        }
        assert_eq!(out.into_string(), r#"|true|3|-0.5|7|{"a":"x","b":[1.5]}|"#);
        assert_eq!(text_of(&Value::from(2.0)), "2");
        assert_eq!(text_of(&Value::UNDEFINED), "");
        assert_eq!(text_of(&Value::from(())), "");
    }

    #[test]
    fn stops_at_the_limit_when_json_is_long() {
        // SPEC A-V
        let mut out = Output::new(10);
        out.push_str("12345").unwrap();
        assert_eq!(
            out.push_json(&json!(["abcdef"])),
            Err(RenderError::OutputTooLarge { limit: 10 })
        );
        out.push_json(&json!([1])).unwrap();
        assert_eq!(out.into_string(), "12345[1]");
    }
}
