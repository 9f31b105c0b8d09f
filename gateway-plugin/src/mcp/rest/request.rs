//! A REST tool's call, as Go's `RestMCPTool` makes it: the arguments kept
//! and converted by their declared types, the URL, headers and body
//! rendered from the templates and the arguments' positions, the query
//! re-encoded sorted (Go's `url.Values.Encode`), `Accept: */*` and the
//! JSON or form `Content-Type` where Go adds them.

use super::config::{Position, RequestTemplate, RestTool, RestToolArg};
use crate::query::{escape, Query};
use crate::template::{go_json, go_value_text, Env, Template};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The request a tool sends.
#[derive(Debug, PartialEq)]
pub(crate) struct RestRequest {
    pub(crate) method: String,
    /// `scheme://host/path?query`, or `/path?query` for the route's own host.
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

/// The declared arguments of a call (undeclared ones are dropped), absent
/// ones taken from their `default`, strings converted to the declared
/// `integer`, `number` or `boolean` where they read as one (`"2500"` is
/// 2500, `"true"` is true), as Go's `RestMCPTool.Create` does. `required`
/// and `enum` are not checked, as in Go.
pub(crate) fn convert_args(declared: &[RestToolArg], arguments: &Value) -> Map<String, Value> {
    let mut args = Map::new();
    for arg in declared {
        let value = match arguments.get(&arg.name) {
            Some(value) => value.clone(),
            None => match &arg.default {
                Some(default) => default.clone(),
                None => continue,
            },
        };
        args.insert(arg.name.clone(), convert(&arg.kind, value));
    }
    args
}

fn convert(kind: &str, value: Value) -> Value {
    match (kind, value) {
        ("boolean", Value::String(s)) if s == "true" || s == "false" => Value::Bool(s == "true"),
        ("integer", Value::Number(n)) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => n
                .as_f64()
                .map_or(Value::Number(n), |f| Value::from(f as i64)),
        },
        // strconv.ParseInt(s, 10, 64): a sign and digits only.
        ("integer", Value::String(s)) => match s.parse::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => Value::String(s),
        },
        ("number", Value::String(s)) => match s.parse::<f64>() {
            Ok(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            Ok(f) => serde_json::Number::from_f64(f).map_or(Value::String(s), Value::Number),
            Err(_) => Value::String(s),
        },
        (_, value) => value,
    }
}

/// An argument as text in a URL, header, cookie or form (Go's
/// `convertArgToString`): a string as is, a number or bool as `%v`, an
/// object or array (or null) as its JSON.
fn arg_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(_) | Value::Number(_) => go_value_text(value),
        other => go_json(other),
    }
}

/// The request of a tool that has a URL.
pub(crate) fn build(
    tool: &RestTool,
    args: &Map<String, Value>,
    config: &Value,
    env: &dyn Env,
) -> Result<RestRequest, String> {
    let request = &tool.config.request_template;
    let data = serde_json::json!({"config": config, "args": args});
    let render = |template: &Template| template.render_with(&data, env);
    let url_template = tool.url.as_ref().ok_or("the tool has no URL")?;
    let mut url = render(url_template).map_err(|e| format!("error executing URL template: {e}"))?;
    let mut headers = Vec::new();
    for (name, value) in &tool.headers {
        let value = render(value)
            .map_err(|e| format!("error executing header template for {name}: {e}"))?;
        headers.push((name.clone(), value));
    }
    let groups = Groups::new(tool, args);
    for (name, value) in groups.at(Position::Path) {
        url = url.replace(&format!("{{{name}}}"), &arg_text(value));
    }
    let mut parsed = UrlParts::parse(&url);
    let query = query(parsed.query, &groups, request.args_to_url_param);
    parsed.query = &query;
    add_header_args(&mut headers, &groups);
    let body = match &tool.body {
        Some(template) => {
            let body =
                render(template).map_err(|e| format!("error executing body template: {e}"))?;
            templated_body(body, &mut headers)
        }
        None => args_body(request, &groups, &mut headers),
    };
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("accept"))
    {
        headers.push(("Accept".to_string(), "*/*".to_string()));
    }
    Ok(RestRequest {
        method: request.method.clone(),
        url: parsed.to_string(),
        headers,
        body,
    })
}

/// The call's arguments by position, each once, in their order.
struct Groups<'a> {
    args: Vec<(Position, &'a String, &'a Value)>,
}

impl<'a> Groups<'a> {
    fn new(tool: &RestTool, args: &'a Map<String, Value>) -> Groups<'a> {
        Groups {
            args: args
                .iter()
                .map(|(name, value)| (tool.position(name), name, value))
                .collect(),
        }
    }

    fn at(&self, position: Position) -> impl Iterator<Item = (&'a String, &'a Value)> + '_ {
        self.args
            .iter()
            .filter(move |(p, _, _)| *p == position)
            .map(|(_, name, value)| (*name, *value))
    }
}

/// The template's own query with the query arguments (and, with
/// `argsToUrlParam`, the arguments without a position) set, as Go's
/// `url.Values.Encode` writes it.
fn query(template_query: &str, groups: &Groups<'_>, args_to_url_param: bool) -> String {
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in Query::parse(template_query).iter() {
        query
            .entry(key.to_string())
            .or_default()
            .push(value.to_string());
    }
    let defaults = groups.at(Position::Default).filter(|_| args_to_url_param);
    for (name, value) in groups.at(Position::Query).chain(defaults) {
        query.insert(name.clone(), vec![arg_text(value)]);
    }
    encode(&query)
}

