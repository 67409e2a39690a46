//! The scanner: splits a template into text and `{{ … }}` expressions and
//! checks every expression against the one shape templates may have,
//! `{{ path.to.value | filter(literal, name=literal) }}`.
//!
//! Jinja syntax outside that shape (statements, comments, calls, operators)
//! is refused here, at parse time, so a flow is rejected when it is saved
//! rather than when a customer's message is being sent. The grammar is a
//! strict subset of minijinja's, so nothing accepted here means something
//! else to a Jinja reader.

use serde_json::Value as Json;

use crate::error::{Position, TemplateError};
use crate::filters::Filter;

/// Names that mean something to Jinja (functions, loop and block helpers)
/// and so are never variables, even though the context has none of them.
const RESERVED: &[&str] = &[
    "caller",
    "cycler",
    "debug",
    "dict",
    "joiner",
    "kwargs",
    "lipsum",
    "loop",
    "namespace",
    "range",
    "self",
    "super",
    "varargs",
];

/// Words Jinja uses as operators; named in errors so a user sees why.
const OPERATOR_WORDS: &[&str] = &["and", "else", "if", "in", "is", "not", "or"];

/// How a template's expressions are written, shown in errors.
const SHAPE: &str = "only `{{ path.to.value | filter(args) }}` is allowed";

/// One part of a parsed template.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Piece {
    /// Text copied to the output as it is.
    Text(String),
    /// A `{{ … }}` expression.
    Expr(Expr),
}

/// A `{{ head | filter | … }}` expression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Expr {
    /// What the expression starts from.
    pub head: Head,
    /// The filters applied to it, left to right.
    pub filters: Vec<FilterCall>,
}

impl Expr {
    /// A `default` filter anywhere in the chain catches a missing value, so
    /// the value may be missing even with [`Missing::Fail`](crate::Missing::Fail).
    pub fn has_default(&self) -> bool {
        self.filters
            .iter()
            .any(|call| call.filter == Filter::Default)
    }
}

/// The start of an expression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Head {
    /// A variable read from the context.
    Path(Path),
    /// A quoted string, number, boolean or `none`, such as `{{ "{{" }}`.
    Literal(Json),
}

/// A variable path such as `order.items[0].sku`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Path {
    /// The steps from the context's root.
    pub segments: Vec<Segment>,
    /// The steps joined with `.`: `order.items.0.sku`.
    pub dotted: String,
}

/// One step of a [`Path`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Segment {
    /// `.name` or `["name"]`: a key of an object.
    Key(String),
    /// `.0` or `[0]`: an item of an array (negative counts from the end).
    Index(i64),
}

/// One `| filter(args)` of an expression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FilterCall {
    /// Which filter.
    pub filter: Filter,
    /// One value per parameter of the filter, in order, defaults filled in.
    pub args: Vec<Json>,
    /// Byte offset of the filter's name, for render errors.
    pub offset: usize,
}

/// Splits `source` into pieces, refusing anything but text and expressions.
pub(crate) fn parse(source: &str) -> Result<Vec<Piece>, TemplateError> {
    let bytes = source.as_bytes();
    let mut pieces = Vec::new();
    let mut text_start = 0;
    let mut trim_next_text = false;
    let mut cursor = 0;
    while let Some(found) = source[cursor..].find('{') {
        let open = cursor + found;
        match bytes.get(open + 1) {
            Some(b'{') => {
                let trim_left = bytes.get(open + 2) == Some(&b'-');
                let mut text = &source[text_start..open];
                if trim_next_text {
                    text = text.trim_start();
                }
                if trim_left {
                    text = text.trim_end();
                }
                push_text(&mut pieces, text);
                let body = open + 2 + usize::from(trim_left);
                let mut parser = ExprParser::new(source, body, open);
                let expr = parser.expression()?;
                pieces.push(Piece::Expr(expr));
                cursor = parser.lexer.pos;
                text_start = cursor;
                trim_next_text = parser.trim_right;
            }
            Some(b'%') => {
                return Err(not_allowed(
                    source,
                    open,
                    format!("statements (`{{% … %}}`) are not allowed; {SHAPE}"),
                ));
            }
            Some(b'#') => {
                return Err(not_allowed(
                    source,
                    open,
                    "comments (`{# … #}`) are not allowed".to_owned(),
                ));
            }
            _ => cursor = open + 1,
        }
    }
    let mut text = &source[text_start..];
    if trim_next_text {
        text = text.trim_start();
    }
    push_text(&mut pieces, text);
    Ok(pieces)
}

