use gateway_plugin::prelude::*;

#[plugin(name = "mcp")]
#[mcp_server(version = "1", tools = [], colour = "blue")]
#[derive(Deserialize, Default)]
pub struct Config {}

fn main() {}
