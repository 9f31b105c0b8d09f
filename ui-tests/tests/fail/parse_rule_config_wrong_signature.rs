use gateway_plugin::prelude::*;
use gateway_plugin::serde_json::Value;

#[plugin(name = "my-plugin")]
#[derive(Deserialize)]
struct Config;

// Missing the global config argument.
#[parse_rule_config]
fn parse_rule(json: &Value) -> Result<Config, String> {
    let _ = json;
    Ok(Config)
}

fn main() {}
