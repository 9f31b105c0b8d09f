// Override configs (Higress's `_rules_` built on the global config), with a
// serde-derived global parser and a `#[parse_rule_config]` function.
use gateway_plugin::prelude::*;
use gateway_plugin::serde_json::Value;

#[plugin(name = "key-auth")]
#[derive(Deserialize, Default)]
pub struct KeyAuth {
    #[serde(default)]
    consumers: Vec<String>,
    #[serde(skip)]
    allow: Vec<String>,
}

#[parse_rule_config]
fn parse_rule(json: &Value, global: &KeyAuth) -> Result<KeyAuth, &'static str> {
    let allow = json["allow"].as_array().ok_or("allow must be a list")?;
    Ok(KeyAuth {
        consumers: global.consumers.clone(),
        allow: allow.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
    })
}

#[on_request_headers]
fn check(_ctx: &mut HttpContext, config: &KeyAuth) -> Action {
    let _ = (&config.consumers, &config.allow);
    Action::Continue
}

fn main() {}
