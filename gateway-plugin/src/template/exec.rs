//! Running a parsed template over JSON data, as Higress's `gjson_template`
//! runs Go's `text/template`: a field is a gjson lookup, a missing value
//! prints nothing, `null` prints `null`, an object or an array its JSON
//! text; the builtins (`and`, `eq`, `index`, `len`, `printf`, ...) work on
//! those values and every other function gets them converted (see
//! `funcs.rs`).

use super::error::TemplateError;
use super::funcs::{self, Arg, Env};
use super::lex::Number;
use super::parse::{Command, Control, Node, Operand, Pipe};
use serde_json::Value;
use std::borrow::Cow;

/// A value while a template runs.
#[derive(Clone, Debug)]
pub(super) enum Val<'a> {
    /// A path that leads nowhere: prints as nothing, is false.
    Missing,
    Json(Cow<'a, Value>),
    /// A float from a literal or a function, which Go prints as `%f`.
    Float(f64),
    /// A time (`now`), printed as Go prints a `time.Time`.
    Time(super::dates::Time),
}

impl<'a> Val<'a> {
    fn json(value: Value) -> Val<'a> {
        Val::Json(Cow::Owned(value))
    }

    fn string(text: impl Into<String>) -> Val<'a> {
        Val::json(Value::String(text.into()))
    }

    fn as_json(&self) -> Option<&Value> {
        match self {
            Val::Json(value) => Some(value),
            _ => None,
        }
    }

    /// The value at a field chain below this one (gjson's `Get`).
    fn path(self, path: &[String]) -> Val<'a> {
        let mut at = self;
        for key in path {
            at = match at {
                Val::Json(Cow::Borrowed(Value::Object(map))) => map
                    .get(key)
                    .map_or(Val::Missing, |v| Val::Json(Cow::Borrowed(v))),
                Val::Json(Cow::Owned(Value::Object(mut map))) => {
                    map.remove(key).map_or(Val::Missing, Val::json)
                }
                _ => Val::Missing,
            };
        }
        at
    }

    /// Go's truth: missing, `null`, `false`, `0`, `""`, `[]` and `{}` are
    /// false.
    pub(super) fn truthy(&self) -> bool {
        match self {
            Val::Missing => false,
            Val::Float(f) => *f != 0.0,
            Val::Time(_) => true,
            Val::Json(value) => match &**value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                Value::Array(items) => !items.is_empty(),
                Value::Object(map) => !map.is_empty(),
            },
        }
    }

    /// The text it prints as (gjson's `String()`).
    pub(super) fn text(&self) -> String {
        match self {
            Val::Missing => String::new(),
            Val::Float(f) => format!("{f:.6}"),
            Val::Time(time) => time.to_string(),
            Val::Json(value) => match &**value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        }
    }

    /// Its JSON text (`"a"` for a string), for raw comparisons.
    fn raw(&self) -> String {
        match self {
            Val::Json(value) => value.to_string(),
            other => other.text(),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Val::Float(f) => Some(*f),
            Val::Json(value) => value.as_f64(),
            _ => None,
        }
    }

    /// As a function's argument: what Go's reflection call receives.
    fn arg(&self) -> Arg {
        match self {
            Val::Missing => Arg::Nil,
            Val::Float(f) => Arg::Float(*f),
            Val::Time(time) => Arg::Time(*time),
            Val::Json(value) => match &**value {
                Value::Null => Arg::Nil,
                Value::Bool(b) => Arg::Bool(*b),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => Arg::Int(i),
                    None => match n.as_f64() {
                        Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Arg::Int(f as i64),
                        Some(f) => Arg::Float(f),
                        None => Arg::Nil,
                    },
                },
                Value::String(s) => Arg::Str(s.clone()),
                // Go hands a function an object or array as its JSON text.
                other => Arg::Str(other.to_string()),
            },
        }
    }
}

