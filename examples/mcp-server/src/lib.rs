//! The port of Higress's `mcp-server` plugin: a REST-to-MCP server from
//! configuration alone, configured exactly as Higress configures it
//! (`server` with its `config`, `tools` with `args`, `requestTemplate`,
//! `responseTemplate`, `errorResponseTemplate`, `outputSchema`, and
//! `allowTools`), e.g. a `mcp-server.yaml` of Higress's repository turned
//! into JSON. Each tool's call goes to the request's route, the URL's host
//! as `:authority`.
//!
//! ```json
//! {"server": {"name": "weather", "config": {"apiKey": "k"}},
//!  "tools": [{"name": "get_weather", "description": "..",
//!             "args": [{"name": "city", "type": "string", "required": true}],
//!             "requestTemplate": {"url": "http://api.weather/v1?key={{.config.apiKey}}",
//!                                 "method": "GET", "argsToUrlParam": true},
//!             "responseTemplate": {"body": "{{.city}}: {{.temp}}°C"}}]}
//! ```

use gateway_plugin::mcp::RestServer;
use gateway_plugin::prelude::*;

#[plugin(name = "mcp-server")]
#[mcp_server(name = "mcp-server", version = "1.0.0", tools = [], rest = rest)]
#[derive(Deserialize)]
pub struct McpServerPlugin {
    #[serde(flatten)]
    rest: RestServer,
}
