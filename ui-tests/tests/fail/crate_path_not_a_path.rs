use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin", crate = 5)]
#[derive(Deserialize, Default)]
struct Config;

#[on_request_headers(crate = gateway_plugin, crate = gateway_plugin)]
fn on_request_headers(_ctx: &mut HttpContext, _config: &Config) -> Action {
    Action::Continue
}

fn main() {}
