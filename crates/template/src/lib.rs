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
            let mut value = value.map_or(
                minijinja::Value::UNDEFINED,
                minijinja::Value::from_serialize,
            );
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn render(text: &str, context: &Json) -> Result<String, Error> {
        render_str(text, context, Missing::Fail)
    }

    fn refusal(text: &str) -> TemplateError {
        Template::parse(text).expect_err(text)
    }

    #[test]
    fn renders_text_unchanged_when_there_are_no_expressions() {
        // SPEC A-V
        let text = "Cảm ơn quý khách!\n  Hẹn gặp lại.\n";
        let template = Template::parse(text).unwrap();
        assert_eq!(template.references(), Vec::<String>::new());
        assert_eq!(template.render(&json!({}), Missing::Fail).unwrap(), text);
    }

    #[test]
    fn passes_vietnamese_text_through_when_it_is_in_text_and_values() {
        // SPEC A-V
        let context = json!({"customer": {"name": "Nguyễn Thị Ánh Tuyết", "city": "Đà Nẵng"}});
        assert_eq!(
            render(
                "Xin chào {{customer.name}} ở {{ customer.city }}, chúc một ngày tốt lành!",
                &context
            )
            .unwrap(),
            "Xin chào Nguyễn Thị Ánh Tuyết ở Đà Nẵng, chúc một ngày tốt lành!"
        );
    }

    #[test]
    fn reads_nested_keys_and_items_when_paths_exist() {
        // SPEC A-V
        let context = json!({
            "order": {"items": [{"sku": "A1"}, {"sku": "B2"}], "tên khách": "Hà"},
        });
        assert_eq!(
            render(
                "{{ order.items[0].sku }} {{ order.items.1.sku }} {{ order.items[-1].sku }} {{ order['tên khách'] }}",
                &context
            )
            .unwrap(),
            "A1 B2 B2 Hà"
        );
    }

    #[test]
    fn lists_references_sorted_and_deduplicated_when_parsed() {
        // SPEC A-V
        let template = Template::parse(
            "{{ trigger.so_dien_thoai | phone }} {{customer.name}} {{ customer.name | upper }} \
             {{ order.items[0].sku }} {{ order['tên'] }} {{ 'text' }} {{ order.total | default(0) }}",
        )
        .unwrap();
        assert_eq!(
            template.references(),
            [
                "customer.name",
                "order.items.0.sku",
                "order.total",
                "order.tên",
                "trigger.so_dien_thoai",
            ]
        );
    }

    #[test]
    fn fails_naming_the_path_when_a_value_is_missing_and_missing_is_fail() {
        // SPEC A-V
        let template =
            Template::parse("Chào {{ customer.name }}, {{ customer.address.city }}").unwrap();
        let context = json!({"customer": {"name": "Lan"}});
        assert_eq!(
            template.render(&context, Missing::Fail),
            Err(RenderError::Missing {
                path: "customer.address.city".to_owned()
            })
        );
        let error = template.render(&json!({}), Missing::Fail).unwrap_err();
        assert_eq!(error.to_string(), "no value for `customer.name`");
    }

    #[test]
    fn renders_empty_when_a_value_is_missing_and_missing_is_empty() {
        // SPEC A-V
        let template = Template::parse(
            "[{{ customer.name }}][{{ customer.phone | phone }}][{{ x.y | upper }}]",
        )
        .unwrap();
        assert_eq!(
            template
                .render(&json!({"customer": "not an object"}), Missing::Empty)
                .unwrap(),
            "[][][]"
        );
    }

    #[test]
    fn renders_null_as_empty_when_a_value_is_present_but_null() {
        // SPEC A-V
        let context = json!({"customer": {"name": null}});
        assert_eq!(render("[{{ customer.name }}]", &context).unwrap(), "[]");
    }

    #[test]
    fn uses_default_when_a_value_is_missing_even_if_missing_is_fail() {
        // SPEC A-V
        let context = json!({"customer": {"nickname": "", "title": null, "name": "Lan"}});
        assert_eq!(
            render(
                "{{ customer.age | default('?') }} {{ customer.nickname | default('bạn') }} \
                 {{ customer.title | default('anh/chị') }} {{ customer.name | default('bạn') }}",
                &context
            )
            .unwrap(),
            "? bạn anh/chị Lan"
        );
    }

    #[test]
    fn applies_default_after_other_filters_when_the_value_is_missing() {
        // SPEC A-V
        assert_eq!(
            render(
                "{{ customer.phone | phone | default('không có') }}",
                &json!({})
            )
            .unwrap(),
            "không có"
        );
    }

    #[test]
    fn writes_numbers_without_trailing_zero_when_they_are_whole() {
        // SPEC A-V
        let context = json!({"a": 5.0, "b": 12, "c": 1.25, "d": -3, "e": 18446744073709551615u64});
        assert_eq!(
            render("{{a}} {{b}} {{c}} {{d}} {{e}}", &context).unwrap(),
            "5 12 1.25 -3 18446744073709551615"
        );
        assert_eq!(render("{{ a | default(1) }}", &context).unwrap(), "5");
    }

    #[test]
    fn writes_booleans_and_compact_json_when_values_are_not_text() {
        // SPEC A-V
        let context = json!({"yes": true, "no": false, "tags": ["vip", 2], "address": {"city": "Huế", "zip": null}});
        assert_eq!(
            render("{{yes}} {{no}} {{tags}} {{address}}", &context).unwrap(),
            r#"true false ["vip",2] {"city":"Huế","zip":null}"#
        );
        assert_eq!(
            render("{{ tags | default('') }}", &context).unwrap(),
            r#"["vip",2]"#
        );
    }

    #[test]
    fn keeps_markup_unescaped_when_values_contain_html() {
        // SPEC A-V
        let context = json!({"note": "<b>Tom & Jerry's</b> \"quote\""});
        assert_eq!(
            render("<i>{{ note }}</i> {{ note | upper }}", &context).unwrap(),
            "<i><b>Tom & Jerry's</b> \"quote\"</i> <B>TOM & JERRY'S</B> \"QUOTE\""
        );
    }

    #[test]
    fn renders_literals_when_an_expression_is_quoted_text() {
        // SPEC A-V
        assert_eq!(
            render(
                "{{ '{{' }} customer.name {{ \"}}\" }} {{ 42 }} {{ true }} [{{ none }}]",
                &json!({})
            )
            .unwrap(),
            "{{ customer.name }} 42 true []"
        );
    }

    #[test]
    fn trims_whitespace_when_an_expression_has_dashes() {
        // SPEC A-V
        let context = json!({"a": "A", "b": "B"});
        assert_eq!(
            render("x  \n {{- a -}} \n  y {{b-}} z", &context).unwrap(),
            "xAy Bz"
        );
    }

    #[test]
    fn refuses_statements_when_a_template_has_block_tags() {
        // SPEC A-V
        for text in [
            "{% for x in range(1000000) %}spam{% endfor %}",
            "{% include 'x' %}",
            "{% import 'x' as y %}",
            "{% macro m() %}{% endmacro %}",
            "{% set x = 1 %}",
            "{% raw %}{{ x }}{% endraw %}",
            "{% if customer.vip %}VIP{% endif %}",
            "hello {%- extends 'base' %}",
        ] {
            let error = refusal(text);
            assert!(
                matches!(error, TemplateError::NotAllowed { .. }),
                "{text}: {error:?}"
            );
            assert!(error.to_string().contains("statements"), "{error}");
        }
    }

    #[test]
    fn refuses_calls_and_builtins_when_a_template_tries_to_reach_them() {
        // SPEC A-V
        for text in [
            "{{ range(10) }}",
            "{{ range(1000000) | default('') }}",
            "{{ self }}",
            "{{ cycler }}",
            "{{ cycler.next() }}",
            "{{ loop.index }}",
            "{{ namespace(a=1) }}",
            "{{ lipsum() }}",
            "{{ debug() }}",
            "{{ ''.__class__ }}",
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "{{ customer.__class__ }}",
            "{{ customer['__proto__'] }}",
            "{{ customer.name.upper() }}",
            "{{ customer[customer.key] }}",
            "{{ 'a' ~ 'b' }}",
            "{{ order.total * 1000000 }}",
            "{{ customer.name if customer.vip }}",
            "{{ not customer.vip }}",
            "{{ customer.name is defined }}",
            "{{ [1, 2] }}",
            "{{ {'a': 1} }}",
            "{{ customer.name | default(customer.email) }}",
            "{# a comment #}",
        ] {
            let error = refusal(text);
            assert!(
                matches!(
                    error,
                    TemplateError::NotAllowed { .. }
                        | TemplateError::Syntax { .. }
                        | TemplateError::FilterArgument { .. }
                ),
                "{text}: {error:?}"
            );
            assert!(error.position().is_some(), "{text}");
        }
    }

    #[test]
    fn explains_the_refusal_when_a_template_calls_a_function() {
        // SPEC A-V
        let error = refusal("Hi {{ range(10) }}");
        assert_eq!(
            error.to_string(),
            "function calls are not allowed; only `{{ path.to.value | filter(args) }}` is allowed (at line 1, column 12)"
        );
        assert_eq!(
            refusal("{{ self }}").to_string(),
            "`self` is a Jinja built-in, not a variable (at line 1, column 4)"
        );
    }

    #[test]
    fn reports_line_and_column_when_the_syntax_is_bad() {
        // SPEC A-V
        let error = refusal("Dòng một\nXin chào {{ customer.name ");
        assert_eq!(
            error.position(),
            Some(Position {
                offset: 22,
                line: 2,
                column: 10
            })
        );
        assert!(error.to_string().contains("not closed"), "{error}");

        let error = refusal("ổn {{ customer..name }}");
        assert!(matches!(error, TemplateError::Syntax { .. }), "{error:?}");
        assert_eq!(error.position().map(|at| at.column), Some(16));
    }

    #[test]
    fn refuses_unknown_filters_when_parsing() {
        // SPEC A-V
        let error = refusal("{{ customer.name | capitalize }}");
        assert_eq!(
            error,
            TemplateError::UnknownFilter {
                name: "capitalize".to_owned(),
                at: Position {
                    offset: 19,
                    line: 1,
                    column: 20
                }
            }
        );
        assert!(
            error
                .to_string()
                .contains("default, upper, lower, date, number, phone")
        );
    }

    #[test]
    fn refuses_bad_filter_arguments_when_parsing() {
        // SPEC A-V
        for (text, expected) in [
            (
                "{{ d | date(zone='Asia/Hanoi') }}",
                "unknown time zone `Asia/Hanoi`",
            ),
            ("{{ d | date('%Q') }}", "not a valid date format"),
            ("{{ d | date(123) }}", "`format` must be quoted text"),
            ("{{ n | number(99) }}", "from 0 to 10"),
            ("{{ n | number('2') }}", "from 0 to 10"),
            ("{{ n | number(1, 2) }}", "at most 1 argument"),
            ("{{ n | number(digits=2) }}", "no parameter `digits`"),
            ("{{ n | number(2, decimals=2) }}", "given twice"),
            (
                "{{ d | date(zone='UTC', '%Y') }}",
                "positional arguments must come before",
            ),
            ("{{ p | phone('VN') }}", "at most 0 argument"),
            ("{{ n | default(other) }}", "`other` is a variable"),
        ] {
            let error = refusal(text);
            assert!(
                matches!(error, TemplateError::FilterArgument { .. }),
                "{text}: {error:?}"
            );
            assert!(error.to_string().contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn refuses_a_template_when_it_is_longer_than_the_limit() {
        // SPEC A-V
        let text = "a".repeat(MAX_TEMPLATE_BYTES + 1);
        assert_eq!(
            refusal(&text),
            TemplateError::TooLarge {
                len: MAX_TEMPLATE_BYTES + 1,
                limit: MAX_TEMPLATE_BYTES
            }
        );
        assert!(Template::parse(&"a".repeat(MAX_TEMPLATE_BYTES)).is_ok());
    }

    #[test]
    fn fails_when_the_output_would_pass_the_limit() {
        // SPEC A-V
        let big = "x".repeat(10_000);
        let context = json!({"big": big, "list": vec![big.clone(); 10]});
        let six = "{{ big }}".repeat(6);
        assert_eq!(render(&six, &context).unwrap().len(), 60_000);
        for text in [
            "{{ big }}".repeat(7),
            "{{ list }}".to_owned(),
            "{{ big | upper }}".repeat(7),
        ] {
            let error = Template::parse(&text)
                .unwrap()
                .render(&context, Missing::Fail)
                .unwrap_err();
            assert_eq!(
                error,
                RenderError::OutputTooLarge {
                    limit: MAX_OUTPUT_BYTES
                },
                "{text}"
            );
        }
    }

    #[test]
    fn names_the_filter_when_a_filter_fails_at_render() {
        // SPEC A-V
        let template = Template::parse("Gọi\n  {{ trigger.phone | phone }}").unwrap();
        let error = template
            .render(&json!({"trigger": {"phone": "gọi tôi"}}), Missing::Fail)
            .unwrap_err();
        let RenderError::Filter { filter, at, .. } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(filter, "phone");
        assert_eq!((at.line, at.column), (2, 22));
        assert!(
            error.to_string().contains("not a plausible phone number"),
            "{error}"
        );
    }

    #[test]
    fn round_trips_through_serde_when_used_in_settings() {
        // SPEC A-V
        let template: Template = serde_json::from_value(json!("Chào {{ customer.name }}")).unwrap();
        assert_eq!(
            serde_json::to_value(&template).unwrap(),
            json!("Chào {{ customer.name }}")
        );
        assert_eq!(template.to_string(), "Chào {{ customer.name }}");
        let error = serde_json::from_value::<Template>(json!("{% for x in y %}")).unwrap_err();
        assert!(error.to_string().contains("statements"), "{error}");
    }

    #[test]
    fn reports_either_error_when_rendering_a_string_once() {
        // SPEC A-V
        assert!(matches!(
            render_str("{{", &json!({}), Missing::Empty),
            Err(Error::Template(TemplateError::Syntax { .. }))
        ));
        assert!(matches!(
            render_str("{{ a }}", &json!({}), Missing::Fail),
            Err(Error::Render(RenderError::Missing { .. }))
        ));
    }

    #[test]
    fn is_shareable_across_threads_when_cached() {
        // SPEC A-V
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<Template>();
        shareable::<TemplateError>();
        shareable::<RenderError>();
    }
}