/// A function's result as a template value.
fn from_arg<'a>(arg: Arg) -> Val<'a> {
    match arg {
        Arg::Nil => Val::json(Value::Null),
        Arg::Bool(b) => Val::json(Value::Bool(b)),
        Arg::Int(i) => Val::json(Value::from(i)),
        Arg::Float(f) => Val::Float(f),
        Arg::Str(s) => Val::string(s),
        Arg::Time(t) => Val::Time(t),
    }
}

/// Go's `text/template` stops a template nested deeper than this.
const MAX_DEPTH: usize = 1000;

pub(super) struct Run<'a, 'e> {
    pub(super) name: &'a str,
    pub(super) env: &'e dyn Env,
    pub(super) out: String,
    vars: Vec<(String, Val<'a>)>,
    depth: usize,
}

/// How a list of nodes ended early.
enum Flow {
    Next,
    Break,
    Continue,
}

impl<'a, 'e> Run<'a, 'e> {
    pub(super) fn new(name: &'a str, root: &'a Value, env: &'e dyn Env) -> Self {
        Run {
            name,
            env,
            out: String::new(),
            vars: vec![("$".to_string(), Val::Json(Cow::Borrowed(root)))],
            depth: 0,
        }
    }

    fn error(&self, line: usize, message: impl std::fmt::Display) -> TemplateError {
        TemplateError::new(format!("template: {}:{line}: {message}", self.name))
    }

    pub(super) fn nodes(&mut self, nodes: &[Node], dot: &Val<'a>) -> Result<(), TemplateError> {
        self.list(nodes, dot).map(|_| ())
    }

    fn list(&mut self, nodes: &[Node], dot: &Val<'a>) -> Result<Flow, TemplateError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(0, "exceeded maximum template depth (1000)"));
        }
        let mut flow = Flow::Next;
        for node in nodes {
            flow = self.node(node, dot)?;
            if !matches!(flow, Flow::Next) {
                break;
            }
        }
        self.depth -= 1;
        Ok(flow)
    }

    fn node(&mut self, node: &Node, dot: &Val<'a>) -> Result<Flow, TemplateError> {
        match node {
            Node::Text(text) => self.out.push_str(text),
            Node::Action(pipe) => {
                let value = self.pipe(pipe, dot)?;
                if pipe.vars.is_empty() {
                    let text = value.text();
                    self.out.push_str(&text);
                }
            }
            Node::If(control) => return self.if_with(control, dot, false),
            Node::With(control) => return self.if_with(control, dot, true),
            Node::Range(control) => return self.range(control, dot),
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Next)
    }

    fn scoped(&mut self, nodes: &[Node], dot: &Val<'a>) -> Result<Flow, TemplateError> {
        let scope = self.vars.len();
        let flow = self.list(nodes, dot);
        self.vars.truncate(scope);
        flow
    }

    fn if_with(
        &mut self,
        control: &Control,
        dot: &Val<'a>,
        with: bool,
    ) -> Result<Flow, TemplateError> {
        let scope = self.vars.len();
        let value = self.pipe(&control.pipe, dot)?;
        let flow = match (value.truthy(), with) {
            (true, true) => self.scoped(&control.body, &value),
            (true, false) => self.scoped(&control.body, dot),
            (false, _) => self.scoped(&control.otherwise, dot),
        };
        self.vars.truncate(scope);
        flow
    }

