//! Higress's REST-to-MCP servers from configuration alone (Go's
//! `RestMCPServer`): a `server` with its `config`, and `tools` whose
//! arguments, request and answer templates say how each becomes a REST
//! call. A plugin serves one with `#[mcp_server(.., rest = field)]`.
//!
//! The configuration is in `config.rs` (with each tool's `inputSchema`),
//! the request a call makes in `request.rs`, the result of its answer in
//! `response.rs`.
//!
//! Where this differs from Go, on purpose: the call is a callout to the
//! request's route (its cluster, the URL's host as `:authority`) rather
//! than the client's own request rewritten, so the client's headers are
//! not passed on and the upstream's other response headers do not reach
//! the client; the tools list in the configuration's order (Go's in a
//! map's random order); an empty `method` is `GET`.

mod config;
mod request;
mod response;

use super::tool::{ToolCall, ToolFuture, ToolResult};
use crate::cluster::RouteCluster;
use crate::context::HttpContext;
use crate::http_client::HttpClient;
use crate::ip::IpSource;
use crate::template::Env;
use config::{RestTool, RestToolConfig};
use serde_json::Value;

/// A REST-to-MCP server, as Higress's `mcp-server` plugin configures one:
///
/// ```
/// use gateway_plugin::mcp::RestServer;
/// let server = RestServer::from_config(&serde_json::json!({
///     "server": {"name": "weather", "config": {"apiKey": "k1"}},
///     "tools": [{
///         "name": "get_weather",
///         "description": "The weather of a city",
///         "args": [{"name": "city", "description": "City", "type": "string", "required": true}],
///         "requestTemplate": {
///             "url": "https://api.example.com/weather",
///             "method": "GET",
///             "argsToUrlParam": true,
///             "headers": [{"key": "x-api-key", "value": "{{.config.apiKey}}"}]
///         },
///         "responseTemplate": {"body": "{{.city}}: {{.temp}}°C"}
///     }]
/// }))
/// .unwrap();
/// assert_eq!(server.name(), "weather");
/// assert_eq!(server.tool_names().collect::<Vec<_>>(), ["get_weather"]);
///
/// let err = RestServer::from_config(&serde_json::json!({"server": {"name": "w"}, "tools": [
///     {"name": "t", "requestTemplate": {"url": "{{ nope }}"}}
/// ]})).unwrap_err();
/// assert_eq!(err, r#"failed to add tool t: error parsing URL template: template: url:1: function "nope" not defined"#);
/// ```
#[derive(Debug)]
pub struct RestServer {
    name: String,
    /// `server.config`: `.config` in the request templates.
    config: Value,
    tools: Vec<RestTool>,
    /// Each tool's `tools/list` entry, built once.
    entries: Vec<Value>,
    allow_tools: Option<Vec<String>>,
}

