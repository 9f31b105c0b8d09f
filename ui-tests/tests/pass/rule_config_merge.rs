// `rule_config = "merge"`: a rule's keys are laid over the global JSON
// before serde sees it, so a rule states only what it changes.
use gateway_plugin::prelude::*;

#[plugin(name = "merged", rule_config = "merge", log = "higress")]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    upstream_timeout_ms: u64,
    deny_message: String,
}

#[on_request_headers]
fn check(_ctx: &mut HttpContext, config: &Config) -> Action {
    let _ = (config.upstream_timeout_ms, &config.deny_message);
    Action::Continue
}

fn main() {}
