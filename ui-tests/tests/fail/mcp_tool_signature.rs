use gateway_plugin::mcp::ToolCall;
use gateway_plugin::prelude::*;

#[plugin(name = "mcp")]
#[mcp_server(name = "s", version = "1", tools = [two_arguments, no_result, by_reference])]
#[derive(Deserialize, Default)]
pub struct Config {}

#[derive(Deserialize, JsonSchema)]
pub struct Args {}

#[mcp_tool]
fn two_arguments(_call: &mut ToolCall, _config: &Config) -> String {
    String::new()
}

#[mcp_tool]
fn no_result(_call: &mut ToolCall, _config: &Config, _args: Args) {}

#[mcp_tool]
fn by_reference(_call: &mut ToolCall, _config: &mut Config, _args: &Args) -> String {
    String::new()
}

fn main() {}
