//! The one error of a template: Go's message, for parsing and running.

use std::fmt;

/// A template that does not parse, or fails while it runs; the message is
/// Go's form, `template: NAME:LINE: what`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    message: String,
}

impl TemplateError {
    pub(super) fn new(message: String) -> TemplateError {
        TemplateError { message }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TemplateError {}
