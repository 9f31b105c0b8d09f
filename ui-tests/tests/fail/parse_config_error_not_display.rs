use gateway_plugin::prelude::*;
use gateway_plugin::serde_json::Value;

#[plugin(name = "my-plugin")]
struct Config;

struct NotDisplay;

#[parse_config]
fn parse(_json: &Value) -> Result<Config, NotDisplay> {
    Err(NotDisplay)
}

fn main() {}
