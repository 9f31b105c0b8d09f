//! {{name}}: an MCP server in the gateway. The framework speaks the
//! protocol (JSON-RPC over Streamable HTTP, sessions, versions, errors);
//! the tools are the functions below.
//!
//! - `quote` asks a REST service (`GET /quotes?topic=..` on
//!   `serviceFqdn:servicePort`) and answers its body; a failed call or a
//!   non-2xx answer is a tool error, which the model sees.
//! - `add` adds two numbers, with structured output.
//!
//! Configuration: `{"serviceFqdn": "quotes.static", "servicePort": 8080}`.
//! In Higress, `quotes.static` is a service source of type "static"; the
//! callout goes to Envoy cluster `outbound|8080||quotes.static`.

use gateway_plugin::mcp::{Structured, ToolCall, ToolResult};
use gateway_plugin::prelude::*;
use gateway_plugin::serde_json::Value;

#[plugin(name = "{{name}}")]
#[mcp_server(name = "{{name}}", version = "0.1.0", tools = [quote, add])]
pub struct Config {
    quotes: HttpClient,
}

#[parse_config]
fn parse(json: &Value) -> Result<Config, String> {
    let fqdn = json
        .get("serviceFqdn")
        .and_then(Value::as_str)
        .filter(|fqdn| !fqdn.is_empty())
        .ok_or("missing serviceFqdn in config")?;
    let port = json
        .get("servicePort")
        .and_then(Value::as_u64)
        .and_then(|port| u16::try_from(port).ok())
        .filter(|port| *port != 0)
        .ok_or("servicePort must be a port number")?;
    Ok(Config {
        quotes: HttpClient::new(FqdnCluster {
            fqdn: fqdn.to_string(),
            port,
            ..Default::default()
        }),
    })
}

#[derive(Deserialize, JsonSchema)]
pub struct Topic {
    /// What the quote is about, e.g. "courage"
    topic: String,
}

/// A quote on a topic, from the quotes service.
#[mcp_tool]
async fn quote(_call: &mut ToolCall, config: &Config, args: Topic) -> Result<ToolResult, String> {
    let topic: String = args
        .topic
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let resp = config
        .quotes
        .get(&format!("/quotes?topic={topic}"))
        .await
        .map_err(|e| format!("quotes service: {e}"))?;
    if !(200..300).contains(&resp.status()) {
        return Err(format!("quotes service answered {}", resp.status()));
    }
    Ok(ToolResult::json_text(resp.body()))
}

#[derive(Deserialize, JsonSchema)]
pub struct Numbers {
    a: f64,
    b: f64,
}

#[derive(serde::Serialize, JsonSchema)]
pub struct Sum {
    sum: f64,
}

/// Adds two numbers.
#[mcp_tool]
fn add(_call: &mut ToolCall, _config: &Config, args: Numbers) -> Structured<Sum> {
    Structured(Sum { sum: args.a + args.b })
}