    fn range(&mut self, control: &Control, dot: &Val<'a>) -> Result<Flow, TemplateError> {
        let scope = self.vars.len();
        // The declared variables are set per element, not to the pipeline.
        let value = self.commands(&control.pipe, dot)?;
        let items: Vec<(Val<'a>, Val<'a>)> = match &value {
            Val::Json(Cow::Borrowed(Value::Array(items))) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (Val::json(Value::from(i)), Val::Json(Cow::Borrowed(v))))
                .collect(),
            Val::Json(Cow::Borrowed(Value::Object(map))) => map
                .iter()
                .map(|(k, v)| (Val::string(k.clone()), Val::Json(Cow::Borrowed(v))))
                .collect(),
            Val::Json(Cow::Owned(Value::Array(items))) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (Val::json(Value::from(i)), Val::json(v.clone())))
                .collect(),
            Val::Json(Cow::Owned(Value::Object(map))) => map
                .iter()
                .map(|(k, v)| (Val::string(k.clone()), Val::json(v.clone())))
                .collect(),
            Val::Json(json) if json.is_i64() || json.is_u64() => {
                let count = json.as_i64().unwrap_or(i64::MAX).max(0);
                (0..count)
                    .map(|i| (Val::json(Value::from(i)), Val::json(Value::from(i))))
                    .collect()
            }
            Val::Json(json) if json.is_string() => json
                .as_str()
                .unwrap_or_default()
                .chars()
                .enumerate()
                .map(|(i, c)| (Val::json(Value::from(i)), Val::string(c.to_string())))
                .collect(),
            other if !other.truthy() => Vec::new(),
            other => {
                return Err(self.error(
                    control.pipe.line,
                    format!("range can't iterate over {}", other.text()),
                ))
            }
        };
        if items.is_empty() {
            let flow = self.scoped(&control.otherwise, dot);
            self.vars.truncate(scope);
            return flow.map(|_| Flow::Next);
        }
        for (key, item) in items {
            match control.pipe.vars.as_slice() {
                [element] => self.vars.push((element.clone(), item.clone())),
                [index, element] => {
                    self.vars.push((index.clone(), key));
                    self.vars.push((element.clone(), item.clone()));
                }
                _ => {}
            }
            let flow = self.scoped(&control.body, &item);
            self.vars.truncate(scope);
            if let Flow::Break = flow? {
                break;
            }
        }
        Ok(Flow::Next)
    }

    fn variable(&self, name: &str) -> Val<'a> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map_or(Val::Missing, |(_, v)| v.clone())
    }

    /// A pipeline's value, declaring or assigning its variables.
    fn pipe(&mut self, pipe: &Pipe, dot: &Val<'a>) -> Result<Val<'a>, TemplateError> {
        let value = self.commands(pipe, dot)?;
        for name in &pipe.vars {
            match pipe.assign {
                true => {
                    if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                        slot.1 = value.clone();
                    }
                }
                false => self.vars.push((name.clone(), value.clone())),
            }
        }
        Ok(value)
    }

    fn commands(&mut self, pipe: &Pipe, dot: &Val<'a>) -> Result<Val<'a>, TemplateError> {
        let mut value: Option<Val<'a>> = None;
        for command in &pipe.commands {
            value = Some(self.command(command, dot, value, pipe.line)?);
        }
        Ok(value.unwrap_or(Val::Missing))
    }

    fn command(
        &mut self,
        command: &Command,
        dot: &Val<'a>,
        piped: Option<Val<'a>>,
        line: usize,
    ) -> Result<Val<'a>, TemplateError> {
        let (first, rest) = command
            .operands
            .split_first()
            .ok_or_else(|| self.error(line, "empty command"))?;
        let Operand::Function(name) = first else {
            if piped.is_some() {
                return Err(self.error(line, "can't give argument to non-function"));
            }
            return self.operand(first, dot, line);
        };
        match name.as_str() {
            // Short-circuit: the arguments are evaluated in turn.
            "and" | "or" => {
                if rest.is_empty() {
                    return Err(self.error(
                        line,
                        format!("wrong number of args for {name}: want at least 1 got 0"),
                    ));
                }
                let mut value = Val::Missing;
                for operand in rest {
                    value = self.operand(operand, dot, line)?;
                    if value.truthy() == (name == "or") {
                        break;
                    }
                }
                Ok(value)
            }
            _ => {
                let mut args = Vec::with_capacity(rest.len() + 1);
                for operand in rest {
                    args.push(self.operand(operand, dot, line)?);
                }
                self.call(name, args, piped, dot, line)
            }
        }
    }

    fn operand(
        &mut self,
        operand: &Operand,
        dot: &Val<'a>,
        line: usize,
    ) -> Result<Val<'a>, TemplateError> {
        Ok(match operand {
            Operand::Dot => dot.clone(),
            Operand::Field(path) => dot.clone().path(path),
            Operand::Variable(name, path) => self.variable(name).path(path),
            Operand::Pipe(pipe, path) => self.pipe(pipe, dot)?.path(path),
            Operand::Function(name) => self.call(name, Vec::new(), None, dot, line)?,
            Operand::Str(text) => Val::string(text.clone()),
            Operand::Number(Number::Int(n)) => Val::json(Value::from(*n)),
            Operand::Number(Number::Float(f)) => Val::Float(*f),
            Operand::Bool(b) => Val::json(Value::Bool(*b)),
            Operand::Nil => Val::json(Value::Null),
        })
    }

    /// A function; the builtins work on the values, the others on
    /// converted arguments (the piped value last, if there is one).
    fn call(
        &mut self,
        name: &str,
        args: Vec<Val<'a>>,
        piped: Option<Val<'a>>,
        dot: &Val<'a>,
        line: usize,
    ) -> Result<Val<'a>, TemplateError> {
        let want = |count: usize| -> Result<(), TemplateError> {
            match args.len() == count {
                true => Ok(()),
                false => Err(self.error(
                    line,
                    format!(
                        "wrong number of args for {name}: want {count} got {}",
                        args.len()
                    ),
                )),
            }
        };
        match name {
            "not" => {
                want(1)?;
                Ok(Val::json(Value::Bool(!args[0].truthy())))
            }
            "len" => {
                want(1)?;
                let len = match args[0].as_json() {
                    Some(Value::Array(items)) => items.len(),
                    Some(Value::Object(map)) => map.len(),
                    Some(Value::String(s)) => s.len(),
                    _ => 0,
                };
                Ok(Val::json(Value::from(len)))
            }
            "index" => self.index(args, line),
            "print" | "println" => {
                let mut text = args.iter().map(Val::text).collect::<Vec<_>>().join(" ");
                if name == "println" {
                    text.push('\n');
                }
                Ok(Val::string(text))
            }
            "printf" => self.printf(args, piped, line),
            "eq" | "ne" | "lt" | "le" | "gt" | "ge" => {
                if args.len() < 2 {
                    return Err(self.error(
                        line,
                        format!("wrong number of args for {name}: want 2 got {}", args.len()),
                    ));
                }
                Ok(Val::json(Value::Bool(compare(name, &args[0], &args[1]))))
            }
            "html" | "js" | "urlquery" => {
                want(1)?;
                let text = args[0].text();
                Ok(Val::string(match name {
                    "html" => funcs::html_escape(&text),
                    "js" => funcs::js_escape(&text),
                    _ => crate::query::escape(&text),
                }))
            }
            "gjson" => {
                want(1)?;
                Ok(dot.clone().gjson(&args[0].text()))
            }
            _ => {
                let mut converted: Vec<Arg> = args.iter().map(Val::arg).collect();
                if let Some(piped) = piped {
                    if !matches!(piped, Val::Missing) {
                        converted.push(piped.arg());
                    }
                }
                funcs::call(name, &converted, self.env)
                    .map(from_arg)
                    .map_err(|e| self.error(line, format!("error calling {name}: {e}")))
            }
        }
    }

    /// `index c k`: an array's item (k a number, in range) or an object's
    /// value at the gjson path k; only the first key is used.
    fn index(&self, args: Vec<Val<'a>>, line: usize) -> Result<Val<'a>, TemplateError> {
        if args.len() < 2 {
            return Err(self.error(
                line,
                format!(
                    "wrong number of args for index: want at least 2 got {}",
                    args.len()
                ),
            ));
        }
        let mut args = args.into_iter();
        let (container, key) = (
            args.next().unwrap_or(Val::Missing),
            args.next().unwrap_or(Val::Missing),
        );
        match container {
            Val::Json(ref json) if json.is_array() => {
                let Some(i) = key.number().filter(|n| n.fract() == 0.0) else {
                    return Err(self.error(
                        line,
                        format!("cannot index slice/array with {}", key.text()),
                    ));
                };
                let len = json.as_array().map_or(0, Vec::len);
                if i < 0.0 || i as usize >= len {
                    return Err(self.error(
                        line,
                        format!("error calling index: array index out of range: {i}"),
                    ));
                }
                Ok(container.path_index(i as usize))
            }
            Val::Json(ref json) if json.is_object() => Ok(container.gjson(&key.text())),
            other => Err(self.error(
                line,
                format!("error calling index: can't index {}", other.text()),
            )),
        }
    }

    /// `printf`: Go's verbs over converted arguments; the piped value is an
    /// argument only when no other is given (gjson_template's rule).
    fn printf(
        &self,
        mut args: Vec<Val<'a>>,
        piped: Option<Val<'a>>,
        line: usize,
    ) -> Result<Val<'a>, TemplateError> {
        let format = match args.is_empty() {
            true => {
                return Err(self.error(
                    line,
                    "wrong number of args for printf: want at least 1 got 0",
                ))
            }
            false => args.remove(0).text(),
        };
        // The piped value is an argument only when no other is given.
        if args.is_empty() {
            args.extend(piped);
        }
        let args: Vec<Arg> = args.iter().map(Val::arg).collect();
        Ok(Val::string(funcs::sprintf(&format, &args)))
    }
}