/// Header arguments as headers, cookie arguments into the `Cookie` one.
fn add_header_args(headers: &mut Vec<(String, String)>, groups: &Groups<'_>) {
    for (name, value) in groups.at(Position::Header) {
        headers.push((name.clone(), arg_text(value)));
    }
    for (name, value) in groups.at(Position::Cookie) {
        let cookie = format!("{name}={}", arg_text(value));
        match headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        {
            Some((_, existing)) => {
                existing.push_str("; ");
                existing.push_str(&cookie);
            }
            None => headers.push(("Cookie".to_string(), cookie)),
        }
    }
}

const JSON: &str = "application/json; charset=utf-8";
const FORM: &str = "application/x-www-form-urlencoded";

/// Whether a `Content-Type` header names this media type.
fn has_type(headers: &[(String, String)], kind: &str) -> bool {
    headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("content-type") && v.to_ascii_lowercase().contains(kind)
    })
}

/// A rendered body template; JSON gets Go's `Content-Type` if none says so.
fn templated_body(body: String, headers: &mut Vec<(String, String)>) -> Vec<u8> {
    let trimmed = body.trim();
    let looks_json = (trimmed.starts_with('{') && trimmed.ends_with('}'))
        || (trimmed.starts_with('[') && trimmed.ends_with(']'));
    if looks_json
        && !has_type(headers, "application/json")
        && serde_json::from_str::<Value>(trimmed).is_ok()
    {
        headers.push(("Content-Type".to_string(), JSON.to_string()));
    }
    body.into_bytes()
}

/// The body Go makes of the arguments: `argsToJsonBody` / `argsToFormBody`
/// from body and unpositioned ones, else the body arguments (a form if the
/// headers say so, else JSON), else none.
fn args_body(
    request: &RequestTemplate,
    groups: &Groups<'_>,
    headers: &mut Vec<(String, String)>,
) -> Vec<u8> {
    let json_type = has_type(headers, "application/json");
    let form_type = has_type(headers, FORM);
    let mut content_type = |kind: &str, present: bool| {
        if !present {
            headers.push(("Content-Type".to_string(), kind.to_string()));
        }
    };
    let body_args = || {
        groups
            .at(Position::Body)
            .chain(groups.at(Position::Default))
    };
    let json = |args: &mut dyn Iterator<Item = (&String, &Value)>| {
        let object: Map<String, Value> = args.map(|(n, v)| (n.clone(), v.clone())).collect();
        go_json(&Value::Object(object)).into_bytes()
    };
    if request.args_to_json_body {
        content_type(JSON, json_type);
        json(&mut body_args())
    } else if request.args_to_form_body {
        content_type(FORM, form_type);
        form(body_args()).into_bytes()
    } else if groups.at(Position::Body).next().is_none() {
        Vec::new()
    } else if form_type {
        form(groups.at(Position::Body)).into_bytes()
    } else {
        content_type(JSON, json_type);
        json(&mut groups.at(Position::Body))
    }
}

/// `url.Values.Encode`: keys sorted, each value `key=value`, escaped as
/// `QueryEscape` does.
fn encode(values: &BTreeMap<String, Vec<String>>) -> String {
    let mut out = String::new();
    for (key, list) in values {
        for value in list {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(&escape(key));
            out.push('=');
            out.push_str(&escape(value));
        }
    }
    out
}

fn form<'a>(args: impl Iterator<Item = (&'a String, &'a Value)>) -> String {
    let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in args {
        values.insert(name.clone(), vec![arg_text(value)]);
    }
    encode(&values)
}

/// A URL as Go's `url.Parse` splits it (user info dropped when it is
/// written again, as Go's tool does).
struct UrlParts<'a> {
    /// `scheme://host`, or empty for a path alone.
    origin: String,
    path: &'a str,
    query: &'a str,
}

impl<'a> UrlParts<'a> {
    fn parse(url: &'a str) -> UrlParts<'a> {
        let url = url.split('#').next().unwrap_or_default();
        let (origin, rest) = match url.split_once("://") {
            Some((scheme, rest)) if !scheme.is_empty() && !scheme.contains('/') => {
                let end = rest.find(['/', '?']).unwrap_or(rest.len());
                let host = &rest[..end];
                let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
                (format!("{scheme}://{host}"), &rest[end..])
            }
            _ => (String::new(), url),
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        UrlParts {
            origin,
            path,
            query,
        }
    }
}

impl std::fmt::Display for UrlParts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.origin)?;
        f.write_str("/")?;
        f.write_str(&escape_path(self.path.trim_start_matches('/')))?;
        if !self.query.is_empty() {
            write!(f, "?{}", self.query)?;
        }
        Ok(())
    }
}

/// A path as Go's `EscapedPath` writes it: a valid escaped path stays as
/// it is, other bytes (spaces, non-ASCII) become `%XX`.
fn escape_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    for (i, &b) in bytes.iter().enumerate() {
        let escaped_already = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        let keep =
            b.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:@/".contains(&b) || escaped_already;
        match keep {
            true => out.push(b as char),
            false => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
