//! Linked variables (SPEC A-V): the text settings of flow nodes, such as
//! `Xin chào {{ customer.name }}`, `{{ order.total | number }}` or
//! `{{ trigger.so_dien_thoai | phone }}`, parsed once when a flow is saved
//! and rendered against a run's JSON context.
//!
//! Templates are a deliberately small part of Jinja: text plus
//! `{{ path.to.value | filter(args) }}` expressions, with the filters
//! `default`, `upper`, `lower`, `date`, `number` and `phone`. Statements,
//! comments, function calls, operators and Jinja's built-in names are
//! refused by [`Template::parse`], so a template cannot loop, include
//! files or compute anything, and a bad one is reported with its line and
//! column when the flow is saved. Output is never HTML-escaped: messages
//! go to chat, SMS and voice, not to a browser.
//!
//! The crate is pure: no I/O and no clock (the `date` filter formats the
//! times it is given), and it builds for `wasm32-wasip2`.
//!
//! ```
//! use careflow_template::{Missing, Template};
//! use serde_json::json;
//!
//! let template = Template::parse("Chào {{ customer.name }}, đơn {{ order.total | number }}đ")?;
//! assert_eq!(template.references(), ["customer.name", "order.total"]);
//! let context = json!({"customer": {"name": "Lan"}, "order": {"total": 1250000}});
//! assert_eq!(template.render(&context, Missing::Fail)?, "Chào Lan, đơn 1.250.000đ");
//! # Ok::<(), careflow_template::Error>(())
//! ```

mod error;
mod filters;
mod parse;
mod value;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

pub use error::{Error, Position, RenderError, TemplateError};

use parse::{Head, Piece};
use value::{Output, resolve};

/// The longest template text [`Template::parse`] accepts, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 16 * 1024;

/// The longest text [`Template::render`] produces, in bytes.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// A parsed template: text with `{{ … }}` expressions.
///
/// Parse once (when a flow is saved), render many times. It serializes as
/// its text and deserializes by parsing, so it can be a field of a node's
/// settings and a bad template fails when the settings are loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

/// What rendering does with a variable that is absent from the context.
///
/// A `default` filter in the expression takes precedence in both modes,
/// and a value that is present but `null` is never missing: it renders as
/// nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Missing {
    /// Fail with [`RenderError::Missing`], naming the path.
    Fail,
    /// Render nothing in its place.
    Empty,
}

impl Template {
    /// Parses `text`, refusing anything but text and
    /// `{{ path | filter(args) }}` expressions, unknown filters, bad filter
    /// arguments and text longer than [`MAX_TEMPLATE_BYTES`].
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        if text.len() > MAX_TEMPLATE_BYTES {
            return Err(TemplateError::TooLarge {
                len: text.len(),
                limit: MAX_TEMPLATE_BYTES,
            });
        }
        Ok(Template {
            source: text.to_owned(),
            pieces: parse::parse(text)?,
        })
    }

    /// The template's text, as given to [`Template::parse`].
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Every variable path the template reads, dotted (`customer.name`,
    /// `order.items.0.sku` for `order.items[0].sku`), without duplicates,
    /// sorted.
    pub fn references(&self) -> Vec<String> {
        self.pieces
            .iter()
            .filter_map(|piece| match piece {
                Piece::Expr(expr) => match &expr.head {
                    Head::Path(path) => Some(path.dotted.as_str()),
                    Head::Literal(_) => None,
                },
                Piece::Text(_) => None,
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// Renders the template with values from `context` (normally a JSON
    /// object whose keys are `trigger`, `customer`, node outputs, …).
    ///
    /// Fails when a variable is missing and `missing` is [`Missing::Fail`],
    /// when a filter cannot handle its input, or when the text would be
    /// longer than [`MAX_OUTPUT_BYTES`].
    pub fn render(&self, context: &Json, missing: Missing) -> Result<String, RenderError> {
        if let [Piece::Text(text)] = self.pieces.as_slice() {
            return Ok(text.clone());
        }
        let mut out = Output::new(MAX_OUTPUT_BYTES);
        for piece in &self.pieces {
            let expr = match piece {
                Piece::Text(text) => {
                    out.push_str(text)?;
                    continue;
                }
                Piece::Expr(expr) => expr,
            };
            let value = match &expr.head {
                Head::Literal(literal) => Some(literal),
                Head::Path(path) => {
                    let value = resolve(context, &path.segments);
                    if value.is_none() && missing == Missing::Fail && !expr.has_default() {
                        return Err(RenderError::Missing {
                            path: path.dotted.clone(),
                        });
                    }
                    value
                }
            };
            if expr.filters.is_empty() {
                if let Some(value) = value {
                    out.push_json(value)?;
                }
                continue;
            }
            let mut value = value.map_or(minijinja::Value::UNDEFINED, minijinja::Value::from_serialize);
            for call in &expr.filters {
                value = filters::apply(call.filter, value, &call.args).map_err(|message| {
                    RenderError::Filter {
                        filter: call.filter.name().to_owned(),
                        message,
                        at: Position::locate(&self.source, call.offset),
                    }
                })?;
            }
            out.push_value(&value)?;
        }
        Ok(out.into_string())
    }
}

/// Parses `text` and renders it once; for a template used many times,
/// parse it once with [`Template::parse`] instead.
pub fn render_str(text: &str, context: &Json, missing: Missing) -> Result<String, Error> {
    Ok(Template::parse(text)?.render(context, missing)?)
}

impl fmt::Display for Template {
    /// Writes the template's text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for Template {
    type Err = TemplateError;

    fn from_str(text: &str) -> Result<Template, TemplateError> {
        Template::parse(text)
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Template, D::Error> {
        let text = String::deserialize(deserializer)?;
        Template::parse(&text).map_err(serde::de::Error::custom)
    }
}
