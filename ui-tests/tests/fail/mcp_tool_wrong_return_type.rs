use gateway_plugin::mcp::{NoArguments, ToolCall};
use gateway_plugin::prelude::*;

#[plugin(name = "mcp")]
#[mcp_server(name = "s", version = "1", tools = [tool])]
#[derive(Deserialize, Default)]
pub struct Config {}

#[mcp_tool]
async fn tool(_call: &mut ToolCall, _config: &Config, _args: NoArguments) -> Option<u32> {
    None
}

fn main() {}