impl RestServer {
    /// Reads Higress's `mcp-server` configuration (`server`, `tools`,
    /// `allowTools`), parsing every template; the errors are Go's.
    pub fn from_config(json: &Value) -> Result<RestServer, String> {
        if json.get("toolSet").is_some() {
            return Err("toolSet (a composed server) is not supported yet".into());
        }
        let Some(server) = json.get("server") else {
            return Err(
                "either 'server' or 'toolSet' field must be present in the configuration".into(),
            );
        };
        let name = match server.get("name") {
            Some(Value::String(name)) if !name.is_empty() => name.clone(),
            _ => return Err("server.name field is missing for single server config".into()),
        };
        if server.get("type").and_then(Value::as_str) == Some("mcp-proxy") {
            return Err("server type mcp-proxy is not supported yet".into());
        }
        let mut tools: Vec<RestTool> = Vec::new();
        for tool in json
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let config: RestToolConfig = serde_json::from_value(tool.clone())
                .map_err(|e| format!("failed to parse tool config: {e}"))?;
            if tools.iter().any(|t| t.config.name == config.name) {
                // Go keeps the first tool of a name.
                log::warn!(
                    "Conflict! There is a tool with the same name:{}",
                    config.name
                );
                continue;
            }
            tools.push(RestTool::new(config)?);
        }
        let allow_tools = match json.get("allowTools") {
            None => None,
            Some(Value::Array(names)) => Some(
                names
                    .iter()
                    .map(|n| n.as_str().map_or_else(|| n.to_string(), str::to_string))
                    .collect(),
            ),
            Some(_) => return Err("allowTools must be an array of tool names".into()),
        };
        let entries = tools.iter().map(RestTool::entry).collect();
        Ok(RestServer {
            name,
            config: server.get("config").cloned().unwrap_or(Value::Null),
            tools,
            entries,
            allow_tools,
        })
    }

    /// `server.name`: the `serverInfo.name` clients see.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tools' names, in the configuration's order.
    pub fn tool_names(&self) -> impl Iterator<Item = &str> {
        self.tools.iter().map(|t| t.config.name.as_str())
    }

    /// `allowTools`: `None` if the configuration has none.
    pub fn allow_tools(&self) -> Option<&[String]> {
        self.allow_tools.as_deref()
    }

    /// Each tool's name and `tools/list` entry.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.tool_names().zip(&self.entries)
    }

    /// Calls the tool `name` (`None` if this server has none of that name).
    pub(crate) async fn call(
        &self,
        call: &mut ToolCall,
        name: &str,
        arguments: &Value,
    ) -> Option<ToolResult> {
        let tool = self.tools.iter().find(|t| t.config.name == name)?;
        let args = request::convert_args(&tool.config.args, arguments);
        let env = CallEnv { ctx: call.ctx() };
        if tool.url.is_none() {
            let data = serde_json::json!({"config": self.config, "args": args});
            return Some(response::direct(tool, &data, &env));
        }
        let request = match request::build(tool, &args, &self.config, &env) {
            Ok(request) => request,
            Err(e) => return Some(ToolResult::error(e)),
        };
        let method = match request.method.is_empty() {
            true => "GET",
            false => request.method.as_str(),
        };
        let headers: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let client = HttpClient::new(RouteCluster::default());
        Some(
            match client
                .call(method, &request.url, &headers, &request.body)
                .await
            {
                Ok(answer) => {
                    let status = answer.status();
                    response::answer(tool, status, answer.headers(), answer.body(), &env)
                }
                Err(e) => ToolResult::error(format!("route failed: {e}")),
            },
        )
    }
}

impl RestServer {
    /// [`call`](Self::call) as a boxed future (`unknown tool` if none has
    /// the name).
    pub(crate) fn call_boxed<'a>(
        &'a self,
        call: &'a mut ToolCall,
        name: &'a str,
        arguments: &'a Value,
    ) -> ToolFuture<'a> {
        Box::pin(async move {
            self.call(call, name, arguments)
                .await
                .ok_or_else(|| format!("unknown tool: {name}"))
        })
    }
}

impl<'de> serde::Deserialize<'de> for RestServer {
    /// As [`from_config`](RestServer::from_config), so a plugin config can
    /// hold one (`#[serde(flatten)] rest: RestServer`).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Value::deserialize(deserializer)?;
        RestServer::from_config(&json).map_err(serde::de::Error::custom)
    }
}

/// The request's addresses for `getRealIP` / `getSocketIP`, read from the
/// request only when a template asks for them.
struct CallEnv<'a> {
    ctx: &'a HttpContext,
}

impl Env for CallEnv<'_> {
    fn real_ip(&self) -> Option<String> {
        self.ctx
            .client_ip(&IpSource::header("x-forwarded-for"))
            .or_else(|| self.ctx.client_ip(&IpSource::Peer))
            .map(|ip| ip.to_string())
    }

    fn socket_ip(&self) -> Option<String> {
        self.ctx.client_ip(&IpSource::Peer).map(|ip| ip.to_string())
    }
}

#[cfg(test)]
mod tests;
