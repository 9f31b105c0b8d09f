use gateway_plugin::prelude::*;

#[plugin(name = "p")]
#[mcp_server(name = "s", version = "1", tools = [], rest = rest)]
#[derive(Deserialize)]
pub struct Config {
    rest: String,
}

fn main() {}
