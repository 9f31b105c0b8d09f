use gateway_plugin::mcp::{NoArguments, ToolCall};
use gateway_plugin::prelude::*;

#[plugin(name = "a")]
#[mcp_server(name = "a", version = "1", tools = [of_b, not_a_tool])]
#[derive(Deserialize, Default)]
pub struct A {}

#[derive(Deserialize, Default)]
pub struct B {}

#[mcp_tool]
fn of_b(_call: &mut ToolCall, _config: &B, _args: NoArguments) -> String {
    String::new()
}

fn not_a_tool() {}

fn main() {}
