use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin")]
#[derive(Deserialize, Default)]
struct Config;

#[on_request_headers]
fn first(_ctx: &mut HttpContext, _config: &Config) -> Action {
    Action::Continue
}

#[on_request_headers]
fn second(_ctx: &mut HttpContext, _config: &Config) -> Action {
    Action::Continue
}

fn main() {}
