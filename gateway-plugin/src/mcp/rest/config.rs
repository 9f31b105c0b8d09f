//! Higress's `mcp-server` configuration of REST tools, with Go's JSON keys
//! and defaults (`pkg/mcp/server/rest_server.go`), its templates parsed
//! once with Go's checks and errors, and each tool's `inputSchema` as Go's
//! `RestMCPTool.InputSchema` builds it.

use crate::template::Template;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One tool's arguments, request, and how its answer is read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(crate = "crate::serde", rename_all = "camelCase", default)]
pub(crate) struct RestToolConfig {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) args: Vec<RestToolArg>,
    pub(crate) request_template: RequestTemplate,
    pub(crate) response_template: ResponseTemplate,
    pub(crate) error_response_template: String,
    pub(crate) output_schema: Option<Map<String, Value>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(crate = "crate::serde", default)]
pub(crate) struct RestToolArg {
    pub(crate) name: String,
    pub(crate) description: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) required: bool,
    pub(crate) default: Option<Value>,
    #[serde(rename = "enum")]
    pub(crate) choices: Option<Vec<Value>>,
    pub(crate) items: Option<Value>,
    pub(crate) properties: Option<Value>,
    pub(crate) position: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(crate = "crate::serde", rename_all = "camelCase", default)]
pub(crate) struct RequestTemplate {
    pub(crate) url: String,
    pub(crate) method: String,
    pub(crate) headers: Vec<HeaderTemplate>,
    pub(crate) body: String,
    pub(crate) args_to_json_body: bool,
    pub(crate) args_to_url_param: bool,
    pub(crate) args_to_form_body: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(crate = "crate::serde", default)]
pub(crate) struct HeaderTemplate {
    pub(crate) key: String,
    pub(crate) value: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(crate = "crate::serde", rename_all = "camelCase", default)]
pub(crate) struct ResponseTemplate {
    pub(crate) body: String,
    pub(crate) prepend_body: String,
    pub(crate) append_body: String,
}

/// Where an argument goes in the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Position {
    Path,
    Query,
    Header,
    Cookie,
    Body,
    /// None (or one Go does not know): used by `argsTo*` and templates.
    Default,
}

/// A tool ready to call: its configuration, its templates parsed.
#[derive(Debug)]
pub(crate) struct RestTool {
    pub(crate) config: RestToolConfig,
    /// `None`: a tool that answers from its response template alone.
    pub(crate) url: Option<Template>,
    pub(crate) headers: Vec<(String, Template)>,
    pub(crate) body: Option<Template>,
    pub(crate) response: Option<Template>,
    pub(crate) error_response: Option<Template>,
    /// Where each argument goes, by name.
    positions: BTreeMap<String, Position>,
}

impl Position {
    fn named(position: &str) -> Position {
        match position.to_ascii_lowercase().as_str() {
            "path" => Position::Path,
            "query" => Position::Query,
            "header" => Position::Header,
            "cookie" => Position::Cookie,
            "body" => Position::Body,
            _ => Position::Default,
        }
    }
}

fn parse(name: &str, text: &str, what: &str) -> Result<Template, String> {
    Template::parse(name, text).map_err(|e| format!("error parsing {what}: {e}"))
}

/// The response and error-response templates, if set, with Go's check.
fn response_templates(
    config: &RestToolConfig,
) -> Result<(Option<Template>, Option<Template>), String> {
    let answer = &config.response_template;
    let response = match answer.body.is_empty() {
        true => None,
        false => Some(parse("response", &answer.body, "response template")?),
    };
    let error_response = match config.error_response_template.is_empty() {
        true => None,
        false => Some(parse(
            "errorResponse",
            &config.error_response_template,
            "error response template",
        )?),
    };
    if response.is_some() && !(answer.prepend_body.is_empty() && answer.append_body.is_empty()) {
        return Err("PrependBody and AppendBody cannot be used when Body is specified".into());
    }
    Ok((response, error_response))
}

/// The URL, header and body templates of a tool that has a URL.
type RequestTemplates = (Template, Vec<(String, Template)>, Option<Template>);