fn push_text(pieces: &mut Vec<Piece>, text: &str) {
    if !text.is_empty() {
        pieces.push(Piece::Text(text.to_owned()));
    }
}

fn syntax(source: &str, offset: usize, message: String) -> TemplateError {
    TemplateError::Syntax {
        message,
        at: Position::locate(source, offset),
    }
}

fn not_allowed(source: &str, offset: usize, message: String) -> TemplateError {
    TemplateError::NotAllowed {
        message,
        at: Position::locate(source, offset),
    }
}

/// A token inside `{{ … }}`.
#[derive(Clone, Debug, PartialEq)]
enum Tok<'a> {
    Ident(&'a str),
    Str(String),
    Int(i64),
    Float(f64),
    Dot,
    Pipe,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Assign,
    /// `}}`, or `-}}` when `trim` (strip the whitespace that follows).
    Close {
        trim: bool,
    },
}

impl Tok<'_> {
    /// How the token reads in an error message.
    fn describe(&self) -> String {
        match self {
            Tok::Ident(name) => format!("`{name}`"),
            Tok::Str(_) => "quoted text".to_owned(),
            Tok::Int(_) | Tok::Float(_) => "a number".to_owned(),
            Tok::Dot => "`.`".to_owned(),
            Tok::Pipe => "`|`".to_owned(),
            Tok::LParen => "`(`".to_owned(),
            Tok::RParen => "`)`".to_owned(),
            Tok::LBracket => "`[`".to_owned(),
            Tok::RBracket => "`]`".to_owned(),
            Tok::Comma => "`,`".to_owned(),
            Tok::Assign => "`=`".to_owned(),
            Tok::Close { .. } => "`}}`".to_owned(),
        }
    }
}

#[derive(Debug)]
struct Token<'a> {
    tok: Tok<'a>,
    offset: usize,
}

struct Lexer<'a> {
    source: &'a str,
    pos: usize,
    /// After a `.`, digits are an index (`items.0.name`), never a fraction.
    after_dot: bool,
}