impl<'a> Val<'a> {
    fn path_index(self, index: usize) -> Val<'a> {
        match self {
            Val::Json(Cow::Borrowed(Value::Array(items))) => items
                .get(index)
                .map_or(Val::Missing, |v| Val::Json(Cow::Borrowed(v))),
            Val::Json(Cow::Owned(Value::Array(mut items))) if index < items.len() => {
                Val::json(items.swap_remove(index))
            }
            _ => Val::Missing,
        }
    }

    /// A gjson path (dotted keys, numbers as array indexes, `\.` a literal
    /// dot) below this value.
    fn gjson(self, path: &str) -> Val<'a> {
        use crate::gjson::Gjson;
        match self {
            Val::Json(Cow::Borrowed(value)) => value
                .gjson(path)
                .value()
                .map_or(Val::Missing, |v| Val::Json(Cow::Borrowed(v))),
            Val::Json(Cow::Owned(value)) => value
                .gjson(path)
                .value()
                .map_or(Val::Missing, |v| Val::json(v.clone())),
            _ => Val::Missing,
        }
    }
}

/// `eq`/`ne`/`lt`/... as gjson_template compares: numbers as numbers (for
/// `eq`, a number and a numeric string too), `ne` by JSON text, the order
/// of anything else by text.
fn compare(name: &str, a: &Val<'_>, b: &Val<'_>) -> bool {
    let numeric_text = |v: &Val<'_>| match v.as_json() {
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => v.number(),
    };
    match name {
        "eq" => match (a.number(), b.number()) {
            (Some(x), Some(y)) => x == y,
            (Some(x), None) => numeric_text(b) == Some(x),
            (None, Some(y)) => numeric_text(a) == Some(y),
            (None, None) => a.raw() == b.raw(),
        },
        "ne" => a.raw() != b.raw(),
        _ => {
            let ordering = match (a.number(), b.number()) {
                (Some(x), Some(y)) => x.partial_cmp(&y),
                _ => Some(a.text().cmp(&b.text())),
            };
            let Some(ordering) = ordering else {
                return false;
            };
            match name {
                "lt" => ordering.is_lt(),
                "le" => ordering.is_le(),
                "gt" => ordering.is_gt(),
                _ => ordering.is_ge(),
            }
        }
    }
}
