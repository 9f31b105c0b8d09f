use gateway_plugin::mcp::{NoArguments, ToolCall};
use gateway_plugin::prelude::*;

#[plugin(name = "mcp")]
#[mcp_server(name = "s", version = "1", tools = [weather, forecast])]
#[derive(Deserialize, Default)]
pub struct Config {}

#[mcp_tool]
fn weather(_call: &mut ToolCall, _config: &Config, _args: NoArguments) -> String {
    String::new()
}

#[mcp_tool(name = "weather")]
fn forecast(_call: &mut ToolCall, _config: &Config, _args: NoArguments) -> String {
    String::new()
}

fn main() {}