impl<'a> Lexer<'a> {
    fn next(&mut self) -> Result<Option<Token<'a>>, TemplateError> {
        let rest = &self.source[self.pos..];
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
        let offset = self.pos;
        let Some(c) = trimmed.chars().next() else {
            return Ok(None);
        };
        let after_dot = std::mem::take(&mut self.after_dot);
        let (tok, len) = if trimmed.starts_with("-}}") {
            (Tok::Close { trim: true }, 3)
        } else if trimmed.starts_with("}}") {
            (Tok::Close { trim: false }, 2)
        } else if c.is_ascii_digit()
            || (c == '-' && trimmed[1..].starts_with(|d: char| d.is_ascii_digit()))
        {
            self.number(trimmed, offset, after_dot)?
        } else if c.is_ascii_alphabetic() || c == '_' {
            let len = trimmed
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(trimmed.len());
            (Tok::Ident(&trimmed[..len]), len)
        } else if c == '"' || c == '\'' {
            self.string(trimmed, c, offset)?
        } else {
            let tok = match c {
                '.' => Tok::Dot,
                '|' if !trimmed.starts_with("||") => Tok::Pipe,
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                '[' => Tok::LBracket,
                ']' => Tok::RBracket,
                ',' => Tok::Comma,
                '=' if !trimmed.starts_with("==") => Tok::Assign,
                '}' => {
                    return Err(syntax(
                        self.source,
                        offset,
                        "a lone `}`: close the expression with `}}`".to_owned(),
                    ));
                }
                _ => {
                    let what = trimmed
                        .find(|c: char| c.is_whitespace() || c.is_ascii_alphanumeric())
                        .map_or(trimmed, |end| &trimmed[..end.max(c.len_utf8())]);
                    return Err(not_allowed(
                        self.source,
                        offset,
                        format!(
                            "`{what}` is not allowed: operators and other Jinja syntax are refused; {SHAPE}"
                        ),
                    ));
                }
            };
            (tok, c.len_utf8())
        };
        self.after_dot = tok == Tok::Dot;
        self.pos += len;
        Ok(Some(Token { tok, offset }))
    }

    fn number(
        &self,
        text: &str,
        offset: usize,
        after_dot: bool,
    ) -> Result<(Tok<'a>, usize), TemplateError> {
        let sign = usize::from(text.starts_with('-'));
        let digits_end = |from: usize| {
            text[from..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(text.len(), |end| from + end)
        };
        let int_end = digits_end(sign);
        let has_fraction = !after_dot
            && text[int_end..].starts_with('.')
            && text[int_end + 1..].starts_with(|c: char| c.is_ascii_digit());
        if has_fraction {
            let end = digits_end(int_end + 1);
            let value: f64 = text[..end]
                .parse()
                .map_err(|_| syntax(self.source, offset, "a malformed number".to_owned()))?;
            return Ok((Tok::Float(value), end));
        }
        let value: i64 = text[..int_end].parse().map_err(|_| {
            syntax(
                self.source,
                offset,
                format!("the number `{}` is too large", &text[..int_end]),
            )
        })?;
        Ok((Tok::Int(value), int_end))
    }

    fn string(
        &self,
        text: &str,
        quote: char,
        offset: usize,
    ) -> Result<(Tok<'a>, usize), TemplateError> {
        let mut value = String::new();
        let mut chars = text.char_indices().skip(1);
        while let Some((at, c)) = chars.next() {
            match c {
                '\\' => {
                    let escaped = match chars.next() {
                        Some((_, 'n')) => '\n',
                        Some((_, 't')) => '\t',
                        Some((_, 'r')) => '\r',
                        Some((_, c @ ('\\' | '\'' | '"' | '/'))) => c,
                        _ => {
                            return Err(syntax(
                                self.source,
                                offset + at,
                                "unsupported escape in quoted text; use \\n, \\t, \\r, \\\\, \\' or \\\""
                                    .to_owned(),
                            ));
                        }
                    };
                    value.push(escaped);
                }
                c if c == quote => return Ok((Tok::Str(value), at + 1)),
                c => value.push(c),
            }
        }
        Err(syntax(
            self.source,
            offset,
            "quoted text is not closed".to_owned(),
        ))
    }
}

struct ExprParser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Token<'a>>,
    /// Byte offset of the `{{`, for "not closed" errors.
    open: usize,
    /// The expression ended with `-}}`.
    trim_right: bool,
}

impl<'a> ExprParser<'a> {
    fn new(source: &'a str, body: usize, open: usize) -> ExprParser<'a> {
        ExprParser {
            lexer: Lexer {
                source,
                pos: body,
                after_dot: false,
            },
            peeked: None,
            open,
            trim_right: false,
        }
    }

    fn source(&self) -> &'a str {
        self.lexer.source
    }