fn request_templates(request: &RequestTemplate) -> Result<RequestTemplates, String> {
    let flags = [
        request.args_to_json_body,
        request.args_to_url_param,
        request.args_to_form_body,
    ];
    if flags.iter().filter(|set| **set).count() > 1 {
        return Err(
            "only one of argsToJsonBody, argsToUrlParam, or argsToFormBody can be set to true"
                .into(),
        );
    }
    let url = parse("url", &request.url, "URL template")?;
    let mut headers = Vec::new();
    for (i, header) in request.headers.iter().enumerate() {
        // Go skips a header without a key (with a warning).
        if header.key.is_empty() {
            log::warn!("Skipping header with empty key at index {i}");
            continue;
        }
        let what = format!("header template for {}", header.key);
        headers.push((
            header.key.clone(),
            parse(&format!("header_{i}"), &header.value, &what)?,
        ));
    }
    let body = match request.body.is_empty() {
        true => None,
        false => Some(parse("body", &request.body, "body template")?),
    };
    Ok((url, headers, body))
}

impl RestTool {
    /// Parses the tool's templates; the errors are Go's (`failed to add
    /// tool NAME: ...`).
    pub(crate) fn new(config: RestToolConfig) -> Result<RestTool, String> {
        let fail = |why: String| format!("failed to add tool {}: {why}", config.name);
        let (response, error_response) = response_templates(&config).map_err(fail)?;
        let request = &config.request_template;
        let (url, headers, body) = match request.url.is_empty() {
            true if response.is_none() => {
                return Err(fail(
                    "direct response mode must set responseTemplate.body".into(),
                ))
            }
            true => (None, Vec::new(), None),
            false => {
                let (url, headers, body) = request_templates(request).map_err(fail)?;
                (Some(url), headers, body)
            }
        };
        // Go's `argPositions`, lower-cased: the last argument of a name wins.
        let positions = config
            .args
            .iter()
            .map(|arg| (arg.name.clone(), Position::named(&arg.position)))
            .collect();
        Ok(RestTool {
            config,
            url,
            headers,
            body,
            response,
            error_response,
            positions,
        })
    }

    /// Where an argument goes.
    pub(crate) fn position(&self, arg: &str) -> Position {
        self.positions
            .get(arg)
            .copied()
            .unwrap_or(Position::Default)
    }

    /// The `inputSchema`, as Go builds it: every argument's `description`
    /// and `type` (`string` if none), `enum`, `default`, `items` (arrays)
    /// and `properties` (objects); `required` in the arguments' order.
    /// Keys sort as Go's `encoding/json` writes a map.
    pub(crate) fn input_schema(&self) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for arg in &self.config.args {
            let kind = match arg.kind.is_empty() {
                true => "string",
                false => arg.kind.as_str(),
            };
            let mut schema = Map::new();
            if let Some(default) = &arg.default {
                schema.insert("default".into(), default.clone());
            }
            schema.insert("description".into(), arg.description.clone().into());
            if let Some(choices) = arg.choices.as_ref().filter(|c| !c.is_empty()) {
                schema.insert("enum".into(), Value::Array(choices.clone()));
            }
            if let (Some(items), "array") = (&arg.items, kind) {
                schema.insert("items".into(), items.clone());
            }
            if let (Some(properties), "object") = (&arg.properties, kind) {
                schema.insert("properties".into(), properties.clone());
            }
            schema.insert("type".into(), kind.into());
            properties.insert(arg.name.clone(), Value::Object(sorted(schema)));
            if arg.required {
                required.push(Value::String(arg.name.clone()));
            }
        }
        let mut schema = Map::new();
        schema.insert("properties".into(), Value::Object(sorted(properties)));
        if !required.is_empty() {
            schema.insert("required".into(), Value::Array(required));
        }
        schema.insert("type".into(), "object".into());
        Value::Object(schema)
    }

    /// The tool's `tools/list` entry.
    pub(crate) fn entry(&self) -> Value {
        let mut entry = Map::new();
        entry.insert("description".into(), self.config.description.clone().into());
        entry.insert("inputSchema".into(), self.input_schema());
        entry.insert("name".into(), self.config.name.clone().into());
        if let Some(output) = self.config.output_schema.as_ref().filter(|o| !o.is_empty()) {
            entry.insert("outputSchema".into(), Value::Object(output.clone()));
        }
        Value::Object(entry)
    }
}

/// A map with its keys in byte order, whatever order `serde_json`'s map
/// keeps (Go's `encoding/json` sorts a map's keys).
fn sorted(map: Map<String, Value>) -> Map<String, Value> {
    let mut pairs: Vec<(String, Value)> = map.into_iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs.into_iter().collect()
}
