//! Go templates over JSON, as Higress's `gjson_template` runs them (its
//! REST-to-MCP servers write requests and answers with them):
//! `{{.args.city}}`, `{{.config.apiKey}}`, `if`/`else if`/`else`, `range`
//! (with `$i, $e :=`, `break`, `continue`), `with`, variables, pipelines,
//! parentheses, trim markers and comments.
//!
//! The data is JSON and a field is a lookup in it: a missing value prints
//! nothing, `null` prints `null`, an object or an array prints its JSON
//! text, a string its text. The builtins are Go's (`and`, `or`, `not`,
//! `len`, `index`, `print`, `printf`, `println`, `eq`, `ne`, `lt`, `le`,
//! `gt`, `ge`, `html`, `js`, `urlquery`) and gjson_template's `gjson
//! "path"`; the other functions are the Sprig ones Higress's servers use
//! and the common string, number, encoding and date ones (see
//! [`FUNCTIONS`]), and Higress's `getRealIP` / `getSocketIP`. As in Go, a
//! function that does not exist is an error when the template is parsed.
//!
//! The lexer is `lex.rs`, the tree and parser `parse.rs`, the run `exec.rs`,
//! the functions `funcs.rs` (their times `dates.rs`), the error `error.rs`.
//!
//! Where this differs from Go: named templates (`define`, `template`,
//! `block`) are refused when parsed; `dateInZone` knows the zones without
//! daylight saving time only (no time-zone database in Wasm); an object
//! prints with its keys sorted and its numbers as `serde_json` writes them
//! (`2.50` is `2.5`), where Go prints the upstream's text.

mod dates;
mod error;
mod exec;
mod funcs;
mod lex;
mod parse;

pub use error::TemplateError;
// For the REST-to-MCP servers' requests.
#[cfg(feature = "mcp")]
pub(crate) use funcs::{go_json, go_value_text};
pub use funcs::{Env, NoRequest, FUNCTIONS};

use serde_json::Value;

/// A parsed template.
///
/// ```
/// use gateway_plugin::template::Template;
/// let url = Template::parse("url", "https://api.example.com/{{.args.city}}?key={{.config.key}}").unwrap();
/// let data = serde_json::json!({"args": {"city": "Paris"}, "config": {"key": "k1"}});
/// assert_eq!(url.render(&data).unwrap(), "https://api.example.com/Paris?key=k1");
///
/// let list = Template::parse(
///     "response",
///     "{{- range $i, $r := .results }}{{ if $i }}, {{ end }}{{ $r.name }}{{ end }}",
/// )
/// .unwrap();
/// let data = serde_json::json!({"results": [{"name": "a"}, {"name": "b"}]});
/// assert_eq!(list.render(&data).unwrap(), "a, b");
///
/// let err = Template::parse("body", "{{ nope .x }}").unwrap_err();
/// assert_eq!(err.to_string(), r#"template: body:1: function "nope" not defined"#);
/// ```
#[derive(Debug)]
pub struct Template {
    name: String,
    nodes: Vec<parse::Node>,
}

impl Template {
    /// Parses `text`; `name` is the template's name in errors.
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        let tokens = lex::lex(name, text)?;
        let nodes = parse::Parser::new(name, tokens, &funcs::is_function).parse()?;
        Ok(Template {
            name: name.to_string(),
            nodes,
        })
    }

    /// Runs it over `data` (a JSON object or array), outside a request
    /// (`getRealIP` is empty).
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        self.render_with(data, &NoRequest)
    }

    /// Runs it over `data`, with `env` for the clock, randomness and the
    /// request's addresses. As in gjson_template, the data is a JSON
    /// object or array; anything else is an error.
    pub fn render_with(&self, data: &Value, env: &dyn Env) -> Result<String, TemplateError> {
        if !(data.is_object() || data.is_array()) {
            return Err(TemplateError::new(format!(
                "template: {}: data must be a valid JSON object or array",
                self.name
            )));
        }
        let mut run = exec::Run::new(&self.name, data, env);
        let dot = exec::Val::Json(std::borrow::Cow::Borrowed(data));
        run.nodes(&self.nodes, &dot)?;
        Ok(run.out)
    }
}

#[cfg(test)]
mod tests;