    fn next(&mut self) -> Result<Token<'a>, TemplateError> {
        if let Some(token) = self.peeked.take() {
            return Ok(token);
        }
        self.lexer.next()?.ok_or_else(|| {
            syntax(
                self.source(),
                self.open,
                "`{{` is not closed with `}}`".to_owned(),
            )
        })
    }

    fn peek(&mut self) -> Result<&Tok<'a>, TemplateError> {
        let token = self.next()?;
        Ok(&self.peeked.insert(token).tok)
    }

    fn unexpected(&self, token: &Token<'_>, expected: &str) -> TemplateError {
        let found = token.tok.describe();
        match &token.tok {
            Tok::LParen => not_allowed(
                self.source(),
                token.offset,
                format!("function calls are not allowed; {SHAPE}"),
            ),
            Tok::Ident(word) if OPERATOR_WORDS.contains(word) => not_allowed(
                self.source(),
                token.offset,
                format!("`{word}` is not allowed: conditions and operators are refused; {SHAPE}"),
            ),
            _ => syntax(
                self.source(),
                token.offset,
                format!("expected {expected}, found {found}"),
            ),
        }
    }

    fn expression(&mut self) -> Result<Expr, TemplateError> {
        let first = self.next()?;
        let head = match first.tok {
            Tok::Close { .. } => {
                return Err(syntax(
                    self.source(),
                    first.offset,
                    "empty `{{ }}`: name a variable, such as `{{ customer.name }}`".to_owned(),
                ));
            }
            Tok::Ident(word) => match keyword_literal(word) {
                Some(literal) => self.literal_head(literal)?,
                None => Head::Path(self.path(word, first.offset)?),
            },
            Tok::Str(text) => self.literal_head(Json::String(text))?,
            Tok::Int(n) => self.literal_head(Json::from(n))?,
            Tok::Float(n) => self.literal_head(Json::from(n))?,
            _ => return Err(self.unexpected(&first, "a variable such as `customer.name`")),
        };
        let mut filters = Vec::new();
        loop {
            let token = self.next()?;
            match token.tok {
                Tok::Close { trim } => {
                    self.trim_right = trim;
                    return Ok(Expr { head, filters });
                }
                Tok::Pipe => filters.push(self.filter()?),
                _ => return Err(self.unexpected(&token, "`|` or `}}`")),
            }
        }
    }

    /// A literal may start an expression (`{{ "{{" }}` writes braces) but
    /// has no attributes: `''.__class__` and friends stop here.
    fn literal_head(&mut self, literal: Json) -> Result<Head, TemplateError> {
        if matches!(self.peek()?, Tok::Dot | Tok::LBracket) {
            let token = self.next()?;
            return Err(not_allowed(
                self.source(),
                token.offset,
                "attributes and items can only be read from variables".to_owned(),
            ));
        }
        Ok(Head::Literal(literal))
    }

    fn path(&mut self, first: &str, offset: usize) -> Result<Path, TemplateError> {
        if *self.peek()? == Tok::LParen {
            let token = self.next()?;
            return Err(self.unexpected(&token, "`|` or `}}`"));
        }
        if RESERVED.contains(&first) {
            return Err(not_allowed(
                self.source(),
                offset,
                format!("`{first}` is a Jinja built-in, not a variable"),
            ));
        }
        check_name(self.source(), first, offset)?;
        let mut segments = vec![Segment::Key(first.to_owned())];
        loop {
            let segment = match self.peek()? {
                Tok::Dot => {
                    self.next()?;
                    let token = self.next()?;
                    match token.tok {
                        Tok::Ident(name) => {
                            check_name(self.source(), name, token.offset)?;
                            Segment::Key(name.to_owned())
                        }
                        Tok::Int(index) if index >= 0 => Segment::Index(index),
                        _ => return Err(self.unexpected(&token, "a name after `.`")),
                    }
                }
                Tok::LBracket => {
                    self.next()?;
                    let token = self.next()?;
                    let segment = match token.tok {
                        Tok::Str(key) => {
                            check_name(self.source(), &key, token.offset)?;
                            Segment::Key(key)
                        }
                        Tok::Int(index) => Segment::Index(index),
                        _ => {
                            return Err(not_allowed(
                                self.source(),
                                token.offset,
                                "`[…]` takes a quoted key or a whole number, such as `items[0]`"
                                    .to_owned(),
                            ));
                        }
                    };
                    let close = self.next()?;
                    if close.tok != Tok::RBracket {
                        return Err(self.unexpected(&close, "`]`"));
                    }
                    segment
                }
                Tok::LParen => {
                    let token = self.next()?;
                    return Err(self.unexpected(&token, "`|` or `}}`"));
                }
                _ => break,
            };
            segments.push(segment);
        }
        let dotted = segments
            .iter()
            .map(|segment| match segment {
                Segment::Key(key) => key.clone(),
                Segment::Index(index) => index.to_string(),
            })
            .collect::<Vec<_>>()
            .join(".");
        Ok(Path { segments, dotted })
    }

    fn filter(&mut self) -> Result<FilterCall, TemplateError> {
        let token = self.next()?;
        let Tok::Ident(name) = token.tok else {
            return Err(self.unexpected(&token, "a filter name after `|`"));
        };
        let offset = token.offset;
        let filter = Filter::from_name(name).ok_or_else(|| TemplateError::UnknownFilter {
            name: name.to_owned(),
            at: Position::locate(self.source(), offset),
        })?;
        let mut positional = Vec::new();
        let mut named = Vec::new();
        if *self.peek()? == Tok::LParen {
            self.next()?;
            loop {
                let token = self.next()?;
                let at = token.offset;
                let value = match token.tok {
                    Tok::RParen => break,
                    Tok::Ident(word)
                        if keyword_literal(word).is_none() && *self.peek()? == Tok::Assign =>
                    {
                        self.next()?;
                        let value = self.next()?;
                        named.push((word, self.argument(filter, value)?, at));
                        self.after_argument()?;
                        continue;
                    }
                    _ => self.argument(filter, token)?,
                };
                if !named.is_empty() {
                    return Err(self.argument_error(
                        filter,
                        at,
                        "positional arguments must come before named ones".to_owned(),
                    ));
                }
                positional.push((value, at));
                self.after_argument()?;
            }
        }
        let args = self.bind(filter, offset, positional, named)?;
        Ok(FilterCall {
            filter,
            args,
            offset,
        })
    }

    /// After an argument: `,` (then maybe `)`) or `)`, left for the caller.
    fn after_argument(&mut self) -> Result<(), TemplateError> {
        match self.peek()? {
            Tok::Comma => {
                self.next()?;
                Ok(())
            }
            Tok::RParen => Ok(()),
            _ => {
                let token = self.next()?;
                Err(self.unexpected(&token, "`,` or `)`"))
            }
        }
    }

    fn argument(&self, filter: Filter, token: Token<'_>) -> Result<Json, TemplateError> {
        match token.tok {
            Tok::Str(text) => Ok(Json::String(text)),
            Tok::Int(n) => Ok(Json::from(n)),
            Tok::Float(n) => Ok(Json::from(n)),
            Tok::Ident(word) => keyword_literal(word).ok_or_else(|| {
                self.argument_error(
                    filter,
                    token.offset,
                    format!("`{word}` is a variable; arguments must be quoted text or numbers"),
                )
            }),
            _ => Err(self.unexpected(&token, "quoted text or a number")),
        }
    }

    fn argument_error(&self, filter: Filter, offset: usize, message: String) -> TemplateError {
        TemplateError::FilterArgument {
            filter: filter.name().to_owned(),
            message,
            at: Position::locate(self.source(), offset),
        }
    }

    /// Matches arguments to the filter's parameters and checks them, so a
    /// bad date format or time zone is refused when the flow is saved.
    fn bind(
        &self,
        filter: Filter,
        offset: usize,
        positional: Vec<(Json, usize)>,
        named: Vec<(&str, Json, usize)>,
    ) -> Result<Vec<Json>, TemplateError> {
        let params = filter.params();
        if positional.len() > params.len() {
            let (_, at) = positional[params.len()];
            return Err(self.argument_error(
                filter,
                at,
                format!(
                    "takes at most {} argument(s) ({})",
                    params.len(),
                    params.join(", ")
                ),
            ));
        }
        let mut slots: Vec<Option<(Json, usize)>> = vec![None; params.len()];
        for (slot, argument) in slots.iter_mut().zip(positional) {
            *slot = Some(argument);
        }
        for (name, value, at) in named {
            let Some(index) = params.iter().position(|param| *param == name) else {
                return Err(self.argument_error(filter, at, format!("has no parameter `{name}`")));
            };
            if slots[index].is_some() {
                return Err(self.argument_error(filter, at, format!("`{name}` is given twice")));
            }
            slots[index] = Some((value, at));
        }
        let mut args = Vec::with_capacity(params.len());
        let mut offsets = Vec::with_capacity(params.len());
        for (slot, default) in slots.into_iter().zip(filter.default_args()) {
            let (value, at) = slot.unwrap_or((default, offset));
            args.push(value);
            offsets.push(at);
        }
        filter
            .check_args(&args)
            .map_err(|(index, message)| self.argument_error(filter, offsets[index], message))?;
        Ok(args)
    }
}

