//! Every tool shape an MCP server takes: async and sync, each return type.
use gateway_plugin::mcp::{NoArguments, Structured, ToolCall, ToolResult};
use gateway_plugin::prelude::*;

#[plugin(name = "mcp")]
#[mcp_server(name = "shapes", version = "0.1.0", tools = [text, result, structured, renamed, none], allow_tools = allow)]
#[derive(Deserialize, Default)]
pub struct Config {
    allow: Option<Vec<String>>,
}

#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// A number.
    n: i64,
}

#[derive(serde::Serialize, JsonSchema)]
pub struct Out {
    doubled: i64,
}

/// Plain text.
#[mcp_tool]
fn text(_call: &mut ToolCall, _config: &Config, args: Args) -> String {
    args.n.to_string()
}

/// Any `Display` error.
#[mcp_tool]
async fn result(_call: &mut ToolCall, _config: &Config, args: Args) -> Result<ToolResult, std::io::Error> {
    Ok(ToolResult::text(args.n.to_string()))
}

#[mcp_tool]
async fn structured(_call: &mut ToolCall, _config: &Config, args: Args) -> Result<Structured<Out>, String> {
    Ok(Structured(Out { doubled: args.n * 2 }))
}

#[mcp_tool(name = "other.name")]
fn renamed(call: &mut ToolCall, _config: &Config, _args: NoArguments) -> &'static str {
    if call.request_header("x").is_some() { "x" } else { "-" }
}

#[mcp_tool]
fn none(_call: &mut ToolCall, _config: &Config, _args: NoArguments) -> ToolResult {
    ToolResult::image(vec![1, 2, 3], "image/png")
}

fn main() {}
