//! The errors of parsing and rendering a template.

use std::fmt;

/// Where in a template's text a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Position {
    /// Byte offset from the start of the template.
    pub offset: usize,
    /// Line number, from 1.
    pub line: usize,
    /// Column number in characters (not bytes), from 1.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `source`; `offset` is always a
    /// character boundary because it comes from the scanner.
    pub(crate) fn locate(source: &str, offset: usize) -> Position {
        let before = &source[..offset];
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        Position {
            offset,
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why a template's text was refused by [`Template::parse`](crate::Template::parse).
///
/// Every variant but [`TemplateError::TooLarge`] says where the problem is.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The text is longer than [`MAX_TEMPLATE_BYTES`](crate::MAX_TEMPLATE_BYTES).
    #[error("the template is {len} bytes long; the limit is {limit} bytes")]
    TooLarge {
        /// Length of the text in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The text is not well formed: an unclosed `{{`, an unterminated
    /// string, a stray character.
    #[error("{message} (at {at})")]
    Syntax {
        /// What is wrong, for a person.
        message: String,
        /// Where.
        at: Position,
    },
    /// The text is well formed Jinja but uses something templates may not:
    /// statements, comments, function calls, operators, reserved names.
    #[error("{message} (at {at})")]
    NotAllowed {
        /// What is not allowed, for a person.
        message: String,
        /// Where.
        at: Position,
    },
    /// A filter that does not exist.
    #[error(
        "unknown filter `{name}` (at {at}); the filters are {}",
        crate::filters::NAMES
    )]
    UnknownFilter {
        /// The name as written.
        name: String,
        /// Where the name is.
        at: Position,
    },
    /// A filter's arguments are wrong: too many, an unknown name, a bad
    /// date format or time zone, a variable where a literal is required.
    #[error("filter `{filter}`: {message} (at {at})")]
    FilterArgument {
        /// The filter's name.
        filter: String,
        /// What is wrong, for a person.
        message: String,
        /// Where the offending argument (or filter) is.
        at: Position,
    },
}

impl TemplateError {
    /// Where the problem is, when it has a place.
    pub fn position(&self) -> Option<Position> {
        match self {
            TemplateError::TooLarge { .. } => None,
            TemplateError::Syntax { at, .. }
            | TemplateError::NotAllowed { at, .. }
            | TemplateError::UnknownFilter { at, .. }
            | TemplateError::FilterArgument { at, .. } => Some(*at),
        }
    }
}

/// Why [`Template::render`](crate::Template::render) produced no text.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// With [`Missing::Fail`](crate::Missing::Fail), a variable the template
    /// reads is absent from the context and no `default` filter covers it.
    #[error("no value for `{path}`")]
    Missing {
        /// The dotted path, as [`Template::references`](crate::Template::references) lists it.
        path: String,
    },
    /// A filter could not handle its input, such as `date` given text that
    /// is not a date or `phone` given something that is not a phone number.
    #[error("filter `{filter}`: {message} (at {at})")]
    Filter {
        /// The filter's name.
        filter: String,
        /// What went wrong, for a person.
        message: String,
        /// Where the filter is in the template.
        at: Position,
    },
    /// The text would be longer than [`MAX_OUTPUT_BYTES`](crate::MAX_OUTPUT_BYTES).
    #[error("the rendered text would be longer than {limit} bytes")]
    OutputTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}

/// Either error, for [`render_str`](crate::render_str), which parses and
/// renders in one go.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not a valid template.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The template could not be rendered with the given context.
    #[error(transparent)]
    Render(#[from] RenderError),
}