/// Jinja's constant words; every other word is a name.
fn keyword_literal(word: &str) -> Option<Json> {
    match word {
        "true" | "True" => Some(Json::Bool(true)),
        "false" | "False" => Some(Json::Bool(false)),
        "none" | "None" => Some(Json::Null),
        _ => None,
    }
}

/// Dunder names are how template injections reach into a host language;
/// minijinja has none, but they are never a customer's field either.
fn check_name(source: &str, name: &str, offset: usize) -> Result<(), TemplateError> {
    if name.starts_with("__") {
        return Err(not_allowed(
            source,
            offset,
            format!("`{name}`: names starting with `__` are not allowed"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(dotted: &str) -> Head {
        Head::Path(Path {
            segments: dotted
                .split('.')
                .map(|step| match step.parse() {
                    Ok(index) => Segment::Index(index),
                    Err(_) => Segment::Key(step.to_owned()),
                })
                .collect(),
            dotted: dotted.to_owned(),
        })
    }

    #[test]
    fn keeps_lone_braces_as_text_when_they_open_no_tag() {
        // SPEC A-V
        let pieces = parse("{ a } }} {x}{{ b }}{").unwrap();
        assert_eq!(
            pieces,
            [
                Piece::Text("{ a } }} {x}".to_owned()),
                Piece::Expr(Expr {
                    head: path("b"),
                    filters: Vec::new()
                }),
                Piece::Text("{".to_owned()),
            ]
        );
    }

    #[test]
    fn binds_arguments_in_order_when_given_by_position_or_name() {
        // SPEC A-V
        let pieces = parse("{{ t | date(zone='UTC') | default(\"}} \\\"x\\\"\\n\") }}").unwrap();
        let [Piece::Expr(expr)] = pieces.as_slice() else {
            panic!("{pieces:?}");
        };
        assert_eq!(expr.filters[0].filter, Filter::Date);
        assert_eq!(
            expr.filters[0].args,
            [Json::from("%d/%m/%Y"), Json::from("UTC")]
        );
        assert_eq!(expr.filters[0].offset, 7);
        assert_eq!(expr.filters[1].args, [Json::from("}} \"x\"\n")]);
        assert!(expr.has_default());
    }

    #[test]
    fn refuses_quoted_text_when_it_is_not_closed_or_has_odd_escapes() {
        // SPEC A-V
        let error = parse("{{ a | default('oops }}").unwrap_err();
        assert!(
            error.to_string().contains("quoted text is not closed"),
            "{error}"
        );
        assert_eq!(error.position().map(|at| at.offset), Some(15));
        let error = parse("{{ a | default('\\x41') }}").unwrap_err();
        assert!(error.to_string().contains("unsupported escape"), "{error}");
    }

    #[test]
    fn refuses_malformed_expressions_when_pieces_are_missing() {
        // SPEC A-V
        for (text, expected) in [
            ("{{ }}", "empty `{{ }}`"),
            ("{{ a | }}", "a filter name after `|`"),
            ("{{ a b }}", "expected `|` or `}}`, found `b`"),
            ("{{ a.}}", "a name after `.`"),
            ("{{ a[0 }}", "expected `]`"),
            ("{{ a | date('%Y' }}", "expected `,` or `)`"),
            ("{{{ a }}}", "`{` is not allowed"),
            ("{{ 99999999999999999999 }}", "too large"),
            ("{{ a }", "a lone `}`"),
            ("{{ a", "not closed"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.to_string().contains(expected), "{text}: {error}");
        }
    }
}
