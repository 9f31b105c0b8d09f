use gateway_plugin::mcp::{ToolCall, ToolResult};
use gateway_plugin::prelude::*;

#[plugin(name = "mcp")]
#[mcp_server(name = "s", version = "1", tools = [tool])]
#[derive(Deserialize, Default)]
pub struct Config {}

#[derive(Deserialize)]
pub struct Args {
    n: i64,
}

#[mcp_tool]
fn tool(_call: &mut ToolCall, _config: &Config, args: Args) -> ToolResult {
    ToolResult::text(args.n.to_string())
}

fn main() {}
